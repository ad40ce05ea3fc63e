//! Measured steps of the broadcast scenario over one set of connections. A step opens the
//! gate at its first sequence number, has the sender emit `rate × duration` messages, waits
//! for the deliveries to come in (at most `drain` after the last send), closes the gate and
//! takes the latencies. A step is *sustained* when every message was sent on schedule and
//! delivered to every connected client, no client failed, and the p99 delivery latency is
//! within the bound.
//!
//! [`find_max`] doubles the rate from the starting one until a step is not sustained, then
//! bisects between the best sustained rate and the lowest failed one until they are within
//! 10 %, never starting a step that could end past its time budget. It also stops when a
//! client fails: a server may drop slow consumers under overload (tpcio does past
//! `max_buffered_packets`; Node buffers without bound), and later steps over fewer clients
//! would not measure the same thing.

use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::Gate;
use super::sender::{Burst, SLACK, Sender, Sent};
use crate::cpu::CpuMeter;
use crate::run::{Fleet, Window, show_progress_fleets};
use crate::stats::{cpu_figures, new_histogram, percentiles};

/// Between the order to send and the first due time, so the sender's thread is waiting.
const LEAD: Duration = Duration::from_millis(20);
/// How often the drain looks at the delivery count.
const POLL: Duration = Duration::from_millis(2);
/// After a failed step: how long deliveries must have stopped before the next step…
const QUIET: Duration = Duration::from_millis(300);
/// …and the longest wait for that.
const SETTLE_MAX: Duration = Duration::from_secs(10);
/// Bisection stops when the failed rate is within this factor of the sustained one.
const PRECISION: f64 = 1.1;
const MAX_STEPS: usize = 24;
/// Below this rate (messages/s) a search gives up.
const MIN_RATE: f64 = 0.5;

pub struct Settings {
    pub label: String,
    pub duration: Duration,
    pub drain: Duration,
    pub p99_bound: Duration,
    /// The server of each fleet, in the fleets' order (missing ones are not measured).
    pub server_pids: Vec<Option<u32>>,
    /// A cluster's Redis server, measured as well.
    pub redis_pid: Option<u32>,
}

/// The figures of one step (all of them in the JSON line).
#[derive(Serialize, Clone, Debug)]
pub struct StepReport {
    /// Target rate, messages per second.
    pub rate: f64,
    pub seconds: f64,
    pub target_sent: u64,
    pub sent: u64,
    /// `target_sent × connected clients`.
    pub expected_deliveries: u64,
    pub deliveries: u64,
    /// Share of the expected deliveries that did not arrive within the step.
    pub loss: f64,
    /// Deliveries of this step that arrived after it was closed (already counted as lost).
    pub late: u64,
    pub deliveries_per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub sender_lag_max_us: u64,
    pub sender_error: Option<String>,
    /// Clients that failed during the step.
    pub errors: u64,
    /// Wall-clock seconds the CPU figures cover: the sending and the drain.
    pub cpu_window_s: f64,
    pub loadgen_cpu_s: f64,
    /// Every server together (with several, only when each could be read).
    pub server_cpu_s: Option<f64>,
    pub server_us_per_delivery: Option<f64>,
    /// CPU use over `cpu_window_s`, percent of one core.
    pub server_cpu_pct: Option<f64>,
    pub loadgen_cpu_pct: f64,
    pub sustained: bool,
    /// With several servers (a cluster): the receivers of the sender's node (local delivery)…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<Latency>,
    /// …and those of the other nodes (delivered through Redis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<Latency>,
    /// Each server's receivers and CPU, the sender's node first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_cpu_pct: Option<f64>,
}

/// Delivery latencies of a group of receivers.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Latency {
    pub deliveries: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        let (p50_us, p99_us, p999_us) = percentiles(h);
        Latency { deliveries: h.len(), p50_us, p99_us, p999_us, max_us: h.max() }
    }
}

