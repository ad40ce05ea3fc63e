//! The run itself: one current-thread tokio runtime per load thread, clients spread over the
//! threads, every client connected before the measured window opens, and the window bounded
//! on both ends (connect deadline, duration, a grace period for stragglers) so a run always
//! ends by itself. The main thread owns the clock: it opens the window, reads the CPU
//! counters at its edges, and prints progress once a second.
//!
//! A [`Fleet`] is the connected clients; [`run`] is the one-window run of the echo
//! scenarios. Scenarios with several measured intervals over the same connections
//! (broadcast steps) open one long window and [`Fleet::harvest`] the latencies of each.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use tokio::sync::watch;

use crate::cpu::CpuMeter;
use crate::error::LoadError;
use crate::stats::{Counters, Recorder, new_histogram};

/// Connection attempts in flight per thread: enough to connect thousands quickly, few
/// enough not to overflow a listen backlog.
const CONNECTS_IN_FLIGHT: usize = 64;
/// How long after the window closes the main thread waits for threads to hand in results.
pub const GRACE: Duration = Duration::from_secs(5);
/// How often a window bounded by a count looks at it.
const COUNT_POLL: Duration = Duration::from_millis(5);
/// How long a harvest waits for the load threads to answer.
const HARVEST_WAIT: Duration = Duration::from_secs(2);

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
    /// Ends the window early once this many operations (successes and failures) are done;
    /// the scenario's clients stop by themselves at that count.
    pub count: Option<u64>,
    pub connect_timeout: Duration,
    pub server_pid: Option<u32>,
}

pub struct Outcome {
    pub connected: usize,
    pub messages: u64,
    pub errors: u64,
    pub warnings: u64,
    pub seconds: f64,
    pub latencies: Histogram<u64>,
    pub loadgen_cpu_s: f64,
    pub server_cpu_s: Option<f64>,
}

/// Connects every client and measures one window of `config.duration`.
pub fn run<S: Scenario>(scenario: S, config: &RunConfig) -> Outcome {
    let mut fleet =
        Fleet::launch(scenario, &config.label, config.clients, config.threads, config.connect_timeout);
    if fleet.connected() == 0 {
        // Nothing to measure; dropping the fleet tells the threads to stop.
        return Outcome {
            connected: 0,
            messages: 0,
            errors: fleet.errors(),
            warnings: fleet.warnings(),
            seconds: 0.0,
            latencies: new_histogram(),
            loadgen_cpu_s: 0.0,
            server_cpu_s: None,
        };
    }
    let cpu = CpuMeter::start(config.server_pid);
    let window = fleet.open(config.duration);
    let stopped = show_progress_until(&config.label, "msgs", window, &fleet, config.count);
    let (loadgen_cpu_s, server_cpu_s) = cpu.stop();
    let latencies = fleet.finish(window.end + GRACE);
    // Read after `finish`, so the clients' last messages and failures are in.
    Outcome {
        connected: fleet.connected(),
        messages: fleet.messages(),
        errors: fleet.errors(),
        warnings: fleet.warnings(),
        seconds: (stopped - window.start).as_secs_f64(),
        latencies,
        loadgen_cpu_s,
        server_cpu_s,
    }
}

/// What a load thread hands back to the main thread.
enum ThreadReport {
    /// Its latencies since the last harvest, for harvest number `.0`.
    Harvest(u64, Histogram<u64>),
    /// Its clients have all stopped; the latencies since the last harvest.
    Done(Histogram<u64>),
}

/// The connected clients, on their load threads.
pub struct Fleet {
    counters: Vec<Arc<Counters>>,
    connected: usize,
    /// Threads that have not reported `Done` yet.
    live: usize,
    start_tx: watch::Sender<Option<Window>>,
    harvest_tx: watch::Sender<u64>,
    reports: mpsc::Receiver<ThreadReport>,
}

