//! `soak`: WebSocket and long-polling Socket.IO clients held for a long run with churn (see
//! `sio::soak`), the server's memory read as it goes, then an avalanche: once the churn is
//! over the run says so (`--ready-file`), whoever started the server restarts it on the same
//! port (`scripts/soak.sh`), and every client reconnects at once. The report says whether the
//! memory grew past `--max-growth-pct` after the warm-up and whether every client came back,
//! and how fast.

mod report;
mod sampler;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::seconds;
use crate::cpu::CpuMeter;
use crate::mem::Memory;
use crate::net::{Sources, Target};
use crate::rlimit::ensure_sockets;
use crate::run::{Fleet, GRACE};
use crate::sio::soak::{Plan, Shared, Soak};
use crate::stats::percentiles;
pub use report::SoakReport;
use report::{Avalanche, Churn, Verdict};
use sampler::Sampler;

/// How long the slots get, after the churn, to all hold a session before the restart.
const SETTLE: Duration = Duration::from_secs(30);
/// How long after the reconnections the ack round trips may take.
const VERIFY_WAIT: Duration = Duration::from_secs(30);
/// How often the main thread looks at the clock during the churn (memory readings).
const TICK: Duration = Duration::from_millis(100);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug)]
pub struct SoakArgs {
    /// The Socket.IO endpoint, e.g. http://127.0.0.1:3000/socket.io/
    #[arg(long)]
    url: String,
    /// The server process: its memory (/proc/PID/status VmRSS) and CPU are read.
    #[arg(long)]
    server_pid: u32,
    /// WebSocket clients.
    #[arg(long, default_value_t = 15_000)]
    ws_clients: usize,
    /// HTTP long-polling clients (two connections each).
    #[arg(long, default_value_t = 500)]
    polling_clients: usize,
    /// Seconds of churn, from the moment every client is connected.
    #[arg(long, default_value_t = 600.0)]
    duration: f64,
    /// Seconds of churn before the first memory reading the growth is measured from.
    #[arg(long, default_value_t = 30.0)]
    warmup: f64,
    /// Mean lifetime of a session in seconds (exponential); then it leaves and is replaced.
    #[arg(long, default_value_t = 120.0)]
    lifetime: f64,
    /// Mean seconds between two emits of one client (exponential).
    #[arg(long, default_value_t = 10.0)]
    emit_every: f64,
    /// Mean seconds between two broadcasts, all clients together; 0 for none.
    #[arg(long, default_value_t = 2.0)]
    broadcast_every: f64,
    /// Payload bytes of the echo events.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Loopback source addresses to spread the clients over (127.0.0.1 to 127.0.0.N).
    #[arg(long, default_value_t = 16)]
    sources: usize,
    /// Load threads, each with its own single-threaded runtime; the clients are split.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds allowed for the first connection of every client.
    #[arg(long, default_value_t = 180.0)]
    connect_timeout: f64,
    /// Seconds one operation (an answer, a handshake, a write, a leave) may take.
    #[arg(long, default_value_t = 10.0)]
    op_timeout: f64,
    /// Seconds between memory readings (besides start, middle and end).
    #[arg(long, default_value_t = 10.0)]
    sample_every: f64,
    /// Largest growth of the server's RSS after the warm-up, percent.
    #[arg(long, default_value_t = 10.0)]
    max_growth_pct: f64,
    /// Created once the churn is over and every client holds a session: the signal to restart
    /// the server. Without it there is no avalanche.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Seconds from that signal until every client must have reconnected.
    #[arg(long, default_value_t = 120.0)]
    avalanche_timeout: f64,
    /// Folder for soak.md and soak.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// A line for the report's conditions (the command, the CPU pinning, the machine's load).
    #[arg(long)]
    note: Vec<String>,
}

/// Runs the soak; exits 0 when both criteria hold, 1 when one fails, 2 when it could not run.
pub fn main(args: &SoakArgs) -> ExitCode {
    match soak(args) {
        Ok(report) => {
            if let Some(out) = &args.out
                && let Err(e) = report.write(out)
            {
                eprintln!("tpcio-loadtest: cannot write the report to {}: {e}", out.display());
            }
            eprint!("{}", report.markdown());
            match serde_json::to_string(&report) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("tpcio-loadtest: cannot encode the report: {e}"),
            }
            if report.verdict.passed { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("tpcio-loadtest: {e}");
            ExitCode::from(2)
        }
    }
}

