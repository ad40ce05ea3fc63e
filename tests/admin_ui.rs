//! The Socket.IO Admin UI (`SocketIo::admin_ui`, `@socket.io/admin-ui` 0.5) on the bench
//! server (2 unpinned shards on 127.0.0.1:0): its namespace driven by socket.io-client 4 as the
//! dashboard drives it (tests/js/admin_ui.mjs), the dashboard's files over raw HTTP, and the
//! dashboard itself in Debian's chromium (tests/js/browser/admin.mjs), screenshots in
//! `target/browser-test/admin/`. A missing node, package or chromium fails, never skips.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use common::browser::{require_chromium, screenshot_dir};
use common::cli::bench;
use common::http::Conn;
use common::node::NodeRun;
use common::node_reference::{reference_dir, require_reference};
use common::redis::RedisServer;
use tpcio::prelude::{
    AdminMode, AdminUi, CpuPlacement, RedisAdapterConfig, RedisUrl, RunningServer, ServerConfig,
};

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

    /// A server of a Redis cluster named `id` on the dashboard, without login.
    fn clustered(redis: &RedisServer, key: &str, id: &str) -> AdminServer {
        let url = RedisUrl::parse(&redis.url()).expect("a Redis URL");
        let addr = "127.0.0.1:0".parse().expect("a socket address");
        let mut config =
            ServerConfig { addr, shards: Some(2), placement: CpuPlacement::Unpinned, ..Default::default() };
        config.shutdown_timeout = Duration::from_secs(1);
        let running = bench::socket_io()
            .server_config(config)
            .redis_adapter(RedisAdapterConfig::new(url).key(key))
            .admin_ui(AdminUi::new().server_id(id))
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
fn production_mode_sends_stats_only() {
    let server = AdminServer::start(AdminUi::new().mode(AdminMode::Production));
    let run = NodeRun::start(
        "admin_production.mjs",
        server.addr.port(),
        4,
        &[],
        &["socket.io-client"],
        NODE_TIMEOUT,
    );
    run.finish("production mode: stats only");
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

/// `node loadtest/node-reference/admin-ui.mjs PORT`: Node's `instrument` with the same login,
/// killed when dropped.
struct NodeAdmin {
    child: Child,
    port: u16,
}

impl NodeAdmin {
    fn start() -> NodeAdmin {
        require_reference();
        let manifest = reference_dir().join("node_modules/@socket.io/admin-ui/package.json");
        assert!(
            manifest.is_file(),
            "{} is missing: run scripts/test.sh (npm ci in loadtest/node-reference)",
            manifest.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut child = Command::new("node")
            .arg("admin-ui.mjs")
            .arg(port.to_string())
            .current_dir(reference_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let node = NodeAdmin { child, port };
        assert!(line.starts_with("listening"), "node admin-ui.mjs {port} printed {line:?}");
        node
    }
}

impl Drop for NodeAdmin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same dashboard session against Node's `instrument` and ours: event names, argument
/// counts, keys in order, value types, and the values that do not depend on the server.
#[test]
fn what_a_dashboard_sees_matches_node() {
    let node = NodeAdmin::start();
    let ours = AdminServer::with_login(AdminMode::Development);
    let run = |port: u16| {
        let run = NodeRun::start("admin_shapes.mjs", port, 4, &[], &["socket.io-client"], NODE_TIMEOUT);
        run.finish("what a dashboard sees")["seen"].clone()
    };
    let theirs = run(node.port);
    let mine = run(ours.addr.port());
    let fields = theirs.as_object().expect("a summary").keys().cloned().collect::<Vec<_>>();
    assert_eq!(mine.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()), Some(fields.clone()));
    for field in fields {
        assert_eq!(
            mine[&field], theirs[&field],
            "{field}: tpcio {} vs Node {}",
            mine[&field], theirs[&field]
        );
    }
}

/// Two of our servers on one Redis: one dashboard sees both, and acts on the other's sockets.
#[test]
fn the_dashboard_spans_servers_on_redis() {
    let redis = RedisServer::start();
    let a = AdminServer::clustered(&redis, "admin-test", "a");
    let b = AdminServer::clustered(&redis, "admin-test", "b");
    // Both servers subscribed to the admin namespace's requests (one subscription per process).
    redis.wait_numsub("admin-test-request#/admin#", 2, Duration::from_secs(30));
    let port_b = b.addr.port().to_string();
    let run = NodeRun::start(
        "admin_cluster.mjs",
        a.addr.port(),
        4,
        &[&port_b],
        &["socket.io-client"],
        NODE_TIMEOUT,
    );
    run.finish("the admin UI across two servers on Redis");
}
