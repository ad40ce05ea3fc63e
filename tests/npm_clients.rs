//! The official npm clients against the conformance server: engine.io-client 6.6 (`EIO=4`) and
//! 3.5 (`EIO=3`) run as `node tests/js/<script> <port> <eio> <args>` against an in-process
//! server (2 shards on 127.0.0.1:0). Each script asserts with `node:assert`, bounds its own
//! waits, and ends with one JSON line `{"ok":true,"verified":"..."}`; this file checks the exit
//! code and that line, kills a script that outlives [`NODE_TIMEOUT`], and drives the server side
//! of the scripts that need it (shutdown while a client is connected). See tests/js/README.md.
//! A missing `node` or `tests/js/node_modules` fails the tests: they never skip silently.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{OnceLock, mpsc};
use std::thread;
use std::time::Duration;

use common::node::NodeRun;

use common::cli::conformance;
use serde_json::Value;
use tpcio::prelude::{CpuPlacement, RunningServer};

/// How long one node script may run, from its start (each script also has its own 10 s limit).
const NODE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `RunningServer::shutdown` may take (its own bound is `shutdown_timeout`, 5 s).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// The npm packages these scripts load.
const PACKAGES: &[&str] = &["engine.io-client", "engine.io-client-v3", "ws"];

/// The heartbeat timings a server runs with.
#[derive(Clone, Copy)]
enum Timing {
    /// The conformance configuration as is: pingInterval 300 ms, pingTimeout 200 ms.
    Conformance,
    /// pingTimeout raised to 5 s. With 200 ms, any 200 ms stall of a loaded test machine (a
    /// ping queued while the client is busy upgrading, say) ends a session with "ping timeout";
    /// the Node reference server fails the same scripts the same way under load. Pings still
    /// go out every 300 ms, interleaved with the traffic under test.
    Tolerant,
}

fn start_server(timing: Timing) -> RunningServer {
    let addr = "127.0.0.1:0".parse().expect("a literal socket address");
    let mut config = conformance::config(addr, Some(2), CpuPlacement::Unpinned);
    if let Timing::Tolerant = timing {
        config.engine.ping_timeout = Duration::from_secs(5);
    }
    conformance::server(config).start().expect("the conformance server starts")
}

/// One server per timing for the scripts that neither stop it nor read its counters. They are
/// never shut down: their shard threads end with the test process.
fn shared_port(timing: Timing) -> u16 {
    static CONFORMANCE: OnceLock<u16> = OnceLock::new();
    static TOLERANT: OnceLock<u16> = OnceLock::new();
    let cell = match timing {
        Timing::Conformance => &CONFORMANCE,
        Timing::Tolerant => &TOLERANT,
    };
    *cell.get_or_init(|| {
        let running = start_server(timing);
        let port = running.local_addr().port();
        std::mem::forget(running);
        port
    })
}

/// Runs a script to completion against a shared server.
fn run(timing: Timing, script: &str, eio: u8, args: &[&str], verified: &str) -> Value {
    NodeRun::start(script, shared_port(timing), eio, args, PACKAGES, NODE_TIMEOUT).finish(verified)
}

fn echo(eio: u8, mode: &str) {
    run(Timing::Tolerant, "echo.mjs", eio, &[mode], &format!("echo eio={eio} {mode}"));
}

fn echo_b64(mode: &str) {
    run(Timing::Tolerant, "echo.mjs", 3, &[mode, "b64"], &format!("echo eio=3 {mode} b64"));
}

/// The exact conformance timings: the script checks the handshake says 300 ms / 200 ms.
fn heartbeat(eio: u8, mode: &str) {
    let verified = format!("heartbeat eio={eio} {mode}");
    let summary = run(Timing::Conformance, "heartbeat.mjs", eio, &[mode], &verified);
    assert!(summary["beats"].as_u64() >= Some(4), "{summary}");
}

fn client_close(eio: u8, mode: &str) {
    let summary = run(Timing::Tolerant, "close.mjs", eio, &[mode], &format!("close eio={eio} {mode}"));
    assert_eq!(summary["reason"], "forced close");
}

