//! The socketioxide reference of `tpcio-loadtest compare`: `tpcio bench` (src/cli/bench.rs)
//! rebuilt on socketioxide 0.18 behind axum, as socketioxide's own axum example serves it.
//!
//! On `/socket.io/` (EIO=4, and EIO=3 with the `v4` feature), pingInterval 25 s, pingTimeout 20 s:
//! - `echo`: emitted back as `echo` with the same arguments, or, when the client asked for an ack,
//!   acknowledged with the same arguments instead;
//! - `echo-typed`: as `echo` for one argument, written as most socketioxide applications write
//!   a handler: `Data<serde_json::Value>` (socketioxide reads the first argument into it), emitted
//!   back as `echo` (or acked) with that value;
//! - `broadcast`: re-emitted as `broadcast`, same arguments, to every socket (`io.emit`).
//!
//! Each socket may buffer 4 096 packets for writing, tpcio's bound (socketioxide's default: 128).
//!
//! Runtime: a multi-threaded tokio runtime with one worker per CPU of the affinity mask, what
//! `#[tokio::main]` gives a socketioxide user; pinned to one CPU (`taskset -c 0`) that is one
//! worker, so each server of the comparison gets one core. `--current-thread` runs the whole
//! server on the main thread instead.
//!
//! Usage: `socketioxide-ref --port PORT [--host 127.0.0.1] [--current-thread]`

mod args;

use std::net::SocketAddr;
use std::time::Duration;

use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};

use args::{AckIfAsked, Args};

/// Node's defaults, which `tpcio bench` and the Node reference use too.
const PING_INTERVAL: Duration = Duration::from_secs(25);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// Packets a socket may have waiting to be written: tpcio's bound
/// (`EngineConfig::max_buffered_packets`, 4 096) rather than socketioxide's default of 128, so
/// that a broadcast burst is not dropped here when tpcio would have queued it.
const MAX_BUFFERED_PACKETS: usize = 4096;

/// The command line.
struct Options {
    addr: SocketAddr,
    current_thread: bool,
}

fn main() -> std::process::ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "socketioxide-ref: {e}\nusage: socketioxide-ref --port PORT [--host IP] [--current-thread]"
            );
            return std::process::ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socketioxide-ref: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let (mut host, mut port, mut current_thread) = ("127.0.0.1".to_string(), None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = Some(args.next().ok_or("--port needs a value")?),
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "--current-thread" => current_thread = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let port: u16 = port.ok_or("--port is required")?.parse().map_err(|e| format!("--port: {e}"))?;
    let ip = host.parse().map_err(|e| format!("--host: {e}"))?;
    Ok(Options { addr: SocketAddr::new(ip, port), current_thread })
}

fn run(options: &Options) -> std::io::Result<()> {
    let runtime = if options.current_thread {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        // available_parallelism reads the affinity mask (sched_getaffinity) on Linux.
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?
    };
    runtime.block_on(serve(options.addr))
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let (layer, io) = SocketIo::builder()
        .req_path("/socket.io")
        .ping_interval(PING_INTERVAL)
        .ping_timeout(PING_TIMEOUT)
        .max_buffer_size(MAX_BUFFERED_PACKETS)
        .build_layer();
    io.ns("/", async |socket: SocketRef| {
        socket.on("echo", on_echo);
        socket.on("echo-typed", on_echo_typed);
        socket.on("broadcast", on_broadcast);
    });
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("socketioxide-ref listening on http://{}/socket.io/", listener.local_addr()?);
    // Open WebSocket sessions would hold a graceful shutdown for their 45 s heartbeat: stop at once.
    tokio::select! {
        served = axum::serve(listener, app) => served,
        () = terminated() => Ok(()),
    }
}

/// socketioxide 0.18 handlers are all asynchronous: each message is a spawned task.
async fn on_echo(socket: SocketRef, ack: AckIfAsked, Data(args): Data<Args>) {
    let _ = match ack.0 {
        Some(ack) => ack.send(&args),
        None => socket.emit("echo", &args),
    };
}

/// The typical handler: the argument read as a `serde_json::Value`, given back as one argument.
async fn on_echo_typed(socket: SocketRef, ack: AckIfAsked, Data(value): Data<serde_json::Value>) {
    let _ = match ack.0 {
        Some(ack) => ack.send(&value),
        None => socket.emit("echo", &value),
    };
}

/// `io.emit`, as the Node reference: the sender receives its broadcast too.
async fn on_broadcast(io: SocketIo, Data(args): Data<Args>) {
    let _ = io.emit("broadcast", &args).await;
}

/// Resolves on SIGTERM or SIGINT, so the comparison can stop the server by PID.
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        parse_options(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_the_command_line() {
        let o = parse(&["--port", "20001", "--current-thread"]).unwrap();
        assert_eq!(o.addr, "127.0.0.1:20001".parse().unwrap());
        assert!(o.current_thread);
        assert!(parse(&[]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--port", "1", "--bogus"]).is_err());
    }
}
