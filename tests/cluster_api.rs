//! The Redis adapter in process: two servers of two shards each (`bench` behaviour) on one
//! real `redis-server`, driven by raw WebSocket clients on every shard, and the Rust emitter
//! (`tpcio::prelude::Emitter`). What the mixed Node cluster of `tests/cluster.rs`
//! cannot see from outside: that a process is one server however many shards it has, that
//! every shard takes the broadcasts itself, that a malformed message is dropped and counted,
//! and that a request nobody answers ends at its timeout, with Redis up or down.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::cli::bench;
use common::redis::RedisServer;
use common::sio::{Client, SHARDS, SioServer};
use common::ws::Event;
use tpcio::prelude::Emitter;
use tpcio::prelude::Value;
use tpcio::prelude::{RedisAdapterConfig, RedisUrl, SubscriptionMode};

const WAIT: Duration = Duration::from_secs(30);

fn config(url: &str, requests_timeout: Duration) -> RedisAdapterConfig {
    RedisAdapterConfig::new(RedisUrl::parse(url).expect("a valid Redis URL"))
        .requests_timeout(requests_timeout)
}

fn server(url: &str, requests_timeout: Duration) -> SioServer {
    SioServer::start(bench::socket_io().redis_adapter(config(url, requests_timeout)))
}

/// Clients of `server` until there is one on each of its shards.
fn clients_on_every_shard(server: &SioServer) -> Vec<Client> {
    let mut clients: Vec<Client> = Vec::new();
    for _ in 0..64 {
        let (client, _) = Client::connect(server.addr);
        let fresh = !clients.iter().any(|c| c.shard() == client.shard());
        if fresh {
            clients.push(client);
        }
        if clients.len() == SHARDS {
            return clients;
        }
    }
    panic!("64 connections did not reach all {SHARDS} shards");
}

