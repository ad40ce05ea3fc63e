//! Connection state recovery with the official socket.io-client 4.8, as
//! `node tests/js/sio_recovery.mjs <port> 4 <scenario>` against the application below (2
//! shards on 127.0.0.1, `connection_state_recovery` on), started in-process per test. Same
//! conventions as tests/npm_sio.rs: the script asserts and ends with one JSON line; a missing
//! `node` or `node_modules` fails the tests, never skips them.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::node::NodeRun;
use tpcio::prelude::Value;
use tpcio::prelude::{ConnectError, ConnectInfo, ConnectionStateRecovery, Event, Handler, Socket, SocketIo};
use tpcio::prelude::{CpuPlacement, RunningServer, ServerConfig};

const NODE_TIMEOUT: Duration = Duration::from_secs(45);
const PACKAGES: &[&str] = &["socket.io-client"];

#[derive(Default)]
struct Peer {
    name: String,
}

struct App {
    shard: usize,
    /// Calls of `authorize`, over both shards.
    authorized: Arc<AtomicU64>,
}

fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

impl Handler for App {
    type Data = Peer;

    async fn authorize(&self, _c: &ConnectInfo) -> Result<Peer, ConnectError> {
        self.authorized.fetch_add(1, Ordering::SeqCst);
        Ok(Peer::default())
    }

    async fn on_connect(&self, socket: Socket<Peer>) {
        if !socket.recovered() {
            let name = socket.auth().get("name").and_then(Value::as_str).unwrap_or("anon").to_owned();
            socket.with_data_mut(|peer| peer.name = name);
        }
        let welcome = object(vec![
            ("id", socket.id().as_str().into()),
            ("shard", (self.shard as u64).into()),
            ("recovered", socket.recovered().into()),
            ("name", socket.with_data(|p| p.name.clone()).into()),
        ]);
        let _ = socket.emit("welcome", &[welcome]);
    }

    /// `join room`; `flood room tag n` → `msg tag i` for i in 0..n to the room; `unicast` →
    /// `msg "unicast" 0` to the sender; `whoami`; `stats` → the authorize calls. Each acked.
    async fn on_event(&self, socket: Socket<Peer>, mut event: Event) {
        let ack = event.take_ack();
        let values = event.values().unwrap_or_default();
        let str_at = |i: usize| values.get(i).and_then(Value::as_str).unwrap_or_default().to_owned();
        let answer: Value = match event.name() {
            "join" => {
                socket.join(str_at(0));
                true.into()
            }
            "flood" => {
                let (room, tag) = (str_at(0), str_at(1));
                let n = values.get(2).and_then(Value::as_u64).unwrap_or(0);
                for i in 0..n {
                    let _ = socket.namespace_ops().to(room.clone()).emit("msg", &(tag.as_str(), i));
                }
                true.into()
            }
            "unicast" => socket.emit("msg", &("unicast", 0u64)).is_ok().into(),
            "whoami" => {
                let rooms: Vec<Value> = socket.rooms().iter().map(|r| Value::from(&**r)).collect();
                object(vec![
                    ("id", socket.id().as_str().into()),
                    ("rooms", rooms.into()),
                    ("recovered", socket.recovered().into()),
                    ("name", socket.with_data(|p| p.name.clone()).into()),
                ])
            }
            "stats" => self.authorized.load(Ordering::SeqCst).into(),
            _ => false.into(),
        };
        if let Some(ack) = ack {
            let _ = ack.send(&[answer]);
        }
    }

    fn export_data(&self, data: &Peer) -> Option<Value> {
        Some(data.name.as_str().into())
    }

    fn import_data(&self, exported: Option<Value>) -> Option<Peer> {
        Some(Peer { name: exported.as_ref().and_then(Value::as_str).unwrap_or_default().to_owned() })
    }
}

struct Server {
    running: Option<RunningServer>,
    addr: SocketAddr,
}

impl Server {
    fn start(recovery: ConnectionStateRecovery) -> Server {
        let config = ServerConfig {
            addr: "127.0.0.1:0".parse().expect("a literal socket address"),
            shards: Some(2),
            placement: CpuPlacement::Unpinned,
            shutdown_timeout: Duration::from_secs(2),
            ..ServerConfig::default()
        };
        let authorized = Arc::new(AtomicU64::new(0));
        let running = SocketIo::new()
            .serve_client(false)
            .connection_state_recovery(recovery)
            .namespace("/", move |shard| App { shard, authorized: authorized.clone() })
            .start(config)
            .expect("the Socket.IO server starts");
        let addr = running.local_addr();
        Server { running: Some(running), addr }
    }

    fn run(&self, scenario: &str) -> serde_json::Value {
        NodeRun::start("sio_recovery.mjs", self.addr.port(), 4, &[scenario], PACKAGES, NODE_TIMEOUT)
            .finish(&format!("sio recovery {scenario}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown();
        }
    }
}

#[test]
fn recovers_missed_room_packets_once_in_order() {
    let server = Server::start(ConnectionStateRecovery::default());
    let summary = server.run("basic");
    assert!(summary["shards"].is_array(), "{summary}");
}

#[test]
fn recovers_on_the_same_shard_and_on_the_other() {
    let server = Server::start(ConnectionStateRecovery::default());
    let summary = server.run("shards");
    assert!(summary["same"].as_u64() >= Some(1) && summary["cross"].as_u64() >= Some(1), "{summary}");
}

#[test]
fn an_expired_session_gives_a_fresh_socket() {
    let recovery = ConnectionStateRecovery::default().max_disconnection_duration(Duration::from_millis(300));
    let server = Server::start(recovery);
    server.run("expiry");
}

#[test]
fn an_unknown_pid_gives_a_fresh_socket() {
    let server = Server::start(ConnectionStateRecovery::default());
    server.run("invalid");
}
