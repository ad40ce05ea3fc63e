//! The msgpack parser (`SocketIo::parser(Parser::MsgPack)`) against socket.io-client 4.8 with
//! `socket.io-msgpack-parser` 3.0.2: `node tests/js/sio_msgpack.mjs <port> 4 <mode> <main|bad>`
//! in each transport mode (polling only, WebSocket only, the upgrade), against the application
//! below (2 shards, in-process) and against the Node reference
//! (`loadtest/node-reference/sio-msgpack.mjs`: socket.io 4.8 with the same parser and the same
//! application). The script asserts what it sees; this file checks that both servers gave the
//! same observable results and sent the same bytes (random ids masked), and what our handlers recorded (a malformed packet closes its own
//! session: the engine's "parse error", which the session's sockets see as "forced close"). A missing `node` or package fails the tests, never skips them.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::node::NodeRun;
use common::node_reference::{reference_dir, require_reference};
use serde_json::Value as Json;
use tpcio::prelude::DisconnectReason;
use tpcio::prelude::Value;
use tpcio::prelude::{ConnectError, ConnectInfo, Event, Handler, Parser, Socket, SocketIo};
use tpcio::prelude::{CpuPlacement, RunningServer, ServerConfig};

const NODE_TIMEOUT: Duration = Duration::from_secs(30);
const PACKAGES: &[&str] = &["socket.io-client", "socket.io-msgpack-parser", "engine.io-client"];
const MODES: [&str; 3] = ["polling", "websocket", "upgrade"];

