//! `connect`: a connection storm of full Socket.IO handshakes, K at a time, for a duration or
//! a count; handshakes per second, their latency, and the server's CPU per handshake.

use serde::Serialize;

use super::seconds;
use crate::net::{Sources, Target};
use crate::rlimit::ensure_sockets;
use crate::run::{self, RunConfig};
use crate::sio::Eio;
use crate::sio::storm::Storm;
use crate::stats::{cpu_figures, percentiles};

#[derive(clap::Args, Debug)]
pub struct ConnectArgs {
    /// The Socket.IO endpoint, e.g. http://127.0.0.1:3000/socket.io/
    #[arg(long)]
    url: String,
    /// Concurrent connectors, each doing one handshake after another.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Longest run in seconds (at most one hour).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many handshakes (failures included), if before the duration ends.
    #[arg(long)]
    count: Option<u64>,
    /// Loopback source addresses to rotate over (127.0.0.1 to 127.0.0.N), so the storm does
    /// not exhaust the ephemeral ports; 0 lets the kernel choose.
    #[arg(long, default_value_t = 16)]
    sources: usize,
    /// Engine.IO protocol: 4, or 3 (socket.io-client 2.x: no CONNECT sent, the server's `40`
    /// ends the handshake).
    #[arg(long, value_enum, default_value_t = Eio::V4)]
    eio: Eio,
    /// Load threads, each with its own single-threaded runtime; the connectors are split.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Process whose CPU time (/proc/PID/stat) is measured over the window.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds one handshake (or one close) may take before it counts as failed.
    #[arg(long, default_value_t = 5.0)]
    op_timeout: f64,
}

#[derive(Serialize, Debug)]
pub struct ConnectReport {
    scenario: &'static str,
    eio: u8,
    clients: usize,
    threads: usize,
    source_addrs: usize,
    count: Option<u64>,
    pub handshakes: u64,
    /// Handshakes that failed (refused, timed out, cut).
    errors: u64,
    /// Connections that did not close cleanly after their handshake.
    close_errors: u64,
    seconds: f64,
    handshakes_per_s: f64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    max_us: u64,
    loadgen_cpu_s: f64,
    server_cpu_s: Option<f64>,
    server_us_per_handshake: Option<f64>,
    server_cpu_pct: Option<f64>,
    loadgen_cpu_pct: f64,
}

pub fn connect(args: &ConnectArgs) -> Result<ConnectReport, String> {
    let target = Target::parse(&args.url)?;
    let duration = seconds("duration", args.duration)?;
    let op_timeout = seconds("op-timeout", args.op_timeout)?;
    if args.clients == 0 || args.threads == 0 || args.count == Some(0) {
        return Err("--clients, --threads and --count must be at least 1".into());
    }
    ensure_sockets(args.clients)?;
    let sources = Sources::loopback(&target, args.sources)?;
    let source_addrs = sources.len();
    let label = format!("connect eio{}", args.eio.number());
    let config = RunConfig {
        label,
        clients: args.clients,
        threads: args.threads,
        duration,
        count: args.count,
        connect_timeout: op_timeout,
        server_pid: args.server_pid,
    };
    let storm = Storm::new(target, sources, args.eio, args.count, op_timeout);
    let outcome = run::run(storm, &config);
    let (p50_us, p99_us, p999_us) = percentiles(&outcome.latencies);
    let cpu = cpu_figures(outcome.server_cpu_s, outcome.loadgen_cpu_s, outcome.seconds, outcome.messages);
    Ok(ConnectReport {
        scenario: "connect",
        eio: args.eio.number(),
        clients: args.clients,
        threads: args.threads.min(args.clients),
        source_addrs,
        count: args.count,
        handshakes: outcome.messages,
        errors: outcome.errors,
        close_errors: outcome.warnings,
        seconds: outcome.seconds,
        handshakes_per_s: if outcome.seconds > 0.0 { outcome.messages as f64 / outcome.seconds } else { 0.0 },
        p50_us,
        p99_us,
        p999_us,
        max_us: outcome.latencies.max(),
        loadgen_cpu_s: outcome.loadgen_cpu_s,
        server_cpu_s: outcome.server_cpu_s,
        server_us_per_handshake: cpu.server_us_per_op,
        server_cpu_pct: cpu.server_cpu_pct,
        loadgen_cpu_pct: cpu.loadgen_cpu_pct,
    })
}