/// One server's part of a step: its receivers and its CPU.
#[derive(Serialize, Clone, Debug)]
pub struct NodeStep {
    pub connected: u64,
    pub expected_deliveries: u64,
    pub deliveries: u64,
    pub loss: f64,
    pub late: u64,
    pub errors: u64,
    pub deliveries_per_s: f64,
    #[serde(flatten)]
    pub latency: Latency,
    pub server_cpu_s: Option<f64>,
    /// The server's CPU over its own receivers' deliveries: on a node other than the
    /// sender's, the cost of a delivery through Redis (decode, then write to its sockets).
    pub server_us_per_delivery: Option<f64>,
    pub server_cpu_pct: Option<f64>,
}

/// Share of `expected` that did not arrive.
pub fn loss(expected: u64, delivered: u64) -> f64 {
    if expected == 0 { 0.0 } else { 1.0 - (delivered.min(expected) as f64 / expected as f64) }
}

/// All the latencies, those of the first group (the sender's node) and those of the others
/// merged; no local/remote split with a single group.
pub fn split_latencies(groups: &[Histogram<u64>]) -> (Histogram<u64>, Option<Latency>, Option<Latency>) {
    let mut all = new_histogram();
    let mut remote = new_histogram();
    for (i, h) in groups.iter().enumerate() {
        merge_into(&mut all, h);
        if i > 0 {
            merge_into(&mut remote, h);
        }
    }
    if groups.len() < 2 {
        return (all, None, None);
    }
    (all, Some(Latency::of(&groups[0])), Some(Latency::of(&remote)))
}

fn merge_into(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if let Err(e) = into.add(from) {
        eprintln!("tpcio-loadtest: cannot merge latencies: {e:?}");
    }
}

/// Runs steps on connected fleets (one per server) with one sender.
pub struct Driver<'a> {
    pub fleets: &'a mut [Fleet],
    pub sender: &'a Sender,
    pub gate: &'a Gate,
    pub settings: Settings,
    next_seq: u64,
}

impl<'a> Driver<'a> {
    pub fn new(fleets: &'a mut [Fleet], sender: &'a Sender, gate: &'a Gate, settings: Settings) -> Self {
        Driver { fleets, sender, gate, settings, next_seq: 0 }
    }

    fn total(&self, field: fn(&Fleet) -> u64) -> u64 {
        self.fleets.iter().map(field).sum()
    }

