//! The run itself: one current-thread tokio runtime per load thread, clients spread over the
//! threads, every client connected before the measured window opens, and the window bounded
//! on both ends (connect deadline, duration, a grace period for stragglers) so a run always
//! ends by itself. The main thread owns the clock: it opens the window, reads the CPU
//! counters at both edges, and prints progress once a second.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use tokio::sync::watch;

use crate::cpu::cpu_seconds;
use crate::error::LoadError;
use crate::stats::{Counters, Recorder, new_histogram};

/// Connection attempts in flight per thread: enough to connect thousands quickly, few
/// enough not to overflow a listen backlog.
const CONNECTS_IN_FLIGHT: usize = 64;
/// How long after the window closes the main thread waits for threads to hand in results.
const GRACE: Duration = Duration::from_secs(5);

/// The measured interval, the same for every client.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

/// What a scenario's clients do: connect (outside the window), then run until `window.end`.
pub trait Scenario: Clone + Send + 'static {
    type Client: 'static;
    fn connect(&self) -> impl Future<Output = Result<Self::Client, LoadError>>;
    fn run(
        &self,
        client: Self::Client,
        window: Window,
        rec: &Recorder,
    ) -> impl Future<Output = Result<(), LoadError>>;
}

pub struct RunConfig {
    /// Shown in progress lines.
    pub label: String,
    pub clients: usize,
    pub threads: usize,
    pub duration: Duration,
    pub connect_timeout: Duration,
    pub server_pid: Option<u32>,
}

pub struct Outcome {
    pub connected: usize,
    pub messages: u64,
    pub errors: u64,
    pub seconds: f64,
    pub latencies: Histogram<u64>,
    pub loadgen_cpu_s: f64,
    pub server_cpu_s: Option<f64>,
}

pub fn run<S: Scenario>(scenario: S, config: &RunConfig) -> Outcome {
    let threads = config.threads.clamp(1, config.clients.max(1));
    let counters: Vec<Arc<Counters>> = (0..threads).map(|_| Arc::default()).collect();
    let (ready_tx, ready_rx) = mpsc::channel::<usize>();
    let (done_tx, done_rx) = mpsc::channel::<Histogram<u64>>();
    let (start_tx, start_rx) = watch::channel(None::<Window>);
    let mut started = 0;
    for (t, counters) in counters.iter().enumerate() {
        let clients = config.clients / threads + usize::from(t < config.clients % threads);
        let (scenario, counters) = (scenario.clone(), counters.clone());
        let (ready_tx, done_tx, start_rx) = (ready_tx.clone(), done_tx.clone(), start_rx.clone());
        let connect_timeout = config.connect_timeout;
        // Threads are never joined: one stuck in a syscall must not keep the process alive.
        let spawned = thread::Builder::new().name(format!("load-{t}")).spawn(move || {
            let rec = Recorder::new(counters);
            load_thread(scenario, clients, connect_timeout, &rec, ready_tx, start_rx);
            let _ = done_tx.send(rec.take_histogram());
        });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => eprintln!("tpcio-loadtest: cannot start load thread {t}: {e}"),
        }
    }
    drop((ready_tx, done_tx));

    let connect_deadline = Instant::now() + config.connect_timeout + GRACE;
    let mut connected = 0;
    for _ in 0..started {
        match ready_rx.recv_timeout(connect_deadline.saturating_duration_since(Instant::now())) {
            Ok(n) => connected += n,
            Err(_) => break,
        }
    }
    eprintln!("{}: {connected}/{} clients connected", config.label, config.clients);
    if connected == 0 {
        // Nothing to measure; dropping `start_tx` on return tells the threads to stop.
        let errors = counters.iter().map(|c| c.errors.load(Ordering::Relaxed)).sum();
        return Outcome {
            connected,
            messages: 0,
            errors,
            seconds: 0.0,
            latencies: new_histogram(),
            loadgen_cpu_s: 0.0,
            server_cpu_s: None,
        };
    }

    let loadgen_before = cpu_seconds(None).unwrap_or(0.0);
    let server_before = config.server_pid.map(|pid| cpu_seconds(Some(pid)));
    let start = Instant::now();
    let window = Window { start, end: start + config.duration };
    let _ = start_tx.send(Some(window));
    show_progress(&config.label, window, &counters);
    let loadgen_cpu_s = cpu_seconds(None).unwrap_or(0.0) - loadgen_before;
    let server_cpu_s = match (config.server_pid, server_before) {
        (Some(pid), Some(Ok(before))) => match cpu_seconds(Some(pid)) {
            Ok(after) => Some(after - before),
            Err(e) => {
                eprintln!("tpcio-loadtest: server pid {pid}: {e}");
                None
            }
        },
        (Some(pid), Some(Err(e))) => {
            eprintln!("tpcio-loadtest: server pid {pid}: {e}");
            None
        }
        _ => None,
    };

    let mut latencies = new_histogram();
    let collect_deadline = window.end + GRACE;
    for _ in 0..started {
        match done_rx.recv_timeout(collect_deadline.saturating_duration_since(Instant::now())) {
            Ok(h) => {
                if let Err(e) = latencies.add(h) {
                    eprintln!("tpcio-loadtest: cannot merge latencies: {e:?}");
                }
            }
            Err(_) => {
                eprintln!("tpcio-loadtest: a load thread did not finish within {GRACE:?}");
                break;
            }
        }
    }
    let sum = |f: fn(&Counters) -> u64| counters.iter().map(|c| f(c)).sum::<u64>();
    Outcome {
        connected,
        messages: sum(|c| c.messages.load(Ordering::Relaxed)),
        errors: sum(|c| c.errors.load(Ordering::Relaxed)),
        seconds: config.duration.as_secs_f64(),
        latencies,
        loadgen_cpu_s,
        server_cpu_s,
    }
}

