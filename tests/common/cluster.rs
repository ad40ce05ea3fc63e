//! A `@socket.io/redis-adapter` cluster on one [`RedisServer`]: Node reference nodes
//! (`loadtest/node-reference/sio-bench.mjs PORT REDIS_URL KEY`) and tpcio nodes
//! (`tpcio bench --redis REDIS_URL --redis-key KEY`) side by side, each on a free 127.0.0.1 port
//! and killed by its PID when dropped; and the client script `tests/js/cluster.mjs` that checks
//! the cluster, with the stdin/stdout hand-shake the Redis restart scenario needs.
//!
//! With [`Cluster::start_sharded`] every node runs the sharded adapter instead
//! (`createShardedAdapter`: `sio-bench.mjs PORT REDIS_URL KEY sharded`, `tpcio bench
//! --redis-adapter sharded`); the cluster is then ready when `PUBSUB SHARDNUMSUB {key}#/#`
//! counts every node once. With [`Cluster::start_streams`] (`… KEY streams`, `--redis-adapter
//! streams --redis-stream KEY`; [`Cluster::start_streams_recovery`] adds `--recovery` /
//! `RECOVERY_MS`) it is ready when `PUBSUB NUMSUB {key}#/#` counts every node once and every
//! stream reader is blocked in `XREAD`.
//!
//! A node is ready when its port accepts connections and, cluster-wide, when every node
//! subscribes to the request channel (`PUBSUB NUMSUB {key}-request#/#` = number of nodes, one
//! subscription per process) and to the broadcast pattern (a PUBLISH to an unknown room reaches
//! every node: they drop it before decoding).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::Conn;
use super::node::{Permit, js_dir, require_node};
use super::node_reference::{reference_dir, require_reference};
use super::redis::RedisServer;

/// How long a node may take to listen (node and a debug tpcio start slowly on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long every node may take to (re)subscribe after it listens or Redis comes back.
pub const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);

/// What runs a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// The Node reference: socket.io 4.8 with `@socket.io/redis-adapter` 8.3.
    Node,
    /// `tpcio bench --redis` with this many shards.
    Tpcio { shards: usize },
}

impl NodeKind {
    fn label(self) -> &'static str {
        match self {
            NodeKind::Node => "node",
            NodeKind::Tpcio { .. } => "tpcio",
        }
    }
}

/// One node process.
pub struct ClusterNode {
    pub kind: NodeKind,
    pub port: u16,
    child: Child,
    /// Its stdout and stderr, for failure messages.
    log: Arc<Mutex<String>>,
    /// The threads filling `log`: they end when the process exits.
    collectors: Vec<JoinHandle<()>>,
}

impl ClusterNode {
    /// `kind:port`, as cluster.mjs takes it.
    pub fn arg(&self) -> String {
        format!("{}:{}", self.kind.label(), self.port)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// SIGKILL, then reaps it (its sessions get no goodbye).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn spawn(
        kind: NodeKind,
        port: u16,
        redis_url: &str,
        key: &str,
        adapter: Adapter,
        recovery: bool,
    ) -> ClusterNode {
        let mut command = match kind {
            NodeKind::Node => {
                let mut c = Command::new("node");
                c.arg("sio-bench.mjs")
                    .arg(port.to_string())
                    .arg(redis_url)
                    .arg(key)
                    .args((adapter != Adapter::Classic).then_some(adapter.arg()))
                    .current_dir(reference_dir());
                if recovery {
                    c.env("RECOVERY_MS", "120000");
                }
                c
            }
            NodeKind::Tpcio { shards } => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_tpcio"));
                c.args(["bench", "--host", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--shards", &shards.to_string(), "--no-pin"])
                    .args(["--redis", redis_url, "--redis-key", key, "--log", "warn", "--metrics"]);
                if adapter != Adapter::Classic {
                    c.args(["--redis-adapter", adapter.arg(), "--redis-stream", key]);
                }
                if recovery {
                    c.arg("--recovery");
                }
                c
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {kind:?} node: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let collectors = [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|pipe| collect(pipe, &log))
        .collect();
        ClusterNode { kind, port, child, log, collectors }
    }

    /// Waits until the port accepts a connection; Err when the process exits first.
    fn wait_listening(&mut self, deadline: Instant) -> Result<(), String> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Its whole output, for the caller to read.
                for collector in self.collectors.drain(..) {
                    let _ = collector.join();
                }
                return Err(format!("exited ({status}) before listening"));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("not listening after {START_TIMEOUT:?}"));
            }
            // Nothing to await before the process binds: retry the connection.
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        // SIGKILL to this child alone, then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends every line of `pipe` to `log`, on a thread of its own.
pub fn collect(pipe: Box<dyn Read + Send>, log: &Arc<Mutex<String>>) -> JoinHandle<()> {
    let log = Arc::clone(log);
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            log.push_str(&line);
            log.push('\n');
        }
    })
}

