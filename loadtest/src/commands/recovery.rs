//! `recovery`: connection state recovery under load (Node's `connectionStateRecovery`;
//! `tpcio --recovery`). N clients connect (v5), join one of `--rooms` rooms, and receive a
//! few `to` events so each holds an offset; then, round after round, every connection is cut
//! at once (the TCP connections close, nothing is said at the Socket.IO level), one more
//! client keeps emitting `to` events at `--rate` for `--outage` seconds, and every client
//! reconnects at once with its pid and last offset (see `sio::recovery`).
//!
//! Per round: how long each client took from the start of its reconnection to the CONNECT
//! answer with its old socket id and every event it missed (p50, p99, max), how many came
//! back recovered and how many fresh, on which shard they landed (`--shards`, tpcio), the
//! server's CPU over the reconnections. Every client checks that it got each event of its
//! room exactly once and in order, across all rounds; a violation, a fresh socket or a
//! client that did not come back in time fails the run (exit status 1, `"ok": false`).
//! With `--server-pid`, the server's memory before the clients connect, once they are all
//! connected with an offset, and while they are away (round 1, sessions kept).
//! `--rounds 0` only connects, cuts and reads the memory (a server without recovery too);
//! `--batches K` then connects and cuts K − 1 more batches while the earlier sessions are
//! kept, reading the memory after each: its growth is what the kept sessions hold.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::seconds;
use crate::cpu::CpuMeter;
use crate::mem::{Memory, PerConnection};
use crate::net::{Sources, Target};
use crate::rlimit::ensure_sockets;
use crate::sio::recovery::client::{self, Config, Phase, Reconnection, State};
use crate::sio::recovery::sender::SenderHandle;

/// Connections being opened at once at the start (not at the reconnections: all at once).
const CONNECTS_IN_FLIGHT: usize = 64;
/// How often the scenario looks at its clients while it waits for them.
const POLL: Duration = Duration::from_millis(5);
/// How often it asks the server for its socket count while waiting for the closes.
const COUNT_POLL: Duration = Duration::from_millis(50);

#[derive(clap::Args, Debug)]
pub struct RecoveryArgs {
    /// The Socket.IO endpoint, e.g. http://127.0.0.1:3000/socket.io/
    #[arg(long)]
    url: String,
    /// Clients cut and reconnected (the sender is one more).
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Rooms; client i joins room i mod this.
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Cut-and-reconnect rounds; 0 only connects, cuts once and reads the memory.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds between the cut and the reconnections, while the sender emits.
    #[arg(long, default_value_t = 3.0)]
    outage: f64,
    /// `to` events per second the sender emits during the outage (rooms in turn).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// `to` events per room before the first cut, so every client holds an offset.
    #[arg(long, default_value_t = 2)]
    warm: u64,
    /// The server's shard count when it is tpcio: the shard of each connection is read from
    /// its Engine.IO sid, and the reconnections that landed on another shard are counted.
    #[arg(long)]
    shards: Option<usize>,
    /// The server process: its memory (/proc/PID/status, smaps_rollup) and CPU are read.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds one reconnection (answer and missed events) may take.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Seconds allowed for connecting every client at the start.
    #[arg(long, default_value_t = 60.0)]
    connect_timeout: f64,
    /// With `--rounds 0`: batches of `--clients` clients, each connected, sent one event per
    /// room and cut while the sessions of the batches before are kept; the memory after each.
    #[arg(long, default_value_t = 1)]
    batches: usize,
    /// Seconds to wait before each memory reading (the allocator returns freed pages late).
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// Loopback source addresses (127.0.0.1 to 127.0.0.N); by default one per 10 000 clients.
    #[arg(long)]
    sources: Option<usize>,
}

/// p50, p99 and max of some durations, in microseconds.
#[derive(Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quantiles {
    pub count: usize,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Quantiles {
    /// Nearest-rank quantiles of `values`.
    pub fn of(mut values: Vec<Duration>) -> Quantiles {
        if values.is_empty() {
            return Quantiles::default();
        }
        values.sort_unstable();
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let rank = |q: f64| {
            let r = (q * values.len() as f64).ceil() as usize;
            us(values[r.clamp(1, values.len()) - 1])
        };
        Quantiles {
            count: values.len(),
            p50_us: rank(0.5),
            p99_us: rank(0.99),
            max_us: us(values[values.len() - 1]),
        }
    }
}

