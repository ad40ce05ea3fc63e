//! The `tpcio` server binary.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

use tpcio::modes::{bench, conformance};
use tpcio::server::{CpuPlacement, RunningServer, Server, ServerConfig};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// A thread-per-core Engine.IO / Socket.IO server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Debug, Clone)]
struct Common {
    /// Address to listen on.
    #[arg(long, env = "TPCIO_HOST", default_value = "0.0.0.0", global = true)]
    host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "TPCIO_PORT", default_value_t = 3000, global = true)]
    port: u16,
    /// Number of shards (default: one per CPU the process may run on, see `taskset`).
    #[arg(long, env = "TPCIO_SHARDS", global = true)]
    shards: Option<usize>,
    /// Do not pin shards to CPUs.
    #[arg(long, global = true)]
    no_pin: bool,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// The default: Socket.IO at /socket.io/ (`echo` answered, `broadcast` re-emitted to all)
    /// and a raw Engine.IO echo at /engine.io/, with Node's default timings.
    Serve,
    /// The load tester's target: /socket.io/ where `echo` is emitted back (or acked when the
    /// client asks) and `broadcast` is re-emitted to every socket; pingInterval 25 s, pingTimeout 20 s.
    Bench,
    /// The conformance server: /engine.io/ echoes every message; /socket.io/ serves `/` and
    /// `/custom` (emits `auth`, answers `message` and `message-with-ack`); pingInterval 300 ms,
    /// pingTimeout 200 ms, connectTimeout 1 s, maxPayload 1e6, CORS *, EIO=3 and EIO=4.
    Conformance,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let c = &cli.common;
    let addr = SocketAddr::new(c.host, c.port);
    let placement = if c.no_pin { CpuPlacement::Unpinned } else { CpuPlacement::PinPerCpu };
    let server = match cli.mode.unwrap_or(Mode::Serve) {
        Mode::Serve => {
            let config = ServerConfig { addr, shards: c.shards, placement, ..ServerConfig::default() };
            bench::socket_io().attach(Server::new(config).endpoint("/engine.io/", |_shard| conformance::Echo))
        }
        Mode::Bench => {
            bench::server(ServerConfig { addr, shards: c.shards, placement, ..ServerConfig::default() })
        }
        Mode::Conformance => conformance::server(conformance::config(addr, c.shards, placement)),
    };
    match server.start() {
        Ok(running) => {
            announce(&running);
            run_until_signal(running);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tpcio: cannot start on {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn announce(running: &RunningServer) {
    let addr = running.local_addr();
    let host = if addr.ip().is_unspecified() { "localhost".to_string() } else { addr.ip().to_string() };
    println!("tpcio listening on http://{host}:{}/ with {} shard(s)", addr.port(), running.shards());
}

/// Stops gracefully on SIGINT or SIGTERM.
fn run_until_signal(running: RunningServer) {
    let stop = running.stop_flag();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
            eprintln!("tpcio: cannot handle signal {signal}: {e}");
        }
    }
    running.wait();
    if stop.load(Ordering::Acquire) {
        println!("tpcio: shut down");
    }
}
