//! Socket.IO v5 clients over Engine.IO v4 WebSocket sessions (socket.io-protocol,
//! "Connection to a namespace"): after the engine handshake the client sends `40` (CONNECT
//! to `/`) and waits for `40{"sid":…}`; events are `42[…]`, acks `43<id>[…]`. The scenarios
//! drive the reference behaviour of `tpcio bench` and `node-reference/sio-bench.mjs`:
//! [`echo`] (emit or ack round trips) and [`broadcast`] (one sender, every client receives).

pub mod broadcast;
pub mod echo;

use serde::Deserialize;

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

/// Opens an Engine.IO v4 session over WebSocket at `target` and connects it to the main
/// namespace.
pub async fn connect(target: &Target, sources: &Sources) -> Result<Ws, LoadError> {
    let mut ws = WsClient::connect(target, sources, "EIO=4&transport=websocket").await?;
    let open = ws.next_text().await?;
    parse_open(ws.payload(open))?;
    ws.queue_text(b"40");
    loop {
        let range = ws.next_text().await?;
        match ws.payload(range) {
            [b'4', b'0', json @ ..] => {
                parse_connect(json)?;
                return Ok(ws);
            }
            [b'2'] => ws.queue_text(b"3"),
            text @ [b'4', b'4', ..] => return Err(LoadError::ConnectRefused(excerpt(text))),
            text => return Err(LoadError::UnexpectedPacket(excerpt(text))),
        }
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
}
