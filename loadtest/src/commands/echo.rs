//! `eio-echo` and `sio-echo`: closed-loop round trips, one window, one [`Report`].

use std::time::Duration;

use super::seconds;
use crate::eio::{Echo, Transport};
use crate::net::{Sources, Target};
use crate::rlimit::ensure_sockets;
use crate::run::{self, RunConfig, Scenario};
use crate::sio::echo::SioEcho;
use crate::stats::{Report, percentiles};

/// What every echo scenario takes.
#[derive(clap::Args, Debug)]
pub struct EchoArgs {
    /// The endpoint, e.g. http://127.0.0.1:3000/engine.io/ or http://127.0.0.1:3000/socket.io/
    #[arg(long)]
    url: String,
    /// Concurrent clients (one session each).
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

#[derive(clap::Args, Debug)]
pub struct EioEchoArgs {
    #[command(flatten)]
    echo: EchoArgs,
    #[arg(long, value_enum, default_value_t = Transport::Websocket)]
    transport: Transport,
}

#[derive(clap::Args, Debug)]
pub struct SioEchoArgs {
    #[command(flatten)]
    echo: EchoArgs,
    /// Ask for an acknowledgement (`42<id>[…]` answered by `43<id>[…]`) instead of an emit.
    #[arg(long)]
    ack: bool,
}

/// The checked arguments shared by both scenarios.
struct Checked {
    target: Target,
    op_timeout: Duration,
    config: RunConfig,
}

fn check(args: &EchoArgs, label: String) -> Result<Checked, String> {
    let target = Target::parse(&args.url)?;
    let duration = seconds("duration", args.duration)?;
    let op_timeout = seconds("op-timeout", args.op_timeout)?;
    let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
    if args.clients == 0 || args.threads == 0 || args.pipeline == 0 {
        return Err("--clients, --threads and --pipeline must be at least 1".into());
    }
    ensure_sockets(args.clients)?;
    let config = RunConfig {
        label,
        clients: args.clients,
        threads: args.threads,
        duration,
        connect_timeout,
        server_pid: args.server_pid,
    };
    Ok(Checked { target, op_timeout, config })
}

pub fn eio_echo(args: &EioEchoArgs) -> Result<Report, String> {
    let transport = args.transport;
    let c = check(&args.echo, format!("eio-echo {}", transport.name()))?;
    let sources = Sources::spread(&c.target, args.echo.clients)?;
    let scenario = Echo::new(c.target, sources, transport, args.echo.size, args.echo.pipeline, c.op_timeout);
    Ok(measure(scenario, &c.config, &args.echo, "eio-echo", transport.name(), false))
}

pub fn sio_echo(args: &SioEchoArgs) -> Result<Report, String> {
    let label = if args.ack { "sio-echo ack" } else { "sio-echo" };
    let c = check(&args.echo, label.into())?;
    let sources = Sources::spread(&c.target, args.echo.clients)?;
    let e = &args.echo;
    let scenario = SioEcho::new(c.target, sources, e.size, args.ack, e.pipeline, c.op_timeout);
    Ok(measure(scenario, &c.config, e, "sio-echo", Transport::Websocket.name(), args.ack))
}

fn measure<S: Scenario>(
    scenario: S,
    config: &RunConfig,
    args: &EchoArgs,
    name: &'static str,
    transport: &'static str,
    ack: bool,
) -> Report {
    let outcome = run::run(scenario, config);
    let (p50_us, p99_us, p999_us) = percentiles(&outcome.latencies);
    Report {
        scenario: name,
        transport,
        clients: args.clients,
        connected: outcome.connected,
        size: args.size,
        pipeline: args.pipeline,
        ack,
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
    }
}
