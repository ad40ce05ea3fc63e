//! The echo scenarios, closed-loop round trips, one window, one [`Report`]: `eio-echo`
//! (Engine.IO messages), `echo` and `ack` (Socket.IO over WebSocket, v4 or v3), `polling`
//! (Socket.IO over HTTP long-polling).

use std::time::Duration;

use super::seconds;
use crate::eio::{Echo, Transport};
use crate::net::{Sources, Target};
use crate::rlimit::ensure_sockets;
use crate::run::{self, RunConfig, Scenario};
use crate::sio::Eio;
use crate::sio::echo::{Messages, SioEcho};
use crate::sio::polling::SioPolling;
use crate::stats::{Report, cpu_figures, percentiles};

/// What every echo scenario takes.
#[derive(clap::Args, Debug)]
pub struct EchoArgs {
    /// The endpoint, e.g. http://127.0.0.1:3000/engine.io/ or http://127.0.0.1:3000/socket.io/
    #[arg(long)]
    pub(crate) url: String,
    /// Speak TLS to an https:// URL, trusting this certificate (PEM: the server's own or its
    /// authority's). WebSocket scenarios only.
    #[arg(long)]
    pub(crate) tls: Option<std::path::PathBuf>,
    /// Concurrent clients (one session each).
    #[arg(long, default_value_t = 100)]
    pub(crate) clients: usize,
    /// Length of the measured window in seconds (at most one hour).
    #[arg(long, default_value_t = 10.0)]
    pub(crate) duration: f64,
    /// Message payload in bytes (ASCII text).
    #[arg(long, default_value_t = 32)]
    pub(crate) size: usize,
    /// Load threads, each with its own single-threaded runtime.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Messages in flight per client.
    #[arg(long, default_value_t = 1)]
    pub(crate) pipeline: usize,
    /// Process whose CPU time (/proc/PID/stat) is measured over the window.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// Seconds a client waits for any answer before it counts an error and stops.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) op_timeout: f64,
    /// Seconds allowed for connecting all clients.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) connect_timeout: f64,
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
    /// Engine.IO protocol: 4 (socket.io-client 3.x+), or 3 (2.x: the server connects `/`
    /// by itself, the client pings).
    #[arg(long, value_enum, default_value_t = Eio::V4)]
    eio: Eio,
    /// The event emitted: `echo`, or e.g. `echo-typed` (the bench servers' handler that reads
    /// the arguments with the typed API). The answer is `echo` (or the ack) either way.
    #[arg(long, default_value = "echo", value_parser = event_name)]
    event: String,
}

/// Events a client may not emit (socket.io's reserved names).
const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

/// `--event`: any name but an empty or reserved one.
fn event_name(name: &str) -> Result<String, String> {
    if name.is_empty() || RESERVED_EVENTS.contains(&name) {
        return Err(format!("{name:?} cannot be emitted by a client"));
    }
    Ok(name.to_owned())
}

#[derive(clap::Args, Debug)]
pub struct PollingArgs {
    #[command(flatten)]
    echo: EchoArgs,
    /// Ask for an acknowledgement instead of an emit.
    #[arg(long)]
    ack: bool,
}

/// The checked arguments shared by every echo scenario.
pub(crate) struct Checked {
    pub(crate) target: Target,
    pub(crate) op_timeout: Duration,
    pub(crate) config: RunConfig,
}

/// `sockets` is how many connections the run holds (polling clients hold two each).
pub(crate) fn check(args: &EchoArgs, label: String, sockets: usize) -> Result<Checked, String> {
    let target = Target::parse(&args.url)?.with_tls(args.tls.as_deref())?;
    let duration = seconds("duration", args.duration)?;
    let op_timeout = seconds("op-timeout", args.op_timeout)?;
    let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
    if args.clients == 0 || args.threads == 0 || args.pipeline == 0 {
        return Err("--clients, --threads and --pipeline must be at least 1".into());
    }
    ensure_sockets(sockets)?;
    let config = RunConfig {
        label,
        clients: args.clients,
        threads: args.threads,
        duration,
        count: None,
        connect_timeout,
        server_pid: args.server_pid,
    };
    Ok(Checked { target, op_timeout, config })
}