#[derive(Serialize, Debug)]
pub struct RoundReport {
    round: usize,
    /// From the cut until the server counted only the sender (it saw every close).
    closes_seen_ms: f64,
    /// `to` events emitted during the outage, over all rooms.
    emitted: u64,
    reconnecting: usize,
    recovered: usize,
    fresh: usize,
    /// Clients that failed or did not come back in time.
    failed: usize,
    /// Events received before the CONNECT answer (the replay), over all clients.
    replayed: u64,
    /// Events fresh sockets lost.
    lost: u64,
    /// Reconnections that landed on another shard than the connection before (`--shards`).
    other_shard: Option<usize>,
    /// Reconnection start → CONNECT answer with every missed event there, recovered clients.
    latency: Quantiles,
    /// Reconnection start → CONNECT answer, every client.
    answer: Quantiles,
    /// From telling every client to reconnect until the last was back.
    all_back_ms: f64,
    server_cpu_s: Option<f64>,
    loadgen_cpu_s: f64,
}

#[derive(Serialize, Debug)]
pub struct RecoveryReport {
    scenario: &'static str,
    url: String,
    clients: usize,
    pub connected: usize,
    rooms: usize,
    /// The server gave a pid in its CONNECT answers.
    recovery_on: bool,
    outage_s: f64,
    rate: f64,
    rounds: Vec<RoundReport>,
    /// Over every round.
    latency: Quantiles,
    answer: Quantiles,
    recovered: usize,
    fresh: usize,
    failed: usize,
    violations: u64,
    first_violation: Option<String>,
    server_before: Option<Memory>,
    /// Every client connected, in its room, with an offset.
    server_connected: Option<Memory>,
    /// Every client away (round 1, after the outage's events): the sessions kept.
    server_away: Option<Memory>,
    server_end: Option<Memory>,
    /// (connected − before) / clients.
    per_connected_socket: Option<PerConnection>,
    /// (away − before) / clients: what a kept session (and its share of the log) holds.
    per_away_socket: Option<PerConnection>,
    /// `--rounds 0`: the memory once each batch is away (the first is `server_away`).
    server_away_batches: Vec<Memory>,
    /// `--rounds 0 --batches K`: (last − first of `server_away_batches`) / ((K − 1) × clients),
    /// the resident bytes one more kept session holds (the connections of a batch reuse the
    /// memory the one before freed; compare a server without recovery).
    per_kept_session: Option<PerConnection>,
    /// Whatever failed the run; empty when it passed.
    problems: Vec<String>,
    pub ok: bool,
}

pub fn recovery(args: &RecoveryArgs) -> Result<RecoveryReport, String> {
    let target = Target::parse(&args.url)?;
    let outage = seconds("outage", args.outage)?;
    let timeout = seconds("timeout", args.timeout)?;
    let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
    if args.clients == 0 || args.rooms == 0 || args.rooms > args.clients {
        return Err("--clients and --rooms must be at least 1, and --rooms at most --clients".into());
    }
    if !(args.rate > 0.0 && args.rate <= 100_000.0) {
        return Err("--rate must be in (0, 100000] events per second".into());
    }
    if args.shards == Some(0) || args.rounds > 100 {
        return Err("--shards must be at least 1, and --rounds at most 100".into());
    }
    if args.batches == 0 || args.batches > 100 || (args.batches > 1 && args.rounds > 0) {
        return Err("--batches must be in [1, 100], and above 1 only with --rounds 0".into());
    }
    if !(0.0..=60.0).contains(&args.settle) {
        return Err("--settle must be in [0, 60] seconds".into());
    }
    ensure_sockets(args.clients + 2)?;
    let sources = Sources::chosen(&target, args.clients + 1, args.sources)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build a runtime: {e}"))?;
    let config = Config { target, sources, timeout, shards: args.shards };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, scenario(args, Rc::new(config), outage, connect_timeout))
}

