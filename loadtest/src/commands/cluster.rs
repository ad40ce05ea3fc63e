//! `cluster`: the broadcast scenario over the nodes of one cluster (Socket.IO servers joined
//! by the Redis adapter). The receivers are spread evenly over the `--url`s, the sender is
//! connected to the first; the server re-emits each broadcast to every socket of the cluster
//! (`io.emit`), so the first node delivers to its receivers directly and the others through
//! Redis. Fixed-rate step or `--find-max`, as `broadcast`; the report adds, per step, the
//! latencies of the local and the remote receivers, each node's deliveries, losses and CPU
//! (`--server-pid` once per URL, in the same order), and Redis's CPU (`--redis-pid`).
//! A step is sustained only when the p99 of every node is within the bound.

use std::sync::Arc;

use serde::Serialize;

use super::broadcast::{MAX_RATE, RECEIVER_MARGIN, best_step, run_steps};
use super::seconds;
use crate::net::{Sources, Target};
use crate::rlimit::ensure_sockets;
use crate::run::Fleet;
use crate::sio::broadcast::sender::Sender;
use crate::sio::broadcast::steps::{Driver, SearchEnd, Settings, StepReport};
use crate::sio::broadcast::{Clock, Gate, Receivers};

#[derive(clap::Args, Debug)]
pub struct ClusterArgs {
    /// The Socket.IO endpoint of each node, e.g. http://127.0.0.1:3000/socket.io/ (repeated
    /// or comma-separated); the sender connects to the first.
    #[arg(long, value_delimiter = ',', required = true)]
    url: Vec<String>,
    /// Receiving clients in all, spread evenly over the nodes (the sender is one more).
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Messages per second the sender emits; with --find-max the first step's rate.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of sending (of every step with --find-max).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Search for the highest sustained rate (doubling, then bisecting).
    #[arg(long)]
    find_max: bool,
    /// A step is sustained only if the p99 delivery latency of every node is within this
    /// many milliseconds.
    #[arg(long, default_value_t = 100.0)]
    p99_bound_ms: f64,
    /// Seconds a --find-max search may take in all, connecting aside.
    #[arg(long, default_value_t = 60.0)]
    max_time: f64,
    /// Seconds to wait after the last send for the deliveries still on their way.
    #[arg(long, default_value_t = 2.0)]
    drain: f64,
    /// Receiving threads per node, each with its own single-threaded runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The process of each node, in the order of the URLs (repeated or comma-separated), whose
    /// CPU time (/proc/PID/stat) is measured over each step.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// The Redis server's process, measured as well.
    #[arg(long)]
    redis_pid: Option<u32>,
    /// Seconds allowed for connecting the clients of each node.
    #[arg(long, default_value_t = 30.0)]
    connect_timeout: f64,
}

#[derive(Serialize, Debug)]
pub struct ClusterReport {
    scenario: &'static str,
    mode: &'static str,
    urls: Vec<String>,
    clients: usize,
    clients_per_node: Vec<usize>,
    pub connected: usize,
    connected_per_node: Vec<usize>,
    threads_per_node: usize,
    p99_bound_us: u64,
    #[serde(flatten)]
    pub result: StepReport,
    max_sustained_rate: Option<f64>,
    max_sustained_deliveries_per_s: Option<f64>,
    search_end: Option<SearchEnd>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    steps: Vec<StepReport>,
}

/// `clients` spread over `nodes`: the first `clients % nodes` take one more.
pub fn split_clients(clients: usize, nodes: usize) -> Vec<usize> {
    if nodes == 0 {
        return Vec::new();
    }
    (0..nodes).map(|i| clients / nodes + usize::from(i < clients % nodes)).collect()
}

pub fn cluster(args: &ClusterArgs) -> Result<ClusterReport, String> {
    let targets: Vec<Target> = args.url.iter().map(|u| Target::parse(u)).collect::<Result<_, _>>()?;
    let duration = seconds("duration", args.duration)?;
    let max_time = seconds("max-time", args.max_time)?;
    let drain = seconds("drain", args.drain)?;
    let connect_timeout = seconds("connect-timeout", args.connect_timeout)?;
    let p99_bound = seconds("p99-bound-ms", args.p99_bound_ms / 1e3)?;
    if !(args.rate > 0.0 && args.rate <= MAX_RATE) {
        return Err(format!("--rate must be in (0, {MAX_RATE}] messages per second"));
    }
    if args.clients < targets.len() || args.threads == 0 {
        return Err("--clients must be at least one per --url, and --threads at least 1".into());
    }
    if !args.server_pid.is_empty() && args.server_pid.len() != targets.len() {
        return Err(format!(
            "{} --server-pid for {} --url: give one per URL",
            args.server_pid.len(),
            targets.len()
        ));
    }
    ensure_sockets(args.clients + 1)?;
    let shares = split_clients(args.clients, targets.len());

    let label = if args.find_max { "cluster find-max" } else { "cluster" };
    let (clock, gate) = (Clock::new(), Arc::new(Gate::closed()));
    let mut fleets = Vec::with_capacity(targets.len());
    for (i, (target, share)) in targets.iter().zip(&shares).enumerate() {
        let sources = Sources::spread(target, share + 1)?;
        let receivers = Receivers::new(target.clone(), sources, clock, gate.clone());
        let node_label = format!("{label} node {i}");
        fleets.push(Fleet::launch(receivers, &node_label, *share, args.threads, connect_timeout));
    }
    let connected_per_node: Vec<usize> = fleets.iter().map(Fleet::connected).collect();
    if connected_per_node.contains(&0) {
        return Err(format!("a node took no client (connected per node: {connected_per_node:?})"));
    }
    let sender = Sender::launch(targets[0].clone(), clock, connect_timeout)?;
    let planned = if args.find_max { max_time } else { duration + drain };
    for fleet in &fleets {
        fleet.open(planned + RECEIVER_MARGIN);
    }

    let server_pids = if args.server_pid.is_empty() {
        vec![None; targets.len()]
    } else {
        args.server_pid.iter().map(|p| Some(*p)).collect()
    };
    let settings =
        Settings { label: label.into(), duration, drain, p99_bound, server_pids, redis_pid: args.redis_pid };
    let mut driver = Driver::new(&mut fleets, &sender, &gate, settings);
    let (steps, search_end) = run_steps(&mut driver, args.find_max, args.rate, max_time);
    let (best, result) = best_step(&steps, max_time)?;
    Ok(ClusterReport {
        scenario: "cluster",
        mode: if args.find_max { "find-max" } else { "fixed" },
        urls: args.url.clone(),
        clients: args.clients,
        clients_per_node: shares,
        connected: connected_per_node.iter().sum(),
        connected_per_node,
        threads_per_node: args.threads,
        p99_bound_us: u64::try_from(p99_bound.as_micros()).unwrap_or(u64::MAX),
        result,
        max_sustained_rate: best.as_ref().filter(|_| args.find_max).map(|s| s.rate),
        max_sustained_deliveries_per_s: best.as_ref().filter(|_| args.find_max).map(|s| s.deliveries_per_s),
        search_end,
        steps: if args.find_max { steps } else { Vec::new() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_clients_evenly() {
        assert_eq!(split_clients(10_000, 2), [5000, 5000]);
        assert_eq!(split_clients(7, 3), [3, 2, 2]);
        assert_eq!(split_clients(5, 1), [5]);
        assert_eq!(split_clients(1, 2), [1, 0]);
        assert!(split_clients(5, 0).is_empty());
        assert_eq!(split_clients(12_345, 4).iter().sum::<usize>(), 12_345);
    }
}