/// Which adapter every node of a cluster runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// `@socket.io/redis-adapter`'s `createAdapter`.
    Classic,
    /// `createShardedAdapter`.
    Sharded,
    /// `@socket.io/redis-streams-adapter` (stream name and channel prefix: the key).
    Streams,
}

impl Adapter {
    /// As `sio-bench.mjs`, `--redis-adapter` and cluster.mjs's `CLUSTER_ADAPTER` name it.
    pub fn arg(self) -> &'static str {
        match self {
            Adapter::Classic => "classic",
            Adapter::Sharded => "sharded",
            Adapter::Streams => "streams",
        }
    }
}

/// The nodes of one cluster.
pub struct Cluster {
    pub key: String,
    /// The adapter every node runs.
    pub adapter: Adapter,
    /// Connection state recovery on every node (`--recovery`, `RECOVERY_MS=120000`).
    pub recovery: bool,
    pub nodes: Vec<ClusterNode>,
}

impl Cluster {
    /// Starts one node per kind on `redis` with prefix `key`, and waits until all are ready.
    pub fn start(redis: &RedisServer, key: &str, kinds: &[NodeKind]) -> Cluster {
        Cluster::start_kind(redis, key, kinds, Adapter::Classic)
    }

    /// [`Cluster::start`] with the sharded adapter on every node.
    pub fn start_sharded(redis: &RedisServer, key: &str, kinds: &[NodeKind]) -> Cluster {
        Cluster::start_kind(redis, key, kinds, Adapter::Sharded)
    }

    /// [`Cluster::start`] with the streams adapter on every node.
    pub fn start_streams(redis: &RedisServer, key: &str, kinds: &[NodeKind]) -> Cluster {
        Cluster::start_kind(redis, key, kinds, Adapter::Streams)
    }

    /// [`Cluster::start_streams`] with connection state recovery on every node.
    pub fn start_streams_recovery(redis: &RedisServer, key: &str, kinds: &[NodeKind]) -> Cluster {
        Cluster::start_with(redis, key, kinds, Adapter::Streams, true)
    }

    pub fn start_kind(redis: &RedisServer, key: &str, kinds: &[NodeKind], adapter: Adapter) -> Cluster {
        Cluster::start_with(redis, key, kinds, adapter, false)
    }

    fn start_with(
        redis: &RedisServer,
        key: &str,
        kinds: &[NodeKind],
        adapter: Adapter,
        recovery: bool,
    ) -> Cluster {
        if kinds.contains(&NodeKind::Node) {
            require_reference();
            for package in ["@socket.io/redis-adapter", "@socket.io/redis-streams-adapter", "redis"] {
                let manifest = reference_dir().join("node_modules").join(package).join("package.json");
                assert!(
                    manifest.is_file(),
                    "{} is missing: run scripts/test.sh (`npm ci` in loadtest/node-reference)",
                    manifest.display()
                );
            }
        }
        let mut cluster = Cluster { key: key.to_owned(), adapter, recovery, nodes: Vec::new() };
        // All at once: node takes seconds to start on a loaded machine.
        let mut pending: Vec<ClusterNode> = kinds
            .iter()
            .map(|&kind| ClusterNode::spawn(kind, free_port(), &redis.url(), key, adapter, recovery))
            .collect();
        let deadline = Instant::now() + START_TIMEOUT;
        for mut node in pending.drain(..) {
            let mut tries = 0;
            loop {
                match node.wait_listening(deadline) {
                    Ok(()) => break,
                    // A port taken between our probe and the node's bind: another port.
                    Err(why) if tries < 2 && Instant::now() < deadline && address_in_use(&node.log()) => {
                        eprintln!(
                            "{} on port {}: {why}; retrying on another port\n{}",
                            node.arg(),
                            node.port,
                            node.log()
                        );
                        tries += 1;
                        node =
                            ClusterNode::spawn(node.kind, free_port(), &redis.url(), key, adapter, recovery);
                    }
                    Err(why) => {
                        panic!(
                            "the {:?} node on port {}: {why}\n--- its output ---\n{}",
                            node.kind,
                            node.port,
                            node.log()
                        )
                    }
                }
            }
            cluster.nodes.push(node);
        }
        cluster.wait_subscribed(redis);
        cluster
    }

    /// `{key}-request#/#`, the channel every node subscribes to once.
    pub fn request_channel(&self) -> String {
        format!("{}-request#/#", self.key)
    }

    /// Waits until every node subscribes to the request channel and to the broadcast pattern
    /// of `/` (after a start, or after Redis restarted).
    pub fn wait_subscribed(&mut self, redis: &RedisServer) {
        self.wait_subscriptions(redis);
        self.wait_links_up();
    }