    /// One step at `rate` messages per second.
    pub fn step(&mut self, rate: f64) -> StepReport {
        let s = &self.settings;
        let connected: Vec<u64> = self.fleets.iter().map(|f| f.connected() as u64).collect();
        let all_connected: u64 = connected.iter().sum();
        let count = (rate * s.duration.as_secs_f64()).round().max(1.0) as u64;
        let first_seq = self.next_seq;
        self.next_seq += count;
        let per_fleet = |field: fn(&Fleet) -> u64| -> Vec<u64> { self.fleets.iter().map(field).collect() };
        let (delivered_before, late_before, errors_before) =
            (per_fleet(Fleet::messages), per_fleet(Fleet::late), per_fleet(Fleet::errors));
        let delivered_total = self.total(Fleet::messages);
        eprintln!("{}: step at {rate:.1} msgs/s for {:?} to {all_connected} clients", s.label, s.duration);

        self.gate.open_at(first_seq);
        let pid = |i: usize| s.server_pids.get(i).copied().flatten();
        let meters: Vec<CpuMeter> = (0..self.fleets.len()).map(|i| CpuMeter::start(pid(i))).collect();
        let redis_meter = s.redis_pid.map(|pid| CpuMeter::start(Some(pid)));
        let start = Instant::now() + LEAD;
        let end = start + s.duration;
        let burst = Burst { start, rate, count, first_seq };
        let sent = match self.sender.start(burst) {
            Ok(()) => {
                show_progress_fleets(&s.label, "deliveries", Window { start, end }, self.fleets);
                self.sender.wait(first_seq, end + SLACK + Duration::from_secs(1))
            }
            Err(e) => Sent { first_seq, error: Some(e), ..Sent::default() },
        };
        let expected_now = sent.sent * all_connected;
        let drained_by = Instant::now().max(end) + s.drain;
        while self.total(Fleet::messages) - delivered_total < expected_now && Instant::now() < drained_by {
            thread::sleep(POLL);
        }
        let readings: Vec<(f64, Option<f64>)> = meters.iter().map(CpuMeter::stop).collect();
        let redis_cpu_s = redis_meter.and_then(|m| m.stop().1);
        let cpu_window_s = start.elapsed().as_secs_f64() + LEAD.as_secs_f64();
        self.gate.close();
        let histograms: Vec<Histogram<u64>> = self.fleets.iter_mut().map(Fleet::harvest).collect();
        let (latencies, local, remote) = split_latencies(&histograms);

        let seconds = s.duration.as_secs_f64();
        let loadgen_cpu_s = readings.first().map_or(0.0, |r| r.0);
        let server_cpu_s: Option<f64> = readings.iter().map(|r| r.1).sum();
        let mut nodes: Vec<NodeStep> = Vec::new();
        for (i, fleet) in self.fleets.iter().enumerate() {
            let deliveries = fleet.messages() - delivered_before[i];
            let expected_deliveries = count * connected[i];
            let cpu = cpu_figures(readings[i].1, loadgen_cpu_s, cpu_window_s, deliveries);
            nodes.push(NodeStep {
                connected: connected[i],
                expected_deliveries,
                deliveries,
                loss: loss(expected_deliveries, deliveries),
                late: 0,
                errors: fleet.errors() - errors_before[i],
                deliveries_per_s: deliveries as f64 / seconds,
                latency: Latency::of(&histograms[i]),
                server_cpu_s: readings[i].1,
                server_us_per_delivery: cpu.server_us_per_op,
                server_cpu_pct: cpu.server_cpu_pct,
            });
        }
        let deliveries: u64 = nodes.iter().map(|n| n.deliveries).sum();
        let expected_deliveries = count * all_connected;
        let errors: u64 = nodes.iter().map(|n| n.errors).sum();
        let (p50_us, p99_us, p999_us) = percentiles(&latencies);
        let worst_p99 = nodes.iter().map(|n| n.latency.p99_us).max().unwrap_or(p99_us);
        let lag = sent.max_lag;
        let cpu = cpu_figures(server_cpu_s, loadgen_cpu_s, cpu_window_s, deliveries);
        let sustained = sent.error.is_none()
            && sent.sent == count
            && deliveries >= expected_deliveries
            && errors == 0
            && all_connected > 0
            && Duration::from_micros(worst_p99.max(p99_us)) <= s.p99_bound
            && lag <= s.p99_bound;
        let pct = |cpu: f64| 100.0 * cpu / cpu_window_s;
        let report = StepReport {
            rate,
            seconds,
            target_sent: count,
            sent: sent.sent,
            expected_deliveries,
            deliveries,
            loss: loss(expected_deliveries, deliveries),
            late: 0,
            deliveries_per_s: deliveries as f64 / seconds,
            p50_us,
            p99_us,
            p999_us,
            max_us: latencies.max(),
            sender_lag_max_us: u64::try_from(lag.as_micros()).unwrap_or(u64::MAX),
            sender_error: sent.error,
            errors,
            cpu_window_s,
            loadgen_cpu_s,
            server_cpu_s,
            server_us_per_delivery: cpu.server_us_per_op,
            server_cpu_pct: cpu.server_cpu_pct,
            loadgen_cpu_pct: cpu.loadgen_cpu_pct,
            sustained,
            local,
            remote,
            nodes: if self.fleets.len() > 1 { nodes } else { Vec::new() },
            redis_cpu_s,
            redis_cpu_pct: redis_cpu_s.map(pct),
        };
        if !sustained {
            self.settle();
        }
        let mut report = report;
        for (i, node) in report.nodes.iter_mut().enumerate() {
            node.late = self.fleets[i].late() - late_before[i];
        }
        report.late = self.total(Fleet::late) - late_before.iter().sum::<u64>();
        report
    }

