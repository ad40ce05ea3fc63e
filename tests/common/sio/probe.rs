//! A namespace handler for tests: each event a client sends names one server operation
//! (join a room, broadcast to it, disconnect sockets, emit with an ack, …), so a raw client
//! can make the server do anything its API offers and watch the bytes that result. What only
//! the server sees (connects, disconnect reasons) is reported on a channel.
//!
//! Events (arguments after the name); an ack is answered with `[]` once the operation is done
//! on this shard (`rooms` answers `[[…rooms]]`):
//! `join r`, `leave r`, `rooms`, `to r p`, `to-both r1 r2 p`, `broadcast p`, `except r p`,
//! `sockets-join from r`, `sockets-leave from r`, `disconnect-room r close`, `mark`,
//! `bye close`, `ask timeout_ms args…`, `echo args…` (decoded, then encoded again), `binary`,
//! `flood n volatile` (`n` broadcasts `f i` to everyone else; its ack waits until every shard
//! has delivered them), `block ms` (stops the socket's shard that long: a shard that does
//! not keep up, reported before it stops).

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use bytes::Bytes;
use tpcio::prelude::DisconnectReason;
use tpcio::prelude::ShardId;
use tpcio::prelude::Value;
use tpcio::prelude::{AckError, ConnectError, ConnectInfo, Event, Handler, Socket, SocketIo};

use tpcio::prelude::ServerConfig;

use super::SioServer;

/// What the server saw, in the order it saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    Connect { nsp: String, socket: String, shard: ShardId },
    Disconnect { nsp: String, socket: String, reason: &'static str },
    Blocking { shard: ShardId },
}

pub struct Probe {
    shard: ShardId,
    reports: Sender<Report>,
}

/// A server with the probe on `/` and on every `/dyn-…` namespace; its reports.
pub fn server() -> (SioServer, Receiver<Report>) {
    server_with(|_| {})
}

/// [`server`] with its configuration changed by `configure` first.
pub fn server_with(configure: impl FnOnce(&mut ServerConfig)) -> (SioServer, Receiver<Report>) {
    server_built(|io| io, configure)
}

/// [`server_with`] with the Socket.IO options changed by `build` too.
pub fn server_built(
    build: impl FnOnce(SocketIo) -> SocketIo,
    configure: impl FnOnce(&mut ServerConfig),
) -> (SioServer, Receiver<Report>) {
    let (tx, rx) = mpsc::channel();
    let main = tx.clone();
    let io = SocketIo::new()
        .namespace("/", move |shard| Probe { shard, reports: main.clone() })
        .dynamic_namespace(
            |name| name.starts_with("/dyn-"),
            move |shard| Probe { shard, reports: tx.clone() },
        );
    (SioServer::start_with(build(io), configure), rx)
}

