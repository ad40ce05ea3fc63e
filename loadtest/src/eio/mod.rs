//! The `eio-echo` scenario: raw Engine.IO v4 clients (engine.io-protocol, "Handshake" and
//! "Packet encoding") that each send a message, wait for the server to echo it on the same
//! session, and measure the round trip; pings (`2`) are answered with pongs (`3`) so a long
//! run survives the heartbeat. One client per session, over WebSocket or HTTP long-polling.

mod polling;
mod websocket;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::error::{LoadError, excerpt};
use crate::http::Response;
use crate::net::{Sources, Target};
use crate::run::{Scenario, Window};
use crate::stats::Recorder;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    Websocket,
    Polling,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Websocket => "websocket",
            Transport::Polling => "polling",
        }
    }
}

/// The scenario, shared by every client (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct Echo(Arc<EchoConfig>);

pub struct EchoConfig {
    pub target: Target,
    pub sources: Arc<Sources>,
    pub transport: Transport,
    /// The message packet, `4` then the payload: sent as is and expected back as is.
    pub packet: Utf8Bytes,
    /// Messages in flight per client.
    pub pipeline: usize,
    /// Longest wait for any answer before the client counts an error and stops.
    pub op_timeout: Duration,
}

impl Echo {
    pub fn new(
        target: Target,
        sources: Arc<Sources>,
        transport: Transport,
        size: usize,
        pipeline: usize,
        op_timeout: Duration,
    ) -> Self {
        let packet = format!("4{}", payload(size));
        Echo(Arc::new(EchoConfig { target, sources, transport, packet: packet.into(), pipeline, op_timeout }))
    }
}

pub enum Client {
    WebSocket(websocket::WsClient),
    Polling(polling::PollClient),
}

impl Scenario for Echo {
    type Client = Client;

    async fn connect(&self) -> Result<Client, LoadError> {
        Ok(match self.0.transport {
            Transport::Websocket => Client::WebSocket(websocket::connect(&self.0).await?),
            Transport::Polling => Client::Polling(polling::connect(&self.0).await?),
        })
    }

    async fn run(&self, client: Client, window: Window, rec: &Recorder) -> Result<(), LoadError> {
        let end = Instant::from_std(window.end);
        match client {
            Client::WebSocket(c) => websocket::echo_loop(c, &self.0, end, rec).await,
            Client::Polling(c) => polling::echo_loop(c, &self.0, end, rec).await,
        }
    }
}

/// ASCII text of `size` bytes (so byte and UTF-16 lengths agree on every server).
pub fn payload(size: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..size).map(|i| char::from(ALPHABET[i % ALPHABET.len()])).collect()
}

/// Separates the packets of a v4 polling payload (engine.io-protocol v4, "Payload").
pub const SEPARATOR: u8 = 0x1e;

/// Checks the answer to a `POST` of packets: `200` with the body `ok`.
pub fn expect_ok(response: &Response<'_>) -> Result<(), LoadError> {
    match (response.status, response.body) {
        (200, b"ok") => Ok(()),
        (200, body) => Err(LoadError::UnexpectedPacket(excerpt(body))),
        (status, _) => Err(LoadError::Status(status)),
    }
}

/// The session id from an open packet `0{"sid":...}`.
pub fn parse_open(packet: &[u8]) -> Result<String, LoadError> {
    #[derive(Deserialize)]
    struct Open {
        sid: String,
    }
    let json = packet.strip_prefix(b"0").ok_or_else(|| LoadError::OpenPacket(excerpt(packet)))?;
    let open: Open = serde_json::from_slice(json).map_err(|e| LoadError::OpenPacket(e.to_string()))?;
    Ok(open.sid)
}

/// Runs `fut` until it completes, the window ends (`Ok(None)`), or `timeout` passes (an error).
pub async fn bounded<T>(
    fut: impl Future<Output = Result<T, LoadError>>,
    end: Instant,
    timeout: Duration,
) -> Result<Option<T>, LoadError> {
    // One timer per wait: the earlier of the two deadlines, told apart when it fires.
    match tokio::time::timeout_at(end.min(Instant::now() + timeout), fut).await {
        Ok(result) => result.map(Some),
        Err(_) if Instant::now() >= end => Ok(None),
        Err(_) => Err(LoadError::Timeout(timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sid_of_an_open_packet() {
        let open = br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        assert_eq!(parse_open(open).expect("valid"), "lv_VI97HAXpY6yYWAAAC");
        assert!(parse_open(b"4hello").is_err());
        assert!(parse_open(b"0{").is_err());
    }

    #[test]
    fn payload_has_the_requested_size() {
        assert_eq!(payload(0), "");
        assert_eq!(payload(40).len(), 40);
        assert!(payload(40).starts_with("abc"));
    }
}
