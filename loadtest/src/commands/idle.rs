//! `idle`: N Socket.IO clients connected and held; the server's memory before connecting
//! and once all are connected and settled, per connection; then its CPU while they idle.

use std::time::Instant;

use serde::Serialize;

use super::seconds;
use crate::cpu::CpuMeter;
use crate::mem::{Memory, PerConnection};
use crate::net::{Sources, Target};
use crate::rlimit::ensure_sockets;
use crate::run::{Fleet, GRACE, Window, show_progress};
use crate::sio::Eio;
use crate::sio::idle::Idle;

#[derive(clap::Args, Debug)]
pub struct IdleArgs {
    /// The Socket.IO endpoint, e.g. http://127.0.0.1:3000/socket.io/
    #[arg(long)]
    url: String,
    /// Connections to hold.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Seconds between the last connection and the memory reading.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// Seconds the connections are then held, with the server's CPU measured.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Loopback source addresses (127.0.0.1 to 127.0.0.N); by default one per 10 000 clients.
    #[arg(long)]
    sources: Option<usize>,
    /// Engine.IO protocol: 4, or 3 (socket.io-client 2.x: the clients send the pings).
    #[arg(long, value_enum, default_value_t = Eio::V4)]
    eio: Eio,
    /// Load threads, each with its own single-threaded runtime; the clients are split.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The server process: its memory (/proc/PID/status, smaps_rollup) and CPU are read.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds allowed for connecting all clients.
    #[arg(long, default_value_t = 60.0)]
    connect_timeout: f64,
}

#[derive(Serialize, Debug)]
pub struct IdleReport {
    scenario: &'static str,
    eio: u8,
    clients: usize,
    pub connected: usize,
    /// Connected and still up when the memory was read.
    alive_at_reading: usize,
    /// Connections lost after connecting, by the end of the run.
    dropped: u64,
    threads: usize,
    source_addrs: usize,
    connect_seconds: f64,
    connects_per_s: f64,
    server_before: Option<Memory>,
    server_after: Option<Memory>,
    /// Server bytes per connection alive at the reading.
    server_per_connection: Option<PerConnection>,
    loadgen_before: Option<Memory>,
    loadgen_after: Option<Memory>,
    loadgen_per_connection: Option<PerConnection>,
    /// Pings answered (v4) or sent (v3) while held.
    heartbeats: u64,
    seconds: f64,
    loadgen_cpu_s: f64,
    server_cpu_s: Option<f64>,
    server_cpu_pct: Option<f64>,
    loadgen_cpu_pct: f64,
}

pub fn idle(args: &IdleArgs) -> Result<IdleReport, String> {
    let target = Target::parse(&args.url)?;
    let settle = seconds("settle", args.settle)?;
    let hold = seconds("duration", args.duration)?;
    let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
    if args.clients == 0 || args.threads == 0 {
        return Err("--clients and --threads must be at least 1".into());
    }
    ensure_sockets(args.clients)?;
    let sources = Sources::chosen(&target, args.clients, args.sources)?;
    let source_addrs = sources.len();
    let server = |pid: u32| Memory::read(pid).map_err(|e| format!("server pid {pid}: {e}"));
    let loadgen = || Memory::read(std::process::id()).ok();
    let (server_before, loadgen_before) = (args.server_pid.map(server).transpose()?, loadgen());

    let label = format!("idle eio{}", args.eio.number());
    let started = Instant::now();
    let scenario = Idle::new(target, sources, args.eio);
    let mut fleet = Fleet::launch(scenario, &label, args.clients, args.threads, connect_timeout);
    let connect_seconds = started.elapsed().as_secs_f64();
    let connected = fleet.connected();
    if connected == 0 {
        return Err("no client could connect".into());
    }
    let failed_connects = fleet.errors();
    let window = fleet.open(settle + hold);
    let settled = window.start + settle;
    show_progress(&label, "heartbeats", Window { start: window.start, end: settled }, &fleet);
    let (server_after, loadgen_after) = (args.server_pid.map(server).transpose()?, loadgen());
    let dropped_at_reading = fleet.errors() - failed_connects;
    let alive_at_reading =
        connected.saturating_sub(usize::try_from(dropped_at_reading).unwrap_or(usize::MAX));

    let heartbeats_before = fleet.messages();
    let cpu = CpuMeter::start(args.server_pid);
    show_progress(&label, "heartbeats", Window { start: settled, end: window.end }, &fleet);
    let (loadgen_cpu_s, server_cpu_s) = cpu.stop();
    let heartbeats = fleet.messages() - heartbeats_before;
    let _ = fleet.finish(window.end + GRACE);
    let seconds = hold.as_secs_f64();
    let pct = |cpu: f64| 100.0 * cpu / seconds;
    let per = |before: &Option<Memory>, after: &Option<Memory>| match (before, after) {
        (Some(b), Some(a)) => PerConnection::between(b, a, alive_at_reading),
        _ => None,
    };
    Ok(IdleReport {
        scenario: "idle",
        eio: args.eio.number(),
        clients: args.clients,
        connected,
        alive_at_reading,
        dropped: fleet.errors() - failed_connects,
        threads: args.threads.min(args.clients),
        source_addrs,
        connect_seconds,
        connects_per_s: connected as f64 / connect_seconds.max(1e-6),
        server_per_connection: per(&server_before, &server_after),
        server_before,
        server_after,
        loadgen_per_connection: per(&loadgen_before, &loadgen_after),
        loadgen_before,
        loadgen_after,
        heartbeats,
        seconds,
        loadgen_cpu_s,
        server_cpu_s,
        server_cpu_pct: server_cpu_s.map(pct),
        loadgen_cpu_pct: pct(loadgen_cpu_s),
    })
}