/// The client prints `ready` once connected; the server then shuts down under it.
fn server_shutdown(eio: u8, mode: &str) {
    let running = start_server(Timing::Tolerant);
    let mut node =
        NodeRun::start("shutdown.mjs", running.local_addr().port(), eio, &[mode], PACKAGES, NODE_TIMEOUT);
    node.expect_line("ready");
    if mode == "polling" {
        // The shutdown is meant to find the client's next GET parked (Node answers it with the
        // close packet); one still on its way would meet a closed listener instead.
        wait_parked_get(&running);
    }
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        running.shutdown().expect("every shard stops cleanly");
        let _ = done_tx.send(());
    });
    if done_rx.recv_timeout(SHUTDOWN_TIMEOUT).is_err() {
        node.fail(&format!("RunningServer::shutdown did not return within {SHUTDOWN_TIMEOUT:?}"));
    }
    let summary = node.finish(&format!("shutdown eio={eio} {mode}"));
    assert_eq!(summary["reason"], "transport close");
}

/// Waits (bounded) until a polling GET is parked on some shard.
fn wait_parked_get(running: &RunningServer) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = running.metrics().render();
        let parked: u64 = text
            .lines()
            .filter(|l| l.starts_with("tpcio_polling_parked_gets{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        if parked > 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the client's GET was never parked");
        // The gauge is the only sign of a parked GET: there is no event to await.
        thread::sleep(Duration::from_millis(5));
    }
}

/// 20 clients at once on a server of its own, whose handoff counter shows the other shard served.
fn concurrency(eio: u8) {
    let running = start_server(Timing::Tolerant);
    let port = running.local_addr().port();
    NodeRun::start("concurrency.mjs", port, eio, &["20"], PACKAGES, NODE_TIMEOUT)
        .finish(&format!("concurrency eio={eio} clients=20"));
    let handoffs = running.stats().handoffs.load(Ordering::Relaxed);
    running.shutdown().expect("every shard stops cleanly");
    assert!(handoffs > 0, "20 polling+upgrade sessions on 2 shards made no handoff");
}

#[test]
fn v4_echo_polling() {
    echo(4, "polling");
}

#[test]
fn v4_echo_websocket() {
    echo(4, "websocket");
}

#[test]
fn v4_echo_upgrade() {
    echo(4, "upgrade");
}

#[test]
fn v3_echo_polling() {
    echo(3, "polling");
}

#[test]
fn v3_echo_websocket() {
    echo(3, "websocket");
}

#[test]
fn v3_echo_upgrade() {
    echo(3, "upgrade");
}

#[test]
fn v3_force_base64_polling() {
    echo_b64("polling");
}

#[test]
fn v3_force_base64_websocket() {
    echo_b64("websocket");
}

#[test]
fn v3_force_base64_upgrade() {
    echo_b64("upgrade");
}

#[test]
fn v4_heartbeat_polling() {
    heartbeat(4, "polling");
}

#[test]
fn v4_heartbeat_websocket() {
    heartbeat(4, "websocket");
}

#[test]
fn v3_heartbeat_polling() {
    heartbeat(3, "polling");
}

#[test]
fn v3_heartbeat_websocket() {
    heartbeat(3, "websocket");
}

#[test]
fn v4_client_close_polling() {
    client_close(4, "polling");
}

#[test]
fn v4_client_close_websocket() {
    client_close(4, "websocket");
}

#[test]
fn v4_client_close_while_upgrading() {
    client_close(4, "upgrading");
}

#[test]
fn v3_client_close_polling() {
    client_close(3, "polling");
}

#[test]
fn v3_client_close_websocket() {
    client_close(3, "websocket");
}

#[test]
fn v3_client_close_while_upgrading() {
    client_close(3, "upgrading");
}

#[test]
fn v4_server_shutdown_polling() {
    server_shutdown(4, "polling");
}

#[test]
fn v4_server_shutdown_websocket() {
    server_shutdown(4, "websocket");
}

#[test]
fn v3_server_shutdown_polling() {
    server_shutdown(3, "polling");
}

#[test]
fn v3_server_shutdown_websocket() {
    server_shutdown(3, "websocket");
}

#[test]
fn v4_twenty_clients_across_shards() {
    concurrency(4);
}

#[test]
fn v3_twenty_clients_across_shards() {
    concurrency(3);
}
