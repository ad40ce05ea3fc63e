//! `tpcio-loadtest`: a load generator for tpcio and, with the same scenarios and the same
//! numbers, for the Node references (`loadtest/node-reference/`). Client-side only, so its
//! dependencies stay out of the server build.
//!
//! A run connects every client, opens a measured window, prints progress once a second to
//! stderr and one JSON line to stdout at the end; CPU seconds of the load generator and of
//! `--server-pid` are read from `/proc` at the edges of the window. Scenarios: `eio-echo`
//! (Engine.IO v4 round trips over WebSocket or long-polling), `sio-echo` (Socket.IO emit or
//! ack round trips) and `sio-broadcast` (one sender, every client receives; fixed rate or a
//! search for the highest sustained one).

mod commands;
mod cpu;
mod eio;
mod error;
mod http;
mod net;
mod rlimit;
mod run;
mod sio;
mod stats;
mod ws_client;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use commands::broadcast::{BroadcastArgs, sio_broadcast};
use commands::echo::{EioEchoArgs, SioEchoArgs, eio_echo, sio_echo};

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
    /// Socket.IO clients in a closed loop: emit `echo`, wait for the emit (or the ack) back.
    SioEcho(SioEchoArgs),
    /// Socket.IO clients receiving `broadcast` events one more client emits at a set rate.
    SioBroadcast(BroadcastArgs),
}

fn main() -> ExitCode {
    match Cli::parse().scenario {
        Command::EioEcho(args) => finish(eio_echo(&args), |r| r.messages > 0),
        Command::SioEcho(args) => finish(sio_echo(&args), |r| r.messages > 0),
        Command::SioBroadcast(args) => finish(sio_broadcast(&args), |r| r.result.deliveries > 0),
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
