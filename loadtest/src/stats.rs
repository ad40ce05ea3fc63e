//! What a run measures: per-thread counters the main thread reads for progress, per-thread
//! latency histograms merged at the end, and the final JSON report line.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::LoadError;

/// Errors printed to stderr per thread; the rest are only counted.
const ERRORS_SHOWN: u64 = 3;

/// Counters one load thread writes and the main thread reads once a second.
#[derive(Default)]
pub struct Counters {
    pub messages: AtomicU64,
    pub errors: AtomicU64,
    /// Messages that arrived after the interval they belong to was closed.
    pub late: AtomicU64,
    /// Failures that do not stop a client (a connection that did not close cleanly).
    pub warnings: AtomicU64,
}

/// Latencies in microseconds, 1 µs to 60 s at three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy hdrhistogram's preconditions (low >= 1, high >= 2 * low).
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

/// The recording end every client task of one thread shares.
#[derive(Clone)]
pub struct Recorder {
    counters: Arc<Counters>,
    latencies: Rc<RefCell<Histogram<u64>>>,
}

impl Recorder {
    pub fn new(counters: Arc<Counters>) -> Self {
        Recorder { counters, latencies: Rc::new(RefCell::new(new_histogram())) }
    }

    /// One message arrived, `latency` after it was sent.
    pub fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latencies.borrow_mut().saturating_record(us);
        // Single writer per counter: relaxed ordering is enough for a progress display.
        self.counters.messages.fetch_add(1, Ordering::Relaxed);
    }

    /// One event without a latency (a ping answered).
    pub fn count(&self) {
        self.counters.messages.fetch_add(1, Ordering::Relaxed);
    }

    /// A failure the client carries on after; only the first few are printed.
    pub fn warning(&self, what: &str, e: &LoadError) {
        let n = self.counters.warnings.fetch_add(1, Ordering::Relaxed);
        if n < ERRORS_SHOWN {
            eprintln!("tpcio-loadtest: {what}: {e}");
        }
    }

    /// One message arrived too late to be counted.
    pub fn late(&self) {
        self.counters.late.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error(&self, what: &str, e: &LoadError) {
        let n = self.counters.errors.fetch_add(1, Ordering::Relaxed);
        if n < ERRORS_SHOWN {
            eprintln!("tpcio-loadtest: {what}: {e}");
        }
    }

    pub fn take_histogram(&self) -> Histogram<u64> {
        self.latencies.replace(new_histogram())
    }
}

/// The final line of the echo scenarios, one JSON object, what `scripts/bench-engine.sh` and
/// `scripts/bench-sio.sh` read.
#[derive(Serialize, Debug)]
pub struct Report {
    pub scenario: &'static str,
    /// The event the Socket.IO echo and ack scenarios emitted (`--event`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    pub transport: &'static str,
    /// Engine.IO protocol revision (3: socket.io-client 2.x, 4: 3.x and later; 0: none, the
    /// raw WebSocket echo).
    pub eio: u8,
    pub clients: usize,
    pub connected: usize,
    pub size: usize,
    pub pipeline: usize,
    /// Socket.IO echo answered by acknowledgements rather than events.
    pub ack: bool,
    pub threads: usize,
    pub messages: u64,
    pub seconds: f64,
    pub rate_per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub errors: u64,
    pub loadgen_cpu_s: f64,
    pub server_cpu_s: Option<f64>,
    /// `server_cpu_s` per message, microseconds.
    pub server_us_per_op: Option<f64>,
    /// CPU use over the window, percent of one core.
    pub server_cpu_pct: Option<f64>,
    pub loadgen_cpu_pct: f64,
}

/// The CPU figures of a window of `seconds` in which `ops` operations were done.
pub fn cpu_figures(server_cpu_s: Option<f64>, loadgen_cpu_s: f64, seconds: f64, ops: u64) -> CpuFigures {
    let pct = |cpu: f64| if seconds > 0.0 { 100.0 * cpu / seconds } else { 0.0 };
    CpuFigures {
        server_us_per_op: server_cpu_s.filter(|_| ops > 0).map(|cpu| cpu * 1e6 / ops as f64),
        server_cpu_pct: server_cpu_s.map(pct),
        loadgen_cpu_pct: pct(loadgen_cpu_s),
    }
}

/// What [`cpu_figures`] derives.
pub struct CpuFigures {
    pub server_us_per_op: Option<f64>,
    pub server_cpu_pct: Option<f64>,
    pub loadgen_cpu_pct: f64,
}

/// The latency percentiles of `h` as (p50, p99, p99.9); zeros for an empty histogram.
pub fn percentiles(h: &Histogram<u64>) -> (u64, u64, u64) {
    if h.is_empty() {
        return (0, 0, 0);
    }
    (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.value_at_quantile(0.999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_microseconds_and_counts() {
        let counters = Arc::new(Counters::default());
        let rec = Recorder::new(counters.clone());
        for us in [100, 200, 300] {
            rec.record(Duration::from_micros(us));
        }
        assert_eq!(counters.messages.load(Ordering::Relaxed), 3);
        let h = rec.take_histogram();
        assert_eq!(h.len(), 3);
        let (p50, _, p999) = percentiles(&h);
        assert!((199..=201).contains(&p50), "{p50}");
        assert!((299..=301).contains(&p999), "{p999}");
        assert_eq!(percentiles(&new_histogram()), (0, 0, 0));
    }

    #[test]
    fn derives_cpu_figures() {
        let f = cpu_figures(Some(0.5), 0.25, 2.0, 1000);
        assert_eq!(
            (f.server_us_per_op, f.server_cpu_pct, f.loadgen_cpu_pct),
            (Some(500.0), Some(25.0), 12.5)
        );
        let none = cpu_figures(None, 0.0, 0.0, 0);
        assert_eq!((none.server_us_per_op, none.server_cpu_pct, none.loadgen_cpu_pct), (None, None, 0.0));
    }
}