/// Disconnect reasons, `"<nsp> <reason>"`, from every shard.
#[derive(Clone, Default)]
struct Record(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Record {
    fn push(&self, line: String) {
        self.0.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        self.0.1.notify_all();
    }

    /// The lines, once there are `n` or `timeout` passed.
    fn wait_lines(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        while lines.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            lines = self.0.1.wait_timeout(lines, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        lines.clone()
    }
}

/// The application of the Node reference (see `sio-msgpack.mjs` for the events).
struct App {
    record: Record,
}

fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

impl Handler for App {
    type Data = ();

    async fn authorize(&self, c: &ConnectInfo) -> Result<(), ConnectError> {
        match c.auth.get("token").and_then(Value::as_str) {
            Some("bad") => {
                Err(ConnectError::new("not authorized").with_data(object(vec![("code", 42.into())])))
            }
            _ => Ok(()),
        }
    }

    async fn on_event(&self, socket: Socket<()>, mut event: Event) {
        let ack = event.take_ack();
        let values = event.values().unwrap_or_default();
        let first = values.first().and_then(Value::as_str).unwrap_or_default().to_owned();
        let rest = values.get(1..).unwrap_or_default();
        match event.name() {
            "echo" => drop(socket.emit_raw("echo", &event.raw_args())),
            "ack-me" => {
                if let Some(ack) = ack {
                    let _ = ack.send_raw(&event.raw_args());
                }
            }
            "ask-client" => {
                let answer = match socket
                    .emit_with_ack::<_, Vec<Value>>("question", &values[..1], Duration::from_secs(3))
                    .await
                {
                    Ok(mut answers) if !answers.is_empty() => answers.swap_remove(0),
                    _ => "timeout".into(),
                };
                let _ = socket.emit("answer", &[answer]);
            }
            "join" => {
                socket.join(first);
                if let Some(ack) = ack {
                    let _ = ack.send(&true);
                }
            }
            "to-room" => drop(socket.to(first).emit("room-msg", rest)),
            "broadcast" => drop(socket.broadcast().emit_raw("broadcast-msg", &event.raw_args())),
            "bcack" => {
                let answers =
                    socket.namespace_ops().timeout(Duration::from_secs(3)).emit_with_ack("q", &()).await;
                let answer = answers.map_or_else(|_| "timeout".into(), Value::Array);
                if let Some(ack) = ack {
                    let _ = ack.send(&[answer]);
                }
            }
            "types" => {
                let value = object(vec![
                    ("buf", vec![1u8, 2, 3].into()),
                    ("n", 1.5.into()),
                    ("big", 4_294_967_296u64.into()),
                    ("neg", (-129i64).into()),
                    ("list", Value::Array(vec![b"hi".to_vec().into()])),
                    ("s", "\u{e9}".into()),
                ]);
                if let Some(ack) = ack {
                    let _ = ack.send(&[value]);
                }
            }
            _ => {}
        }
    }

    async fn on_disconnect(&self, socket: Socket<()>, reason: DisconnectReason) {
        let line = format!("{} {reason}", socket.namespace());
        self.record.push(line);
    }
}

fn start_ours(record: &Record) -> RunningServer {
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().expect("a literal address"),
        shards: Some(2),
        placement: CpuPlacement::Unpinned,
        shutdown_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    let (main, chat) = (record.clone(), record.clone());
    SocketIo::new()
        .parser(Parser::MsgPack)
        .namespace("/", move |_| App { record: main.clone() })
        .namespace("/chat", move |_| App { record: chat.clone() })
        .start(config)
        .expect("the msgpack server starts")
}

/// `node sio-msgpack.mjs PORT`, killed when dropped.
struct NodeMsgpack {
    child: Child,
    port: u16,
}

impl NodeMsgpack {
    fn start() -> NodeMsgpack {
        require_reference();
        let parser = reference_dir().join("node_modules/socket.io-msgpack-parser/package.json");
        assert!(parser.is_file(), "{} is missing: run `npm ci` in loadtest/node-reference", parser.display());
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a port");
        let mut child = Command::new("node")
            .arg("sio-msgpack.mjs")
            .arg(port.to_string())
            .current_dir(reference_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let line = rx.recv_timeout(NODE_TIMEOUT).unwrap_or_default();
        if !line.contains("listening on") {
            let _ = child.kill();
            let _ = child.wait();
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            panic!("node sio-msgpack.mjs {port}: printed {line:?}; stderr:\n{stderr}");
        }
        NodeMsgpack { child, port }
    }
}

impl Drop for NodeMsgpack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(port: u16, mode: &str, scenario: &str) -> Json {
    let verified = match scenario {
        "main" => format!("msgpack {mode}: events, acks both ways, rooms, broadcasts, namespaces"),
        _ => format!("msgpack {mode}: 9 malformed packets, other sessions unharmed"),
    };
    let run = NodeRun::start("sio_msgpack.mjs", port, 4, &[mode, scenario], PACKAGES, NODE_TIMEOUT);
    run.finish(&verified)["out"].clone()
}

fn addr_port(addr: SocketAddr) -> u16 {
    addr.port()
}

#[test]
fn msgpack_clients_see_what_node_shows_them() {
    let record = Record::default();
    let ours = start_ours(&record);
    let node = NodeMsgpack::start();
    for mode in MODES {
        let got = run(addr_port(ours.local_addr()), mode, "main");
        let mut want = run(node.port, mode, "main");
        // The one byte difference: the client's ArrayBuffer (notepack 2.2's ext type 0) comes
        // back as `bin` (a Node client reads a Buffer), as every buffer we send.
        let echo = &mut want["wire"]["a"][1];
        let arraybuffer = echo.as_str().expect("a's echo").replace("c702000405", "c4020405");
        *echo = arraybuffer.into();
        assert_eq!(got, want, "{mode}: ours vs Node's socket.io with the msgpack parser");
    }
    ours.shutdown().expect("the shards stop");
}

#[test]
fn malformed_msgpack_closes_only_its_session() {
    let record = Record::default();
    let ours = start_ours(&record);
    let node = NodeMsgpack::start();
    for mode in MODES {
        let mut got = run(addr_port(ours.local_addr()), mode, "bad");
        let mut want = run(node.port, mode, "bad");
        // Nesting deeper than 128 (the JSON parser's limit too) is refused here; notepack
        // reads any depth, so Node keeps that session.
        assert_eq!(got["closes"]["deepNesting"], "transport close", "{mode}: {got}");
        assert_eq!(want["closes"]["deepNesting"], "alive", "{mode}: Node {want}");
        for out in [&mut got, &mut want] {
            out["closes"].as_object_mut().expect("closes").remove("deepNesting");
        }
        assert_eq!(got, want, "{mode}: close reasons, ours vs Node");
        assert!(got["closes"].as_object().expect("closes").values().all(|r| r == "transport close"), "{got}");
    }
    // Each mode: 9 closed sessions (all closed before the script ended).
    let lines = record.wait_lines(9 * MODES.len(), Duration::from_secs(5));
    ours.shutdown().expect("the shards stop");
    // Node's sockets see the engine's own reason when a parse error closes it: "forced close".
    let closed = lines.iter().filter(|l| *l == "/ forced close").count();
    assert_eq!(closed, 9 * MODES.len(), "every malformed session was closed: {lines:?}");
    // The regular sockets were never closed by the server (a polling client's goodbye may not
    // leave before node exits, so its line may be missing).
    assert!(lines.iter().all(|l| l == "/ forced close" || l == "/ client namespace disconnect"), "{lines:?}");
}
