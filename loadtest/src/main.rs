//! `tpcio-loadtest`: a load generator for tpcio and, with the same scenarios and the same
//! numbers, for the Node reference (`loadtest/node-reference/`). Client-side only, so its
//! dependencies stay out of the server build.
//!
//! A run connects every client, opens a measured window of `--duration` seconds, prints
//! progress once a second to stderr and one JSON line to stdout at the end (see
//! `stats::Report`); CPU seconds of the load generator and of `--server-pid` are read from
//! `/proc` at the edges of the window. Scenarios so far: `eio-echo` (Engine.IO v4 echo
//! round trips over WebSocket or long-polling).

mod cpu;
mod eio;
mod error;
mod http;
mod run;
mod stats;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use eio::{Echo, Target, Transport};
use run::RunConfig;
use stats::{Report, percentiles};

/// Load generator for Engine.IO / Socket.IO servers.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Engine.IO v4 clients in a closed loop: send a message, wait for its echo.
    EioEcho(EchoArgs),
}

#[derive(clap::Args, Debug)]
struct EchoArgs {
    /// The Engine.IO endpoint, e.g. http://127.0.0.1:3000/engine.io/
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value_t = Transport::Websocket)]
    transport: Transport,
    /// Concurrent clients (one Engine.IO session each).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Length of the measured window in seconds (at most one hour).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Message payload in bytes (ASCII text).
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Load threads, each with its own single-threaded runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Messages in flight per client.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Process whose CPU time (/proc/PID/stat) is measured over the window.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds a client waits for any answer before it counts an error and stops.
    #[arg(long, default_value_t = 10.0)]
    op_timeout: f64,
    /// Seconds allowed for connecting all clients.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
}

/// Longest measured window, so a mistyped duration still ends by itself.
const MAX_SECONDS: f64 = 3600.0;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::EioEcho(args) = cli.scenario;
    match eio_echo(&args) {
        Ok(report) => {
            match serde_json::to_string(&report) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("tpcio-loadtest: cannot encode the report: {e}"),
            }
            if report.messages > 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("tpcio-loadtest: {e}");
            ExitCode::from(2)
        }
    }
}

fn eio_echo(args: &EchoArgs) -> Result<Report, String> {
    let target = Target::parse(&args.url)?;
    let seconds = |name: &str, v: f64| {
        if v > 0.0 && v <= MAX_SECONDS {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(format!("--{name} must be in (0, {MAX_SECONDS}] seconds"))
        }
    };
    let duration = seconds("duration", args.duration)?;
    let op_timeout = seconds("op-timeout", args.op_timeout)?;
    let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
    if args.clients == 0 || args.threads == 0 || args.pipeline == 0 {
        return Err("--clients, --threads and --pipeline must be at least 1".into());
    }
    let config = RunConfig {
        label: format!("eio-echo {}", args.transport.name()),
        clients: args.clients,
        threads: args.threads,
        duration,
        connect_timeout,
        server_pid: args.server_pid,
    };
    let scenario = Echo::new(target, args.transport, args.size, args.pipeline, op_timeout);
    let outcome = run::run(scenario, &config);
    let (p50_us, p99_us, p999_us) = percentiles(&outcome.latencies);
    Ok(Report {
        scenario: "eio-echo",
        transport: args.transport.name(),
        clients: args.clients,
        connected: outcome.connected,
        size: args.size,
        pipeline: args.pipeline,
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
    })
}
