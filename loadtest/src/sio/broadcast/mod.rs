//! The `sio-broadcast` scenario: N receiving clients stay connected while one more client,
//! the [`sender`], emits `42["broadcast",<seq>,<t_sent_ns>]` at a target rate; the server
//! re-emits each to every socket (`io.emit`), and every receiver counts the deliveries and
//! times them (now − `t_sent_ns`, one clock for the whole process; `t_sent_ns` is the time the
//! message was due, so a sender held back by the server does not hide the wait). The measurement runs in
//! [`steps`] over the same connections: one fixed-rate step, or a search for the highest
//! rate delivered in full within a latency bound.
//!
//! A step only counts the messages it sent: receivers compare `seq` with the [`Gate`], the
//! first sequence number of the open step (`u64::MAX` between steps), and count anything
//! older as late rather than mixing it into the next step's figures.

pub mod sender;
pub mod steps;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{Packet, Ws, connect};
use crate::error::{LoadError, excerpt};
use crate::net::{Sources, Target};
use crate::run::{Scenario, Window};
use crate::stats::Recorder;
use crate::ws_client::Opcode;

/// The process-wide clock of `t_sent_ns`: nanoseconds since one `Instant`, so sender and
/// receivers on different threads agree without a wall clock.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: std::time::Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock { epoch: std::time::Instant::now() }
    }

    pub fn now_ns(&self) -> u64 {
        self.ns_at(std::time::Instant::now())
    }

    /// `at` on this clock (0 for an instant before its epoch).
    pub fn ns_at(&self, at: std::time::Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

/// The first sequence number the open step counts; `u64::MAX` while no step is open.
#[derive(Debug)]
pub struct Gate(AtomicU64);

impl Gate {
    pub fn closed() -> Gate {
        Gate(AtomicU64::new(u64::MAX))
    }

    pub fn open_at(&self, first_seq: u64) {
        self.0.store(first_seq, Ordering::SeqCst);
    }

    pub fn close(&self) {
        self.0.store(u64::MAX, Ordering::SeqCst);
    }

    fn counts(&self, seq: u64) -> bool {
        seq >= self.0.load(Ordering::Acquire)
    }
}

/// The receiving clients (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct Receivers(Arc<Config>);

struct Config {
    target: Target,
    sources: Arc<Sources>,
    clock: Clock,
    gate: Arc<Gate>,
}

impl Receivers {
    pub fn new(target: Target, sources: Arc<Sources>, clock: Clock, gate: Arc<Gate>) -> Receivers {
        Receivers(Arc::new(Config { target, sources, clock, gate }))
    }
}

impl Scenario for Receivers {
    type Client = Ws;

    async fn connect(&self) -> Result<Ws, LoadError> {
        connect(&self.0.target, &self.0.sources).await
    }

    async fn run(&self, ws: Ws, window: Window, rec: &Recorder) -> Result<(), LoadError> {
        receive(ws, &self.0, Instant::from_std(window.end), rec).await
    }
}

/// Counts and times every broadcast until `end`, answering pings.
async fn receive(mut ws: Ws, config: &Config, end: Instant, rec: &Recorder) -> Result<(), LoadError> {
    let stop = tokio::time::sleep_until(end);
    tokio::pin!(stop);
    loop {
        while let Some((opcode, range)) = ws.frame()? {
            let text = ws.payload(range);
            if opcode != Opcode::Text {
                return Err(LoadError::UnexpectedPacket(excerpt(text)));
            }
            match Packet::parse(text)? {
                Packet::Event(args) => {
                    let (seq, sent_ns) =
                        parse_broadcast(args).ok_or_else(|| LoadError::UnexpectedPacket(excerpt(text)))?;
                    if config.gate.counts(seq) {
                        let latency = config.clock.now_ns().saturating_sub(sent_ns);
                        rec.record(Duration::from_nanos(latency));
                    } else {
                        rec.late();
                    }
                }
                Packet::Ping => ws.queue_text(b"3"),
                Packet::Other => {}
                Packet::Ack(_) => return Err(LoadError::UnexpectedPacket(excerpt(text))),
                Packet::Closed(why) => return Err(LoadError::Closed(why)),
            }
        }
        ws.flush().await?;
        tokio::select! {
            biased;
            () = &mut stop => return Ok(()),
            read = ws.read_more() => read?,
        }
    }
}

/// The packet the sender emits and every receiver gets back.
pub fn broadcast_packet(seq: u64, sent_ns: u64) -> String {
    format!(r#"42["broadcast",{seq},{sent_ns}]"#)
}

/// `(seq, t_sent_ns)` from the arguments `["broadcast",<seq>,<t_sent_ns>]`, or with one more
/// string argument: the offset a server with connection state recovery appends.
fn parse_broadcast(args: &[u8]) -> Option<(u64, u64)> {
    let mut numbers = args.strip_prefix(br#"["broadcast","#)?.strip_suffix(b"]")?;
    if numbers.last() == Some(&b'"') {
        let quote = numbers.iter().position(|&b| b == b'"')?;
        numbers = numbers[..quote].strip_suffix(b",")?;
    }
    let comma = numbers.iter().position(|&b| b == b',')?;
    let number = |digits: &[u8]| std::str::from_utf8(digits).ok()?.parse::<u64>().ok();
    Some((number(&numbers[..comma])?, number(&numbers[comma + 1..])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_sender_emits() {
        let packet = broadcast_packet(42, 1_234_567_890);
        assert_eq!(packet, r#"42["broadcast",42,1234567890]"#);
        let args = packet.as_bytes().strip_prefix(b"42").expect("event");
        assert_eq!(parse_broadcast(args), Some((42, 1_234_567_890)));
        assert_eq!(parse_broadcast(br#"["broadcast",1]"#), None);
        assert_eq!(parse_broadcast(br#"["echo",1,2]"#), None);
        assert_eq!(parse_broadcast(br#"["broadcast",-1,2]"#), None);
        assert_eq!(parse_broadcast(br#"["broadcast",7,9,"Q8yLHNB.0"]"#), Some((7, 9)));
        assert_eq!(parse_broadcast(br#"["broadcast",7,"x"]"#), None);
    }

    #[test]
    fn the_gate_counts_the_open_step_only() {
        let gate = Gate::closed();
        assert!(!gate.counts(0));
        gate.open_at(10);
        assert!((!gate.counts(9), gate.counts(10), gate.counts(11)) == (true, true, true));
        gate.close();
        assert!(!gate.counts(11));
        assert!(Clock::new().now_ns() < 1_000_000_000);
    }
}
