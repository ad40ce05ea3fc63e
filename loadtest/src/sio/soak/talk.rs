//! What one soak client says and expects, whatever carries it: at random times an `echo`
//! emit (answered by the same packet) or an `echo` with an ack (answered by `43<id>`), now
//! and then a `broadcast` (delivered to every client, this one included), one at a time;
//! every `broadcast` received is counted, pings are answered by the transport.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::{Rng, Shared};
use crate::error::{LoadError, excerpt};
use crate::sio::Packet;
use crate::sio::echo::split_ack;
use crate::stats::Recorder;

/// What the client is doing in a stretch of its life.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Emitting at random until `life_end`, then done once no answer is outstanding.
    Churn { life_end: Instant },
    /// Nothing but the heartbeat, until the session ends or the run stops.
    Hold,
    /// One ack round trip, to show a new session works.
    Verify,
}

/// What a received packet meant.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    Ping,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Echo,
    Ack(u64),
}

pub struct Talk<'a> {
    shared: &'a Shared,
    rng: &'a mut Rng,
    pending: Option<(Pending, Instant)>,
    next_id: u64,
    next_emit: Instant,
    verified: bool,
    scratch: Vec<u8>,
}

impl<'a> Talk<'a> {
    pub fn new(shared: &'a Shared, rng: &'a mut Rng) -> Talk<'a> {
        let next_emit = Instant::now() + rng.exponential(shared.plan.emit_every);
        Talk { shared, rng, pending: None, next_id: 0, next_emit, verified: false, scratch: Vec::new() }
    }

    /// The packet to send now, if one is due in `step`.
    pub fn due(&mut self, now: Instant, step: Step) -> Option<&[u8]> {
        if self.pending.is_some() {
            return None;
        }
        let shared = self.shared;
        let (counters, packets) = (&shared.counters, &shared.packets);
        let broadcast = match step {
            Step::Churn { life_end } if now >= self.next_emit && now < life_end => {
                self.next_emit = now + self.rng.exponential(shared.plan.emit_every);
                self.rng.chance(shared.plan.broadcast_chance)
            }
            Step::Verify if !self.verified => false,
            _ => return None,
        };
        if broadcast {
            counters.broadcasts.fetch_add(1, Ordering::Relaxed);
            return Some(packets.broadcast.as_bytes());
        }
        counters.emits.fetch_add(1, Ordering::Relaxed);
        if matches!(step, Step::Churn { .. }) && self.rng.chance(0.5) {
            self.pending = Some((Pending::Echo, now));
            return Some(packets.echo.as_bytes());
        }
        self.scratch.clear();
        // Writing to a Vec cannot fail.
        let _ = write!(self.scratch, "42{}{}", self.next_id, packets.event);
        self.pending = Some((Pending::Ack(self.next_id), now));
        self.next_id += 1;
        Some(&self.scratch)
    }

    /// Takes one received packet: an answer is checked and timed, a broadcast counted.
    pub fn on_packet(&mut self, text: &[u8], rec: &Recorder) -> Result<Seen, LoadError> {
        let packets = &self.shared.packets;
        let answered = match (Packet::parse(text)?, self.pending) {
            (Packet::Event(args), _) if args.starts_with(br#"["broadcast""#) => {
                self.shared.counters.deliveries.fetch_add(1, Ordering::Relaxed);
                return Ok(Seen::Other);
            }
            (Packet::Event(_), Some((Pending::Echo, sent))) if text == packets.echo.as_bytes() => sent,
            (Packet::Ack(rest), Some((Pending::Ack(id), sent))) => match split_ack(rest) {
                Some((got, args)) if got == id && args == packets.ack_args.as_bytes() => sent,
                _ => return Err(LoadError::EchoMismatch),
            },
            (Packet::Event(_) | Packet::Ack(_), _) => return Err(LoadError::UnexpectedPacket(excerpt(text))),
            (Packet::Ping, _) => return Ok(Seen::Ping),
            (Packet::Other, _) => return Ok(Seen::Other),
            (Packet::Closed(why), _) => return Err(LoadError::Closed(why)),
        };
        self.pending = None;
        self.verified = true;
        self.shared.counters.answers.fetch_add(1, Ordering::Relaxed);
        rec.record(answered.elapsed());
        Ok(Seen::Other)
    }

    /// How long an answer, or a write, may take.
    pub fn op_timeout(&self) -> Duration {
        self.shared.plan.op_timeout
    }

    /// Whether `step` is over.
    pub fn finished(&self, now: Instant, step: Step) -> bool {
        match step {
            Step::Churn { life_end } => self.pending.is_none() && now >= life_end,
            Step::Hold => false,
            Step::Verify => self.verified,
        }
    }

    /// When to look again without anything received; an error once an answer is overdue.
    pub fn deadline(&self, now: Instant, step: Step) -> Result<Option<Instant>, LoadError> {
        let op_timeout = self.shared.plan.op_timeout;
        if let Some((_, sent)) = self.pending {
            return if now >= sent + op_timeout {
                Err(LoadError::Timeout(op_timeout))
            } else {
                Ok(Some(sent + op_timeout))
            };
        }
        Ok(match step {
            Step::Churn { life_end } => Some(self.next_emit.min(life_end)),
            Step::Hold | Step::Verify => None,
        })
    }
}

/// How far in the future "no deadline" is, for a sleep that must not fire.
pub const FAR: Duration = Duration::from_secs(24 * 3600);
