//! A `@socket.io/redis-adapter` 8.3 cluster (classic `createAdapter(pub, sub)`) of Node reference
//! nodes and tpcio nodes on one real `redis-server`, checked from `socket.io-client` 4.8 clients
//! on every node by `tests/js/cluster.mjs` (see its header for every step): broadcasts (text and
//! binary), rooms, `fetchSockets` counts, `serverSideEmit` with acks, broadcasts with acks,
//! `socketsJoin`, `disconnectSockets`, and `@socket.io/redis-emitter` 5.1; each delivery exactly
//! once on every node. A second scenario kills Redis mid-test: nodes keep delivering locally and
//! accepting clients, and the cluster heals once Redis is back.
//!
//! `reference_cluster_of_node_nodes` runs the script against Node nodes only: it validates the
//! script against the reference itself. The mixed tests put tpcio nodes
//! (`tpcio bench --redis URL --redis-key KEY`, 2 shards) beside a Node node.
//! `reference_sharded_cluster_of_node_nodes` and `mixed_sharded_cluster` run the same script on
//! the sharded adapter (`createShardedAdapter`, `--redis-adapter sharded`), emitter steps
//! skipped; `redis_restart_tpcio_sharded` runs the Redis restart on sharded tpcio nodes.
//! `reference_streams_cluster_of_node_nodes` and `mixed_streams_cluster` run it on
//! `@socket.io/redis-streams-adapter` 0.3.1 (`--redis-adapter streams`), emitter steps skipped.
//! A missing `redis-server`, `node` or npm package fails the tests, never skips them.

mod common;

use std::time::Duration;

use common::cluster::{Cluster, NodeKind};
use common::redis::RedisServer;

/// The longest cluster.mjs may run (it bounds itself at 240 s, each step at 20 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
/// A prefix other than the default `socket.io`, so `--redis-key` is exercised.
const KEY: &str = "tpcio-cluster";

const MIXED: [NodeKind; 3] = [NodeKind::Node, NodeKind::Tpcio { shards: 2 }, NodeKind::Tpcio { shards: 2 }];
const NODE_ONLY: [NodeKind; 3] = [NodeKind::Node, NodeKind::Node, NodeKind::Node];

/// Every cluster feature, requested from each node and received on each node.
fn full_cluster(kinds: &[NodeKind]) {
    let redis = RedisServer::start();
    let mut cluster = Cluster::start(&redis, KEY, kinds);
    let summary = cluster.script("full", &redis, SCRIPT_TIMEOUT).finish("cluster full", &cluster);
    assert_eq!(summary["nodes"].as_array().map(Vec::len), Some(kinds.len()));
    cluster.assert_alive();
}

/// [`full_cluster`] with the sharded adapter (`createShardedAdapter`) on every node; the
/// emitter steps are skipped (the emitter speaks the classic protocol only).
fn full_sharded_cluster(kinds: &[NodeKind]) {
    let redis = RedisServer::start();
    let mut cluster = Cluster::start_sharded(&redis, KEY, kinds);
    let summary = cluster.script("full", &redis, SCRIPT_TIMEOUT).finish("cluster full", &cluster);
    assert_eq!(summary["nodes"].as_array().map(Vec::len), Some(kinds.len()));
    cluster.assert_alive();
}

/// Redis killed, then restarted on the same port, under a running cluster.
fn redis_restart(kinds: &[NodeKind], sharded: bool) {
    let mut redis = RedisServer::start();
    let mut cluster = match sharded {
        true => Cluster::start_sharded(&redis, KEY, kinds),
        false => Cluster::start(&redis, KEY, kinds),
    };
    let mut script = cluster.script("restart", &redis, SCRIPT_TIMEOUT);
    script.expect_need("kill-redis", &cluster);
    redis.kill();
    script.send("redis-killed");
    script.expect_need("restart-redis", &cluster);
    cluster.assert_alive();
    redis.restart();
    // The nodes reconnect by themselves: cross-node traffic needs every subscription back.
    cluster.wait_subscribed(&redis);
    script.send("redis-back");
    script.finish("cluster restart", &cluster);
    cluster.assert_alive();
}

#[test]
fn reference_cluster_of_node_nodes() {
    full_cluster(&NODE_ONLY);
}

#[test]
fn mixed_cluster_node_and_two_tpcio() {
    full_cluster(&MIXED);
}

#[test]
fn redis_restart_mixed() {
    redis_restart(&MIXED, false);
}

/// Our nodes only: Node's sharded adapter (`ClusterAdapter.broadcast`) delivers locally only once
/// its SPUBLISH settles, which node-redis holds in its offline queue until Redis is back, so a
/// Node node does not serve its own broadcasts while Redis is down; ours do.
#[test]
fn redis_restart_tpcio_sharded() {
    redis_restart(&[NodeKind::Tpcio { shards: 2 }, NodeKind::Tpcio { shards: 2 }], true);
}

#[test]
fn reference_sharded_cluster_of_node_nodes() {
    full_sharded_cluster(&NODE_ONLY);
}

#[test]
fn mixed_sharded_cluster() {
    full_sharded_cluster(&MIXED);
}

/// [`full_cluster`] with `@socket.io/redis-streams-adapter` 0.3.1 on every node (emitter steps
/// skipped: the classic emitter does not speak it).
fn full_streams_cluster(kinds: &[NodeKind]) {
    let redis = RedisServer::start();
    let mut cluster = Cluster::start_streams(&redis, KEY, kinds);
    let summary = cluster.script("full", &redis, SCRIPT_TIMEOUT).finish("cluster full", &cluster);
    assert_eq!(summary["nodes"].as_array().map(Vec::len), Some(kinds.len()));
    cluster.assert_alive();
}

#[test]
fn reference_streams_cluster_of_node_nodes() {
    full_streams_cluster(&NODE_ONLY);
}

#[test]
fn mixed_streams_cluster() {
    full_streams_cluster(&MIXED);
}
