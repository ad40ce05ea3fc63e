//! The echo scenarios: Socket.IO clients in a closed loop, each keeping `pipeline` `echo`
//! events in flight and timing the answer. Without `--ack` the event is
//! `42["echo","<payload>"]` and the server emits the very same packet back; with `--ack` it is
//! `42<id>["echo","<payload>"]` and the answer is the acknowledgement `43<id>["<payload>"]`
//! (socket.io-protocol, "Acknowledgement"), matched by id. Another event name (`--event
//! echo-typed`) changes what is sent only: the answer is still `echo` (or the ack). [`Exchange`] is that bookkeeping
//! for one client whatever carries the packets; [`SioEcho`] carries them over WebSocket
//! (Engine.IO v4 or v3), `super::polling` over HTTP long-polling.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Eio, Heartbeat, Packet, Ws, connect_with};
use crate::eio::{bounded, payload};
use crate::error::{LoadError, excerpt};
use crate::net::{Sources, Target};
use crate::run::{Scenario, Window};
use crate::stats::Recorder;
use crate::ws_client::Opcode;

/// What every echo packet of a run is; built once, shared by its clients.
pub struct Messages {
    /// `["<event>","<payload>"]`: what follows `42` (or `42<id>`) in every event sent.
    event: String,
    /// The whole event without ack, `42["<event>","<payload>"]`: what is sent.
    packet: String,
    /// `42["echo","<payload>"]`: the emit expected back (the packet sent, for `echo`).
    answer: String,
    /// `["<payload>"]`: the arguments an acknowledgement must carry.
    ack_args: Vec<u8>,
    ack: bool,
    pub pipeline: usize,
}

