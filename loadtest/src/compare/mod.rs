//! `compare`: tpcio against socketioxide and the Node `socket.io` reference, plus the raw
//! WebSocket echo on tpcio's runtime (the transport's ceiling), in one run.
//!
//! Nothing is built here (`scripts/compare.sh` builds everything first). Each server is
//! started in turn, pinned with `taskset` to `--server-cpus`; for each scenario this binary
//! re-executes itself pinned to `--loadgen-cpus` and reads the scenario's JSON line. That is
//! one round; `--rounds` repeat it ([`rounds`]: medians with min–max). Every
//! server is stopped by PID (SIGTERM, then SIGKILL) and its port seen free before the next
//! one starts. The table goes to stdout and, with the raw reports and a chart, to
//! `loadtest/results/<UTC time>/` and `loadtest/results/latest/`.
//!
//! The `cluster` scenario ([`cluster`]) starts its own Redis and nodes, round after round.
//!
//! `compare raw-echo` is the load scenario for the raw echo server ([`raw`]).

mod cluster;
mod markdown;
mod process;
mod raw;
mod report;
mod rounds;
mod runner;
mod scenarios;
mod servers;
mod svg;
mod time;
mod versions;

use std::path::PathBuf;
use std::process::ExitCode;

use raw::RawEchoArgs;

/// tpcio against socketioxide, Node socket.io and a raw WebSocket echo, in one run.
///
/// Each server is pinned in turn to --server-cpus, the load to --loadgen-cpus; the table goes
/// to stdout and loadtest/results/. `compare raw-echo` is the raw echo server's load scenario.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CompareArgs {
    #[command(subcommand)]
    client: Option<Client>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Subcommand, Debug)]
enum Client {
    /// WebSocket clients in a closed loop against a raw echo server: send a text frame, wait
    /// for it back (no Engine.IO, no Socket.IO).
    RawEcho(RawEchoArgs),
}

/// The comparison's own options.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Short windows (about a second or two each): a smoke run that ends in a few minutes.
    #[arg(long)]
    quick: bool,
    /// CPUs the servers are pinned to (`taskset -c` list).
    #[arg(long, default_value = "0")]
    server_cpus: String,
    /// CPUs the load generator is pinned to (`taskset -c` list).
    #[arg(long, default_value = "1")]
    loadgen_cpus: String,
    /// First port; the servers take this one and the next three, in turn.
    #[arg(long, default_value_t = 20300)]
    port: u16,
    /// Servers to measure, in order: tpcio, socketioxide, node, raw.
    #[arg(long, value_delimiter = ',', default_value = "tpcio,socketioxide,node,raw")]
    servers: Vec<String>,
    /// Scenarios to run: echo, echo-typed (echo with the event `echo-typed`, whose handler
    /// reads the arguments as typed values), ack, broadcast-1k, broadcast-10k, connect, idle,
    /// polling, and cluster (not by default: two nodes of tpcio, then of Node, on a fresh redis-server,
    /// 10 000 receivers over them, and a one-node baseline; its own rounds, servers
    /// interleaved). A run of `cluster` alone writes to loadtest/results/cluster-latest/.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "echo,echo-typed,ack,broadcast-1k,broadcast-10k,connect,idle,polling"
    )]
    scenarios: Vec<String>,
    /// Rounds: every server measured once per round, servers in turn, a fresh server each
    /// time; the tables give medians with min–max. 3 by default, 1 with --quick.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,
    /// Rounds of the cluster scenario (servers interleaved): 2 by default, 1 with --quick.
    #[arg(long)]
    cluster_rounds: Option<usize>,
    /// The adapter of the cluster scenario's nodes: classic (`createAdapter`), sharded
    /// (`createShardedAdapter`) or streams (`@socket.io/redis-streams-adapter`).
    #[arg(long, default_value = "classic", value_parser = ["classic", "sharded", "streams"])]
    cluster_adapter: String,
    /// The folder under loadtest/results/ the run is copied to: `latest`, or `cluster-latest`
    /// for a run of `cluster` alone, unless named here (e.g. `typed-latest`).
    #[arg(long, value_parser = runner::folder_name)]
    latest: Option<String>,
    /// Seconds of each measured window (echo, ack, polling, connect, idle hold): 8 by
    /// default, 2 with --quick.
    #[arg(long)]
    duration: Option<f64>,
    /// The repository root (binaries and results are found from it); by default the
    /// directory three levels above this executable (`target/release/..`), else the current one.
    #[arg(long)]
    root: Option<PathBuf>,
}

/// `tpcio-loadtest compare [raw-echo]`.
pub fn main(args: &CompareArgs) -> ExitCode {
    match &args.client {
        Some(Client::RawEcho(raw)) => crate::finish(raw::raw_echo(raw), |r| r.messages > 0),
        None => match runner::compare(&args.run) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tpcio-loadtest compare: {e}");
                ExitCode::from(2)
            }
        },
    }
}
