//! `broadcast` (formerly `sio-broadcast`): N receivers connected, one sender; a fixed-rate step, or `--find-max`.
//! The JSON line carries the step that answers the question at the top level (the fixed
//! step, or the sustained step with the most deliveries per second), every step of a search
//! in `steps`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::seconds;
use crate::net::{Sources, Target};
use crate::rlimit::ensure_sockets;
use crate::run::Fleet;
use crate::sio::broadcast::sender::Sender;
use crate::sio::broadcast::steps::{Driver, SearchEnd, Settings, StepReport, find_max};
use crate::sio::broadcast::{Clock, Gate, Receivers};

/// Highest rate accepted, messages per second.
pub const MAX_RATE: f64 = 1e6;
/// How long the receivers outlive the planned measurement, for drains and settling.
pub const RECEIVER_MARGIN: Duration = Duration::from_secs(60);

#[derive(clap::Args, Debug)]
pub struct BroadcastArgs {
    /// The Socket.IO endpoint, e.g. http://127.0.0.1:3000/socket.io/
    #[arg(long)]
    url: String,
    /// Speak TLS to an https:// URL, trusting this certificate (PEM: the server's own or its
    /// authority's).
    #[arg(long)]
    tls: Option<std::path::PathBuf>,
    /// Receiving clients (the sender is one more connection).
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Messages per second the sender emits; with --find-max the first step's rate.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of sending (of every step with --find-max).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Search for the highest sustained rate (doubling, then bisecting).
    #[arg(long)]
    find_max: bool,
    /// A step is sustained only if its p99 delivery latency is within this many milliseconds.
    #[arg(long, default_value_t = 100.0)]
    p99_bound_ms: f64,
    /// Seconds a --find-max search may take in all, connecting aside.
    #[arg(long, default_value_t = 60.0)]
    max_time: f64,
    /// Seconds to wait after the last send for the deliveries still on their way.
    #[arg(long, default_value_t = 2.0)]
    drain: f64,
    /// Receiving threads, each with its own single-threaded runtime (the sender has its own).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Process whose CPU time (/proc/PID/stat) is measured over each step.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds allowed for connecting all clients.
    #[arg(long, default_value_t = 30.0)]
    connect_timeout: f64,
}

#[derive(Serialize, Debug)]
pub struct BroadcastReport {
    scenario: &'static str,
    mode: &'static str,
    clients: usize,
    pub connected: usize,
    threads: usize,
    source_addrs: usize,
    p99_bound_us: u64,
    #[serde(flatten)]
    pub result: StepReport,
    max_sustained_rate: Option<f64>,
    max_sustained_deliveries_per_s: Option<f64>,
    search_end: Option<SearchEnd>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    steps: Vec<StepReport>,
}

pub fn sio_broadcast(args: &BroadcastArgs) -> Result<BroadcastReport, String> {
    let target = Target::parse(&args.url)?.with_tls(args.tls.as_deref())?;
    let duration = seconds("duration", args.duration)?;
    let max_time = seconds("max-time", args.max_time)?;
    let drain = seconds("drain", args.drain)?;
    let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
    let p99_bound = seconds("p99-bound-ms", args.p99_bound_ms / 1e3)?;
    if !(args.rate > 0.0 && args.rate <= MAX_RATE) {
        return Err(format!("--rate must be in (0, {MAX_RATE}] messages per second"));
    }
    if args.clients == 0 || args.threads == 0 {
        return Err("--clients and --threads must be at least 1".into());
    }
    ensure_sockets(args.clients + 1)?;
    let sources = Sources::spread(&target, args.clients + 1)?;
    let source_addrs = sources.len();

    let label = if args.find_max { "broadcast find-max" } else { "broadcast" };
    let (clock, gate) = (Clock::new(), Arc::new(Gate::closed()));
    let receivers = Receivers::new(target.clone(), sources, clock, gate.clone());
    let fleet = Fleet::launch(receivers, label, args.clients, args.threads, connect_timeout);
    if fleet.connected() == 0 {
        return Err("no client could connect".into());
    }
    let sender = Sender::launch(target, clock, connect_timeout)?;
    let planned = if args.find_max { max_time } else { duration + drain };
    fleet.open(planned + RECEIVER_MARGIN);

    let settings = Settings {
        label: label.into(),
        duration,
        drain,
        p99_bound,
        server_pids: vec![args.server_pid],
        redis_pid: None,
    };
    let connected = fleet.connected();
    let mut fleets = [fleet];
    let mut driver = Driver::new(&mut fleets, &sender, &gate, settings);
    let (steps, search_end) = run_steps(&mut driver, args.find_max, args.rate, max_time);
    let (best, result) = best_step(&steps, max_time)?;
    Ok(BroadcastReport {
        scenario: "broadcast",
        mode: if args.find_max { "find-max" } else { "fixed" },
        clients: args.clients,
        connected,
        threads: args.threads.min(args.clients),
        source_addrs,
        p99_bound_us: u64::try_from(p99_bound.as_micros()).unwrap_or(u64::MAX),
        result,
        max_sustained_rate: best.as_ref().filter(|_| args.find_max).map(|s| s.rate),
        max_sustained_deliveries_per_s: best.as_ref().filter(|_| args.find_max).map(|s| s.deliveries_per_s),
        search_end,
        steps: if args.find_max { steps } else { Vec::new() },
    })
}

/// One fixed step at `rate`, or a search from it.
pub fn run_steps(
    driver: &mut Driver<'_>,
    search: bool,
    rate: f64,
    max_time: Duration,
) -> (Vec<StepReport>, Option<SearchEnd>) {
    if search {
        let (steps, end) = find_max(driver, rate, max_time);
        (steps, Some(end))
    } else {
        (vec![driver.step(rate)], None)
    }
}

/// The sustained step with the most deliveries per second (if any), and the step the report
/// shows at its top level: that one, else the last.
pub fn best_step(
    steps: &[StepReport],
    max_time: Duration,
) -> Result<(Option<StepReport>, StepReport), String> {
    let best =
        steps.iter().filter(|s| s.sustained).max_by(|a, b| a.deliveries_per_s.total_cmp(&b.deliveries_per_s));
    match best.or(steps.last()) {
        Some(step) => Ok((best.cloned(), step.clone())),
        None => Err(format!("--max-time {max_time:?} leaves no time for a step")),
    }
}
