//! No panic takes down a shard: a handler that panics (in `on_event` before or after an
//! await, in `on_connect`, in `authorize`, in a task it spawned) costs only its own socket,
//! which the server disconnects ("server namespace disconnect"); the other sockets of the
//! same shard keep working, and `tpcio_handler_panics_total` counts each panic. Below
//! Socket.IO, a panicking engine handler closes its session and a panicking route answers
//! 500. A panic that escapes to a shard's thread ends the server's `wait` with an error
//! naming the shard.

mod common;

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use common::TIMEOUT;
use common::engine::{Eio, Session};
use common::http::Conn;
use common::sio::{Client, SioServer, connect_ack_sid};
use tpcio::prelude::Data;
use tpcio::prelude::DisconnectReason;
use tpcio::prelude::{ConnectError, ConnectInfo, Event, Handler, Socket, SocketIo};
use tpcio::prelude::{
    CpuPlacement, EngineHandler, EngineSocket, Server, ServerConfig, ServerError, ShardContext,
};

/// Panics where its client asks it to; reports every disconnect as `socket-id reason`.
struct Fragile {
    disconnects: Sender<String>,
}

impl Handler for Fragile {
    type Data = ();

    async fn authorize(&self, connect: &ConnectInfo) -> Result<(), ConnectError> {
        if connect.auth.get("boom").and_then(|b| b.as_str()) == Some("authorize") {
            panic!("authorize boom");
        }
        Ok(())
    }

    async fn on_connect(&self, socket: Socket<()>) {
        if socket.auth().get("boom").and_then(|b| b.as_str()) == Some("connect") {
            panic!("on_connect boom");
        }
    }

    async fn on_event(&self, socket: Socket<()>, mut event: Event) {
        match event.name() {
            "boom" => panic!("on_event boom"),
            "later-boom" => {
                tpcio::prelude::sleep(Duration::from_millis(20)).await;
                panic!("on_event boom after an await");
            }
            "spawn-boom" => socket.io().spawn(async {
                tpcio::prelude::sleep(Duration::from_millis(5)).await;
                panic!("spawned boom");
            }),
            "data-boom" => socket.with_data(|_| socket.with_data_mut(|_| ())),
            _ => {}
        }
        if let Some(ack) = event.take_ack() {
            let _ = ack.send("pong");
        }
    }

    async fn on_disconnect(&self, socket: Socket<()>, reason: DisconnectReason) {
        let _ = self.disconnects.send(format!("{} {}", socket.id(), reason.as_str()));
    }
}

/// One shard, so that every client shares the shard of the one that panics.
fn server() -> (SioServer, Receiver<String>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let io = SocketIo::new()
        .namespace("/", move |_shard| Fragile { disconnects: tx.lock().expect("the sender").clone() });
    let server = SioServer::start_with(io, |config| {
        config.shards = Some(1);
        config.metrics = Some("/metrics".into());
    });
    (server, rx)
}

/// The sum over shards of `tpcio_handler_panics_total`.
fn panics(server: &SioServer) -> u64 {
    let response = Conn::connect(server.addr).get("/metrics");
    let body = response.ok_body("text/plain; version=0.0.4; charset=utf-8");
    std::str::from_utf8(body)
        .expect("a UTF-8 scrape")
        .lines()
        .filter(|line| line.starts_with("tpcio_handler_panics_total{"))
        .map(|line| line.rsplit_once(' ').and_then(|(_, v)| v.parse::<u64>().ok()).expect("a value"))
        .sum()
}

/// Waits until the counter reads `want` (a task's panic is counted when the task runs).
fn expect_panics(server: &SioServer, want: u64) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let seen = panics(server);
        if seen == want {
            return;
        }
        assert!(seen < want && Instant::now() < deadline, "{seen} panics counted, expected {want}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn expect_disconnect(disconnects: &Receiver<String>, socket: &str) -> String {
    let line = disconnects.recv_timeout(TIMEOUT).expect("a disconnect");
    let (id, reason) = line.split_once(' ').expect("id and reason");
    assert_eq!(id, socket);
    reason.to_owned()
}

