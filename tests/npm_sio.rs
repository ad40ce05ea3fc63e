//! The official Socket.IO clients against the Socket.IO layer: socket.io-client 4.8 (`EIO=4`,
//! protocol v5) and 2.5 (`EIO=3`, protocol v4, npm alias `socket.io-client-v2`) run as
//! `node tests/js/sio_<scenario>.mjs <port> <4|3> <args>` against the application of
//! tests/npm_sio/app.rs, started in-process per test (2 shards on 127.0.0.1). The scripts assert
//! with `node:assert` and end with one JSON line `{"ok":true,"verified":"..."}`; this file
//! checks that line and the exit code, then what the server's handlers recorded (disconnect
//! reasons), and restarts the server under the reconnection scenario. Same conventions as
//! tests/npm_clients.rs. A missing `node` or `node_modules` fails the tests, never skips them.

#[path = "npm_sio/app.rs"]
mod app;
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use app::Record;
use common::node::NodeRun;
use tpcio::prelude::RunningServer;

/// How long one node script may run (each bounds itself at 15 s).
const NODE_TIMEOUT: Duration = Duration::from_secs(25);
/// How long the server's handlers may take to record a disconnect the client already saw.
const RECORD_TIMEOUT: Duration = Duration::from_secs(5);
/// The npm packages these scripts load.
const PACKAGES: &[&str] = &["socket.io-client", "socket.io-client-v2"];

/// The test application on a port of its own, with its record.
struct App {
    running: Option<RunningServer>,
    record: Record,
    addr: SocketAddr,
}