    /// Waits until every Redis connection of every tpcio node is up (`tpcio_cluster_redis_up`
    /// on its `/metrics`): subscriptions come back before a shard's publisher may be out of its
    /// reconnection backoff, and a broadcast published meanwhile is lost (never queued).
    fn wait_links_up(&mut self) {
        let deadline = Instant::now() + SUBSCRIBE_TIMEOUT;
        for i in 0..self.nodes.len() {
            let NodeKind::Tpcio { .. } = self.nodes[i].kind else { continue };
            let addr = SocketAddr::from(([127, 0, 0, 1], self.nodes[i].port));
            loop {
                let body = Conn::connect(addr).get("/metrics").body;
                let text = String::from_utf8_lossy(&body);
                let links: Vec<&str> =
                    text.lines().filter(|l| l.starts_with("tpcio_cluster_redis_up{")).collect();
                if !links.is_empty() && links.iter().all(|l| l.ends_with(" 1")) {
                    break;
                }
                if Instant::now() >= deadline {
                    panic!(
                        "after {SUBSCRIBE_TIMEOUT:?}: Redis links of :{} {links:?}\n{}",
                        addr.port(),
                        self.logs()
                    );
                }
                self.assert_alive();
                thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn wait_subscriptions(&mut self, redis: &RedisServer) {
        let want = i64::try_from(self.nodes.len()).expect("a few nodes");
        match self.adapter {
            Adapter::Sharded => return self.wait_shard_subscribed(redis, want),
            Adapter::Streams => return self.wait_streams_ready(redis, want),
            Adapter::Classic => {}
        }
        // Every shard of a tpcio node takes the broadcasts itself (src/cluster/adapter.rs); a
        // Node node has one subscriber.
        let patterns_want: i64 = self
            .nodes
            .iter()
            .map(|n| match n.kind {
                NodeKind::Node => 1,
                NodeKind::Tpcio { shards } => i64::try_from(shards).expect("a few shards"),
            })
            .sum();
        let deadline = Instant::now() + SUBSCRIBE_TIMEOUT;
        let channel = self.request_channel();
        // An unknown room: every node drops the message before decoding it.
        let probe = format!("{}#/#tpcio-test-probe-no-such-room#", self.key);
        loop {
            let subscribed = redis.numsub(&channel);
            let patterns = if subscribed == want { redis.publish(&probe, b"") } else { 0 };
            if subscribed == want && patterns == patterns_want {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "after {SUBSCRIBE_TIMEOUT:?}: NUMSUB {channel} = {subscribed} and a PUBLISH to {probe} reached \
                     {patterns} subscribers, expected {want} and {patterns_want}\n{}",
                    self.logs()
                );
            }
            self.assert_alive();
            // Subscriptions are only visible by asking Redis again.
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The sharded adapter: `PUBSUB SHARDNUMSUB {key}#/#` counts every node once.
    fn wait_shard_subscribed(&mut self, redis: &RedisServer, want: i64) {
        let deadline = Instant::now() + SUBSCRIBE_TIMEOUT;
        let channel = format!("{}#/#", self.key);
        loop {
            let subscribed = redis.shardnumsub(&channel);
            if subscribed == want {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "after {SUBSCRIBE_TIMEOUT:?}: SHARDNUMSUB {channel} = {subscribed}, expected {want}\n{}",
                    self.logs()
                );
            }
            self.assert_alive();
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The streams adapter: `PUBSUB NUMSUB {key}#/#` counts every node once, and every stream
    /// reader (one per Node node, one per shard of ours) is blocked in `XREAD` (entries added
    /// before a reader's first `XREAD $` would be missed by it).
    fn wait_streams_ready(&mut self, redis: &RedisServer, want: i64) {
        let readers: usize =
            self.nodes.iter().map(|n| if let NodeKind::Tpcio { shards } = n.kind { shards } else { 1 }).sum();
        let deadline = Instant::now() + SUBSCRIBE_TIMEOUT;
        let channel = format!("{}#/#", self.key);
        loop {
            let subscribed = redis.numsub(&channel);
            let blocked = redis.blocked_xreads();
            if subscribed == want && blocked >= readers {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "after {SUBSCRIBE_TIMEOUT:?}: NUMSUB {channel} = {subscribed} (want {want}), {blocked} readers \
                     in XREAD (want {readers})\n{}",
                    self.logs()
                );
            }
            self.assert_alive();
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Panics, with the logs, when a node has exited.
    pub fn assert_alive(&mut self) {
        let exited: Vec<String> = self
            .nodes
            .iter_mut()
            .filter_map(|node| match node.child.try_wait() {
                Ok(Some(status)) => Some(format!("{} ({status})", node.arg())),
                _ => None,
            })
            .collect();
        assert!(exited.is_empty(), "nodes exited: {}\n{}", exited.join(", "), self.logs());
    }

    /// Every node's output, labelled.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            out.push_str(&format!("--- {} ---\n{}", node.arg(), node.log()));
        }
        out
    }

    /// `node tests/js/cluster.mjs SCENARIO REDIS_URL KEY KIND:PORT...`.
    pub fn script(&self, scenario: &str, redis: &RedisServer, timeout: Duration) -> ClusterScript {
        let mut args = vec![scenario.to_owned(), redis.url(), self.key.clone()];
        args.extend(self.nodes.iter().map(ClusterNode::arg));
        ClusterScript::start("cluster.mjs", &args, timeout, self.adapter)
    }

    /// `node tests/js/FILE ARGS...`, with the same hand-shake as [`Cluster::script`].
    pub fn script_file(&self, file: &str, args: &[String], timeout: Duration) -> ClusterScript {
        ClusterScript::start(file, args, timeout, self.adapter)
    }

    /// SIGKILLs node `index` and forgets it.
    pub fn kill(&mut self, index: usize) {
        let mut node = self.nodes.remove(index);
        node.kill();
    }
}

/// A running `tests/js/cluster.mjs`: stdout line by line, stdin for the hand-shake, stderr
/// (its progress) kept for failure messages, killed past its deadline or when dropped.
pub struct ClusterScript {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stdout: Vec<String>,
    stderr: Option<JoinHandle<String>>,
    deadline: Instant,
    _permit: Permit,
}

impl ClusterScript {
    fn start(file: &str, args: &[String], timeout: Duration, adapter: Adapter) -> ClusterScript {
        require_node(&["socket.io-client"]);
        let permit = Permit::acquire();
        let what = format!("node tests/js/{file} {}", args.join(" "));
        let mut child = Command::new("node")
            .arg(file)
            .args(args)
            .env("CLUSTER_ADAPTER", adapter.arg())
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot start node: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        ClusterScript {
            what,
            child,
            stdin,
            lines,
            stdout: Vec::new(),
            stderr: Some(stderr),
            deadline: Instant::now() + timeout,
            _permit: permit,
        }
    }

    /// The next stdout line, None at its end; fails past the deadline.
    fn next_line(&mut self, cluster: &Cluster) -> Option<String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                self.stdout.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => self.fail("deadline exceeded", cluster),
        }
    }

    /// Reads stdout until the script prints `need <what> <arg>`; returns `arg`.
    pub fn expect_need_arg(&mut self, what: &str, cluster: &Cluster) -> String {
        let want = format!("need {what} ");
        while let Some(line) = self.next_line(cluster) {
            if let Some(arg) = line.strip_prefix(&want) {
                return arg.to_owned();
            }
        }
        self.fail(&format!("ended before printing `{want}…`"), cluster)
    }

    /// Reads stdout until the script prints `need <what>`.
    pub fn expect_need(&mut self, what: &str, cluster: &Cluster) {
        let want = format!("need {what}");
        while let Some(line) = self.next_line(cluster) {
            if line == want {
                return;
            }
        }
        self.fail(&format!("ended before printing `{want}`"), cluster)
    }

    /// Writes one line to the script's stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is piped");
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).expect("write to the script's stdin");
    }

