//! Conformance mode: what the official Engine.IO and Socket.IO test suites expect of
//! a server, with pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000,
//! CORS `*`, and both `EIO=3` and `EIO=4` on the same port.
//!
//! - `/engine.io/` echoes every message (text or binary) back on its session.
//! - `/socket.io/` serves the namespaces `/` and `/custom` (others are refused), with a
//!   1 s connect timeout. On every connect it emits `auth` with the CONNECT payload; on
//!   `/`, `message` is answered with `message-back` and the same arguments, and
//!   `message-with-ack` is acknowledged with its own arguments.

use std::net::SocketAddr;
use std::time::Duration;

use tpcio::prelude::{
    ConnectError, ConnectInfo, Cors, CpuPlacement, Data, EngineHandler, EngineSocket, Event, Handler,
    Origins, RawArgs, Server, ServerConfig, Socket, SocketIo,
};

/// Sends every message back where it came from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

impl EngineHandler for Echo {
    fn on_message(&self, socket: &EngineSocket, data: Data) {
        // A full queue or a closing session just loses the echo, as in Node.
        let _ = match data {
            Data::Text(text) => socket.send_text(text),
            Data::Binary(bytes) => socket.send_binary(bytes),
        };
    }
}

/// The conformance configuration on `addr`.
pub fn config(addr: SocketAddr, shards: Option<usize>, placement: CpuPlacement) -> ServerConfig {
    let mut config = ServerConfig { addr, shards, placement, ..ServerConfig::default() };
    config.engine.ping_interval = Duration::from_millis(300);
    config.engine.ping_timeout = Duration::from_millis(200);
    config.engine.max_payload = 1_000_000;
    config.engine.allow_eio3 = true;
    // The suites' clients read one message at a time and drop a message that comes in the same
    // read as the one they await; on a loaded machine a client may not read for a few ms.
    config.engine.first_write_gap = Duration::from_millis(10);
    config.cors = Some(Cors { origins: Origins::Any, ..Cors::default() });
    config
}

/// The Socket.IO conformance behaviour of a namespace.
#[derive(Clone, Copy, Debug)]
pub struct SioConformance {
    /// Whether `message` and `message-with-ack` are answered (the main namespace only).
    pub echo: bool,
}

impl Handler for SioConformance {
    type Data = ();

    async fn authorize(&self, _: &ConnectInfo) -> Result<(), ConnectError> {
        Ok(())
    }

    async fn on_connect(&self, socket: Socket<()>) {
        let auth = RawArgs { json: vec![socket.auth_json()], attachments: Vec::new() };
        let _ = socket.emit_raw("auth", &auth);
    }

    async fn on_event(&self, socket: Socket<()>, mut event: Event) {
        if !self.echo {
            return;
        }
        match event.name() {
            "message" => {
                let _ = socket.emit_raw("message-back", &event.raw_args());
            }
            "message-with-ack" => {
                if let Some(ack) = event.take_ack() {
                    let _ = ack.send_raw(&event.raw_args());
                }
            }
            _ => {}
        }
    }
}

/// The conformance Socket.IO endpoint.
pub fn socket_io() -> SocketIo {
    SocketIo::new()
        .connect_timeout(Duration::from_millis(1000))
        .namespace("/", |_shard| SioConformance { echo: true })
        .namespace("/custom", |_shard| SioConformance { echo: false })
}

/// The conformance server, ready to start.
#[allow(dead_code)] // only the tests call it (they compile this module too)
pub fn server(config: ServerConfig) -> Server {
    socket_io().attach(Server::new(config).endpoint("/engine.io/", |_shard| Echo))
}
