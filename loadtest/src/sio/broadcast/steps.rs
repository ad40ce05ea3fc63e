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

use serde::Serialize;

use super::Gate;
use super::sender::{Burst, SLACK, Sender, Sent};
use crate::cpu::CpuMeter;
use crate::run::{Fleet, Window, show_progress};
use crate::stats::{cpu_figures, percentiles};

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
    pub server_pid: Option<u32>,
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
    pub server_cpu_s: Option<f64>,
    pub server_us_per_delivery: Option<f64>,
    /// CPU use over `cpu_window_s`, percent of one core.
    pub server_cpu_pct: Option<f64>,
    pub loadgen_cpu_pct: f64,
    pub sustained: bool,
}

/// Runs steps on a connected fleet with one sender.
pub struct Driver<'a> {
    pub fleet: &'a mut Fleet,
    pub sender: &'a Sender,
    pub gate: &'a Gate,
    pub settings: Settings,
    next_seq: u64,
}

impl<'a> Driver<'a> {
    pub fn new(fleet: &'a mut Fleet, sender: &'a Sender, gate: &'a Gate, settings: Settings) -> Self {
        Driver { fleet, sender, gate, settings, next_seq: 0 }
    }

    /// One step at `rate` messages per second.
    pub fn step(&mut self, rate: f64) -> StepReport {
        let s = &self.settings;
        let connected = self.fleet.connected() as u64;
        let count = (rate * s.duration.as_secs_f64()).round().max(1.0) as u64;
        let first_seq = self.next_seq;
        self.next_seq += count;
        let (delivered_before, late_before, errors_before) =
            (self.fleet.messages(), self.fleet.late(), self.fleet.errors());
        eprintln!("{}: step at {rate:.1} msgs/s for {:?} to {connected} clients", s.label, s.duration);

        self.gate.open_at(first_seq);
        let cpu = CpuMeter::start(s.server_pid);
        let start = Instant::now() + LEAD;
        let end = start + s.duration;
        let burst = Burst { start, rate, count, first_seq };
        let sent = match self.sender.start(burst) {
            Ok(()) => {
                show_progress(&s.label, "deliveries", Window { start, end }, self.fleet);
                self.sender.wait(first_seq, end + SLACK + Duration::from_secs(1))
            }
            Err(e) => Sent { first_seq, error: Some(e), ..Sent::default() },
        };
        let expected_now = sent.sent * connected;
        let drained_by = Instant::now().max(end) + s.drain;
        while self.fleet.messages() - delivered_before < expected_now && Instant::now() < drained_by {
            thread::sleep(POLL);
        }
        let (loadgen_cpu_s, server_cpu_s) = cpu.stop();
        let cpu_window_s = start.elapsed().as_secs_f64() + LEAD.as_secs_f64();
        self.gate.close();
        let latencies = self.fleet.harvest();

        let deliveries = self.fleet.messages() - delivered_before;
        let expected_deliveries = count * connected;
        let errors = self.fleet.errors() - errors_before;
        let (p50_us, p99_us, p999_us) = percentiles(&latencies);
        let seconds = s.duration.as_secs_f64();
        let lag = sent.max_lag;
        let cpu = cpu_figures(server_cpu_s, loadgen_cpu_s, cpu_window_s, deliveries);
        let loss = if expected_deliveries == 0 {
            0.0
        } else {
            1.0 - (deliveries.min(expected_deliveries) as f64 / expected_deliveries as f64)
        };
        let sustained = sent.error.is_none()
            && sent.sent == count
            && deliveries >= expected_deliveries
            && errors == 0
            && connected > 0
            && Duration::from_micros(p99_us) <= s.p99_bound
            && lag <= s.p99_bound;
        let report = StepReport {
            rate,
            seconds,
            target_sent: count,
            sent: sent.sent,
            expected_deliveries,
            deliveries,
            loss,
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
        };
        if !sustained {
            self.settle();
        }
        StepReport { late: self.fleet.late() - late_before, ..report }
    }

    /// Waits until no delivery has arrived for [`QUIET`] (at most [`SETTLE_MAX`]), so a
    /// backlog left by an overloaded step does not land in the next one.
    fn settle(&self) {
        let limit = Instant::now() + SETTLE_MAX;
        let total = || self.fleet.messages() + self.fleet.late();
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