    /// Waits until no delivery has arrived for [`QUIET`] (at most [`SETTLE_MAX`]), so a
    /// backlog left by an overloaded step does not land in the next one.
    fn settle(&self) {
        let limit = Instant::now() + SETTLE_MAX;
        let total = || self.total(Fleet::messages) + self.total(Fleet::late);
        let (mut last, mut since) = (total(), Instant::now());
        while Instant::now() < limit {
            thread::sleep(POLL * 10);
            let now = total();
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() >= QUIET {
                return;
            }
        }
    }

    /// The longest a step can take, for the time budget.
    fn step_bound(&self) -> Duration {
        let s = &self.settings;
        LEAD + s.duration + SLACK + s.drain + Duration::from_secs(1)
    }
}

/// Why a search ended.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SearchEnd {
    /// The best sustained and the lowest failed rate are within 10 %.
    Converged,
    /// No time left for another step.
    TimeBudget,
    StepLimit,
    /// Even the lowest rate tried was not sustained.
    RateFloor,
    /// Clients failed during the last step (dropped by the server, or worse).
    ClientsLost,
}

/// Steps up from `start_rate` until a step is not sustained, then bisects; every step
/// starts early enough to end within `budget`. Returns the steps in the order run.
pub fn find_max(driver: &mut Driver<'_>, start_rate: f64, budget: Duration) -> (Vec<StepReport>, SearchEnd) {
    let deadline = Instant::now() + budget;
    let mut steps: Vec<StepReport> = Vec::new();
    let (mut best, mut failed): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = start_rate;
    loop {
        if steps.len() >= MAX_STEPS {
            return (steps, SearchEnd::StepLimit);
        }
        if Instant::now() + driver.step_bound() > deadline {
            return (steps, SearchEnd::TimeBudget);
        }
        let step = driver.step(rate);
        if step.sustained {
            best = Some(best.map_or(rate, |b: f64| b.max(rate)));
        } else {
            failed = Some(failed.map_or(rate, |f: f64| f.min(rate)));
        }
        eprintln!(
            "{}: {:.1} msgs/s {}: {:.0} deliveries/s, p99 {} µs, loss {:.4}",
            driver.settings.label,
            rate,
            if step.sustained { "sustained" } else { "not sustained" },
            step.deliveries_per_s,
            step.p99_us,
            step.loss,
        );
        let lost = step.errors > 0;
        steps.push(step);
        if lost {
            return (steps, SearchEnd::ClientsLost);
        }
        rate = match (best, failed) {
            (_, None) => rate * 2.0,
            (None, Some(f)) => f / 2.0,
            (Some(b), Some(f)) if f <= b * PRECISION => return (steps, SearchEnd::Converged),
            (Some(b), Some(f)) => (b + f) / 2.0,
        };
        if rate < MIN_RATE {
            return (steps, SearchEnd::RateFloor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for v in values {
            h.record(*v).expect("in range");
        }
        h
    }

    #[test]
    fn counts_losses() {
        assert_eq!(loss(0, 0), 0.0);
        assert_eq!(loss(100, 100), 0.0);
        assert_eq!(loss(100, 75), 0.25);
        assert_eq!(loss(100, 120), 0.0);
    }

    #[test]
    fn splits_local_from_remote_latencies() {
        let (all, local, remote) = split_latencies(&[histogram(&[100, 200])]);
        assert_eq!((all.len(), local, remote), (2, None, None));

        let groups = [histogram(&[100, 100, 100]), histogram(&[5000]), histogram(&[9000, 9000])];
        let (all, local, remote) = split_latencies(&groups);
        assert_eq!(all.len(), 6);
        let (local, remote) = (local.expect("local"), remote.expect("remote"));
        assert_eq!((local.deliveries, local.p50_us, local.p99_us), (3, 100, 100));
        assert_eq!(remote.deliveries, 3);
        assert!((9000..=9010).contains(&remote.p50_us), "{remote:?}");
        assert!(remote.max_us >= 9000);
    }
}