pub fn eio_echo(args: &EioEchoArgs) -> Result<Report, String> {
    let transport = args.transport;
    let c = check(&args.echo, format!("eio-echo {}", transport.name()), args.echo.clients)?;
    let sources = Sources::spread(&c.target, args.echo.clients)?;
    let scenario = Echo::new(c.target, sources, transport, args.echo.size, args.echo.pipeline, c.op_timeout);
    let shape = Shape { name: "eio-echo", transport: transport.name(), eio: 4, ack: false };
    Ok(measure(scenario, &c.config, &args.echo, shape))
}

/// `echo` (or `ack` when `ack` is set, as the `ack` subcommand does).
pub fn sio_echo(args: &SioEchoArgs, ack: bool) -> Result<Report, String> {
    let ack = ack || args.ack;
    let name = if ack { "ack" } else { "echo" };
    let e = &args.echo;
    let c = check(e, format!("{name} eio{}", args.eio.number()), e.clients)?;
    let sources = Sources::spread(&c.target, e.clients)?;
    let messages = Messages::new(&args.event, e.size, ack, e.pipeline);
    let scenario = SioEcho::new(c.target, sources, args.eio, messages, c.op_timeout);
    let shape = Shape { name, transport: Transport::Websocket.name(), eio: args.eio.number(), ack };
    Ok(Report { event: Some(args.event.clone()), ..measure(scenario, &c.config, e, shape) })
}

pub fn sio_polling(args: &PollingArgs) -> Result<Report, String> {
    let e = &args.echo;
    let label = if args.ack { "polling ack" } else { "polling" };
    let c = check(e, label.into(), 2 * e.clients)?;
    let sources = Sources::spread(&c.target, 2 * e.clients)?;
    let messages = Messages::new("echo", e.size, args.ack, e.pipeline);
    let scenario = SioPolling::new(c.target, sources, messages, c.op_timeout);
    let shape = Shape { name: "polling", transport: Transport::Polling.name(), eio: 4, ack: args.ack };
    Ok(measure(scenario, &c.config, e, shape))
}

/// What the report says the run was.
pub(crate) struct Shape {
    pub(crate) name: &'static str,
    pub(crate) transport: &'static str,
    pub(crate) eio: u8,
    pub(crate) ack: bool,
}

pub(crate) fn measure<S: Scenario>(scenario: S, config: &RunConfig, args: &EchoArgs, shape: Shape) -> Report {
    let outcome = run::run(scenario, config);
    let (p50_us, p99_us, p999_us) = percentiles(&outcome.latencies);
    let cpu = cpu_figures(outcome.server_cpu_s, outcome.loadgen_cpu_s, outcome.seconds, outcome.messages);
    Report {
        scenario: shape.name,
        event: None,
        transport: shape.transport,
        eio: shape.eio,
        clients: args.clients,
        connected: outcome.connected,
        size: args.size,
        pipeline: args.pipeline,
        ack: shape.ack,
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        echo: SioEchoArgs,
    }

    fn parse(extra: &[&str]) -> Result<SioEchoArgs, clap::Error> {
        let args = ["t", "--url", "http://127.0.0.1:1/socket.io/"].iter().chain(extra);
        Cli::try_parse_from(args).map(|cli| cli.echo)
    }

    #[test]
    fn takes_the_event_name() {
        assert_eq!(parse(&[]).unwrap().event, "echo");
        assert_eq!(parse(&["--event", "echo-typed"]).unwrap().event, "echo-typed");
        assert!(parse(&["--event", ""]).is_err());
        assert!(parse(&["--event", "disconnect"]).is_err());
    }
}
