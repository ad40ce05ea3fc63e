//! The `cluster` scenario of the comparison: for each server kind that can join a Redis-adapter
//! cluster (tpcio, Node), a fresh `redis-server` on a free port, two nodes of that kind on it
//! (node A pinned to CPU 0, node B to CPU 1), 10 000 receivers spread over them (the
//! `cluster` command of this load generator), broadcasts from a client of node A; then, in
//! the same round, the local baseline: one node of the same kind alone, no Redis, 5 000
//! receivers. Rounds interleave the servers (tpcio, node, tpcio, node, …) and the report gives
//! medians with their min–max. Every process is stopped by PID at the end of its part.

use std::fmt::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::markdown::thousands;
use super::process::{self, Running};
use super::report::{Cell, Outcome, Row};
use super::scenarios::{Figures, Metric};
use super::servers::{Launch, Server};

/// Receivers over the two nodes; the baseline has one node's share.
pub const CLIENTS: usize = 10_000;
const NODES: usize = 2;
/// The p99 delivery latency a step may have and count as sustained: 1 s, as the broadcast to
/// 10 000 clients (a broadcast to 5 000 sockets takes tens of ms of one CPU at low rates).
const P99_BOUND_MS: u32 = 1000;

/// How long each search lasts.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterBudget {
    pub first_rate: f64,
    pub step: f64,
    pub drain: f64,
    pub search: f64,
    pub rounds: usize,
}

impl ClusterBudget {
    pub fn new(quick: bool, rounds: Option<usize>) -> ClusterBudget {
        if quick {
            ClusterBudget {
                first_rate: 10.0,
                step: 1.0,
                drain: 0.5,
                search: 8.0,
                rounds: rounds.unwrap_or(1),
            }
        } else {
            ClusterBudget {
                first_rate: 5.0,
                step: 3.0,
                drain: 2.0,
                search: 45.0,
                rounds: rounds.unwrap_or(2),
            }
        }
    }

    /// The generator's own bounds (connecting both nodes, the search) plus a margin.
    fn time_limit(&self) -> Duration {
        Duration::from_secs_f64(2.0 * 60.0 + self.search + self.step + self.drain + 60.0)
    }
}

/// Where the pieces of a run are.
pub struct Setup<'a> {
    pub root: &'a Path,
    pub logs: &'a Path,
    pub loadgen_cpus: &'a str,
    pub budget: ClusterBudget,
    /// The adapter both nodes run: `classic`, `sharded` or `streams` (`--cluster-adapter`).
    pub adapter: &'a str,
}

/// A median with its range, over the rounds that gave a figure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().flatten().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1], n })
    }

    /// `1 234 (1 200–1 300)`, or the value alone for one round.
    pub fn show(&self, fmt: impl Fn(f64) -> String) -> String {
        if self.n > 1 && self.min != self.max {
            format!("{} ({}–{})", fmt(self.median), fmt(self.min), fmt(self.max))
        } else {
            fmt(self.median)
        }
    }
}

/// The figures of one round's cluster report (the best sustained step).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RoundFigures {
    pub deliveries_per_s: Option<f64>,
    pub rate: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub local_p50_us: Option<f64>,
    pub local_p99_us: Option<f64>,
    pub remote_p50_us: Option<f64>,
    pub remote_p99_us: Option<f64>,
    /// Server µs of CPU per delivery to its own receivers, per node (A first).
    pub node_us_per_delivery: Vec<Option<f64>>,
    pub node_cpu_pct: Vec<Option<f64>>,
    pub node_loss: Vec<Option<f64>>,
    pub server_us_per_delivery: Option<f64>,
    pub redis_cpu_pct: Option<f64>,
    pub loadgen_cpu_pct: Option<f64>,
    pub loss: Option<f64>,
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key)?.as_f64()
}

fn pct(part: Option<f64>, whole: Option<f64>) -> Option<f64> {
    Some(100.0 * part? / whole.filter(|w| *w > 0.0)?)
}