impl App {
    fn start() -> App {
        let record = Record::default();
        let addr = "127.0.0.1:0".parse().expect("a literal socket address");
        let running = app::start(addr, &record).expect("the Socket.IO server starts");
        assert_eq!(running.shards(), 2);
        let addr = running.local_addr();
        App { running: Some(running), record, addr }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops the server (graceful: every session gets its close packet).
    fn shutdown(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().expect("every shard stops cleanly");
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop_flag().store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

fn basic(eio: u8, mode: &str) {
    let app = App::start();
    let mut want = vec![
        "/ b0 client namespace disconnect",
        "/ b1 server namespace disconnect",
        "/ b2 server namespace disconnect",
        "/ b3 transport close",
        "/admin mx-admin client namespace disconnect",
        "/ mx client namespace disconnect",
        "/dyn-7 mx-dyn client namespace disconnect",
    ];
    if eio == 4 {
        // Refused, then connected with new credentials on the same connection.
        want.push("/ bad-then-good client namespace disconnect");
    }
    let summary = NodeRun::start("sio_basic.mjs", app.port(), eio, &[mode], PACKAGES, NODE_TIMEOUT)
        .finish(&format!("sio basic eio={eio} {mode}"));
    let reasons = &summary["reasons"];
    assert_eq!(reasons["disconnect"], "io client disconnect");
    assert_eq!(reasons["bye"], "io server disconnect");
    assert_eq!(reasons["closeMe"], "io server disconnect");
    // The client's own name for closing its Engine.IO connection.
    assert_eq!(reasons["engineClose"], "forced close");
    app.record.wait_for(&want, RECORD_TIMEOUT);
}

#[test]
fn v4_basic_polling() {
    basic(4, "polling");
}

#[test]
fn v4_basic_websocket() {
    basic(4, "websocket");
}

#[test]
fn v4_basic_upgrade() {
    basic(4, "upgrade");
}

#[test]
fn v2_basic_polling() {
    basic(3, "polling");
}

#[test]
fn v2_basic_websocket() {
    basic(3, "websocket");
}

#[test]
fn v2_basic_upgrade() {
    basic(3, "upgrade");
}

fn rooms(eio: u8, mixed: bool) {
    let app = App::start();
    let args: &[&str] = if mixed { &["mixed"] } else { &[] };
    let verified = format!("sio rooms eio={eio}{}", if mixed { " mixed" } else { "" });
    let summary =
        NodeRun::start("sio_rooms.mjs", app.port(), eio, args, PACKAGES, NODE_TIMEOUT).finish(&verified);
    let both = serde_json::json!([0, 1]);
    assert_eq!(summary["memberShards"], both, "room members on both shards: {summary}");
    assert_eq!(summary["otherShards"], both, "non-members on both shards: {summary}");
    assert!(summary["clients"].as_u64() >= Some(8), "{summary}");
}

#[test]
fn v4_rooms_broadcast_except_volatile() {
    rooms(4, false);
}

#[test]
fn v2_rooms_broadcast_except_volatile() {
    rooms(3, false);
}

#[test]
fn mixed_versions_in_rooms() {
    rooms(4, true);
}

/// `disconnect(true)` from one namespace of a multiplexed connection: as Node's
/// `client._disconnect()`, every namespace of the connection gets a DISCONNECT first.
///
/// Bug (both client versions, every transport): tpcio's `Layer::disconnect_socket(.., close)`
/// disconnects only the calling namespace (`SioClient::disconnect_socket`), then closes the
/// engine. The other namespaces get no `1/nsp,`: their client sockets report "transport close"
/// (and the manager starts reconnecting) instead of "io server disconnect", and their server
/// handlers see "forced close" instead of "server namespace disconnect".
/// `SioClient::disconnect_all` does what Node does but the layer never calls it.
fn close_multiplexed(eio: u8, mode: &str) {
    let app = App::start();
    let summary = NodeRun::start("sio_close.mjs", app.port(), eio, &[mode], PACKAGES, NODE_TIMEOUT)
        .finish(&format!("sio close eio={eio} {mode}"));
    let server = app.record.wait_lines(|l| l.contains(" cl"), 3, RECORD_TIMEOUT);
    let client = &summary["reasons"];
    let want_server = [
        "/ cl server namespace disconnect",
        "/admin cl-admin server namespace disconnect",
        "/dyn-1 cl-dyn server namespace disconnect",
    ];
    let ok = *client
        == serde_json::json!(["io server disconnect", "io server disconnect", "io server disconnect"])
        && want_server.iter().all(|w| server.iter().any(|l| l == w));
    assert!(ok, "client sockets (/, /admin, /dyn-1) saw {client}; server handlers saw {server:?}");
}

#[test]
fn v4_close_multiplexed_websocket() {
    close_multiplexed(4, "websocket");
}

#[test]
fn v2_close_multiplexed_polling() {
    close_multiplexed(3, "polling");
}

/// The client prints `ready`; the server stops under it and a new one starts on the same port.
fn reconnect(eio: u8) {
    let mut app = App::start();
    let mut node = NodeRun::start("sio_reconnect.mjs", app.port(), eio, &[], PACKAGES, NODE_TIMEOUT);
    node.expect_line("ready");
    app.shutdown();
    // The shard threads are gone: the first server's record is complete.
    let mut before = app.record.snapshot();
    before.sort();
    let second = restart_on(app.addr);
    let summary = node.finish(&format!("sio reconnect eio={eio}"));
    assert_eq!(
        summary["reasons"],
        serde_json::json!(["transport close", "transport close", "transport close"])
    );
    // Node's `io.close()` reason.
    let want: Vec<String> = ["polling", "upgrade", "websocket"]
        .iter()
        .map(|m| format!("/ re-{m} server shutting down"))
        .collect();
    assert_eq!(before, want);
    drop(second);
}

/// A new server on `addr`, the port a stopped one just released.
fn restart_on(addr: SocketAddr) -> App {
    let record = Record::default();
    let running = app::start(addr, &record).unwrap_or_else(|e| panic!("cannot bind {addr} again: {e}"));
    App { running: Some(running), record, addr }
}

#[test]
fn v4_reconnect_after_restart() {
    reconnect(4);
}

#[test]
fn v2_reconnect_after_restart() {
    reconnect(3);
}