/// The server's memory after `settle`.
async fn settled_memory(pid: Option<u32>, settle: Duration) -> Result<Option<Memory>, String> {
    if pid.is_some() {
        tokio::time::sleep(settle).await;
    }
    memory(pid)
}

fn memory(pid: Option<u32>) -> Result<Option<Memory>, String> {
    pid.map(|pid| Memory::read(pid).map_err(|e| format!("server pid {pid}: {e}"))).transpose()
}

/// Waits until every client that has not failed satisfies `done`; `false` at `deadline`.
async fn wait_all(states: &[Rc<RefCell<State>>], deadline: Instant, done: impl Fn(&State) -> bool) -> bool {
    loop {
        if states.iter().all(|s| {
            let s = s.borrow();
            s.error.is_some() || done(&s)
        }) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn scenario(
    args: &RecoveryArgs,
    config: Rc<Config>,
    outage: Duration,
    connect_timeout: Duration,
) -> Result<RecoveryReport, String> {
    let settle = Duration::from_secs_f64(args.settle);
    let server_before = memory(args.server_pid)?;
    let (phase, phase_rx) = watch::channel(Phase::Hold);
    let mut states = connect_all(args, &config, connect_timeout, phase_rx).await?;
    let connected = states.len();
    let ws =
        crate::sio::connect(&config.target, &Sources::default()).await.map_err(|e| format!("sender: {e}"))?;
    let mut sender = SenderHandle::spawn(ws, args.rooms);

    for _ in 0..args.warm {
        sender.emit_round()?;
    }
    sender.count().await?;
    let sent = sender.sent().to_vec();
    let everyone_warm =
        wait_all(&states, Instant::now() + config.timeout, |s| s.check.complete(sent[s.room])).await;
    if !everyone_warm {
        return Err(format!("not every client got the {} warm-up events in {:?}", args.warm, config.timeout));
    }
    let recovery_on = states.iter().all(|s| s.borrow().pid.is_some() && s.borrow().offset.is_some());
    if args.rounds > 0 && !recovery_on {
        return Err("the server gave no pid or no offset: start it with recovery on".into());
    }
    let server_connected = settled_memory(args.server_pid, settle).await?;
    eprintln!("recovery: {connected} clients connected in {} rooms, recovery {recovery_on}", args.rooms);

    let mut server_away = None;
    let mut rounds = Vec::new();
    let mut problems = Vec::new();
    for round in 1..=args.rounds.max(1) {
        let _ = phase.send(Phase::Cut);
        let cut = Instant::now();
        wait_closes(&sender, config.timeout).await?;
        let closes_seen_ms = cut.elapsed().as_secs_f64() * 1e3;
        let emitted = emit_for(&mut sender, outage, args.rate).await?;
        sender.count().await?;
        if round == 1 {
            server_away = settled_memory(args.server_pid, settle).await?;
        }
        if args.rounds == 0 {
            break;
        }
        let sent = Arc::new(sender.sent().to_vec());
        let reconnecting = states.iter().filter(|s| s.borrow().error.is_none()).count();
        let cpu = CpuMeter::start(args.server_pid);
        let _ = phase.send(Phase::Reconnect(round, sent));
        let start = Instant::now();
        let back = |s: &State| s.reconnections.last().is_some_and(|l| l.round == round);
        let all_back = wait_all(&states, start + config.timeout + Duration::from_secs(1), back).await;
        let all_back_ms = start.elapsed().as_secs_f64() * 1e3;
        let (loadgen_cpu_s, server_cpu_s) = cpu.stop();
        if !all_back {
            problems.push(format!("round {round}: not every client was back after {all_back_ms:.0} ms"));
        }
        let mut report = round_report(round, &states, reconnecting);
        (report.closes_seen_ms, report.emitted, report.all_back_ms) = (closes_seen_ms, emitted, all_back_ms);
        (report.server_cpu_s, report.loadgen_cpu_s) = (server_cpu_s, loadgen_cpu_s);
        eprintln!(
            "recovery round {round}: {} recovered, {} fresh, {} failed; p50/p99/max {}/{}/{} µs; all back in {all_back_ms:.0} ms",
            report.recovered,
            report.fresh,
            report.failed,
            report.latency.p50_us,
            report.latency.p99_us,
            report.latency.max_us
        );
        rounds.push(report);
    }
    // With --rounds 0, more batches while the first ones are away: what the memory grows
    // by is what their kept sessions hold.
    let mut server_away_batches: Vec<Memory> = server_away.into_iter().collect();
    let mut batch_phases = Vec::new();
    for batch in 2..=if args.rounds == 0 { args.batches } else { 1 } {
        let (batch_phase, rx) = watch::channel(Phase::Hold);
        let more = connect_all(args, &config, connect_timeout, rx).await?;
        for s in &more {
            let mut s = s.borrow_mut();
            let next = sender.sent()[s.room];
            s.check.restart_at(next);
        }
        sender.emit_round()?;
        sender.count().await?;
        let sent = sender.sent().to_vec();
        if !wait_all(&more, Instant::now() + config.timeout, |s| s.check.complete(sent[s.room])).await {
            return Err(format!("batch {batch}: not every client got its event in {:?}", config.timeout));
        }
        let _ = batch_phase.send(Phase::Cut);
        wait_closes(&sender, config.timeout).await?;
        server_away_batches.extend(settled_memory(args.server_pid, settle).await?);
        eprintln!("recovery: batch {batch} of {} connected and cut", args.batches);
        states.extend(more);
        batch_phases.push(batch_phase);
    }
    let server_end = memory(args.server_pid)?;
    let _ = phase.send(Phase::Stop);
    for batch_phase in &batch_phases {
        let _ = batch_phase.send(Phase::Stop);
    }
    drop(sender);

    let violations: u64 = states.iter().map(|s| s.borrow().check.violations.total()).sum();
    let first_violation = states.iter().find_map(|s| s.borrow().check.violations.first.clone());
    let (recovered, fresh, failed) = rounds
        .iter()
        .fold((0, 0, 0), |(r, f, x), round| (r + round.recovered, f + round.fresh, x + round.failed));
    if violations > 0 {
        problems.push(format!("{violations} events not exactly once in order (first: {first_violation:?})"));
    }
    if fresh > 0 {
        problems.push(format!("{fresh} reconnections got a fresh socket (their missed events lost)"));
    }
    if failed > 0 {
        let first = states.iter().find_map(|s| s.borrow().error.clone());
        problems.push(format!("{failed} reconnections failed (first: {first:?})"));
    }
    for problem in &problems {
        eprintln!("tpcio-loadtest: recovery FAILED: {problem}");
    }
    let per = |after: &Option<Memory>| match (&server_before, after) {
        (Some(b), Some(a)) => PerConnection::between(b, a, connected),
        _ => None,
    };
    let latencies = collect(&states, None, |l| l.complete_after.filter(|_| l.recovered));
    Ok(RecoveryReport {
        scenario: "recovery",
        url: args.url.clone(),
        clients: args.clients,
        connected,
        rooms: args.rooms,
        recovery_on,
        outage_s: outage.as_secs_f64(),
        rate: args.rate,
        latency: Quantiles::of(latencies),
        answer: Quantiles::of(collect(&states, None, |l| Some(l.answer_after))),
        rounds,
        recovered,
        fresh,
        failed,
        violations,
        first_violation,
        per_connected_socket: per(&server_connected),
        per_away_socket: per(&server_away),
        per_kept_session: match server_away_batches.as_slice() {
            [first, .., last] => {
                PerConnection::between(first, last, (server_away_batches.len() - 1) * connected)
            }
            _ => None,
        },
        server_away_batches,
        server_before,
        server_connected,
        server_away,
        server_end,
        ok: problems.is_empty(),
        problems,
    })
}

/// Waits until the server counts only the sender: it saw every cut connection close.
async fn wait_closes(sender: &SenderHandle, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while sender.count().await? > 1 {
        if Instant::now() >= deadline {
            return Err(format!("the server still counts more than the sender {timeout:?} after the cut"));
        }
        tokio::time::sleep(COUNT_POLL).await;
    }
    Ok(())
}

/// Connects `args.clients` clients, `CONNECTS_IN_FLIGHT` at a time, each in its room and
/// running on the current `LocalSet` under `phase`.
async fn connect_all(
    args: &RecoveryArgs,
    config: &Rc<Config>,
    connect_timeout: Duration,
    phase: watch::Receiver<Phase>,
) -> Result<Vec<Rc<RefCell<State>>>, String> {
    let mut states = Vec::with_capacity(args.clients);
    let connecting = futures_util::stream::iter(0..args.clients)
        .map(|i| client::connect(config, i % args.rooms))
        .buffer_unordered(CONNECTS_IN_FLIGHT);
    tokio::pin!(connecting);
    let deadline = Instant::now() + connect_timeout;
    let mut errors = 0;
    while let Ok(Some(result)) = tokio::time::timeout_at(deadline, connecting.next()).await {
        match result {
            Ok((ws, state)) => {
                states.push(state.clone());
                tokio::task::spawn_local(client::run(config.clone(), state, ws, phase.clone()));
            }
            Err(e) => {
                errors += 1;
                if errors <= 3 {
                    eprintln!("tpcio-loadtest: recovery connect: {e}");
                }
            }
        }
    }
    if states.len() < args.clients {
        return Err(format!("{} of {} clients connected in {connect_timeout:?}", states.len(), args.clients));
    }
    Ok(states)
}

/// `pick` of every reconnection of round `round` (of all rounds with `None`).
fn collect(
    states: &[Rc<RefCell<State>>],
    round: Option<usize>,
    pick: impl Fn(&Reconnection) -> Option<Duration>,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(states.len());
    for s in states {
        let s = s.borrow();
        out.extend(s.reconnections.iter().filter(|r| round.is_none_or(|n| r.round == n)).filter_map(&pick));
    }
    out
}

/// Round `round` as the clients saw it; `reconnecting` were told to reconnect.
fn round_report(round: usize, states: &[Rc<RefCell<State>>], reconnecting: usize) -> RoundReport {
    let this: Vec<Reconnection> = (states.iter())
        .filter_map(|s| s.borrow().reconnections.last().filter(|r| r.round == round).cloned())
        .collect();
    let recovered = this.iter().filter(|r| r.recovered).count();
    let other_shard = this.iter().map(|r| r.other_shard).collect::<Option<Vec<bool>>>();
    RoundReport {
        round,
        closes_seen_ms: 0.0,
        emitted: 0,
        reconnecting,
        recovered,
        fresh: this.len() - recovered,
        failed: reconnecting.saturating_sub(this.len()),
        replayed: this.iter().map(|r| r.replayed).sum(),
        lost: this.iter().map(|r| r.lost).sum(),
        other_shard: other_shard.map(|v| v.into_iter().filter(|o| *o).count()),
        latency: Quantiles::of(collect(states, Some(round), |l| l.complete_after.filter(|_| l.recovered))),
        answer: Quantiles::of(collect(states, Some(round), |l| Some(l.answer_after))),
        all_back_ms: 0.0,
        server_cpu_s: None,
        loadgen_cpu_s: 0.0,
    }
}

/// Emits `to` events at `rate` for `outage`; returns how many.
async fn emit_for(sender: &mut SenderHandle, outage: Duration, rate: f64) -> Result<u64, String> {
    let count = (rate * outage.as_secs_f64()).round() as u64;
    let start = Instant::now();
    for k in 0..count {
        tokio::time::sleep_until(start + Duration::from_secs_f64(k as f64 / rate)).await;
        sender.emit_next()?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_nearest_rank_quantiles() {
        let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect::<Vec<_>>();
        let q = Quantiles::of(ms(&(1..=100).rev().collect::<Vec<_>>()));
        assert_eq!((q.count, q.p50_us, q.p99_us, q.max_us), (100, 50_000, 99_000, 100_000));
        let one = Quantiles::of(ms(&[7]));
        assert_eq!((one.p50_us, one.p99_us, one.max_us), (7000, 7000, 7000));
        let two = Quantiles::of(ms(&[1, 9]));
        assert_eq!((two.p50_us, two.p99_us, two.max_us), (1000, 9000, 9000));
        assert_eq!(Quantiles::of(Vec::new()), Quantiles::default());
    }
}