/// Reads a `cluster` report (also one with a single node: the baseline).
pub fn round_figures(r: &Value) -> RoundFigures {
    let nested = |group: &str, key: &str| r.get(group).and_then(|g| num(g, key));
    let nodes = r.get("nodes").and_then(Value::as_array).cloned().unwrap_or_default();
    let window = num(r, "cpu_window_s");
    RoundFigures {
        deliveries_per_s: num(r, "max_sustained_deliveries_per_s"),
        rate: num(r, "max_sustained_rate"),
        p50_us: num(r, "p50_us"),
        p99_us: num(r, "p99_us"),
        local_p50_us: nested("local", "p50_us"),
        local_p99_us: nested("local", "p99_us"),
        remote_p50_us: nested("remote", "p50_us"),
        remote_p99_us: nested("remote", "p99_us"),
        node_us_per_delivery: nodes.iter().map(|n| num(n, "server_us_per_delivery")).collect(),
        node_cpu_pct: nodes.iter().map(|n| num(n, "server_cpu_pct")).collect(),
        node_loss: nodes.iter().map(|n| num(n, "loss")).collect(),
        server_us_per_delivery: num(r, "server_us_per_delivery"),
        redis_cpu_pct: num(r, "redis_cpu_pct"),
        loadgen_cpu_pct: pct(num(r, "loadgen_cpu_s"), window),
        loss: num(r, "loss"),
    }
}

/// One round of one server: the cluster's report and the baseline's, or why not.
#[derive(Clone, Debug, Serialize)]
pub struct Round {
    pub round: usize,
    pub cluster: Outcome,
    pub baseline: Outcome,
    pub load_average: String,
}

/// Medians over the rounds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Rounds with a sustained step, of the rounds measured (cluster, then baseline).
    pub sustained_rounds: (usize, usize),
    pub baseline_sustained_rounds: (usize, usize),
    pub deliveries_per_s: Option<Spread>,
    pub local_p50_us: Option<Spread>,
    pub local_p99_us: Option<Spread>,
    pub remote_p50_us: Option<Spread>,
    pub remote_p99_us: Option<Spread>,
    pub node_a_us_per_delivery: Option<Spread>,
    pub node_b_us_per_delivery: Option<Spread>,
    pub node_a_cpu_pct: Option<Spread>,
    pub node_b_cpu_pct: Option<Spread>,
    pub redis_cpu_pct: Option<Spread>,
    pub loadgen_cpu_pct: Option<Spread>,
    pub baseline_deliveries_per_s: Option<Spread>,
    pub baseline_p50_us: Option<Spread>,
    pub baseline_p99_us: Option<Spread>,
    pub baseline_us_per_delivery: Option<Spread>,
    /// Remote p50 minus the baseline's p50, per round: what the way through Redis adds.
    pub added_p50_us: Option<Spread>,
}

fn measured(outcome: &Outcome) -> Option<RoundFigures> {
    match outcome {
        Outcome::Measured { report, .. } => Some(round_figures(report)),
        _ => None,
    }
}

/// The medians of `rounds`.
pub fn summarize(rounds: &[Round]) -> Summary {
    let cluster: Vec<RoundFigures> = rounds.iter().filter_map(|r| measured(&r.cluster)).collect();
    let base: Vec<RoundFigures> = rounds.iter().filter_map(|r| measured(&r.baseline)).collect();
    let c = |f: fn(&RoundFigures) -> Option<f64>| Spread::of(cluster.iter().map(f));
    let b = |f: fn(&RoundFigures) -> Option<f64>| Spread::of(base.iter().map(f));
    let node = |i: usize, f: fn(&RoundFigures) -> &Vec<Option<f64>>| {
        Spread::of(cluster.iter().map(|r| f(r).get(i).copied().flatten()))
    };
    let added = rounds.iter().map(|r| {
        let (c, b) = (measured(&r.cluster)?, measured(&r.baseline)?);
        Some(c.remote_p50_us? - b.p50_us?)
    });
    let sustained = |r: &[RoundFigures]| (r.iter().filter(|f| f.deliveries_per_s.is_some()).count(), r.len());
    Summary {
        sustained_rounds: sustained(&cluster),
        baseline_sustained_rounds: sustained(&base),
        deliveries_per_s: c(|r| r.deliveries_per_s),
        local_p50_us: c(|r| r.local_p50_us),
        local_p99_us: c(|r| r.local_p99_us),
        remote_p50_us: c(|r| r.remote_p50_us),
        remote_p99_us: c(|r| r.remote_p99_us),
        node_a_us_per_delivery: node(0, |r| &r.node_us_per_delivery),
        node_b_us_per_delivery: node(1, |r| &r.node_us_per_delivery),
        node_a_cpu_pct: node(0, |r| &r.node_cpu_pct),
        node_b_cpu_pct: node(1, |r| &r.node_cpu_pct),
        redis_cpu_pct: c(|r| r.redis_cpu_pct),
        loadgen_cpu_pct: c(|r| r.loadgen_cpu_pct),
        baseline_deliveries_per_s: b(|r| r.deliveries_per_s),
        baseline_p50_us: b(|r| r.p50_us),
        baseline_p99_us: b(|r| r.p99_us),
        baseline_us_per_delivery: b(|r| r.server_us_per_delivery),
        added_p50_us: Spread::of(added),
    }
}

