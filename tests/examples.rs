//! Every example of `examples/` run as a newcomer runs it (`cargo run --example NAME PORT`)
//! and driven by the official `socket.io-client` 4 (and 2 where the protocol differs: binary
//! attachments), from `tests/js/examples.mjs`. The example processes are built here with cargo
//! when missing, started on a free port, and killed when the test ends.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::node::NodeRun;
use common::redis::RedisServer;

const NODE_TIMEOUT: Duration = Duration::from_secs(60);
const PACKAGES: &[&str] = &["socket.io-client", "socket.io-client-v2"];

/// `target/<profile>/examples/`, beside this test's own binary in `deps/`.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps").join("examples")
}

/// Builds the examples once per test run (a `cargo test --test examples` does not).
fn build_examples() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let release = examples_dir().to_string_lossy().contains("/release/");
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--examples", "--quiet"]).current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("cargo runs");
        assert!(status.success(), "cargo build --examples failed: {status}");
    });
}

/// A free loopback port (the example binds it right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A running example, killed on drop.
struct Example(Child);

impl Example {
    fn start(name: &str, args: &[&str]) -> (Example, u16) {
        build_examples();
        let port = free_port();
        let path = examples_dir().join(name);
        let mut child = Command::new(&path)
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout is piped");
        BufReader::new(stdout).read_line(&mut line).expect("the example's first line");
        assert_eq!(line.trim(), format!("listening on 127.0.0.1:{port}"), "{name}");
        (Example(child), port)
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn drive(name: &str, eio: u8) -> serde_json::Value {
    let (_example, port) = Example::start(name, &[]);
    NodeRun::start("examples.mjs", port, eio, &[name], PACKAGES, NODE_TIMEOUT).finish(name)
}

#[test]
fn chat_nicks_rooms_relay_and_ack() {
    let summary = drive("chat", 4);
    assert!(summary["online"].as_u64().is_some_and(|n| n >= 1), "{summary}");
}

#[test]
fn auth_token_and_per_socket_state() {
    drive("auth", 4);
}

#[test]
fn rooms_and_private_messages_across_shards() {
    drive("rooms", 4);
}

#[test]
fn acks_both_ways_with_timeouts() {
    let summary = drive("acks", 4);
    assert!(summary["waited"].as_u64().is_some_and(|ms| ms >= 290), "{summary}");
}

#[test]
fn binary_upload_with_client_v4() {
    drive("upload", 4);
}

#[test]
fn binary_upload_with_client_v2() {
    drive("upload", 3);
}

#[test]
fn raw_handler_relays_without_parsing() {
    drive("raw", 4);
}

#[test]
fn cluster_of_two_processes_on_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    let (_one, port1) = Example::start("cluster", &["--redis", &url]);
    let (_two, port2) = Example::start("cluster", &["--redis", &url]);
    let port2 = port2.to_string();
    NodeRun::start("examples.mjs", port1, 4, &["cluster", &port2], PACKAGES, NODE_TIMEOUT).finish("cluster");
}