fn load_thread<S: Scenario>(
    scenario: S,
    clients: usize,
    connect_timeout: Duration,
    rec: &Recorder,
    ready: mpsc::Sender<usize>,
    mut start: watch::Receiver<Option<Window>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tpcio-loadtest: cannot build a runtime: {e}");
            let _ = ready.send(0);
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let connected: Vec<S::Client> = futures_util::stream::iter(0..clients)
            .map(|_| connect_one(&scenario, connect_timeout))
            .buffer_unordered(CONNECTS_IN_FLIGHT)
            .filter_map(|r| async { r.map_err(|e| rec.error("connect", &e)).ok() })
            .collect()
            .await;
        let _ = ready.send(connected.len());
        let window = match start.wait_for(Option::is_some).await {
            Ok(window) => *window,
            Err(_) => return,
        };
        let Some(window) = window else { return };
        let tasks: Vec<_> = connected
            .into_iter()
            .map(|client| {
                let (scenario, rec) = (scenario.clone(), rec.clone());
                tokio::task::spawn_local(async move {
                    if let Err(e) = scenario.run(client, window, &rec).await {
                        rec.error("client", &e);
                    }
                })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    });
}

async fn connect_one<S: Scenario>(scenario: &S, limit: Duration) -> Result<S::Client, LoadError> {
    tokio::time::timeout(limit, scenario.connect()).await.unwrap_or(Err(LoadError::Timeout(limit)))
}

/// Sleeps through the window, printing totals and the last second's rate to stderr.
fn show_progress(label: &str, window: Window, counters: &[Arc<Counters>]) {
    let total = || counters.iter().map(|c| c.messages.load(Ordering::Relaxed)).sum::<u64>();
    let errors = || counters.iter().map(|c| c.errors.load(Ordering::Relaxed)).sum::<u64>();
    let (mut tick, mut last) = (window.start, 0);
    while tick < window.end {
        let next = (tick + Duration::from_secs(1)).min(window.end);
        thread::sleep(next.saturating_duration_since(Instant::now()));
        let now_total = total();
        let rate = (now_total - last) as f64 / (next - tick).as_secs_f64();
        let at = (next - window.start).as_secs_f64();
        eprintln!("{label}: {at:>5.1}s {now_total:>10} msgs {rate:>10.0}/s errors {}", errors());
        (tick, last) = (next, now_total);
    }
}