/// One server's rounds and their medians.
#[derive(Clone, Debug, Serialize)]
pub struct ServerRuns {
    pub server: &'static str,
    pub label: &'static str,
    pub rounds: Vec<Round>,
    pub summary: Summary,
}

/// What the cluster scenario found.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterResults {
    pub clients: usize,
    pub budget: ClusterBudget,
    pub redis_version: String,
    /// `classic`, `sharded` or `streams`.
    pub adapter: String,
    pub servers: Vec<ServerRuns>,
}

/// Servers that can join a Redis-adapter cluster.
pub fn takes_part(server: Server) -> bool {
    matches!(server, Server::Tpcio | Server::Node)
}

/// A port nothing listens on now (the kernel's pick).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("no free port: {e}"))
}

/// `redis-server --version`, or why there is none.
fn redis_version() -> Result<String, String> {
    let out = Command::new("redis-server")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("redis-server not found ({e}): apt-get install redis-server"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Every CPU of the machine, as a `taskset` list (Redis is not pinned).
fn all_cpus() -> String {
    let n = thread::available_parallelism().map_or(1, |n| n.get());
    format!("0-{}", n.saturating_sub(1))
}

/// The node's command line: `server` on `port`, pinned to `cpu`, on `redis` if given with
/// `adapter` (`classic`, `sharded`, `streams`).
pub fn node_launch(
    server: Server,
    root: &Path,
    port: u16,
    cpu: usize,
    redis: Option<&str>,
    adapter: &str,
) -> Launch {
    let mut launch = server.launch(root, port, 1);
    if server == Server::Tpcio {
        launch.args.extend(["--cpus".into(), cpu.to_string()]);
        if let Some(url) = redis {
            launch.args.extend(["--redis".into(), url.to_string()]);
            if adapter != "classic" {
                launch.args.extend(["--redis-adapter".into(), adapter.to_string()]);
            }
        }
    } else if let Some(url) = redis {
        launch.args.push(url.to_string());
        if adapter != "classic" {
            launch.args.extend(["socket.io".into(), adapter.to_string()]);
        }
    }
    launch
}

/// The load generator's arguments for `urls` (one per node) and their servers.
pub fn loadgen_args(
    urls: &[String],
    pids: &[u32],
    redis_pid: Option<u32>,
    clients: usize,
    b: &ClusterBudget,
) -> Vec<String> {
    let mut args = vec!["cluster".to_string()];
    for url in urls {
        args.extend(["--url".into(), url.clone()]);
    }
    for pid in pids {
        args.extend(["--server-pid".into(), pid.to_string()]);
    }
    if let Some(pid) = redis_pid {
        args.extend(["--redis-pid".into(), pid.to_string()]);
    }
    let mut add = |name: &str, value: String| args.extend([format!("--{name}"), value]);
    add("clients", clients.to_string());
    add("rate", b.first_rate.to_string());
    add("p99-bound-ms", P99_BOUND_MS.to_string());
    add("duration", b.step.to_string());
    add("drain", b.drain.to_string());
    add("max-time", b.search.to_string());
    add("connect-timeout", "60".into());
    args.push("--find-max".into());
    args
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Stops `running` processes in order and waits for their ports to be free.
fn stop_all(running: Vec<(Running, u16)>) {
    for (r, port) in running {
        r.stop();
        if let Err(e) = process::wait_port_free(port) {
            eprintln!("warning: {e}");
        }
    }
}

fn run_generator(setup: &Setup<'_>, args: &[String], log: PathBuf) -> Outcome {
    match process::run_loadgen(setup.loadgen_cpus, args, &log, setup.budget.time_limit()) {
        Ok(report) => Outcome::Measured { figures: Figures::default(), report },
        Err(reason) => Outcome::Failed { reason },
    }
}

/// Redis and two nodes of `server`, the cluster search, everything stopped.
fn cluster_part(server: Server, round: usize, setup: &Setup<'_>) -> Outcome {
    let name = |what: &str| setup.logs.join(format!("cluster-{}-r{round}-{what}.log", server.id()));
    let mut running: Vec<(Running, u16)> = Vec::new();
    let outcome = (|| -> Result<Outcome, String> {
        let redis_port = free_port()?;
        let redis = Launch {
            program: PathBuf::from("redis-server"),
            args: [
                "--port",
                &redis_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            .map(String::from)
            .to_vec(),
        };
        let redis_run = Running::start(&redis, &all_cpus(), redis_port, &name("redis"))?;
        let redis_pid = redis_run.pid();
        running.push((redis_run, redis_port));
        let redis_url = format!("redis://127.0.0.1:{redis_port}");
        let (mut urls, mut pids) = (Vec::new(), Vec::new());
        for (cpu, node) in (0..NODES).zip(["A", "B"]) {
            let port = free_port()?;
            let launch = node_launch(server, setup.root, port, cpu, Some(&redis_url), setup.adapter);
            let run = Running::start(&launch, &cpu.to_string(), port, &name(&format!("node-{node}")))?;
            pids.push(run.pid());
            urls.push(server.url(port));
            running.push((run, port));
        }
        // Both nodes subscribed to Redis before the first broadcast.
        thread::sleep(Duration::from_secs(1));
        let args = loadgen_args(&urls, &pids, Some(redis_pid), CLIENTS, &setup.budget);
        Ok(run_generator(setup, &args, name("loadgen")))
    })();
    running.reverse();
    stop_all(running);
    outcome.unwrap_or_else(|reason| Outcome::Failed { reason })
}

/// One node of `server` alone on CPU 0, no Redis, half the receivers.
fn baseline_part(server: Server, round: usize, setup: &Setup<'_>) -> Outcome {
    let name = |what: &str| setup.logs.join(format!("cluster-{}-r{round}-{what}.log", server.id()));
    let outcome = (|| -> Result<Outcome, String> {
        let port = free_port()?;
        let launch = node_launch(server, setup.root, port, 0, None, setup.adapter);
        let run = Running::start(&launch, "0", port, &name("local-node"))?;
        let args = loadgen_args(&[server.url(port)], &[run.pid()], None, CLIENTS / NODES, &setup.budget);
        let outcome = run_generator(setup, &args, name("local-loadgen"));
        stop_all(vec![(run, port)]);
        Ok(outcome)
    })();
    outcome.unwrap_or_else(|reason| Outcome::Failed { reason })
}

fn short_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Measured { report, .. } => {
            let f = round_figures(report);
            format!(
                "{} deliveries/s, p50/p99 {}/{} µs",
                f.deliveries_per_s.map_or("-".into(), thousands),
                f.p50_us.map_or("-".into(), thousands),
                f.p99_us.map_or("-".into(), thousands)
            )
        }
        Outcome::Failed { reason } => format!("failed: {reason}"),
        Outcome::NotApplicable { reason } => format!("n/a: {reason}"),
    }
}

/// Every round, the servers interleaved.
pub fn run(servers: &[Server], setup: &Setup<'_>) -> ClusterResults {
    let redis_version = redis_version();
    let mut runs: Vec<ServerRuns> = servers
        .iter()
        .map(|s| ServerRuns {
            server: s.id(),
            label: s.label(),
            rounds: Vec::new(),
            summary: Summary::default(),
        })
        .collect();
    for round in 1..=setup.budget.rounds {
        for (server, runs) in servers.iter().zip(runs.iter_mut()) {
            let load = load_average();
            let (cluster, baseline) = if !takes_part(*server) {
                let why = Outcome::NotApplicable {
                    reason: format!("{} has no Redis adapter here", server.label()),
                };
                (why.clone(), why)
            } else if let Some(why) = server.missing(setup.root, &server.launch(setup.root, 0, 1)) {
                (Outcome::NotApplicable { reason: why.clone() }, Outcome::NotApplicable { reason: why })
            } else if let Err(why) = &redis_version {
                (Outcome::Failed { reason: why.clone() }, Outcome::NotApplicable { reason: why.clone() })
            } else {
                eprintln!("== cluster round {round}: {} (load average {load})", server.id());
                let cluster = cluster_part(*server, round, setup);
                eprintln!("   cluster  {}", short_outcome(&cluster));
                let baseline = baseline_part(*server, round, setup);
                eprintln!("   baseline {}", short_outcome(&baseline));
                (cluster, baseline)
            };
            runs.rounds.push(Round { round, cluster, baseline, load_average: load });
        }
    }
    for r in &mut runs {
        r.summary = summarize(&r.rounds);
    }
    ClusterResults {
        clients: CLIENTS,
        budget: setup.budget.clone(),
        redis_version: redis_version.unwrap_or_else(|e| e),
        adapter: setup.adapter.to_owned(),
        servers: runs,
    }
}

fn us(s: &Option<Spread>) -> String {
    s.as_ref().map_or("-".into(), |s| s.show(thousands))
}

fn dec(s: &Option<Spread>) -> String {
    s.as_ref().map_or("-".into(), |s| s.show(|v| format!("{v:.2}")))
}

fn percent(s: &Option<Spread>) -> String {
    s.as_ref().map_or("-".into(), |s| s.show(|v| format!("{v:.0}%")))
}

/// The summary rows of the comparison's tables: the cluster, then the local baseline.
pub fn rows(results: &ClusterResults) -> Vec<Row> {
    let metric = Metric { unit: "deliveries/s", higher_is_better: true };
    let cell = |runs: &ServerRuns, baseline: bool| {
        let s = &runs.summary;
        let first = |o: &Round| if baseline { o.baseline.clone() } else { o.cluster.clone() };
        let measured_any = runs.rounds.iter().any(|r| matches!(first(r), Outcome::Measured { .. }));
        let outcome = if !measured_any {
            runs.rounds.first().map(first).unwrap_or(Outcome::NotApplicable { reason: "not run".into() })
        } else {
            let median = |x: &Option<Spread>| x.as_ref().map(|s| s.median);
            let figures = if baseline {
                Figures {
                    throughput: median(&s.baseline_deliveries_per_s),
                    p50_us: median(&s.baseline_p50_us),
                    p99_us: median(&s.baseline_p99_us),
                    server_us_per_op: median(&s.baseline_us_per_delivery),
                    note: format!(
                        "median of {} round(s)",
                        s.baseline_deliveries_per_s.as_ref().map_or(0, |x| x.n)
                    ),
                    ..Figures::default()
                }
            } else {
                Figures {
                    throughput: median(&s.deliveries_per_s),
                    p50_us: median(&s.remote_p50_us),
                    p99_us: median(&s.remote_p99_us),
                    server_us_per_op: median(&s.node_b_us_per_delivery),
                    server_cpu_pct: median(&s.node_b_cpu_pct),
                    loadgen_cpu_pct: median(&s.loadgen_cpu_pct),
                    note: format!(
                        "remote latency; local p50/p99 {}/{} µs; node A {} µs/delivery; median of {} round(s)",
                        us(&s.local_p50_us),
                        us(&s.local_p99_us),
                        dec(&s.node_a_us_per_delivery),
                        s.deliveries_per_s.as_ref().map_or(0, |x| x.n)
                    ),
                    spread: None,
                }
            };
            let report = serde_json::to_value(s).unwrap_or(Value::Null);
            Outcome::Measured { figures, report }
        };
        Cell { server: runs.server, outcome }
    };
    vec![
        Row {
            id: "cluster",
            title: format!(
                "cluster: broadcast to {} over 2 nodes + Redis, highest sustained (p99 ≤ {P99_BOUND_MS} ms)",
                thousands(CLIENTS as f64)
            ),
            metric,
            cells: results.servers.iter().map(|r| cell(r, false)).collect(),
        },
        Row {
            id: "cluster-local",
            title: format!(
                "cluster baseline: broadcast to {} on one node, no Redis (p99 ≤ {P99_BOUND_MS} ms)",
                thousands((CLIENTS / NODES) as f64)
            ),
            metric,
            cells: results.servers.iter().map(|r| cell(r, true)).collect(),
        },
    ]
}

/// The cluster section of `results.md`.
pub fn section(results: &ClusterResults) -> String {
    let b = &results.budget;
    let mut out = format!("## Cluster (Redis adapter: {})\n\n", results.adapter);
    let _ = writeln!(
        out,
        "Per server kind and round: a fresh `{}` (`--save \"\" --appendonly no`, not pinned), node A pinned \
         to CPU 0 and node B to CPU 1 (tpcio: `--shards 1 --cpus 0` / `--cpus 1`; Node: `taskset -c 0` / `-c 1`), \
         {} receivers spread evenly (5 000 on each node), one sender connected to node A emitting `broadcast` \
         (`io.emit` to the whole cluster); node A delivers to its receivers directly (local), node B gets each \
         broadcast through Redis (remote). Then the local baseline: one node of the same kind alone on CPU 0, \
         no Redis, 5 000 receivers. Search: from {} msgs/s, steps of {} s (+{} s drain), {} s per search; a step \
         counts only when every message reached every receiver and the p99 of each node is within {P99_BOUND_MS} ms; \
         latency is measured from the scheduled send time. {} round(s), servers interleaved; medians with \
         min–max over the rounds.\n",
        results.redis_version,
        thousands(results.clients as f64),
        b.first_rate,
        b.step,
        b.drain,
        b.search,
        b.rounds
    );
    out.push_str(
        "**This machine has 2 CPUs**: the load generator (all 10 000 receivers and the sender) and redis-server \
         share them with the nodes (the generator runs on CPU 1 with node B), so the cluster's figures are \
         those of a machine short of CPUs, not of two dedicated hosts.\n\n",
    );
    out.push_str(
        "| server | sustained rounds (cluster, baseline) | deliveries/s | local p50 / p99 µs | remote p50 / p99 µs | node A µs CPU/delivery | \
         node B µs CPU/delivery (remote) | node A / B CPU | Redis CPU | baseline deliveries/s | \
         baseline p50 / p99 µs | baseline µs CPU/delivery | remote p50 − baseline p50 µs |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &results.servers {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "| {} | {}/{}, {}/{} | {} | {} / {} | {} / {} | {} | {} | {} / {} | {} | {} | {} / {} | {} | {} |",
            r.label,
            s.sustained_rounds.0,
            s.sustained_rounds.1,
            s.baseline_sustained_rounds.0,
            s.baseline_sustained_rounds.1,
            us(&s.deliveries_per_s),
            us(&s.local_p50_us),
            us(&s.local_p99_us),
            us(&s.remote_p50_us),
            us(&s.remote_p99_us),
            dec(&s.node_a_us_per_delivery),
            dec(&s.node_b_us_per_delivery),
            percent(&s.node_a_cpu_pct),
            percent(&s.node_b_cpu_pct),
            percent(&s.redis_cpu_pct),
            us(&s.baseline_deliveries_per_s),
            us(&s.baseline_p50_us),
            us(&s.baseline_p99_us),
            dec(&s.baseline_us_per_delivery),
            us(&s.added_p50_us),
        );
    }
    out.push_str(
        "\nNode A's CPU per delivery covers its 5 000 local deliveries plus receiving the sender's emit and \
         publishing it to Redis; node B's is the cost of a remote delivery (decoding the Redis message, then \
         writing to its 5 000 sockets). Latencies and CPU are those of the best sustained step of each search, \
         so they are at that step's rate (a higher rate for a faster server); in a round where no step was \
         sustained, they are those of the search's last step (its lowest rate) and the round gives no \
         deliveries/s.\n\n### Rounds\n\n\
         | server | round | load average | cluster | baseline |\n|---|---:|---|---|---|\n",
    );
    for r in &results.servers {
        for round in &r.rounds {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                r.label,
                round.round,
                round.load_average,
                short_outcome(&round.cluster).replace('|', "\\|"),
                short_outcome(&round.baseline).replace('|', "\\|")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn takes_medians_with_their_range() {
        assert_eq!(Spread::of([]), None);
        assert_eq!(Spread::of([Some(3.0), None]), Some(Spread { median: 3.0, min: 3.0, max: 3.0, n: 1 }));
        let s = Spread::of([Some(4.0), Some(1.0), Some(2.0), Some(10.0)]).expect("values");
        assert_eq!((s.median, s.min, s.max, s.n), (3.0, 1.0, 10.0, 4));
        assert_eq!(Spread::of([Some(5.0), Some(1.0), Some(3.0)]).map(|s| s.median), Some(3.0));
        assert_eq!(s.show(thousands), "3 (1–10)");
    }

    fn report(dps: f64, remote_p50: u64, base: bool) -> Value {
        if base {
            json!({"max_sustained_deliveries_per_s": dps, "p50_us": 1000, "p99_us": 3000,
                "server_us_per_delivery": 0.5})
        } else {
            json!({"max_sustained_deliveries_per_s": dps, "max_sustained_rate": 10.0, "p50_us": 2000,
                "p99_us": 9000, "cpu_window_s": 4.0, "loadgen_cpu_s": 2.0, "redis_cpu_pct": 12.0,
                "local": {"p50_us": 1500, "p99_us": 4000},
                "remote": {"p50_us": remote_p50, "p99_us": 9000},
                "nodes": [{"server_us_per_delivery": 0.8, "server_cpu_pct": 90.0, "loss": 0.0},
                          {"server_us_per_delivery": 0.6, "server_cpu_pct": 70.0, "loss": 0.0}]})
        }
    }

    fn round(n: usize, dps: f64, remote_p50: u64) -> Round {
        let m = |r| Outcome::Measured { figures: Figures::default(), report: r };
        Round {
            round: n,
            cluster: m(report(dps, remote_p50, false)),
            baseline: m(report(dps / 2.0, 0, true)),
            load_average: "1.00 1.00 1.00".into(),
        }
    }

    #[test]
    fn reads_a_round_and_summarizes_rounds() {
        let f = round_figures(&report(100_000.0, 2500, false));
        assert_eq!(
            (f.local_p50_us, f.remote_p50_us, f.remote_p99_us),
            (Some(1500.0), Some(2500.0), Some(9000.0))
        );
        assert_eq!(f.node_us_per_delivery, [Some(0.8), Some(0.6)]);
        assert_eq!(f.loadgen_cpu_pct, Some(50.0));

        let failed = Round {
            round: 3,
            cluster: Outcome::Failed { reason: "x".into() },
            baseline: Outcome::Failed { reason: "y".into() },
            load_average: String::new(),
        };
        let s = summarize(&[round(1, 100_000.0, 2500), round(2, 120_000.0, 3500), failed]);
        let d = s.deliveries_per_s.expect("deliveries");
        assert_eq!((d.median, d.min, d.max, d.n), (110_000.0, 100_000.0, 120_000.0, 2));
        assert_eq!(s.node_b_us_per_delivery.map(|x| x.median), Some(0.6));
        assert_eq!(s.baseline_deliveries_per_s.map(|x| x.median), Some(55_000.0));
        assert_eq!((s.sustained_rounds, s.baseline_sustained_rounds), ((2, 2), (2, 2)));
        assert_eq!(s.added_p50_us.map(|x| (x.median, x.min, x.max)), Some((2000.0, 1500.0, 2500.0)));
    }

    #[test]
    fn launches_nodes_on_their_cpu_and_redis() {
        let root = Path::new("/r");
        let a = node_launch(Server::Tpcio, root, 7000, 1, Some("redis://127.0.0.1:6400"), "classic");
        assert_eq!(
            a.args,
            [
                "bench",
                "--host",
                "127.0.0.1",
                "--port",
                "7000",
                "--shards",
                "1",
                "--cpus",
                "1",
                "--redis",
                "redis://127.0.0.1:6400"
            ]
        );
        let n = node_launch(Server::Node, root, 7001, 0, Some("redis://127.0.0.1:6400"), "classic");
        assert_eq!(n.args, ["/r/loadtest/node-reference/sio-bench.mjs", "7001", "redis://127.0.0.1:6400"]);
        assert_eq!(node_launch(Server::Node, root, 7001, 0, None, "streams").args.len(), 2);
        let n = node_launch(Server::Node, root, 7001, 0, Some("redis://r"), "streams");
        assert_eq!(n.args[3..], ["socket.io", "streams"]);
        let t = node_launch(Server::Tpcio, root, 7000, 1, Some("redis://r"), "streams");
        assert!(t.args.ends_with(&["--redis-adapter".into(), "streams".into()]));
        let b = ClusterBudget::new(true, None);
        let args = loadgen_args(&["u1".into(), "u2".into()], &[1, 2], Some(3), CLIENTS, &b);
        assert!(
            args.windows(2).any(|w| w == ["--url", "u2"])
                && args.windows(2).any(|w| w == ["--redis-pid", "3"])
        );
        assert!(
            args.windows(2).any(|w| w == ["--clients", "10000"]) && args.ends_with(&["--find-max".into()])
        );
        assert!(takes_part(Server::Node) && !takes_part(Server::Socketioxide));
    }
}
