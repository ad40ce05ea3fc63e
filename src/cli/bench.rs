//! Benchmark mode: the reference behaviour the load tester drives, on `/socket.io/`
//! (EIO=4 and EIO=3), with Node's default heartbeat (25 s / 20 s). It behaves as the Node
//! server `loadtest/node-reference/sio-bench.mjs`, alone or in a cluster (`--redis`):
//!
//! - `echo`: emitted back as `echo` with the same arguments; when the client asked for an
//!   ack, acknowledged with the same arguments instead.
//! - `echo-typed`: as `echo`, but the arguments are read into a `serde_json::Value` and
//!   emitted back with the typed API (what most applications do; not in the Node reference).
//! - `broadcast`: re-emitted as `broadcast`, same arguments, to every socket of the server
//!   (Node's `io.emit`): every shard, and every server of the cluster.
//! - `join(room, ack?)`: the socket joins `room`, then acks.
//! - `to(room, ...args)`: `to` with the arguments to the sockets in `room` (`io.to(room).emit`).
//! - `count(ack)`, `count-room(room, ack)`: acks how many sockets `fetchSockets` finds in the
//!   namespace or the room (−1 when a server did not answer in time).
//! - `sse(ack)`: `serverSideEmit("hello")` with an ack; acks how many servers answered (−1 on
//!   a timeout). A `hello` from another server is answered with `"tpcio"`.
//! - `bcack(ack)`: `q` to every socket with a 3 s ack timeout; acks how many answered.
//! - `kick(room)`: disconnects the sockets in `room` and their connections.
//! - `move(from, to)`: the sockets in `from` join `to`.
//! - `rooms(ack)`: acks `{rooms, recovered}`: the socket's rooms and whether connection state
//!   recovery restored it.

use std::time::Duration;

use tpcio::__private::socket::typed::args;
use tpcio::prelude::{
    BroadcastAckError, ConnectError, ConnectInfo, Event, Handler, Io, RawArgs, Server, ServerConfig,
    ServerSideEvent, Socket, SocketIo, Value,
};

/// How `echo-typed` reads its arguments (all of them, as an array), found once.
static ECHO_SHAPE: std::sync::LazyLock<args::Shape> =
    std::sync::LazyLock::new(args::Shape::of::<serde_json::Value>);

/// The reference behaviour of the main namespace.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bench;

/// The first argument as a room name: a string, or a number as JavaScript prints it.
fn room(event: &Event) -> Option<String> {
    match event.values().ok()?.into_iter().next()? {
        Value::String(room) => Some(room),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The arguments after the first, as received.
fn rest(event: &Event) -> RawArgs {
    let mut args = event.raw_args();
    if !args.json.is_empty() {
        args.json.remove(0);
    }
    args
}

fn count(n: usize) -> Value {
    Value::from(n as u64)
}

impl Handler for Bench {
    type Data = ();

    async fn authorize(&self, _: &ConnectInfo) -> Result<(), ConnectError> {
        Ok(())
    }

    async fn on_event(&self, socket: Socket<()>, mut event: Event) {
        let io = socket.namespace_ops();
        match event.name() {
            "echo" => {
                let ack = event.take_ack();
                let args = event.into_raw_args();
                let _ = match ack {
                    Some(ack) => ack.send_raw(&args),
                    None => socket.emit_raw("echo", &args),
                };
            }
            "broadcast" => {
                let _ = io.emit_raw("broadcast", &event.into_raw_args());
            }
            // What most applications do: the arguments read into values, emitted back with
            // the typed API (`echo`, or the ack), as `echo` does without reading them.
            "echo-typed" => {
                let Ok(args) = args::decode::<serde_json::Value>(&event, *ECHO_SHAPE) else {
                    return;
                };
                let _ = match event.take_ack() {
                    Some(ack) => ack.send(&args),
                    None => socket.emit("echo", &args),
                };
            }
            "join" => {
                if let Some(room) = room(&event) {
                    socket.join(room);
                }
                if let Some(ack) = event.take_ack() {
                    let _ = ack.send(&());
                }
            }
            "to" => {
                if let Some(room) = room(&event) {
                    let _ = io.to(room).emit_raw("to", &rest(&event));
                }
            }
            "count" | "count-room" => {
                let Some(ack) = event.take_ack() else { return };
                let selection = match (event.name(), room(&event)) {
                    ("count", _) => io,
                    (_, Some(room)) => io.to(room),
                    (_, None) => return,
                };
                let n = match selection.fetch_sockets().await {
                    Ok(sockets) => count(sockets.len()),
                    Err(_) => Value::from(-1i64),
                };
                let _ = ack.send(&[n]);
            }
            "sse" => {
                let Some(ack) = event.take_ack() else { return };
                let n = match io.server_side_emit_with_ack("hello", &()).await {
                    Ok(answers) => count(answers.len()),
                    Err(_) => Value::from(-1i64),
                };
                let _ = ack.send(&[n]);
            }
            "bcack" => {
                let Some(ack) = event.take_ack() else { return };
                let answers = io.timeout(Duration::from_secs(3)).emit_with_ack::<_, Value>("q", &()).await;
                let n = match answers {
                    Ok(answers) => answers.len(),
                    Err(BroadcastAckError::Timeout { responses }) => responses.len(),
                    Err(_) => 0,
                };
                let _ = ack.send(&[count(n)]);
            }
            "kick" => {
                if let Some(room) = room(&event) {
                    io.to(room).disconnect_sockets(true);
                }
            }
            // The socket's rooms and whether recovery restored it (recovery tests).
            "rooms" => {
                let Some(ack) = event.take_ack() else { return };
                let rooms = socket.rooms().iter().map(|r| Value::String(r.to_string())).collect();
                let answer = Value::Object(vec![
                    ("rooms".to_owned(), Value::Array(rooms)),
                    ("recovered".to_owned(), Value::Bool(socket.recovered())),
                ]);
                let _ = ack.send(&[answer]);
            }
            "move" => {
                let args = event.values().unwrap_or_default();
                if let [Value::String(from), Value::String(to), ..] = args.as_slice() {
                    io.to(from.clone()).sockets_join(to.clone());
                }
            }
            _ => {}
        }
    }

    async fn on_server_side_event(&self, _io: Io, event: ServerSideEvent) {
        if event.name == "hello"
            && let Some(ack) = event.ack
        {
            ack.send(Value::from("tpcio"));
        }
    }
}

/// The Socket.IO endpoint of benchmark mode.
pub fn socket_io() -> SocketIo {
    SocketIo::new().namespace("/", |_shard| Bench)
}

/// The benchmark server, ready to start.
#[allow(dead_code)] // only the tests call it (they compile this module too)
pub fn server(config: ServerConfig) -> Server {
    socket_io().attach(Server::new(config))
}
