//! Socket.IO v5 clients over Engine.IO v4 WebSocket sessions (socket.io-protocol,
//! "Connection to a namespace"): after the engine handshake the client sends `40` (CONNECT
//! to `/`) and waits for `40{"sid":…}`; events are `42[…]`, acks `43<id>[…]`. With `--eio 3`
//! they speak what socket.io-client 2.x does (Engine.IO v3, Socket.IO v4): the server
//! connects the main namespace by itself and says so with a bare `40`, and the client sends
//! the pings (`2` every `pingInterval`, answered `3`). The scenarios drive the reference
//! behaviour of `tpcio bench` and `node-reference/sio-bench.mjs`: [`echo`] (emit or ack round
//! trips, over WebSocket or [`polling`]), [`broadcast`] (one sender, every client receives),
//! [`storm`] (handshakes back to back) and [`idle`] (connections held, nothing sent).

pub mod broadcast;
pub mod echo;
pub mod idle;
pub mod polling;
pub mod recovery;
pub mod soak;
pub mod storm;

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::eio::parse_open;
use crate::error::{LoadError, excerpt};
use crate::net::{Sources, Target};
use crate::ws_client::WsClient;

pub type Ws = WsClient;

/// What one received text frame is, for the scenarios' loops.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// An EVENT packet (`42…`) of the main namespace; the bytes after `42`.
    Event(&'a [u8]),
    /// An ACK packet (`43…`) of the main namespace; the bytes after `43`.
    Ack(&'a [u8]),
    /// An Engine.IO ping: answer `3`.
    Ping,
    /// Nothing to act on (pong, noop, a CONNECT answer repeated).
    Other,
    /// The server ended the session or the namespace.
    Closed(&'static str),
}

impl<'a> Packet<'a> {
    pub fn parse(text: &'a [u8]) -> Result<Packet<'a>, LoadError> {
        Ok(match text {
            [b'4', b'2', rest @ ..] => Packet::Event(rest),
            [b'4', b'3', rest @ ..] => Packet::Ack(rest),
            [b'2'] => Packet::Ping,
            [b'3'] | [b'6'] | [b'4', b'0', ..] => Packet::Other,
            [b'1', ..] => Packet::Closed("Engine.IO close packet"),
            [b'4', b'1', ..] => Packet::Closed("namespace disconnect"),
            _ => return Err(LoadError::UnexpectedPacket(excerpt(text))),
        })
    }
}

/// Which protocol pair a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Eio {
    /// Engine.IO 4 and Socket.IO 5 (socket.io-client 3.x and later).
    #[value(name = "4")]
    V4,
    /// Engine.IO 3 and Socket.IO 4 (socket.io-client 2.x).
    #[value(name = "3")]
    V3,
}

impl Eio {
    pub fn number(self) -> u8 {
        match self {
            Eio::V4 => 4,
            Eio::V3 => 3,
        }
    }

    fn websocket_query(self) -> &'static str {
        match self {
            Eio::V4 => "EIO=4&transport=websocket",
            Eio::V3 => "EIO=3&transport=websocket",
        }
    }
}

/// When a client pings next: never in v4 (the server pings), every `pingInterval` in v3.
#[derive(Clone, Copy, Debug)]
pub struct Heartbeat {
    every: Option<Duration>,
    next: Instant,
}

impl Heartbeat {
    pub fn server_pings() -> Heartbeat {
        Heartbeat { every: None, next: Instant::now() }
    }

    fn client_pings(every: Duration) -> Heartbeat {
        Heartbeat { every: Some(every), next: Instant::now() + every }
    }

    /// Whether a ping is due at `now`; if so the next one is planned.
    pub fn due(&mut self, now: Instant) -> bool {
        match self.every {
            Some(every) if now >= self.next => {
                self.next = now + every;
                true
            }
            _ => false,
        }
    }

    /// When the next ping is due, if the client pings.
    pub fn deadline(&self) -> Option<Instant> {
        self.every.map(|_| self.next)
    }
}

/// Opens an Engine.IO v4 session over WebSocket at `target` and connects it to the main
/// namespace.
pub async fn connect(target: &Target, sources: &Sources) -> Result<Ws, LoadError> {
    connect_with(target, sources, Eio::V4).await.map(|(ws, _)| ws)
}

/// Opens a session of protocol `eio` over WebSocket at `target`, connected to the main
/// namespace, and says how it keeps the heartbeat.
pub async fn connect_with(
    target: &Target,
    sources: &Sources,
    eio: Eio,
) -> Result<(Ws, Heartbeat), LoadError> {
    let mut ws = WsClient::connect(target, sources, eio.websocket_query()).await?;
    let open = ws.next_text().await?;
    let open = ws.payload(open);
    parse_open(open)?;
    let heartbeat = match eio {
        Eio::V4 => {
            ws.queue_text(b"40");
            Heartbeat::server_pings()
        }
        Eio::V3 => Heartbeat::client_pings(ping_interval(open)?),
    };
    loop {
        let range = ws.next_text().await?;
        match (eio, ws.payload(range)) {
            (Eio::V4, [b'4', b'0', json @ ..]) => {
                parse_connect(json)?;
                return Ok((ws, heartbeat));
            }
            (Eio::V3, b"40") => return Ok((ws, heartbeat)),
            (_, [b'2']) => ws.queue_text(b"3"),
            (_, text @ [b'4', b'4', ..]) => return Err(LoadError::ConnectRefused(excerpt(text))),
            (_, text) => return Err(LoadError::UnexpectedPacket(excerpt(text))),
        }
    }
}

/// The `pingInterval` of an open packet `0{…}`.
fn ping_interval(open: &[u8]) -> Result<Duration, LoadError> {
    #[derive(Deserialize)]
    struct Open {
        #[serde(rename = "pingInterval")]
        ping_interval: u64,
    }
    let json = open.strip_prefix(b"0").unwrap_or(open);
    match serde_json::from_slice::<Open>(json) {
        Ok(open) if open.ping_interval > 0 => Ok(Duration::from_millis(open.ping_interval)),
        Ok(_) => Err(LoadError::OpenPacket("pingInterval 0".into())),
        Err(e) => Err(LoadError::OpenPacket(e.to_string())),
    }
}

/// Checks the CONNECT answer's payload `{"sid":"…"}`.
fn parse_connect(json: &[u8]) -> Result<(), LoadError> {
    #[derive(Deserialize)]
    struct Connected<'a> {
        #[allow(dead_code)]
        sid: &'a str,
    }
    match serde_json::from_slice::<Connected<'_>>(json) {
        Ok(_) => Ok(()),
        Err(e) => Err(LoadError::UnexpectedPacket(format!("CONNECT answer: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_packets() {
        assert_eq!(Packet::parse(br#"42["echo","ab"]"#).ok(), Some(Packet::Event(br#"["echo","ab"]"#)));
        assert_eq!(Packet::parse(br#"437["ab"]"#).ok(), Some(Packet::Ack(br#"7["ab"]"#)));
        assert_eq!(Packet::parse(b"2").ok(), Some(Packet::Ping));
        assert_eq!(Packet::parse(b"6").ok(), Some(Packet::Other));
        assert!(matches!(Packet::parse(b"41"), Ok(Packet::Closed(_))));
        assert!(matches!(Packet::parse(b"1"), Ok(Packet::Closed(_))));
        assert!(Packet::parse(b"22").is_err());
        assert!(Packet::parse(b"").is_err());
    }

    #[test]
    fn checks_the_connect_answer() {
        assert!(parse_connect(br#"{"sid":"lv_VI97HAXpY6yYWAAAC"}"#).is_ok());
        assert!(parse_connect(br#"{"sid":1}"#).is_err());
        assert!(parse_connect(b"").is_err());
    }

    #[test]
    fn reads_the_ping_interval() {
        let open = br#"0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#;
        assert_eq!(ping_interval(open).ok(), Some(Duration::from_secs(25)));
        assert!(ping_interval(br#"0{"sid":"a"}"#).is_err());
        assert!(ping_interval(br#"0{"pingInterval":0}"#).is_err());
    }

    #[tokio::test]
    async fn plans_client_pings() {
        let mut none = Heartbeat::server_pings();
        assert!(!none.due(Instant::now() + Duration::from_secs(3600)));
        assert_eq!(none.deadline(), None);
        let mut every = Heartbeat::client_pings(Duration::from_secs(1));
        let first = every.deadline().expect("client pings");
        assert!(!every.due(first - Duration::from_millis(1)));
        assert!(every.due(first));
        assert!(every.deadline().is_some_and(|next| next >= first + Duration::from_secs(1)));
    }
}
