//! The `soak` scenario's clients. Each is a slot that stays filled for the whole run, over
//! WebSocket or HTTP long-polling (a slot keeps its transport):
//!
//! 1. churn, until `soak` after the window opens: the session lives a random (exponential)
//!    lifetime, emitting at random meanwhile ([`talk`]), then leaves as socket.io-client does
//!    and a new session takes its place at once; a session that fails is replaced too;
//! 2. hold: nothing but the heartbeat, until the server ends the session (the restart);
//! 3. avalanche: reconnect at once, retrying with a short backoff until the window ends, then
//!    one ack round trip on the new session, then hold until the run stops.
//!
//! Every wait is bounded by `op_timeout`, the window's end or the run's stop signal.

mod polling;
mod talk;
mod ws;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::eio::payload;
use crate::error::LoadError;
use crate::net::{Sources, Target};
use crate::run::{Scenario, Window};
use crate::stats::{Recorder, new_histogram};
use talk::{Step, Talk};

/// The first pause after a failed reconnect; it doubles up to [`RETRY_MAX`], with jitter.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The knobs of a run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// How long the churn lasts from the window's start.
    pub soak: Duration,
    /// Mean lifetime of a session during the churn.
    pub lifetime: Duration,
    /// Mean time between two emits of one client.
    pub emit_every: Duration,
    /// Chance that an emit is a `broadcast` rather than an `echo`.
    pub broadcast_chance: f64,
    pub op_timeout: Duration,
    pub size: usize,
}

/// Every packet a client sends or expects, built once.
struct Packets {
    /// `["echo","<payload>"]`, what follows `42<id>` in an ack request.
    event: String,
    /// `42["echo","<payload>"]`, sent and expected back as is.
    echo: String,
    /// `["<payload>"]`, what an ack carries.
    ack_args: String,
    broadcast: String,
}

/// What every client adds to, read by the main thread.
#[derive(Default)]
pub struct Counters {
    /// Sessions open right now.
    pub live: AtomicU64,
    /// Sessions opened after the first connect of each slot (churn and avalanche).
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    /// Sessions that ended their lifetime and left.
    pub leaves: AtomicU64,
    pub leave_failures: AtomicU64,
    /// Sessions that failed while in use (no answer, a wrong answer, closed by the server).
    pub session_failures: AtomicU64,
    pub emits: AtomicU64,
    pub answers: AtomicU64,
    pub broadcasts: AtomicU64,
    pub deliveries: AtomicU64,
    /// Slots holding a session after the churn.
    pub holding: AtomicU64,
    /// Held sessions the server ended.
    pub dropped: AtomicU64,
    pub reconnect_attempts: AtomicU64,
    pub reconnected: AtomicU64,
    /// Slots that gave up reconnecting (the window ended or the run stopped).
    pub not_reconnected: AtomicU64,
    pub verified: AtomicU64,
    pub verify_failures: AtomicU64,
    /// Reconnected sessions that ended again before the run stopped.
    pub dropped_again: AtomicU64,
    /// Nanoseconds since the run's epoch; `u64::MAX` until it happens.
    pub first_drop_ns: AtomicU64,
    pub first_reconnect_ns: AtomicU64,
    /// Nanoseconds since the epoch; 0 until it happens.
    pub last_reconnect_ns: AtomicU64,
}

/// Failures by phase and message, for the report.
pub type ErrorCounts = BTreeMap<String, u64>;

/// What the slots share (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct Soak(Arc<Shared>);

pub struct Shared {
    target: Target,
    sources: Arc<Sources>,
    plan: Plan,
    packets: Packets,
    /// Slots still to be given the polling transport.
    polling_left: AtomicUsize,
    /// Gives each slot its own random stream.
    seeds: AtomicU64,
    epoch: std::time::Instant,
    stop: watch::Sender<bool>,
    pub counters: Counters,
    errors: Mutex<ErrorCounts>,
    /// Per slot, from its session's end to its reconnection, microseconds.
    reconnect_delays: Mutex<Histogram<u64>>,
}

