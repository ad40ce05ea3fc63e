//! Conformance mode: what the official Engine.IO test suites expect of a server.
//! `/engine.io/` echoes every message (text or binary) back on its session, with
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000, CORS `*`, and
//! both `EIO=3` and `EIO=4` on the same port.

use std::net::SocketAddr;
use std::time::Duration;

use crate::http::{Cors, Origins};
use crate::protocol::Data;
use crate::server::{CpuPlacement, EngineHandler, EngineSocket, Server, ServerConfig};

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
    config.cors = Some(Cors { origins: Origins::Any, ..Cors::default() });
    config
}

/// The conformance server, ready to start.
pub fn server(config: ServerConfig) -> Server {
    Server::new(config).endpoint("/engine.io/", |_shard| Echo)
}
