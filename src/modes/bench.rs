//! Benchmark mode: the reference behaviour the load tester drives, on `/socket.io/`
//! (EIO=4 and EIO=3), with Node's default heartbeat (25 s / 20 s).
//!
//! - `echo`: emitted back as `echo` with the same arguments; when the client asked for an
//!   ack, acknowledged with the same arguments instead.
//! - `broadcast`: re-emitted as `broadcast`, same arguments, to every connected socket
//!   (Node's `io.emit`), on every shard.

use crate::server::{Server, ServerConfig};
use crate::socket::{Event, Handler, Socket, SocketIo};

/// The reference behaviour of the main namespace.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bench;

impl Handler for Bench {
    type Data = ();

    async fn on_event(&self, socket: Socket<()>, mut event: Event) {
        match event.name() {
            "echo" => {
                let args = event.raw_args();
                let _ = match event.take_ack() {
                    Some(ack) => ack.send_raw(&args),
                    None => socket.emit_raw("echo", &args),
                };
            }
            "broadcast" => {
                let _ = socket.namespace_ops().emit_raw("broadcast", &event.raw_args());
            }
            _ => {}
        }
    }
}

/// The Socket.IO endpoint of benchmark mode.
pub fn socket_io() -> SocketIo {
    SocketIo::new().namespace("/", |_shard| Bench)
}

/// The benchmark server, ready to start.
pub fn server(config: ServerConfig) -> Server {
    socket_io().attach(Server::new(config))
}
