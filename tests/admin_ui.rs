//! The Socket.IO Admin UI (`SocketIo::admin_ui`, `@socket.io/admin-ui` 0.5) on the bench
//! server (2 unpinned shards on 127.0.0.1:0): its namespace driven by socket.io-client 4 as the
//! dashboard drives it (tests/js/admin_ui.mjs), the dashboard's files over raw HTTP, and the
//! dashboard itself in Debian's chromium (tests/js/browser/admin.mjs), screenshots in
//! `target/browser-test/admin/`. A missing node, package or chromium fails, never skips.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::browser::{require_chromium, screenshot_dir};
use common::http::Conn;
use common::node::NodeRun;
use tpcio::modes::bench;
use tpcio::server::{CpuPlacement, RunningServer, ServerConfig};
use tpcio::socket::{AdminMode, AdminUi};

const NODE_TIMEOUT: Duration = Duration::from_secs(100);

/// The bench server with the Admin UI, stopped when dropped.
struct AdminServer {
    running: Option<RunningServer>,
    addr: SocketAddr,
}

impl AdminServer {
    fn start(admin: AdminUi) -> AdminServer {
        let addr = "127.0.0.1:0".parse().expect("a socket address");
        let mut config =
            ServerConfig { addr, shards: Some(2), placement: CpuPlacement::Unpinned, ..Default::default() };
        config.shutdown_timeout = Duration::from_secs(1);
        let running = bench::socket_io()
            .server_config(config)
            .admin_ui(admin)
            .into_server()
            .start()
            .expect("the server starts");
        let addr = running.local_addr();
        AdminServer { running: Some(running), addr }
    }

    /// Basic auth `admin` / `secret` (a cost-4 hash, cheap to check in a debug build).
    fn with_login(mode: AdminMode) -> AdminServer {
        let hash = bcrypt::hash("secret", 4).expect("a hash");
        AdminServer::start(AdminUi::new().basic_auth("admin", hash).mode(mode))
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop_flag().store(true, Ordering::Release);
        }
    }
}

#[test]
fn the_admin_namespace_serves_socket_io_client_across_shards() {
    let server = AdminServer::with_login(AdminMode::Development);
    let run = NodeRun::start("admin_ui.mjs", server.addr.port(), 4, &[], &["socket.io-client"], NODE_TIMEOUT);
    let summary = run.finish("admin namespace: auth, stats, sockets, events and actions across shards");
    assert_eq!(summary["counts"][1], 1, "{summary}");
}

#[test]
fn the_dashboard_is_served_at_admin() {
    let server = AdminServer::start(AdminUi::new());
    let mut conn = Conn::connect(server.addr);
    let moved = conn.get("/admin");
    assert_eq!(moved.status, 301, "{moved:?}");
    assert_eq!(moved.header("location"), Some("/admin/"));
    let page = conn.get("/admin/");
    let body = String::from_utf8_lossy(page.ok_body("text/html; charset=utf-8")).into_owned();
    assert!(body.contains("Socket.IO Admin UI"), "{body}");
    assert!(body.contains(r#"s.setItem("server_url",location.origin)"#), "{body}");
    let etag = page.header("etag").expect("an ETag").to_owned();
    let again = conn.request("GET", "/admin/", &[("If-None-Match", &etag)], b"");
    assert_eq!(again.status, 304, "{again:?}");
    // Every file the page links to is there.
    let script = body.split("<script src=\"").nth(1).and_then(|s| s.split('"').next()).expect("a script");
    let js = conn.request("GET", &format!("/admin/{script}"), &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(js.status, 200, "{script}");
    assert_eq!(js.header("content-encoding"), Some("gzip"));
    assert_eq!(js.header("content-type"), Some("application/javascript; charset=utf-8"));
    assert_eq!(conn.get("/admin/nothing.js").status, 404);
}

#[test]
fn a_password_that_is_no_bcrypt_hash_refuses_the_start() {
    let config = ServerConfig { addr: "127.0.0.1:0".parse().unwrap(), shards: Some(1), ..Default::default() };
    let admin = AdminUi::new().basic_auth("admin", "not a hash");
    let err = bench::socket_io()
        .server_config(config)
        .admin_ui(admin)
        .into_server()
        .start()
        .err()
        .expect("refused");
    assert!(err.to_string().contains("bcrypt hash"), "{err}");
}

#[test]
fn the_dashboard_in_chromium_counts_and_disconnects_sockets() {
    require_chromium();
    let server = AdminServer::with_login(AdminMode::Development);
    let shots = screenshot_dir("admin");
    let shots = shots.to_str().expect("a UTF-8 target path");
    let packages = ["playwright-core", "socket.io-client"];
    let run = NodeRun::start("browser/admin.mjs", server.addr.port(), 4, &[shots], &packages, NODE_TIMEOUT);
    run.finish("the dashboard logs in, counts sockets and disconnects one");
}
