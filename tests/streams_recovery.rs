//! Connection state recovery across nodes and crashes with `@socket.io/redis-streams-adapter`
//! 0.3.1: one tpcio node (`tpcio bench --recovery --redis-adapter streams`, 2 shards) and one
//! Node reference node (`sio-bench.mjs … streams`, `RECOVERY_MS`) on a real `redis-server`,
//! driven by `tests/js/streams_recovery.mjs` with `socket.io-client` 4.8 (see its header).
//!
//! - `ours_killed_recovers_on_node`: the client's node is ours and dies by SIGKILL while the
//!   client is connected; ours kept the session in Redis while the socket lived, so the client
//!   recovers on the Node node (same id, rooms, missed broadcasts once and in order).
//! - `a_second_connection_with_the_pid_takes_the_socket_over`: no two sockets share an id.
//! - `ours_killed_recovers_on_ours`: the same onto another tpcio node.
//! - `node_closed_then_killed_recovers_on_ours`: the client's transport closes first, so the
//!   Node node writes the session (Node's `persistSession`); then it is SIGKILLed; the client
//!   recovers on ours.
//! - `node_killed_loses_the_session`: a Node node SIGKILLed while its client is connected never
//!   wrote the session (socket.io-redis-streams-adapter#27): the client gets a fresh socket on
//!   ours. This is Node's limit, shown here so the difference is measured, not assumed.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::cluster::{Cluster, NodeKind};
use common::redis::{RedisServer, Resp};

const KEY: &str = "tpcio-streams";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(150);

/// Waits until Redis holds the session of `pid` and it names room `r` (msgpack `a1 72`).
fn wait_session(redis: &RedisServer, pid: &str, cluster: &Cluster) {
    let key = format!("sio:session:{pid}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Resp::Bulk(Some(value)) = redis.command(&[b"GET", key.as_bytes()])
            && let Ok(packed) = base64::engine::general_purpose::STANDARD.decode(&value)
            && packed.windows(2).any(|w| w == [0xa1, b'r'])
        {
            return;
        }
        assert!(Instant::now() < deadline, "no session {key} with room r in Redis\n{}", cluster.logs());
        // Redis has no event for a key being written: polling is the only way.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `scenario` with the client first on `kinds[0]`, the helper on `kinds[1]`.
fn scenario(scenario: &str, kinds: [NodeKind; 2], session_written: bool) -> serde_json::Value {
    let redis = RedisServer::start();
    let mut cluster = Cluster::start_streams_recovery(&redis, KEY, &kinds);
    let urls: Vec<String> = cluster.nodes.iter().map(|n| format!("http://127.0.0.1:{}", n.port)).collect();
    let args = [scenario.to_owned(), urls[0].clone(), urls[1].clone()];
    let mut script = cluster.script_file("streams_recovery.mjs", &args, SCRIPT_TIMEOUT);
    let pid = script.expect_need_arg("kill-first", &cluster);
    if session_written {
        wait_session(&redis, &pid, &cluster);
    }
    cluster.kill(0);
    script.send("killed");
    let summary = script.finish(&format!("streams recovery {scenario}"), &cluster);
    cluster.assert_alive();
    summary
}

/// A second connection with a live socket's pid takes the socket over (see
/// `cluster::streams::session`).
#[test]
fn a_second_connection_with_the_pid_takes_the_socket_over() {
    let redis = RedisServer::start();
    let cluster =
        Cluster::start_streams_recovery(&redis, KEY, &[NodeKind::Tpcio { shards: 2 }, NodeKind::Node]);
    let urls: Vec<String> = cluster.nodes.iter().map(|n| format!("http://127.0.0.1:{}", n.port)).collect();
    let args = ["takeover".to_owned(), urls[0].clone(), urls[1].clone()];
    let mut script = cluster.script_file("streams_recovery.mjs", &args, SCRIPT_TIMEOUT);
    let pid = script.expect_need_arg("session", &cluster);
    wait_session(&redis, &pid, &cluster);
    script.send("ok");
    script.finish("streams recovery takeover", &cluster);
}

#[test]
fn ours_killed_recovers_on_node() {
    let summary = scenario("crash", [NodeKind::Tpcio { shards: 2 }, NodeKind::Node], true);
    assert_eq!(summary["recovered"], true);
}

#[test]
fn ours_killed_recovers_on_ours() {
    let summary = scenario("crash", [NodeKind::Tpcio { shards: 2 }, NodeKind::Tpcio { shards: 2 }], true);
    assert_eq!(summary["recovered"], true);
}

#[test]
fn node_closed_then_killed_recovers_on_ours() {
    let summary = scenario("closed", [NodeKind::Node, NodeKind::Tpcio { shards: 2 }], true);
    assert_eq!(summary["recovered"], true);
}

#[test]
fn node_killed_loses_the_session() {
    let summary = scenario("lost", [NodeKind::Node, NodeKind::Tpcio { shards: 2 }], false);
    assert_eq!(summary["recovered"], false);
}