/// Asks `count-room` until it reads `n` (bounded): for changes that travel with no answer.
fn wait_count_room(client: &mut Client, room: &str, n: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    for id in 100.. {
        client.send(&format!(r#"42{id}["count-room","{room}"]"#));
        if client.text() == format!("43{id}[{n}]") {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{room} never had {n} sockets");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every client gets the bench's `q` with an ack id and answers it.
fn answer_q(clients: &mut [Client]) {
    for (i, client) in clients.iter_mut().enumerate() {
        let text = client.text();
        let id = text
            .strip_prefix("42")
            .and_then(|t| t.strip_suffix(r#"["q"]"#))
            .unwrap_or_else(|| panic!("client {i} expected a q with an ack id, got {text:?}"));
        client.send(&format!("43{id}[\"ok\"]"));
    }
}

/// A broadcast from the first client reaches every client exactly once.
fn broadcast_reaches_everyone_once(clients: &mut [Client]) {
    clients[0].send(r#"42["broadcast","hi",1]"#);
    for client in clients.iter_mut() {
        client.expect_text(r#"42["broadcast","hi",1]"#);
    }
    for client in clients.iter_mut() {
        expect_nothing_else(client);
    }
}

/// Nothing else is queued for `client`: an echo comes back next.
fn expect_nothing_else(client: &mut Client) {
    client.send(r#"42["echo","fence"]"#);
    client.expect_text(r#"42["echo","fence"]"#);
}

/// Every shard of every server subscribes to the broadcasts: a PUBLISH to a room nobody is in
/// reaches `subscribers` pattern subscriptions (and is dropped unread by each).
fn wait_broadcast_subscribers(redis: &RedisServer, subscribers: i64) {
    wait_subscribers(redis, "socket.io#/#no-such-room#", subscribers);
}

#[test]
fn a_process_is_one_server_and_every_shard_delivers_once() {
    let redis = RedisServer::start();
    let (a, b) = (server(&redis.url(), Duration::from_secs(3)), server(&redis.url(), Duration::from_secs(3)));
    // Two processes of two shards each: two servers to the cluster, four broadcast subscribers.
    redis.wait_numsub("socket.io-request#/#", 2, WAIT);
    wait_broadcast_subscribers(&redis, 2 * SHARDS as i64);

    let mut clients = clients_on_every_shard(&a);
    clients.extend(clients_on_every_shard(&b));
    let total = clients.len();

    // A broadcast from a client of server a: every client of both servers, exactly once.
    broadcast_reaches_everyone_once(&mut clients);

    // fetchSockets over the cluster, from each server.
    clients[0].send(r#"421["count"]"#);
    clients[0].expect_text(&format!("431[{total}]"));
    clients[total - 1].send(r#"422["count"]"#);
    clients[total - 1].expect_text(&format!("432[{total}]"));

    // A room joined on server b, addressed from server a, and counted from both.
    clients[total - 1].send(r#"423["join","r"]"#);
    clients[total - 1].expect_text("433[]");
    clients[0].send(r#"42["to","r","only"]"#);
    clients[total - 1].expect_text(r#"42["to","only"]"#);
    for client in &mut clients {
        expect_nothing_else(client);
    }
    clients[0].send(r#"424["count-room","r"]"#);
    clients[0].expect_text("434[1]");

    // serverSideEmit with an ack: the one other server answers, once for its two shards.
    clients[0].send(r#"425["sse"]"#);
    clients[0].expect_text("435[1]");

    // A broadcast with acks from server a: each client answers `q`.
    clients[1].send(r#"426["bcack"]"#);
    answer_q(&mut clients);
    clients[1].expect_text(&format!("436[{total}]"));
}

#[test]
fn the_rust_emitter_reaches_every_shard_and_bad_messages_are_dropped() {
    let redis = RedisServer::start();
    let a = server(&redis.url(), Duration::from_secs(3));
    redis.wait_numsub("socket.io-request#/#", 1, WAIT);
    wait_broadcast_subscribers(&redis, SHARDS as i64);
    let mut clients = clients_on_every_shard(&a);

    let emitter = Emitter::connect(&redis.url()).expect("the emitter connects");
    let binary = Value::Binary(bytes::Bytes::from_static(&[1, 2, 3]));
    emitter.emit("news", &[Value::from(1i64), Value::from("a"), binary]).expect("emit");
    for client in &mut clients {
        client.expect_text(r#"451-["news",1,"a",{"_placeholder":true,"num":0}]"#);
        assert_eq!(client.attachment(), vec![1, 2, 3]);
    }

    // socketsJoin from the emitter, then a room emit: only the joined client.
    clients[1].send(r#"421["join","vip"]"#);
    clients[1].expect_text("431[]");
    emitter.to("vip").emit("room-news", &[]).expect("emit to a room");
    clients[1].expect_text(r#"42["room-news"]"#);
    emitter.to("vip").sockets_join(["vip2"]).expect("socketsJoin");
    // The join travels through Redis, with no answer to wait for: ask until it shows.
    wait_count_room(&mut clients[0], "vip2", 1);
    emitter.to("vip2").emit("vip2-news", &[]).expect("emit to the joined room");
    clients[1].expect_text(r#"42["vip2-news"]"#);
    for client in &mut clients {
        expect_nothing_else(client);
    }

    // Garbage on a broadcast and on the request channel: dropped, counted, nothing breaks.
    redis.publish("socket.io#/#", b"\xc1\xff not msgpack");
    redis.publish("socket.io-request#/#", b"{\"type\": \"nope\"");
    emitter.emit("after", &[]).expect("emit");
    for client in &mut clients {
        client.expect_text(r#"42["after"]"#);
    }
    let metrics = a.running().metrics().render();
    let malformed: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("tpcio_cluster_malformed_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(
        malformed,
        SHARDS as u64 + 1,
        "each shard drops the bad broadcast, shard 0 the bad request:\n{metrics}"
    );

    // The emitter's disconnectSockets(true): every client of the server is closed.
    emitter.disconnect_sockets(true).expect("disconnectSockets");
    for client in &mut clients {
        let (before, _) = client.closed();
        assert!(
            before.iter().any(|e| matches!(e, Event::Text(t) if t == "41")),
            "a DISCONNECT before the close: {before:?}"
        );
    }
}

#[test]
fn a_request_nobody_answers_ends_at_its_timeout() {
    let redis = RedisServer::start();
    let a = server(&redis.url(), Duration::from_millis(500));
    redis.wait_numsub("socket.io-request#/#", 1, WAIT);
    // A second "server" that subscribes to the requests and never answers.
    let mut silent = TcpStream::connect(("127.0.0.1", redis.port())).expect("connect to redis");
    std::io::Write::write_all(&mut silent, b"*2\r\n$9\r\nSUBSCRIBE\r\n$20\r\nsocket.io-request#/#\r\n")
        .expect("subscribe");
    redis.wait_numsub("socket.io-request#/#", 2, WAIT);
    let (mut client, _) = Client::connect(a.addr);
    // Node rejects the fetch ("timeout reached"): the bench answers -1.
    client.send(r#"421["count"]"#);
    client.expect_text("431[-1]");
    client.send(r#"422["sse"]"#);
    client.expect_text("432[-1]");
    drop(silent);
}

#[test]
fn with_redis_down_the_server_serves_its_own_clients() {
    // A port nothing listens on.
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let a = server(&format!("redis://127.0.0.1:{port}"), Duration::from_millis(500));
    let mut clients = clients_on_every_shard(&a);
    clients[0].send(r#"42["broadcast","local"]"#);
    for client in &mut clients {
        client.expect_text(r#"42["broadcast","local"]"#);
    }
    // No cluster to ask: the sockets of this process.
    let total = clients.len();
    clients[1].send(r#"421["count"]"#);
    clients[1].expect_text(&format!("431[{total}]"));
    clients[1].send(r#"422["sse"]"#);
    clients[1].expect_text("432[0]");
}

/// `all_rooms` and `server_count` over the cluster, as a handler calls them.
struct Rooms;

impl tpcio::prelude::Handler for Rooms {
    type Data = ();

    async fn authorize(&self, _: &tpcio::prelude::ConnectInfo) -> Result<(), tpcio::prelude::ConnectError> {
        Ok(())
    }

    async fn on_event(&self, socket: tpcio::prelude::Socket<()>, mut event: tpcio::prelude::Event) {
        let Some(ack) = event.take_ack() else { return };
        let io = socket.namespace_ops();
        let answer = match event.name() {
            "join" => {
                let room: (String,) = event.args().expect("a room name");
                socket.join(room.0);
                Value::Null
            }
            "all-rooms" => {
                let mut rooms: Vec<String> = io
                    .all_rooms()
                    .await
                    .expect("every server answers")
                    .iter()
                    .map(|r| r.to_string())
                    .collect();
                rooms.retain(|r| r.starts_with("room-"));
                rooms.sort();
                Value::Array(rooms.into_iter().map(Value::String).collect())
            }
            "server-count" => Value::from(io.server_count().await.expect("Redis answers") as u64),
            _ => return,
        };
        let _ = ack.send(&[answer]);
    }
}

#[test]
fn all_rooms_and_server_count_cover_the_cluster() {
    let redis = RedisServer::start();
    let start = || {
        let io = tpcio::prelude::SocketIo::new()
            .namespace("/", |_shard| Rooms)
            .redis_adapter(config(&redis.url(), Duration::from_secs(3)));
        SioServer::start(io)
    };
    let (a, b) = (start(), start());
    redis.wait_numsub("socket.io-request#/#", 2, WAIT);
    let mut on_a = clients_on_every_shard(&a);
    let mut on_b = clients_on_every_shard(&b);
    on_a[0].send(r#"421["join","room-a0"]"#);
    on_a[0].expect_text("431[null]");
    on_a[1].send(r#"421["join","room-a1"]"#);
    on_a[1].expect_text("431[null]");
    on_b[1].send(r#"421["join","room-b1"]"#);
    on_b[1].expect_text("431[null]");
    for client in [&mut on_a[1], &mut on_b[0]] {
        client.send(r#"422["all-rooms"]"#);
        client.expect_text(r#"432[["room-a0","room-a1","room-b1"]]"#);
        client.send(r#"423["server-count"]"#);
        client.expect_text("433[2]");
    }
}

/// A dynamic namespace's handler: `shout` goes to every socket of the namespace in the
/// cluster, `count` acks how many sockets it has there.
struct Dynamic;

impl tpcio::prelude::Handler for Dynamic {
    type Data = ();

    async fn authorize(&self, _: &tpcio::prelude::ConnectInfo) -> Result<(), tpcio::prelude::ConnectError> {
        Ok(())
    }

    async fn on_event(&self, socket: tpcio::prelude::Socket<()>, mut event: tpcio::prelude::Event) {
        let io = socket.namespace_ops();
        match event.name() {
            "shout" => {
                let _ = io.emit_raw("shout", &event.raw_args());
            }
            "count" => {
                let Some(ack) = event.take_ack() else { return };
                let n = io.fetch_sockets().await.map_or(-1, |s| s.len() as i64);
                let _ = ack.send(&[Value::from(n)]);
            }
            _ => {}
        }
    }
}

/// A client of `nsp` on `server`, landed on any shard.
fn join_namespace(server: &SioServer, nsp: &str) -> Client {
    let mut client = Client::open(server.addr, common::engine::Eio::V4);
    client.send(&format!("40{nsp},"));
    let text = client.text();
    assert!(text.starts_with(&format!("40{nsp},{{\"sid\":")), "a CONNECT answer, got {text:?}");
    client
}

#[test]
fn a_dynamic_child_namespace_joins_the_cluster_from_any_shard() {
    let redis = RedisServer::start();
    let start = || {
        let io = tpcio::prelude::SocketIo::new()
            .namespace("/", |_shard| Rooms)
            .dynamic_namespace(|name| name.starts_with("/dyn-"), |_shard| Dynamic)
            .redis_adapter(config(&redis.url(), Duration::from_secs(3)));
        SioServer::start(io)
    };
    let (a, b) = (start(), start());
    redis.wait_numsub("socket.io-request#/#", 2, WAIT);
    // Clients of the child on every shard of b: whichever shard made it, shard 0 answers
    // its requests, once for the process.
    let mut on_b: Vec<Client> = Vec::new();
    for _ in 0..64 {
        let client = join_namespace(&b, "/dyn-1");
        if !on_b.iter().any(|c| c.shard() == client.shard()) {
            on_b.push(client);
        }
        if on_b.len() == SHARDS {
            break;
        }
    }
    assert_eq!(on_b.len(), SHARDS, "clients of /dyn-1 on every shard of b");
    let mut on_a = join_namespace(&a, "/dyn-1");
    redis.wait_numsub("socket.io-request#/dyn-1#", 2, WAIT);
    // Every shard of b has the child; on a, the client's shard and shard 0 (which made it to
    // answer the child's requests).
    let on_a_shards = if on_a.shard() == 0 { 1 } else { 2 };
    wait_subscribers(&redis, "socket.io#/dyn-1#no-such-room#", on_a_shards + SHARDS as i64);
    on_a.send(r#"42/dyn-1,["shout","hey"]"#);
    on_a.expect_text(r#"42/dyn-1,["shout","hey"]"#);
    for client in &mut on_b {
        client.expect_text(r#"42/dyn-1,["shout","hey"]"#);
    }
    on_a.send(r#"42/dyn-1,1["count"]"#);
    on_a.expect_text(&format!("43/dyn-1,1[{}]", 1 + SHARDS));
}

/// Waits until a PUBLISH on `channel` reaches `subscribers` subscriptions.
fn wait_subscribers(redis: &RedisServer, channel: &str, subscribers: i64) {
    wait_reading(&format!("subscribers of {channel}"), subscribers, || redis.publish(channel, b""));
}

/// Reads `read()` until it gives `want` (bounded): subscriptions are only seen by asking Redis.
fn wait_reading(what: &str, want: i64, read: impl Fn() -> i64) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let got = read();
        if got == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {got}, expected {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A raw subscriber to one channel: what Redis pushes on it, as bytes.
struct RawSubscriber(TcpStream);

impl RawSubscriber {
    fn subscribe(redis: &RedisServer, channel: &str) -> RawSubscriber {
        let mut stream = TcpStream::connect(("127.0.0.1", redis.port())).expect("connect to redis");
        stream.set_read_timeout(Some(WAIT)).expect("a read timeout");
        let command = format!("*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{channel}\r\n", channel.len());
        std::io::Write::write_all(&mut stream, command.as_bytes()).expect("subscribe");
        let mut subscriber = RawSubscriber(stream);
        subscriber.read_until("subscribe");
        subscriber
    }

    /// Reads until `needle` has come; returns everything read.
    fn read_until(&mut self, needle: &str) -> String {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let n = std::io::Read::read(&mut self.0, &mut buf).expect("redis pushes within the timeout");
            assert!(n > 0, "redis closed the subscriber; got {:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    }
}

#[test]
fn requests_of_older_adapters_are_answered() {
    let redis = RedisServer::start();
    let a = server(&redis.url(), Duration::from_secs(3));
    redis.wait_numsub("socket.io-request#/#", 1, WAIT);
    let mut responses = RawSubscriber::subscribe(&redis, "socket.io-response#/#");
    let (mut client, sid) = Client::connect(a.addr);
    let request = |json: String| redis.publish("socket.io-request#/#", json.as_bytes());

    // 0 SOCKETS (no longer sent by adapter 8, still answered).
    request(format!(r#"{{"uid":"older","requestId":"s1","type":0,"rooms":["{sid}"]}}"#));
    responses.read_until(&format!(r#"{{"requestId":"s1","sockets":["{sid}"]}}"#));
    // 2 REMOTE_JOIN in its 7.x form: one socket by id, answered.
    request(format!(r#"{{"uid":"older","requestId":"j1","type":2,"sid":"{sid}","room":"legacy"}}"#));
    responses.read_until(r#"{"requestId":"j1"}"#);
    // Answered once shard 0 sent it to the socket's shard, as the answer travels Redis.
    wait_count_room(&mut client, "legacy", 1);
    // 3 REMOTE_LEAVE, likewise.
    request(format!(r#"{{"uid":"older","requestId":"l1","type":3,"sid":"{sid}","room":"legacy"}}"#));
    responses.read_until(r#"{"requestId":"l1"}"#);
    wait_count_room(&mut client, "legacy", 0);
    // A socket this server does not have: no answer (another server has it).
    request(
        r#"{"uid":"older","requestId":"j2","type":2,"sid":"AAAAAAAAAAAAAAAAAAAA","room":"x"}"#.to_owned(),
    );
    // 4 REMOTE_DISCONNECT: the socket leaves the namespace.
    request(format!(r#"{{"uid":"older","requestId":"d1","type":4,"sid":"{sid}","close":false}}"#));
    let seen = responses.read_until(r#"{"requestId":"d1"}"#);
    assert!(!seen.contains("j2"), "answered a request for a socket it does not have: {seen}");
    client.expect_text("41");
}

/// The sharded adapter (`createShardedAdapter`), two processes of two shards: each process is
/// one server (`SHARDNUMSUB` of the namespace's channel counts it once), each shard subscribes
/// to the channels of the rooms its sockets are in, and a room broadcast, ours or Node's,
/// reaches every member on every shard exactly once.
#[test]
fn sharded_adapter_a_process_is_one_server_and_rooms_reach_every_shard_once() {
    let redis = RedisServer::start();
    let sharded = |url: &str| {
        let config = config(url, Duration::from_secs(3)).sharded(SubscriptionMode::Dynamic);
        SioServer::start(bench::socket_io().redis_adapter(config))
    };
    let (a, b) = (sharded(&redis.url()), sharded(&redis.url()));
    wait_shardnumsub(&redis, "socket.io#/#", 2);

    let mut clients = clients_on_every_shard(&a);
    clients.extend(clients_on_every_shard(&b));
    let total = clients.len();

    // A broadcast from server a: every client of both servers, exactly once.
    broadcast_reaches_everyone_once(&mut clients);

    // Both shards of a and one of b in room-x: three subscribers of its channel.
    for (i, client) in clients.iter_mut().enumerate().take(3) {
        client.send(&format!(r#"42{i}["join","room-x"]"#));
        client.expect_text(&format!("43{i}[]"));
    }
    wait_shardnumsub(&redis, "socket.io#/#room-x#", 3);

    // From a non-member on server b: the room channel, each member once.
    clients[3].send(r#"42["to","room-x","ours"]"#);
    for client in clients.iter_mut().take(3) {
        client.expect_text(r#"42["to","ours"]"#);
    }
    for client in &mut clients {
        expect_nothing_else(client);
    }

    // As a Node server publishes it: JSON envelope on the room's channel.
    let node = br#"{"type":3,"data":{"packet":{"type":2,"data":["to","node"]},"opts":{"rooms":["room-x"],"except":[],"flags":{}}},"uid":"0123456789abcdef","nsp":"/"}"#;
    match redis.command(&[b"SPUBLISH", b"socket.io#/#room-x#", node]) {
        common::redis::Resp::Integer(n) => assert_eq!(n, 3, "one subscriber per shard in the room"),
        other => panic!("SPUBLISH: {other:?}"),
    }
    for client in clients.iter_mut().take(3) {
        client.expect_text(r#"42["to","node"]"#);
    }
    for client in &mut clients {
        expect_nothing_else(client);
    }

    // Requests: fetchSockets and serverSideEmit with an ack, one answer per process.
    clients[0].send(r#"421["count"]"#);
    clients[0].expect_text(&format!("431[{total}]"));
    clients[3].send(r#"422["count-room","room-x"]"#);
    clients[3].expect_text("432[3]");
    clients[0].send(r#"423["sse"]"#);
    clients[0].expect_text("433[1]");

    // A broadcast with acks from server b.
    clients[2].send(r#"424["bcack"]"#);
    answer_q(&mut clients);
    clients[2].expect_text(&format!("434[{total}]"));

    // The members leave (their connections close): the room's channel loses its subscribers.
    drop(clients.drain(..3));
    wait_shardnumsub(&redis, "socket.io#/#room-x#", 0);
    wait_shardnumsub(&redis, "socket.io#/#", 2);
}

/// Waits (bounded) until `PUBSUB SHARDNUMSUB channel` reads `want`.
fn wait_shardnumsub(redis: &RedisServer, channel: &str, want: i64) {
    wait_reading(&format!("SHARDNUMSUB {channel}"), want, || redis.shardnumsub(channel));
}

/// The other subscription modes, one process of two shards beside a second one: `static`
/// subscribes to no room channel and still delivers room broadcasts once (through the
/// namespace's channel); `dynamic-private` also subscribes to each socket's own room, where
/// `to(sid)` travels.
#[test]
fn sharded_adapter_static_and_dynamic_private_modes() {
    for mode in [SubscriptionMode::Static, SubscriptionMode::DynamicPrivate] {
        let redis = RedisServer::start();
        let start = || {
            let config = config(&redis.url(), Duration::from_secs(3)).sharded(mode);
            SioServer::start(bench::socket_io().redis_adapter(config))
        };
        let (a, b) = (start(), start());
        wait_shardnumsub(&redis, "socket.io#/#", 2);
        // One client on each shard of a (with its socket id), one on b.
        let mut with_sids: Vec<(Client, String)> = Vec::new();
        for _ in 0..64 {
            let (client, sid) = Client::connect(a.addr);
            if !with_sids.iter().any(|(c, _)| c.shard() == client.shard()) {
                with_sids.push((client, sid));
            }
            if with_sids.len() == SHARDS {
                break;
            }
        }
        assert_eq!(with_sids.len(), SHARDS, "{mode:?}: a client on every shard");
        let (sids, mut clients): (Vec<String>, Vec<Client>) =
            with_sids.into_iter().map(|(c, s)| (s, c)).unzip();
        clients.push(Client::connect(b.addr).0);

        for (i, client) in clients.iter_mut().enumerate().take(2) {
            client.send(&format!(r#"42{i}["join","room-y"]"#));
            client.expect_text(&format!("43{i}[]"));
        }
        let (room_subscribers, sid_subscribers) = match mode {
            SubscriptionMode::Static => (0, 0),
            _ => (2, 1),
        };
        wait_shardnumsub(&redis, "socket.io#/#room-y#", room_subscribers);
        for sid in &sids {
            wait_shardnumsub(&redis, &format!("socket.io#/#{sid}#"), sid_subscribers);
        }

        // A room broadcast from server b: both members on a, once each.
        clients[2].send(r#"42["to","room-y","y"]"#);
        for client in clients.iter_mut().take(2) {
            client.expect_text(r#"42["to","y"]"#);
        }
        // To one socket id (on shard 1 of a), from server b.
        clients[2].send(&format!(r#"42["to","{}","own"]"#, sids[1]));
        clients[1].expect_text(r#"42["to","own"]"#);
        for client in &mut clients {
            expect_nothing_else(client);
        }
    }
}