/// `client` still gets answers on `/`.
fn assert_served(client: &mut Client, id: u64) {
    assert_eq!(client.call(id, r#"["ping"]"#), r#"["pong"]"#);
}

#[test]
fn a_panicking_event_disconnects_its_socket_only() {
    let (server, disconnects) = server();
    let (mut victim, victim_sid) = Client::connect(server.addr);
    let (mut other, _) = Client::connect(server.addr);
    assert_eq!(panics(&server), 0);

    victim.send(r#"42["boom"]"#);
    // Node's `socket.disconnect()`: a DISCONNECT for `/`, the engine connection kept.
    victim.expect_text("41");
    assert_eq!(expect_disconnect(&disconnects, &victim_sid), "server namespace disconnect");
    assert_eq!(panics(&server), 1);
    assert_served(&mut other, 1);

    // The connection joins again, as a client's `socket.connect()` would.
    victim.send("40");
    let again = connect_ack_sid(&victim.text(), "/");
    assert_served(&mut victim, 2);

    // A panic after the callback first waited: it ran as a task by then.
    victim.send(r#"42["later-boom"]"#);
    victim.expect_text("41");
    assert_eq!(expect_disconnect(&disconnects, &again), "server namespace disconnect");
    assert_eq!(panics(&server), 2);
    assert_served(&mut other, 3);

    // Borrowing the socket's data twice is a panic like any other.
    let (mut third, third_sid) = Client::connect(server.addr);
    third.send(r#"42["data-boom"]"#);
    third.expect_text("41");
    assert_eq!(expect_disconnect(&disconnects, &third_sid), "server namespace disconnect");
    assert_eq!(panics(&server), 3);
    assert_served(&mut other, 4);
}

#[test]
fn a_panicking_on_connect_disconnects_the_new_socket() {
    let (server, disconnects) = server();
    let (mut other, _) = Client::connect(server.addr);
    let mut client = Client::open(server.addr, Eio::V4);
    client.send(r#"40{"boom":"connect"}"#);
    // The connect ack was queued before `on_connect` ran.
    let sid = connect_ack_sid(&client.text(), "/");
    client.expect_text("41");
    assert_eq!(expect_disconnect(&disconnects, &sid), "server namespace disconnect");
    assert_eq!(panics(&server), 1);
    assert_served(&mut other, 1);
}

#[test]
fn a_panicking_connect_middleware_refuses_the_connection() {
    let (server, _disconnects) = server();
    let mut client = Client::open(server.addr, Eio::V4);
    client.send(r#"40{"boom":"authorize"}"#);
    client.expect_text(r#"44{"message":"server error"}"#);
    assert_eq!(panics(&server), 1);
    client.send("40");
    connect_ack_sid(&client.text(), "/");
    assert_served(&mut client, 1);
}

#[test]
fn a_panicking_spawned_task_ends_only_the_task() {
    let (server, _disconnects) = server();
    let (mut client, _) = Client::connect(server.addr);
    let (mut other, _) = Client::connect(server.addr);
    assert_eq!(client.call(1, r#"["spawn-boom"]"#), r#"["pong"]"#);
    expect_panics(&server, 1);
    // No socket is tied to a task: both are still served.
    assert_served(&mut client, 2);
    assert_served(&mut other, 3);
}

/// A panic that escapes to a shard's thread: a task spawned straight on the executor,
/// around every guard.
struct Bomb;

impl EngineHandler for Bomb {
    fn on_start(&self, shard: ShardContext) {
        if shard.id() == 1 {
            glommio::spawn_local(async {
                // Past the first poll, which may run inside `on_start` (and its guard).
                glommio::timer::sleep(Duration::from_millis(1)).await;
                panic!("shard bomb")
            })
            .detach();
        }
    }

    fn on_message(&self, _socket: &EngineSocket, _data: Data) {}
}

#[test]
fn a_shard_that_dies_ends_wait_with_its_id() {
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().expect("an address"),
        shards: Some(2),
        placement: CpuPlacement::Unpinned,
        shutdown_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    let running =
        Server::new(config).endpoint("/engine.io/", |_shard| Bomb).start().expect("the server starts");
    let (tx, rx) = channel();
    std::thread::spawn(move || tx.send(running.wait()));
    match rx.recv_timeout(TIMEOUT).expect("wait returns once a shard died") {
        Err(ServerError::ShardPanicked { shard: 1, message }) => assert_eq!(message, "shard bomb"),
        other => panic!("expected shard 1 to have panicked, got {other:?}"),
    }
}

/// An engine handler that echoes, except `boom`, on which it panics.
struct Touchy;

impl EngineHandler for Touchy {
    fn on_message(&self, socket: &EngineSocket, data: Data) {
        match data {
            Data::Text(text) if text == "boom" => panic!("on_message boom"),
            Data::Text(text) => {
                let _ = socket.send_text(text);
            }
            Data::Binary(bytes) => {
                let _ = socket.send_binary(bytes);
            }
        }
    }
}

#[test]
fn a_panicking_engine_handler_closes_its_session_and_a_panicking_route_answers_500() {
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().expect("an address"),
        shards: Some(1),
        placement: CpuPlacement::Unpinned,
        metrics: Some("/metrics".into()),
        shutdown_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let running = Server::new(config)
        .endpoint("/engine.io/", |_shard| Touchy)
        .route("/boom", |_shard, _http| panic!("route boom"))
        .start()
        .expect("the server starts");
    let addr = running.local_addr();
    let victim = Session::handshake(addr, Eio::V4);
    let other = Session::handshake(addr, Eio::V4);

    victim.send(&["4boom"]);
    // `socket.close()`: the session ends with a close packet.
    let last = victim.recv();
    assert_eq!(last.last().map(String::as_str), Some("1"), "{last:?}");
    other.send(&["4still here"]);
    assert_eq!(other.recv(), ["4still here"]);

    let response = Conn::connect(addr).get("/boom");
    assert_eq!(response.status, 500, "{response:?}");
    assert!(response.body.is_empty());
    let metrics = Conn::connect(addr).get("/metrics");
    let text =
        String::from_utf8_lossy(metrics.ok_body("text/plain; version=0.0.4; charset=utf-8")).into_owned();
    assert!(text.contains("tpcio_handler_panics_total{shard=\"0\"} 2"), "{text}");
    running.shutdown().expect("every shard stops cleanly");
}