fn text(values: &[Value], i: usize) -> String {
    values.get(i).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn arg(values: &[Value], i: usize) -> Value {
    values.get(i).cloned().unwrap_or_default()
}

impl Handler for Probe {
    type Data = ();

    /// Refuses `token` `bad` (with data) and `worse` (without).
    async fn authorize(&self, connect: &ConnectInfo) -> Result<(), ConnectError> {
        match connect.auth.get("token").and_then(Value::as_str) {
            Some("bad") => Err(ConnectError::new("not authorized")
                .with_data(Value::Object(vec![("code".into(), Value::from(42))]))),
            Some("worse") => Err(ConnectError::new("no")),
            _ => Ok(()),
        }
    }

    async fn on_connect(&self, socket: Socket<()>) {
        let nsp = socket.namespace().to_string();
        let socket = socket.id().as_str().to_string();
        let _ = self.reports.send(Report::Connect { nsp, socket, shard: self.shard });
    }

    async fn on_event(&self, socket: Socket<()>, mut event: Event) {
        let values = event.values().unwrap_or_default();
        let mut answer = Vec::new();
        match event.name() {
            "join" => socket.join(text(&values, 0)),
            "leave" => socket.leave(&text(&values, 0)),
            "rooms" => {
                let own = socket.id();
                let mut rooms: Vec<String> =
                    socket.rooms().iter().filter(|r| **r != own.as_str()).map(|r| r.to_string()).collect();
                rooms.sort();
                answer.push(Value::Array(rooms.into_iter().map(Value::from).collect()));
            }
            "to" => {
                let _ = socket.to(text(&values, 0)).emit("room", &[arg(&values, 1)]);
            }
            "to-both" => {
                let _ = socket.to(text(&values, 0)).to(text(&values, 1)).emit("room", &[arg(&values, 2)]);
            }
            "broadcast" => {
                let _ = socket.broadcast().emit("all", &[arg(&values, 0)]);
            }
            "except" => {
                let _ = socket.namespace_ops().except(text(&values, 0)).emit("except", &[arg(&values, 1)]);
            }
            "sockets-join" => socket.namespace_ops().to(text(&values, 0)).sockets_join(text(&values, 1)),
            "sockets-leave" => socket.namespace_ops().to(text(&values, 0)).sockets_leave(text(&values, 1)),
            "disconnect-room" => {
                let close = arg(&values, 1).as_bool().unwrap_or(false);
                socket.namespace_ops().to(text(&values, 0)).disconnect_sockets(close);
            }
            "mark" => {
                let _ = socket.namespace_ops().emit("marker", &());
            }
            "bye" => socket.disconnect(arg(&values, 0).as_bool().unwrap_or(false)),
            "ask" => {
                let timeout = Duration::from_millis(arg(&values, 0).as_u64().unwrap_or(1000));
                let _ = match socket
                    .emit_with_ack::<_, Vec<Value>>("question", &values[1.min(values.len())..], timeout)
                    .await
                {
                    Ok(args) => socket.emit("answer", &args),
                    Err(AckError::Timeout) => socket.emit("answer-error", &[Value::from("timeout")]),
                    Err(_) => socket.emit("answer-error", &[Value::from("disconnected")]),
                };
            }
            "echo" => {
                let _ = socket.emit("echo", &values);
            }
            "flood" => {
                let count = arg(&values, 0).as_u64().unwrap_or(0);
                let ops = match arg(&values, 1).as_bool() {
                    Some(true) => socket.broadcast().volatile(),
                    _ => socket.broadcast(),
                };
                for i in 0..count {
                    let _ = ops.emit("f", &[Value::from(i)]);
                }
                // The mesh keeps each pair of shards in order: once every shard has answered,
                // every shard has delivered the flood.
                let _ = socket.namespace_ops().fetch_sockets().await;
            }
            "block" => {
                let _ = self.reports.send(Report::Blocking { shard: self.shard });
                std::thread::sleep(Duration::from_millis(arg(&values, 0).as_u64().unwrap_or(0)));
            }
            "binary" => {
                let data = Value::Binary(Bytes::from_static(&[1, 2, 3]));
                let _ = socket.emit("bin", &[data, Value::from("x")]);
            }
            _ => {}
        }
        if let Some(ack) = event.take_ack() {
            let _ = ack.send(&answer);
        }
    }

    async fn on_disconnect(&self, socket: Socket<()>, reason: DisconnectReason) {
        let nsp = socket.namespace().to_string();
        let id = socket.id().as_str().to_string();
        let _ = self.reports.send(Report::Disconnect { nsp, socket: id, reason: reason.as_str() });
    }
}

/// The next report that `pick` accepts, skipping others; panics after [`TIMEOUT`](super::super::TIMEOUT).
pub fn expect_report<T>(reports: &Receiver<Report>, mut pick: impl FnMut(&Report) -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + super::super::TIMEOUT;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match reports.recv_timeout(left) {
            Ok(report) => match pick(&report) {
                Some(found) => return found,
                None => skipped.push(report),
            },
            Err(_) => panic!("no matching report; skipped {skipped:?}"),
        }
    }
}

/// The disconnect reasons of the sockets `sids`, in that order, whatever order they came in.
pub fn disconnect_reasons(reports: &Receiver<Report>, sids: &[&str]) -> Vec<&'static str> {
    let mut reasons: Vec<Option<&'static str>> = vec![None; sids.len()];
    while reasons.iter().any(Option::is_none) {
        let (i, reason) = expect_report(reports, |r| match r {
            Report::Disconnect { socket, reason, .. } => {
                sids.iter().position(|s| s == socket).filter(|&i| reasons[i].is_none()).map(|i| (i, *reason))
            }
            _ => None,
        });
        reasons[i] = Some(reason);
    }
    reasons.into_iter().flatten().collect()
}