impl Soak {
    pub fn new(target: Target, sources: Arc<Sources>, plan: Plan, polling: usize) -> Soak {
        let p = payload(plan.size);
        let packets = Packets {
            event: format!(r#"["echo","{p}"]"#),
            echo: format!(r#"42["echo","{p}"]"#),
            ack_args: format!(r#"["{p}"]"#),
            broadcast: r#"42["broadcast","soak"]"#.to_string(),
        };
        let counters = Counters {
            first_drop_ns: AtomicU64::new(u64::MAX),
            first_reconnect_ns: AtomicU64::new(u64::MAX),
            ..Counters::default()
        };
        Soak(Arc::new(Shared {
            target,
            sources,
            plan,
            packets,
            polling_left: AtomicUsize::new(polling),
            seeds: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            stop: watch::channel(false).0,
            counters,
            errors: Mutex::default(),
            reconnect_delays: Mutex::new(new_histogram()),
        }))
    }

    pub fn shared(&self) -> &Shared {
        &self.0
    }
}

impl Shared {
    /// Ends every slot's hold (and any retry left).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// When the moment an `*_ns` counter holds came, in seconds after `since` (negative when
    /// before); `None` while it has not come.
    pub fn seconds_after(&self, ns: &AtomicU64, since: std::time::Instant) -> Option<f64> {
        let ns = ns.load(Ordering::Relaxed);
        if ns == u64::MAX || ns == 0 {
            return None;
        }
        let at = self.epoch + Duration::from_nanos(ns);
        Some(if at >= since { (at - since).as_secs_f64() } else { -(since - at).as_secs_f64() })
    }

    pub fn errors(&self) -> ErrorCounts {
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }

    pub fn reconnect_delays(&self) -> Histogram<u64> {
        self.reconnect_delays.lock().map(|h| h.clone()).unwrap_or_else(|_| new_histogram())
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    fn count_error(&self, phase: &str, e: &LoadError) {
        let mut message = e.to_string();
        message.truncate(120);
        if let Ok(mut errors) = self.errors.lock() {
            *errors.entry(format!("{phase}: {message}")).or_default() += 1;
        }
    }

    fn add(&self, counter: impl Fn(&Counters) -> &AtomicU64) {
        counter(&self.counters).fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Websocket,
    Polling,
}

pub enum Client {
    Ws(crate::sio::Ws),
    Polling(polling::PollSession),
}

/// How a stretch of a session's life ended, when it did not fail.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Done,
    Stopped,
}

impl Client {
    fn kind(&self) -> Kind {
        match self {
            Client::Ws(_) => Kind::Websocket,
            Client::Polling(_) => Kind::Polling,
        }
    }

    async fn open(kind: Kind, shared: &Shared) -> Result<Client, LoadError> {
        let timeout = shared.plan.op_timeout;
        let open = async {
            Ok(match kind {
                Kind::Websocket => Client::Ws(ws::open(shared).await?),
                Kind::Polling => Client::Polling(polling::open(shared).await?),
            })
        };
        tokio::time::timeout(timeout, open).await.unwrap_or(Err(LoadError::Timeout(timeout)))
    }

    async fn drive(
        &mut self,
        talk: &mut Talk<'_>,
        step: Step,
        stop: &mut watch::Receiver<bool>,
        rec: &Recorder,
    ) -> Result<Ended, LoadError> {
        match self {
            Client::Ws(c) => ws::drive(c, talk, step, stop, rec).await,
            Client::Polling(c) => polling::drive(c, talk, step, stop, rec).await,
        }
    }

    async fn leave(self, timeout: Duration) -> Result<(), LoadError> {
        let leave = async {
            match self {
                Client::Ws(c) => ws::leave(c).await,
                Client::Polling(c) => polling::leave(c).await,
            }
        };
        tokio::time::timeout(timeout, leave).await.unwrap_or(Err(LoadError::Timeout(timeout)))
    }
}

impl Scenario for Soak {
    type Client = Client;

    async fn connect(&self) -> Result<Client, LoadError> {
        let shared = &*self.0;
        let polling =
            shared.polling_left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        let kind = if polling.is_ok() { Kind::Polling } else { Kind::Websocket };
        let client = Client::open(kind, shared).await?;
        shared.add(|c| &c.live);
        Ok(client)
    }

    async fn run(&self, client: Client, window: Window, rec: &Recorder) -> Result<(), LoadError> {
        let shared = &*self.0;
        let soak_end = Instant::from_std(window.start) + shared.plan.soak;
        let end = Instant::from_std(window.end);
        let mut rng = Rng::new(shared.seeds.fetch_add(1, Ordering::Relaxed));
        let mut stop = shared.stop.subscribe();
        let kind = client.kind();
        let Some(client) = churn(shared, client, soak_end, end, &mut rng, &mut stop, rec).await else {
            return Ok(());
        };
        shared.add(|c| &c.holding);
        avalanche(shared, client, kind, end, &mut rng, &mut stop, rec).await;
        Ok(())
    }
}

/// Sessions live, emit and are replaced until `soak_end`; the session open then, if any
/// (the slot reconnects until `end` when it has none).
async fn churn(
    shared: &Shared,
    client: Client,
    soak_end: Instant,
    end: Instant,
    rng: &mut Rng,
    stop: &mut watch::Receiver<bool>,
    rec: &Recorder,
) -> Option<Client> {
    let kind = client.kind();
    let mut client = Some(client);
    let mut retry = RETRY_FIRST;
    loop {
        let mut c = match client.take() {
            Some(c) => c,
            None => {
                if *stop.borrow() || Instant::now() >= end {
                    return None;
                }
                match Client::open(kind, shared).await {
                    Ok(c) => {
                        shared.add(|c| &c.live);
                        shared.add(|c| &c.connects);
                        retry = RETRY_FIRST;
                        c
                    }
                    Err(e) => {
                        shared.add(|c| &c.connect_failures);
                        shared.count_error("churn connect", &e);
                        rec.error("connect", &e);
                        pause(rng, &mut retry, stop).await;
                        continue;
                    }
                }
            }
        };
        if Instant::now() >= soak_end {
            return Some(c);
        }
        let life_end = (Instant::now() + rng.exponential(shared.plan.lifetime)).min(soak_end);
        let mut talk = Talk::new(shared, rng);
        match c.drive(&mut talk, Step::Churn { life_end }, stop, rec).await {
            Ok(Ended::Done) if Instant::now() >= soak_end => return Some(c),
            Ok(Ended::Done) => {
                shared.counters.live.fetch_sub(1, Ordering::Relaxed);
                shared.add(|c| &c.leaves);
                if let Err(e) = c.leave(shared.plan.op_timeout).await {
                    shared.add(|c| &c.leave_failures);
                    shared.count_error("leave", &e);
                    rec.warning("leave", &e);
                }
            }
            Ok(Ended::Stopped) => return None,
            Err(e) => {
                shared.counters.live.fetch_sub(1, Ordering::Relaxed);
                shared.add(|c| &c.session_failures);
                shared.count_error("session", &e);
                rec.error("session", &e);
            }
        }
    }
}

/// Holds `client` until the server ends it, reconnects, checks the new session with one ack,
/// and holds that until the run stops.
async fn avalanche(
    shared: &Shared,
    mut client: Client,
    kind: Kind,
    end: Instant,
    rng: &mut Rng,
    stop: &mut watch::Receiver<bool>,
    rec: &Recorder,
) {
    let mut talk = Talk::new(shared, rng);
    if let Ok(Ended::Stopped) = client.drive(&mut talk, Step::Hold, stop, rec).await {
        return;
    }
    drop(client);
    let dropped = Instant::now();
    shared.counters.live.fetch_sub(1, Ordering::Relaxed);
    shared.add(|c| &c.dropped);
    shared.counters.first_drop_ns.fetch_min(shared.now_ns(), Ordering::Relaxed);

    let mut retry = RETRY_FIRST;
    let mut client = loop {
        if *stop.borrow() || Instant::now() >= end {
            shared.add(|c| &c.not_reconnected);
            return;
        }
        shared.add(|c| &c.reconnect_attempts);
        match Client::open(kind, shared).await {
            Ok(c) => break c,
            Err(e) => {
                shared.count_error("reconnect", &e);
                pause(rng, &mut retry, stop).await;
            }
        }
    };
    let now_ns = shared.now_ns();
    shared.counters.first_reconnect_ns.fetch_min(now_ns, Ordering::Relaxed);
    shared.counters.last_reconnect_ns.fetch_max(now_ns, Ordering::Relaxed);
    shared.add(|c| &c.live);
    shared.add(|c| &c.connects);
    shared.add(|c| &c.reconnected);
    if let Ok(mut delays) = shared.reconnect_delays.lock() {
        delays.saturating_record(u64::try_from(dropped.elapsed().as_micros()).unwrap_or(u64::MAX).max(1));
    }

    let mut talk = Talk::new(shared, rng);
    match client.drive(&mut talk, Step::Verify, stop, rec).await {
        Ok(Ended::Done) => shared.add(|c| &c.verified),
        Ok(Ended::Stopped) => return,
        Err(e) => {
            shared.add(|c| &c.verify_failures);
            shared.count_error("verify", &e);
            rec.error("verify", &e);
            return;
        }
    }
    if let Err(e) = client.drive(&mut talk, Step::Hold, stop, rec).await {
        shared.add(|c| &c.dropped_again);
        shared.count_error("after reconnect", &e);
    }
}

/// Sleeps the retry pause (with ±50 % jitter, as socket.io-client's randomizationFactor 0.5)
/// and doubles it, up to [`RETRY_MAX`]; ends early when the run stops.
async fn pause(rng: &mut Rng, retry: &mut Duration, stop: &mut watch::Receiver<bool>) {
    let pause = retry.mul_f64(0.5 + rng.unit());
    *retry = (*retry * 2).min(RETRY_MAX);
    tokio::select! {
        _ = stop.changed() => {}
        () = tokio::time::sleep(pause) => {}
    }
}

/// A small generator (SplitMix64) for the clients' random choices; no need for quality beyond
/// spreading events out.
pub struct Rng(u64);

impl Rng {
    pub fn new(stream: u64) -> Rng {
        Rng(RandomState::new().hash_one(stream))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponentially distributed with the given mean, cut at ten means.
    pub fn exponential(&mut self, mean: Duration) -> Duration {
        mean.mul_f64((-(1.0 - self.unit()).ln()).min(10.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_draws_stay_in_range() {
        let mut rng = Rng::new(1);
        let mean = Duration::from_secs(10);
        let draws: Vec<Duration> = (0..10_000).map(|_| rng.exponential(mean)).collect();
        assert!(draws.iter().all(|d| *d <= mean * 10));
        let average = draws.iter().sum::<Duration>() / 10_000;
        assert!(average > Duration::from_secs(9) && average < Duration::from_secs(11), "{average:?}");
        let hits = (0..10_000).filter(|_| rng.chance(0.1)).count();
        assert!((800..1200).contains(&hits), "{hits}");
        assert!((0..1000).all(|_| (0.0..1.0).contains(&rng.unit())));
    }
}
