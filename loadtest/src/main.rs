//! `tpcio-loadtest`: a load generator for tpcio and, with the same scenarios and the same
//! numbers, for the Node references (`loadtest/node-reference/`). Client-side only, so its
//! dependencies stay out of the server build.
//!
//! A run connects every client, opens a measured window, prints progress once a second to
//! stderr and one JSON line to stdout at the end; CPU seconds of the load generator and of
//! `--server-pid` are read from `/proc` at the edges of the window. Scenarios: `eio-echo`
//! (Engine.IO v4 round trips over WebSocket or long-polling), `echo` and `ack` (Socket.IO
//! emit or ack round trips over WebSocket, v4 or v3; `sio-echo` before), `polling` (the same
//! over long-polling), `broadcast` (`sio-broadcast` before: one sender, every client
//! receives; fixed rate or a search for the highest sustained one), `cluster` (the same over
//! the nodes of a Redis-adapter cluster, local and remote deliveries apart), `connect` (a storm of
//! handshakes), `idle` (connections held, the server's memory per connection) and `soak`
//! (a long run with churn, the memory's growth, then every client reconnecting at once)
//! and `recovery` (connection state recovery: every connection cut at once, the clients back
//! with their pid and offset, the missed events checked).
//! See `loadtest/README.md`.

mod commands;
mod compare;
mod cpu;
mod eio;
mod error;
mod http;
mod mem;
mod net;
mod rlimit;
mod run;
mod sio;
mod stats;
mod tls;
mod ws_client;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use commands::broadcast::{BroadcastArgs, sio_broadcast};
use commands::cluster::{ClusterArgs, cluster};
use commands::connect::{ConnectArgs, connect};
use commands::echo::{EioEchoArgs, PollingArgs, SioEchoArgs, eio_echo, sio_echo, sio_polling};
use commands::idle::{IdleArgs, idle};
use commands::recovery::{RecoveryArgs, recovery};
use commands::soak::SoakArgs;

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
    EioEcho(EioEchoArgs),
    /// Socket.IO clients in a closed loop over WebSocket: emit `echo`, wait for the emit (or
    /// with --ack the ack) back.
    #[command(name = "echo", alias = "sio-echo")]
    SioEcho(SioEchoArgs),
    /// `echo` with acknowledgements: `42<id>["echo",…]` answered by `43<id>[…]`.
    Ack(SioEchoArgs),
    /// Socket.IO clients receiving `broadcast` events one more client emits at a set rate.
    #[command(name = "broadcast", alias = "sio-broadcast")]
    SioBroadcast(BroadcastArgs),
    /// `broadcast` over the nodes of a cluster (Redis adapter): receivers spread over the
    /// `--url`s, the sender on the first; local and remote (through Redis) latencies, each
    /// node's deliveries, losses and CPU.
    Cluster(ClusterArgs),
    /// A connection storm: full Socket.IO handshakes, K at a time, each closed after.
    Connect(ConnectArgs),
    /// N connected Socket.IO clients held idle: the server's memory per connection.
    Idle(IdleArgs),
    /// The Socket.IO echo over HTTP long-polling.
    Polling(PollingArgs),
    /// WebSocket and polling clients held for a long run with churn, the server's memory
    /// read as it goes, then every client reconnecting at once after a server restart.
    Soak(SoakArgs),
    /// Connection state recovery: N clients cut at once while events go on, then back at
    /// once with their pid and offset; recovery latency, recovered vs fresh, every missed
    /// event exactly once and in order, the server's memory.
    Recovery(RecoveryArgs),
    Compare(compare::CompareArgs),
}

fn main() -> ExitCode {
    match Cli::parse().scenario {
        Command::EioEcho(args) => finish(eio_echo(&args), |r| r.messages > 0),
        Command::SioEcho(args) => finish(sio_echo(&args, false), |r| r.messages > 0),
        Command::Ack(args) => finish(sio_echo(&args, true), |r| r.messages > 0),
        Command::SioBroadcast(args) => finish(sio_broadcast(&args), |r| r.result.deliveries > 0),
        Command::Cluster(args) => finish(cluster(&args), |r| r.result.deliveries > 0),
        Command::Connect(args) => finish(connect(&args), |r| r.handshakes > 0),
        Command::Idle(args) => finish(idle(&args), |r| r.connected > 0),
        Command::Polling(args) => finish(sio_polling(&args), |r| r.messages > 0),
        Command::Soak(args) => commands::soak::main(&args),
        Command::Recovery(args) => finish(recovery(&args), |r| r.ok),
        Command::Compare(args) => compare::main(&args),
    }
}

/// Prints the report line; success when `measured` says something was measured.
fn finish<R: Serialize>(report: Result<R, String>, measured: impl Fn(&R) -> bool) -> ExitCode {
    match report {
        Ok(report) => {
            match serde_json::to_string(&report) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("tpcio-loadtest: cannot encode the report: {e}"),
            }
            if measured(&report) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("tpcio-loadtest: {e}");
            ExitCode::from(2)
        }
    }
}
