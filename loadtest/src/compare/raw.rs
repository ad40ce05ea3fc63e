//! `compare raw-echo`: the echo scenario without Engine.IO or Socket.IO, against
//! `examples/raw_ws_echo.rs`. Each client sends one text frame of `--size` bytes and waits for
//! the same frame back, in a closed loop: the figure every Socket.IO echo is bounded by on the
//! same runtime, sockets and framing.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::eio::{bounded, payload};
use crate::error::LoadError;
use crate::net::{Sources, Target};
use crate::rlimit::ensure_sockets;
use crate::run::{self, RunConfig, Scenario, Window};
use crate::stats::{Recorder, cpu_figures, percentiles};
use crate::ws_client::{Opcode, WsClient};

#[derive(clap::Args, Debug)]
pub struct RawEchoArgs {
    /// The echo server, e.g. http://127.0.0.1:20303/ (any path).
    #[arg(long)]
    url: String,
    /// Concurrent clients (one connection each).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Length of the measured window in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Frame payload in bytes (ASCII text).
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Load threads, each with its own single-threaded runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Process whose CPU time (/proc/PID/stat) is measured over the window.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds a client waits for its echo before it counts an error and stops.
    #[arg(long, default_value_t = 10.0)]
    op_timeout: f64,
    /// Seconds allowed for connecting all clients.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
}

/// The JSON line: the echo report's field names, so the comparison reads both alike.
#[derive(Serialize, Debug)]
pub struct RawReport {
    scenario: &'static str,
    clients: usize,
    connected: usize,
    size: usize,
    threads: usize,
    pub messages: u64,
    seconds: f64,
    rate_per_s: f64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    errors: u64,
    loadgen_cpu_s: f64,
    server_cpu_s: Option<f64>,
    server_us_per_op: Option<f64>,
    server_cpu_pct: Option<f64>,
    loadgen_cpu_pct: f64,
}

#[derive(Clone)]
struct RawEcho(Arc<Config>);

struct Config {
    target: Target,
    sources: Arc<Sources>,
    payload: Vec<u8>,
    op_timeout: Duration,
}

impl Scenario for RawEcho {
    type Client = WsClient;

    async fn connect(&self) -> Result<WsClient, LoadError> {
        WsClient::connect(&self.0.target, &self.0.sources, "raw=1").await
    }

    async fn run(&self, mut ws: WsClient, window: Window, rec: &Recorder) -> Result<(), LoadError> {
        let (config, end) = (&self.0, Instant::from_std(window.end));
        loop {
            ws.queue_text(&config.payload);
            let sent = Instant::now();
            ws.flush().await?;
            loop {
                match ws.frame()? {
                    Some((Opcode::Text, range)) if ws.payload(range.clone()) == config.payload => break,
                    Some(_) => return Err(LoadError::EchoMismatch),
                    None if bounded(ws.read_more(), end, config.op_timeout).await?.is_none() => return Ok(()),
                    None => {}
                }
            }
            rec.record(sent.elapsed());
            if Instant::now() >= end {
                return Ok(());
            }
        }
    }
}

fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    if value > 0.0 && value <= 3600.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!("--{name} must be in (0, 3600] seconds"))
    }
}

pub fn raw_echo(args: &RawEchoArgs) -> Result<RawReport, String> {
    let target = Target::parse(&args.url)?;
    let duration = seconds("duration", args.duration)?;
    let op_timeout = seconds("op-timeout", args.op_timeout)?;
    let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
    if args.clients == 0 || args.threads == 0 {
        return Err("--clients and --threads must be at least 1".into());
    }
    ensure_sockets(args.clients)?;
    let sources = Sources::spread(&target, args.clients)?;
    let payload = payload(args.size).into_bytes();
    let scenario = RawEcho(Arc::new(Config { target, sources, payload, op_timeout }));
    let config = RunConfig {
        label: "raw-echo".into(),
        clients: args.clients,
        threads: args.threads,
        duration,
        count: None,
        connect_timeout,
        server_pid: args.server_pid,
    };
    let outcome = run::run(scenario, &config);
    let (p50_us, p99_us, p999_us) = percentiles(&outcome.latencies);
    let cpu = cpu_figures(outcome.server_cpu_s, outcome.loadgen_cpu_s, outcome.seconds, outcome.messages);
    Ok(RawReport {
        scenario: "raw-echo",
        clients: args.clients,
        connected: outcome.connected,
        size: args.size,
        threads: args.threads.min(args.clients),
        messages: outcome.messages,
        seconds: outcome.seconds,
        rate_per_s: if outcome.seconds > 0.0 { outcome.messages as f64 / outcome.seconds } else { 0.0 },
        p50_us,
        p99_us,
        p999_us,
        errors: outcome.errors,
        loadgen_cpu_s: outcome.loadgen_cpu_s,
        server_cpu_s: outcome.server_cpu_s,
        server_us_per_op: cpu.server_us_per_op,
        server_cpu_pct: cpu.server_cpu_pct,
        loadgen_cpu_pct: cpu.loadgen_cpu_pct,
    })
}