impl Messages {
    /// `event` is the name emitted; the server answers with `echo` (or the ack) whatever it is.
    pub fn new(event: &str, size: usize, ack: bool, pipeline: usize) -> Messages {
        let payload = payload(size);
        // A string always serializes.
        let name = serde_json::to_string(event).unwrap_or_default();
        let event = format!(r#"[{name},"{payload}"]"#);
        let packet = format!("42{event}");
        let answer = format!(r#"42["echo","{payload}"]"#);
        let ack_args = format!(r#"["{payload}"]"#).into_bytes();
        Messages { event, packet, answer, ack_args, ack, pipeline }
    }
}

/// What a received packet meant to the exchange.
pub enum Seen {
    Answer,
    Ping,
    Other,
}

/// The packets one client has in flight: ack id (unused without `--ack`, where answers come
/// in order) and when each was handed over.
pub struct Exchange<'a> {
    messages: &'a Messages,
    in_flight: VecDeque<(u64, Instant)>,
    next_id: u64,
    scratch: Vec<u8>,
}

impl<'a> Exchange<'a> {
    pub fn new(messages: &'a Messages) -> Exchange<'a> {
        let in_flight = VecDeque::with_capacity(messages.pipeline);
        Exchange { messages, in_flight, next_id: 0, scratch: Vec::new() }
    }

    /// Hands `send` the packets that bring the exchange back to `pipeline` in flight.
    pub fn refill(&mut self, mut send: impl FnMut(&[u8])) {
        while self.in_flight.len() < self.messages.pipeline {
            if self.messages.ack {
                self.scratch.clear();
                // Writing to a Vec cannot fail.
                let _ = write!(self.scratch, "42{}{}", self.next_id, self.messages.event);
                send(&self.scratch);
            } else {
                send(self.messages.packet.as_bytes());
            }
            self.in_flight.push_back((self.next_id, Instant::now()));
            self.next_id += 1;
        }
    }

    pub fn idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Takes one received packet; an answer is timed and recorded.
    pub fn on_packet(&mut self, text: &[u8], rec: &Recorder) -> Result<Seen, LoadError> {
        let m = self.messages;
        let sent = match Packet::parse(text)? {
            Packet::Event(_) if !m.ack => {
                if text != m.answer.as_bytes() {
                    return Err(LoadError::EchoMismatch);
                }
                self.in_flight.pop_front().ok_or(LoadError::EchoMismatch)?.1
            }
            Packet::Ack(rest) if m.ack => {
                let (id, args) = split_ack(rest).ok_or_else(|| LoadError::UnexpectedPacket(excerpt(text)))?;
                if args != m.ack_args.as_slice() {
                    return Err(LoadError::EchoMismatch);
                }
                let at = self.in_flight.iter().position(|&(sent_id, _)| sent_id == id);
                at.and_then(|at| self.in_flight.remove(at)).ok_or(LoadError::EchoMismatch)?.1
            }
            Packet::Event(_) | Packet::Ack(_) => return Err(LoadError::UnexpectedPacket(excerpt(text))),
            Packet::Ping => return Ok(Seen::Ping),
            Packet::Other => return Ok(Seen::Other),
            Packet::Closed(why) => return Err(LoadError::Closed(why)),
        };
        rec.record(sent.elapsed());
        Ok(Seen::Answer)
    }
}

/// The WebSocket scenario, shared by every client (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct SioEcho(Arc<Config>);

struct Config {
    target: Target,
    sources: Arc<Sources>,
    eio: Eio,
    messages: Messages,
    op_timeout: Duration,
}

impl SioEcho {
    pub fn new(
        target: Target,
        sources: Arc<Sources>,
        eio: Eio,
        messages: Messages,
        op_timeout: Duration,
    ) -> SioEcho {
        SioEcho(Arc::new(Config { target, sources, eio, messages, op_timeout }))
    }
}

impl Scenario for SioEcho {
    type Client = (Ws, Heartbeat);

    async fn connect(&self) -> Result<(Ws, Heartbeat), LoadError> {
        connect_with(&self.0.target, &self.0.sources, self.0.eio).await
    }

    async fn run(&self, client: (Ws, Heartbeat), window: Window, rec: &Recorder) -> Result<(), LoadError> {
        echo_loop(client, &self.0, Instant::from_std(window.end), rec).await
    }
}

/// Keeps `pipeline` events in flight until `end`, recording each round trip. A v3 client's
/// pings ride along with the next write: a closed loop writes far more often than once a
/// `pingInterval`, and a stalled one fails on `op_timeout` well before `pingTimeout`.
async fn echo_loop(
    (mut ws, mut heartbeat): (Ws, Heartbeat),
    config: &Config,
    end: Instant,
    rec: &Recorder,
) -> Result<(), LoadError> {
    let mut exchange = Exchange::new(&config.messages);
    loop {
        exchange.refill(|packet| ws.queue_text(packet));
        if heartbeat.due(Instant::now()) {
            ws.queue_text(b"2");
        }
        ws.flush().await?;
        // Take every frame already received before writing again, so pipelined answers are
        // followed by one write.
        loop {
            let mut answered = false;
            while let Some((opcode, range)) = ws.frame()? {
                if opcode != Opcode::Text {
                    return Err(LoadError::UnexpectedPacket("binary frame".into()));
                }
                match exchange.on_packet(ws.payload(range), rec)? {
                    Seen::Answer if Instant::now() >= end => return Ok(()),
                    Seen::Answer => answered = true,
                    Seen::Ping => ws.queue_text(b"3"),
                    Seen::Other => {}
                }
            }
            if answered || ws.has_queued() {
                break;
            }
            if bounded(ws.read_more(), end, config.op_timeout).await?.is_none() {
                return Ok(());
            }
        }
    }
}

/// Splits `<id>[…]` (an ACK packet after `43`) into the id and the arguments.
pub fn split_ack(rest: &[u8]) -> Option<(u64, &[u8])> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let id = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    Some((id, &rest[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Counters;

    #[test]
    fn splits_ack_ids() {
        assert_eq!(split_ack(br#"12["ab"]"#), Some((12, &br#"["ab"]"#[..])));
        assert_eq!(split_ack(br#"0[]"#), Some((0, &b"[]"[..])));
        assert_eq!(split_ack(br#"["ab"]"#), None);
        assert_eq!(split_ack(b"99999999999999999999999[]"), None);
    }

    fn sent(exchange: &mut Exchange<'_>) -> Vec<String> {
        let mut packets = Vec::new();
        exchange.refill(|p| packets.push(String::from_utf8_lossy(p).into_owned()));
        packets
    }

    #[test]
    fn matches_acks_by_id_in_any_order() {
        let messages = Messages::new("echo", 2, true, 2);
        let mut exchange = Exchange::new(&messages);
        assert_eq!(sent(&mut exchange), [r#"420["echo","ab"]"#, r#"421["echo","ab"]"#]);
        let rec = Recorder::new(Arc::new(Counters::default()));
        assert!(matches!(exchange.on_packet(br#"431["ab"]"#, &rec), Ok(Seen::Answer)));
        assert_eq!(sent(&mut exchange), [r#"422["echo","ab"]"#]);
        assert!(matches!(exchange.on_packet(br#"431["ab"]"#, &rec), Err(LoadError::EchoMismatch)));
        assert!(matches!(exchange.on_packet(br#"430["xx"]"#, &rec), Err(LoadError::EchoMismatch)));
        assert!(exchange.on_packet(br#"42["echo","ab"]"#, &rec).is_err());
        assert!(matches!(exchange.on_packet(b"2", &rec), Ok(Seen::Ping)));
    }

    #[test]
    fn matches_emits_in_order() {
        let messages = Messages::new("echo", 3, false, 1);
        let mut exchange = Exchange::new(&messages);
        assert_eq!(sent(&mut exchange), [r#"42["echo","abc"]"#]);
        let rec = Recorder::new(Arc::new(Counters::default()));
        assert!(matches!(exchange.on_packet(br#"42["echo","abc"]"#, &rec), Ok(Seen::Answer)));
        assert!(exchange.idle());
        assert!(matches!(exchange.on_packet(br#"42["echo","abc"]"#, &rec), Err(LoadError::EchoMismatch)));
        assert!(matches!(exchange.on_packet(b"40", &rec), Ok(Seen::Other)));
    }

    #[test]
    fn sends_another_event_and_expects_echo_back() {
        let messages = Messages::new("echo-typed", 3, false, 1);
        let mut exchange = Exchange::new(&messages);
        assert_eq!(sent(&mut exchange), [r#"42["echo-typed","abc"]"#]);
        let rec = Recorder::new(Arc::new(Counters::default()));
        assert!(matches!(
            exchange.on_packet(br#"42["echo-typed","abc"]"#, &rec),
            Err(LoadError::EchoMismatch)
        ));
        assert!(matches!(exchange.on_packet(br#"42["echo","abc"]"#, &rec), Ok(Seen::Answer)));
        let acked = Messages::new("a\"b", 2, true, 1);
        assert_eq!(sent(&mut Exchange::new(&acked)), [r#"420["a\"b","ab"]"#]);
    }
}