impl Fleet {
    /// Starts `threads` load threads that connect `clients` in total, and waits (at most
    /// `connect_timeout` and a grace period) until each has connected what it could.
    pub fn launch<S: Scenario>(
        scenario: S,
        label: &str,
        clients: usize,
        threads: usize,
        connect_timeout: Duration,
    ) -> Fleet {
        let threads = threads.clamp(1, clients.max(1));
        let counters: Vec<Arc<Counters>> = (0..threads).map(|_| Arc::default()).collect();
        let (ready_tx, ready_rx) = mpsc::channel::<usize>();
        let (report_tx, reports) = mpsc::channel::<ThreadReport>();
        let (start_tx, start_rx) = watch::channel(None::<Window>);
        let (harvest_tx, harvest_rx) = watch::channel(0u64);
        let mut started = 0;
        for (t, counters) in counters.iter().enumerate() {
            let share = clients / threads + usize::from(t < clients % threads);
            let (scenario, counters) = (scenario.clone(), counters.clone());
            let (ready_tx, report_tx) = (ready_tx.clone(), report_tx.clone());
            let (start_rx, harvest_rx) = (start_rx.clone(), harvest_rx.clone());
            // Threads are never joined: one stuck in a syscall must not keep the process alive.
            let spawned = thread::Builder::new().name(format!("load-{t}")).spawn(move || {
                let rec = Recorder::new(counters);
                let channels = ThreadChannels {
                    ready: ready_tx,
                    reports: report_tx,
                    start: start_rx,
                    harvest: harvest_rx,
                };
                load_thread(scenario, share, connect_timeout, &rec, channels);
            });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => eprintln!("tpcio-loadtest: cannot start load thread {t}: {e}"),
            }
        }
        drop((ready_tx, report_tx));

        let deadline = Instant::now() + connect_timeout + GRACE;
        let mut connected = 0;
        for _ in 0..started {
            match ready_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(n) => connected += n,
                Err(_) => break,
            }
        }
        eprintln!("{label}: {connected}/{clients} clients connected");
        Fleet { counters, connected, live: started, start_tx, harvest_tx, reports }
    }

    pub fn connected(&self) -> usize {
        self.connected
    }

    /// Lets every client run from now for `duration`.
    pub fn open(&self, duration: Duration) -> Window {
        let start = Instant::now();
        let window = Window { start, end: start + duration };
        let _ = self.start_tx.send(Some(window));
        window
    }

    fn sum(&self, field: fn(&Counters) -> &std::sync::atomic::AtomicU64) -> u64 {
        self.counters.iter().map(|c| field(c).load(Ordering::Relaxed)).sum()
    }

    /// Messages recorded so far, every thread together.
    pub fn messages(&self) -> u64 {
        self.sum(|c| &c.messages)
    }

    pub fn errors(&self) -> u64 {
        self.sum(|c| &c.errors)
    }

    pub fn late(&self) -> u64 {
        self.sum(|c| &c.late)
    }

    pub fn warnings(&self) -> u64 {
        self.sum(|c| &c.warnings)
    }

    /// Takes every thread's latencies recorded since the previous harvest, merged.
    pub fn harvest(&mut self) -> Histogram<u64> {
        let generation = *self.harvest_tx.borrow() + 1;
        let _ = self.harvest_tx.send(generation);
        let mut merged = new_histogram();
        let deadline = Instant::now() + HARVEST_WAIT;
        let mut answered = 0;
        while answered < self.live {
            match self.reports.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(ThreadReport::Harvest(g, h)) if g == generation => {
                    answered += 1;
                    merge(&mut merged, h);
                }
                Ok(ThreadReport::Harvest(..)) => {}
                Ok(ThreadReport::Done(h)) => {
                    self.live -= 1;
                    merge(&mut merged, h);
                }
                Err(_) => {
                    eprintln!("tpcio-loadtest: a load thread did not answer within {HARVEST_WAIT:?}");
                    break;
                }
            }
        }
        merged
    }

    /// Waits (until `deadline`) for every client to stop; the latencies since the last harvest.
    pub fn finish(&mut self, deadline: Instant) -> Histogram<u64> {
        let mut merged = new_histogram();
        while self.live > 0 {
            match self.reports.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(ThreadReport::Done(h)) => {
                    self.live -= 1;
                    merge(&mut merged, h);
                }
                Ok(ThreadReport::Harvest(..)) => {}
                Err(_) => {
                    eprintln!("tpcio-loadtest: a load thread did not finish in time");
                    break;
                }
            }
        }
        merged
    }
}