fn soak(args: &SoakArgs) -> Result<SoakReport, String> {
    let target = Target::parse(&args.url)?;
    let duration = seconds("duration", args.duration)?;
    let warmup = seconds("warmup", args.warmup)?;
    let lifetime = seconds("lifetime", args.lifetime)?;
    let emit_every = seconds("emit-every", args.emit_every)?;
    let op_timeout = seconds("op-timeout", args.op_timeout)?;
    let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
    let sample_every = seconds("sample-every", args.sample_every)?;
    let avalanche_timeout = seconds("avalanche-timeout", args.avalanche_timeout)?;
    if warmup >= duration {
        return Err("--warmup must be shorter than --duration".into());
    }
    let clients = args.ws_clients + args.polling_clients;
    if clients == 0 || args.threads == 0 {
        return Err("--ws-clients + --polling-clients and --threads must be at least 1".into());
    }
    let broadcast_chance = if args.broadcast_every > 0.0 {
        // Emits per second, all clients together, over broadcasts per second.
        (emit_every.as_secs_f64() / (clients as f64 * args.broadcast_every)).min(1.0)
    } else {
        0.0
    };
    ensure_sockets(args.ws_clients + 2 * args.polling_clients)?;
    let sources = Sources::loopback(&target, args.sources)?;
    let source_addrs = sources.len();
    let pid = args.server_pid;
    let before = Memory::read(pid).map_err(|e| format!("server pid {pid}: {e}"))?;

    let plan = Plan { soak: duration, lifetime, emit_every, broadcast_chance, op_timeout, size: args.size };
    let scenario = Soak::new(target, sources, plan, args.polling_clients);
    let handle = scenario.clone();
    let shared = handle.shared();
    let started = Instant::now();
    let mut fleet = Fleet::launch(scenario, "soak", clients, args.threads, connect_timeout);
    let connect_seconds = started.elapsed().as_secs_f64();
    let connected = fleet.connected();
    if connected == 0 {
        return Err("no client could connect".into());
    }
    let counters = &shared.counters;
    let live = || counters.live.load(Ordering::Relaxed);
    let mut sampler = Sampler::new(pid, warmup, duration, sample_every);
    sampler.read_now("connected", live())?;

    // --- churn: the memory read as it goes, progress every 10 s.
    let cpu = CpuMeter::start(Some(pid));
    let window = fleet.open(duration + SETTLE + avalanche_timeout + VERIFY_WAIT + GRACE);
    let mut next_progress = Duration::ZERO;
    let mut server_gone = None;
    loop {
        let at = window.start.elapsed();
        if at >= next_progress {
            progress(at, shared, &fleet);
            next_progress += PROGRESS_EVERY;
        }
        if let Err(e) = sampler.tick(at, live()) {
            server_gone = Some(e);
            break;
        }
        if sampler.done() && at >= duration {
            break;
        }
        thread::sleep(TICK);
    }
    let (loadgen_cpu_s, server_cpu_s) = cpu.stop();
    let churn_seconds = window.start.elapsed().as_secs_f64();
    let churn = Churn::read(shared, fleet.errors(), churn_seconds, loadgen_cpu_s, server_cpu_s);

    // --- avalanche: every slot holds a session, the restart signal, every slot back.
    let avalanche = match (&server_gone, &args.ready_file) {
        (None, Some(ready)) => Some(avalanche(shared, &fleet, ready, avalanche_timeout)?),
        _ => None,
    };
    shared.stop();
    let latencies = fleet.finish(Instant::now() + GRACE);
    let (p50, p99, _) = percentiles(&latencies);

    let verdict = Verdict::judge(&sampler.samples, args.max_growth_pct, avalanche.as_ref(), server_gone);
    Ok(SoakReport {
        scenario: "soak",
        ws_clients: args.ws_clients,
        polling_clients: args.polling_clients,
        connected,
        connect_seconds,
        threads: args.threads,
        source_addrs,
        duration_s: duration.as_secs_f64(),
        warmup_s: warmup.as_secs_f64(),
        lifetime_s: lifetime.as_secs_f64(),
        emit_every_s: emit_every.as_secs_f64(),
        broadcast_every_s: args.broadcast_every,
        size: args.size,
        server_before: before,
        samples: sampler.samples,
        churn: Churn { answer_p50_us: p50, answer_p99_us: p99, ..churn },
        avalanche,
        errors: shared.errors(),
        max_growth_pct: args.max_growth_pct,
        notes: args.note.clone(),
        verdict,
    })
}

/// Waits for every slot to hold a session, gives the signal, and waits for every held session
/// to end and come back (and answer one ack).
fn avalanche(shared: &Shared, fleet: &Fleet, ready: &Path, timeout: Duration) -> Result<Avalanche, String> {
    let counters = &shared.counters;
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let slots = fleet.connected() as u64;
    let settle_end = Instant::now() + SETTLE;
    while load(&counters.holding) < slots && Instant::now() < settle_end {
        thread::sleep(Duration::from_millis(50));
    }
    let held = load(&counters.holding);
    eprintln!("soak: churn over, {held}/{slots} clients hold a session; ready for the restart");
    fs::write(ready, format!("{held}\n")).map_err(|e| format!("{}: {e}", ready.display()))?;
    let signal = Instant::now();
    let deadline = signal + timeout;
    let mut next_progress = signal;
    let all_back = || {
        let (dropped, reconnected) = (load(&counters.dropped), load(&counters.reconnected));
        dropped == held && reconnected == dropped
    };
    while !all_back() && Instant::now() < deadline {
        if Instant::now() >= next_progress {
            eprintln!(
                "soak: restart {:>5.1}s dropped {}/{held} reconnected {} attempts {} live {}",
                signal.elapsed().as_secs_f64(),
                load(&counters.dropped),
                load(&counters.reconnected),
                load(&counters.reconnect_attempts),
                load(&counters.live),
            );
            next_progress += Duration::from_secs(1);
        }
        thread::sleep(Duration::from_millis(10));
    }
    let waited = signal.elapsed().as_secs_f64();
    let verify_end = Instant::now() + VERIFY_WAIT;
    while load(&counters.verified) + load(&counters.verify_failures) < load(&counters.reconnected)
        && Instant::now() < verify_end
    {
        thread::sleep(Duration::from_millis(10));
    }
    Ok(Avalanche::read(shared, held, signal, waited))
}

/// One progress line to stderr.
fn progress(at: Duration, shared: &Shared, fleet: &Fleet) {
    let c = &shared.counters;
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    eprintln!(
        "soak: {:>6.1}s live {} connects {} leaves {} emits {} answers {} broadcasts {} deliveries {} \
         failures {} (connect {}, session {})",
        at.as_secs_f64(),
        load(&c.live),
        load(&c.connects),
        load(&c.leaves),
        load(&c.emits),
        load(&c.answers),
        load(&c.broadcasts),
        load(&c.deliveries),
        fleet.errors(),
        load(&c.connect_failures),
        load(&c.session_failures),
    );
}
