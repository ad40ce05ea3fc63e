//! The `sio-echo` scenario: Socket.IO clients in a closed loop, each keeping `pipeline`
//! `echo` events in flight and timing the answer. Without `--ack` the event is
//! `42["echo","<payload>"]` and the server emits the very same packet back; with `--ack` it is
//! `42<id>["echo","<payload>"]` and the answer is the acknowledgement `43<id>["<payload>"]`
//! (socket.io-protocol, "Acknowledgement"), matched by id.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Packet, Ws, connect};
use crate::eio::{bounded, payload};
use crate::error::{LoadError, excerpt};
use crate::net::{Sources, Target};
use crate::run::{Scenario, Window};
use crate::stats::Recorder;
use crate::ws_client::Opcode;

/// The scenario, shared by every client (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct SioEcho(Arc<Config>);

struct Config {
    target: Target,
    sources: Arc<Sources>,
    /// `["echo","<payload>"]`: what follows `42` (or `42<id>`) in every event sent.
    event: String,
    /// The whole event without ack, `42["echo","<payload>"]`: sent and expected back as is.
    packet: String,
    /// `["<payload>"]`: the arguments an acknowledgement must carry.
    ack_args: Vec<u8>,
    ack: bool,
    pipeline: usize,
    op_timeout: Duration,
}

impl SioEcho {
    pub fn new(
        target: Target,
        sources: Arc<Sources>,
        size: usize,
        ack: bool,
        pipeline: usize,
        op_timeout: Duration,
    ) -> SioEcho {
        let payload = payload(size);
        let event = format!(r#"["echo","{payload}"]"#);
        let packet = format!("42{event}");
        let ack_args = format!(r#"["{payload}"]"#).into_bytes();
        SioEcho(Arc::new(Config { target, sources, event, packet, ack_args, ack, pipeline, op_timeout }))
    }
}

impl Scenario for SioEcho {
    type Client = Ws;

    async fn connect(&self) -> Result<Ws, LoadError> {
        connect(&self.0.target, &self.0.sources).await
    }

    async fn run(&self, ws: Ws, window: Window, rec: &Recorder) -> Result<(), LoadError> {
        echo_loop(ws, &self.0, Instant::from_std(window.end), rec).await
    }
}

/// Keeps `config.pipeline` events in flight until `end`, recording each round trip.
async fn echo_loop(mut ws: Ws, config: &Config, end: Instant, rec: &Recorder) -> Result<(), LoadError> {
    // (ack id, sent at); ids are unused without `--ack`, where answers come in order.
    let mut in_flight: VecDeque<(u64, Instant)> = VecDeque::with_capacity(config.pipeline);
    let mut next_id = 0u64;
    loop {
        while in_flight.len() < config.pipeline {
            if config.ack {
                ws.queue_text(format!("42{next_id}{}", config.event).as_bytes());
            } else {
                ws.queue_text(config.packet.as_bytes());
            }
            in_flight.push_back((next_id, Instant::now()));
            next_id += 1;
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
                match on_frame(ws.payload(range), config, &mut in_flight, rec)? {
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

enum Seen {
    Answer,
    Ping,
    Other,
}

fn on_frame(
    text: &[u8],
    config: &Config,
    in_flight: &mut VecDeque<(u64, Instant)>,
    rec: &Recorder,
) -> Result<Seen, LoadError> {
    let sent = match Packet::parse(text)? {
        Packet::Event(_) if !config.ack => {
            if text != config.packet.as_bytes() {
                return Err(LoadError::EchoMismatch);
            }
            in_flight.pop_front().ok_or(LoadError::EchoMismatch)?.1
        }
        Packet::Ack(rest) if config.ack => {
            let (id, args) = split_ack(rest).ok_or_else(|| LoadError::UnexpectedPacket(excerpt(text)))?;
            if args != config.ack_args.as_slice() {
                return Err(LoadError::EchoMismatch);
            }
            let at = in_flight.iter().position(|&(sent_id, _)| sent_id == id);
            at.and_then(|at| in_flight.remove(at)).ok_or(LoadError::EchoMismatch)?.1
        }
        Packet::Event(_) | Packet::Ack(_) => return Err(LoadError::UnexpectedPacket(excerpt(text))),
        Packet::Ping => return Ok(Seen::Ping),
        Packet::Other => return Ok(Seen::Other),
        Packet::Closed(why) => return Err(LoadError::Closed(why)),
    };
    rec.record(sent.elapsed());
    Ok(Seen::Answer)
}

/// Splits `<id>[…]` (an ACK packet after `43`) into the id and the arguments.
fn split_ack(rest: &[u8]) -> Option<(u64, &[u8])> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let id = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    Some((id, &rest[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_ack_ids() {
        assert_eq!(split_ack(br#"12["ab"]"#), Some((12, &br#"["ab"]"#[..])));
        assert_eq!(split_ack(br#"0[]"#), Some((0, &b"[]"[..])));
        assert_eq!(split_ack(br#"["ab"]"#), None);
        assert_eq!(split_ack(b"99999999999999999999999[]"), None);
    }
}