    /// Waits for the end; asserts exit 0 and a last line `{"ok":true,"verified":<verified>}`.
    pub fn finish(mut self, verified: &str, cluster: &Cluster) -> Value {
        while self.next_line(cluster).is_some() {}
        let status = self.child.wait().expect("wait for node");
        let last = self.stdout.last().cloned().unwrap_or_default();
        let summary: Value = serde_json::from_str(&last).unwrap_or(Value::Null);
        if !status.success() || summary["ok"] != Value::Bool(true) || summary["verified"] != verified {
            self.fail(&format!("exit status {status}, expected a last line verifying `{verified}`"), cluster);
        }
        println!("{}: {last}", self.what);
        summary
    }

    fn fail(&mut self, why: &str, cluster: &Cluster) -> ! {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        panic!(
            "{}: {why}\n--- stdout ---\n{}\n--- stderr ---\n{stderr}\n{}",
            self.what,
            self.stdout.join("\n"),
            cluster.logs()
        );
    }
}

impl Drop for ClusterScript {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether a node's output says its port was taken (node: EADDRINUSE; Rust: the io error text).
fn address_in_use(log: &str) -> bool {
    log.contains("EADDRINUSE") || log.to_ascii_lowercase().contains("address already in use")
}

fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe socket");
    probe.local_addr().expect("the probe's address").port()
}