fn merge(into: &mut Histogram<u64>, from: Histogram<u64>) {
    if let Err(e) = into.add(from) {
        eprintln!("tpcio-loadtest: cannot merge latencies: {e:?}");
    }
}

struct ThreadChannels {
    ready: mpsc::Sender<usize>,
    reports: mpsc::Sender<ThreadReport>,
    start: watch::Receiver<Option<Window>>,
    harvest: watch::Receiver<u64>,
}

fn load_thread<S: Scenario>(
    scenario: S,
    clients: usize,
    connect_timeout: Duration,
    rec: &Recorder,
    mut channels: ThreadChannels,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tpcio-loadtest: cannot build a runtime: {e}");
            let _ = channels.ready.send(0);
            let _ = channels.reports.send(ThreadReport::Done(new_histogram()));
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
        let _ = channels.ready.send(connected.len());
        let window = match channels.start.wait_for(Option::is_some).await {
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
        let (mut harvest, reports, harvest_rec) = (channels.harvest, channels.reports.clone(), rec.clone());
        tokio::task::spawn_local(async move {
            while harvest.changed().await.is_ok() {
                let generation = *harvest.borrow_and_update();
                if reports.send(ThreadReport::Harvest(generation, harvest_rec.take_histogram())).is_err() {
                    return;
                }
            }
        });
        for task in tasks {
            let _ = task.await;
        }
    });
    let _ = channels.reports.send(ThreadReport::Done(rec.take_histogram()));
}

async fn connect_one<S: Scenario>(scenario: &S, limit: Duration) -> Result<S::Client, LoadError> {
    tokio::time::timeout(limit, scenario.connect()).await.unwrap_or(Err(LoadError::Timeout(limit)))
}

/// Sleeps through the window, printing totals and the last second's rate to stderr.
pub fn show_progress(label: &str, unit: &str, window: Window, fleet: &Fleet) {
    show_progress_until(label, unit, window, fleet, None);
}

/// [`show_progress`] over several fleets (one per server of a cluster), their totals summed.
pub fn show_progress_fleets(label: &str, unit: &str, window: Window, fleets: &[Fleet]) {
    let totals = || (fleets.iter().map(Fleet::messages).sum(), fleets.iter().map(Fleet::errors).sum());
    progress(label, unit, window, &totals, None);
}

/// [`show_progress`], ending early once `count` operations (messages and errors together)
/// are done; returns when it stopped.
pub fn show_progress_until(
    label: &str,
    unit: &str,
    window: Window,
    fleet: &Fleet,
    count: Option<u64>,
) -> Instant {
    progress(label, unit, window, &|| (fleet.messages(), fleet.errors()), count)
}

/// The progress loop over whatever `totals` reads: (messages, errors).
fn progress(
    label: &str,
    unit: &str,
    window: Window,
    totals: &dyn Fn() -> (u64, u64),
    count: Option<u64>,
) -> Instant {
    let done = || {
        count.is_some_and(|count| {
            let (messages, errors) = totals();
            messages + errors >= count
        })
    };
    let (mut tick, mut last) = (window.start, totals().0);
    while tick < window.end {
        let mut next = (tick + Duration::from_secs(1)).min(window.end);
        let finished = loop {
            let now = Instant::now();
            if now >= next {
                break false;
            }
            if count.is_none() {
                thread::sleep(next - now);
            } else if done() {
                next = now;
                break true;
            } else {
                thread::sleep((next - now).min(COUNT_POLL));
            }
        };
        let (now_total, errors) = totals();
        let rate = now_total.saturating_sub(last) as f64 / (next - tick).as_secs_f64().max(1e-3);
        let at = (next - window.start).as_secs_f64();
        eprintln!("{label}: {at:>5.1}s {now_total:>10} {unit} {rate:>10.0}/s errors {errors}");
        if finished {
            return next;
        }
        (tick, last) = (next, now_total);
    }
    window.end
}
