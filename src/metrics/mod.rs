//! Server metrics, scraped in the Prometheus text format (exposition format 0.0.4) at the path
//! [`ServerConfig::metrics`](crate::server::ServerConfig::metrics) names.
//!
//! Each shard counts into its own [`ShardMetrics`], cache-line aligned so that no two shards
//! write the same line. Only the owning shard writes it, so a count is a relaxed load and
//! store (no locked instruction, no allocation); a scrape, on whichever shard reads the
//! request, sums nothing itself — it renders every shard's values with a `shard` label, and
//! a reader sums them (`sum without (shard) (…)`). Values read across shards are each exact
//! at some instant, not a snapshot of one instant.

mod render;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use crate::engine::TransportKind;
use crate::http::EngineError;

pub use render::CONTENT_TYPE;

/// A count only its shard adds to.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// One writer: a plain load and store is enough, and costs no locked instruction.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub(crate) fn inc(&self) {
        self.add(1);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A level only its shard moves.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    #[inline]
    pub(crate) fn inc(&self) {
        self.0.store(self.0.load(Relaxed).wrapping_add(1), Relaxed);
    }

    #[inline]
    pub(crate) fn dec(&self) {
        self.0.store(self.0.load(Relaxed).saturating_sub(1), Relaxed);
    }

    /// Moves by `after - before` (a count observed around a change).
    #[inline]
    pub(crate) fn shift(&self, before: usize, after: usize) {
        let now = self.0.load(Relaxed);
        let now = match after.checked_sub(before) {
            Some(up) => now.wrapping_add(up as u64),
            None => now.saturating_sub((before - after) as u64),
        };
        self.0.store(now, Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Which way bytes or messages went, from the server's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received from clients (or from another shard).
    In = 0,
    /// Sent to clients (or to another shard).
    Out = 1,
}

/// The kinds of shard-to-shard message ([`crate::shard::ShardMsg`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshKind {
    /// A connection moved to the shard that owns its session.
    Handoff = 0,
    /// A session closed at once by another shard.
    Abort = 1,
    /// A message between two shards' handlers (broadcasts, requests).
    Peer = 2,
}

/// Why a connection was closed as soon as it was accepted ([`crate::server::ServerConfig::max_connections`],
/// [`crate::server::ServerConfig::max_connections_per_ip`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over `max_connections`.
    MaxConnections = 0,
    /// Over `max_connections_per_ip`.
    PerIp = 1,
}

fn transport(t: TransportKind) -> usize {
    match t {
        TransportKind::Polling => 0,
        TransportKind::WebSocket => 1,
    }
}

/// One shard's counters. Aligned to two cache lines (adjacent-line prefetch pairs them).
#[repr(align(128))]
#[derive(Debug, Default)]
pub struct ShardMetrics {
    /// Open sessions by current transport.
    sessions: [Gauge; 2],
    /// Sessions opened, by the transport they opened with.
    opened: [Counter; 2],
    upgrades: Counter,
    /// Polling GETs parked, waiting for something to send.
    parked_gets: Gauge,
    /// Engine.IO message packets, by direction.
    messages: [Counter; 2],
    /// WebSocket data frames and polling bodies, by transport then direction.
    frames: [[Counter; 2]; 2],
    bytes: [[Counter; 2]; 2],
    rooms: Gauge,
    broadcasts: Counter,
    deliveries: Counter,
    /// By direction then [`MeshKind`].
    mesh: [[Counter; 3]; 2],
    volatile_drops: Counter,
    slow_consumers: Counter,
    /// Panics of handler code caught on this shard (each dropped its socket or session).
    handler_panics: Counter,
    /// Events a typed handler dropped because their arguments did not deserialize.
    events_rejected: Counter,
    /// Messages for another shard dropped because its outbox was full.
    outbox_drops: Counter,
    /// Connections closed on accept, by [`Refusal`].
    refused: [Counter; 2],
    /// By [`EngineError::code`].
    engine_errors: [Counter; 6],
    /// The cluster adapter's counts (rendered only when it runs).
    pub(crate) cluster: ClusterMetrics,
    /// Connected sockets of each namespace that has had one on this shard. Locked when a
    /// namespace first gets a socket here and by a scrape; each socket only moves its gauge.
    namespaces: Mutex<Vec<(Box<str>, Arc<Gauge>)>>,
}

/// One shard's side of the cluster adapter ([`crate::cluster`]).
#[derive(Debug, Default)]
pub(crate) struct ClusterMetrics {
    /// 1 once the adapter runs on the shard.
    pub(crate) on: Gauge,
    pub(crate) published: Counter,
    /// Messages that could not be published (Redis down): lost, as pub/sub is at most once.
    pub(crate) publish_failures: Counter,
    pub(crate) received: Counter,
    /// Messages that did not decode, dropped.
    pub(crate) malformed: Counter,
    /// Redis connections lost or refused.
    pub(crate) redis_errors: Counter,
    /// Whether the publisher and the subscriber connection are up (0 or 1 each).
    pub(crate) redis_up: [Gauge; 2],
}

impl ShardMetrics {
    pub(crate) fn cluster_started(&self) {
        self.cluster.on.inc();
    }

    pub(crate) fn cluster_published(&self) {
        self.cluster.published.inc();
    }

    pub(crate) fn cluster_publish_failed(&self) {
        self.cluster.publish_failures.inc();
    }

    pub(crate) fn cluster_received(&self) {
        self.cluster.received.inc();
    }

    pub(crate) fn cluster_malformed(&self) {
        self.cluster.malformed.inc();
    }

    pub(crate) fn cluster_redis_error(&self) {
        self.cluster.redis_errors.inc();
    }

    /// The `role` connection (`publisher` or `subscriber`) is up or down.
    pub(crate) fn cluster_redis_up(&self, role: &str, up: bool) {
        let gauge = &self.cluster.redis_up[usize::from(role == "subscriber")];
        match (up, gauge.get()) {
            (true, 0) => gauge.inc(),
            (false, 1) => gauge.dec(),
            _ => {}
        }
    }

    pub(crate) fn session_opened(&self, t: TransportKind) {
        self.sessions[transport(t)].inc();
        self.opened[transport(t)].inc();
    }

    pub(crate) fn session_upgraded(&self) {
        self.sessions[transport(TransportKind::Polling)].dec();
        self.sessions[transport(TransportKind::WebSocket)].inc();
        self.upgrades.inc();
    }

    pub(crate) fn session_closed(&self, t: TransportKind) {
        self.sessions[transport(t)].dec();
    }

    /// A polling GET was parked; dropping the guard counts it gone.
    pub(crate) fn get_parked(self: &Arc<Self>) -> ParkedGet {
        self.parked_gets.inc();
        ParkedGet(self.clone())
    }

    pub(crate) fn message(&self, d: Direction) {
        self.messages[d as usize].inc();
    }

    /// `frames` WebSocket frames or polling bodies of `bytes` bytes in all.
    pub(crate) fn transfer(&self, t: TransportKind, d: Direction, frames: u64, bytes: u64) {
        self.frames[transport(t)][d as usize].add(frames);
        self.bytes[transport(t)][d as usize].add(bytes);
    }

    /// A room index held `before` rooms and now holds `after`.
    pub(crate) fn rooms_changed(&self, before: usize, after: usize) {
        self.rooms.shift(before, after);
    }

    pub(crate) fn broadcast_started(&self) {
        self.broadcasts.inc();
    }

    pub(crate) fn delivered(&self, recipients: u64) {
        self.deliveries.add(recipients);
    }

    pub(crate) fn mesh(&self, d: Direction, kind: MeshKind) {
        self.mesh[d as usize][kind as usize].inc();
    }

    pub(crate) fn volatile_dropped(&self) {
        self.volatile_drops.inc();
    }

    pub(crate) fn slow_consumer(&self) {
        self.slow_consumers.inc();
    }

    pub(crate) fn handler_panicked(&self) {
        self.handler_panics.inc();
    }

    pub(crate) fn event_rejected(&self) {
        self.events_rejected.inc();
    }

    pub(crate) fn outbox_dropped(&self) {
        self.outbox_drops.inc();
    }

    pub(crate) fn refused(&self, why: Refusal) {
        self.refused[why as usize].inc();
    }

    pub(crate) fn engine_error(&self, e: EngineError) {
        self.engine_errors[usize::from(e.code())].inc();
    }

    /// Drops the gauge of a namespace removed from this shard.
    pub(crate) fn forget_namespace(&self, name: &str) {
        let mut namespaces = self.namespaces.lock().unwrap_or_else(PoisonError::into_inner);
        namespaces.retain(|(n, _)| **n != *name);
    }

    /// The socket gauge of namespace `name` on this shard, made the first time it is asked for.
    pub(crate) fn namespace(&self, name: &str) -> Arc<Gauge> {
        let mut namespaces = self.namespaces.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, gauge)) = namespaces.iter().find(|(n, _)| **n == *name) {
            return gauge.clone();
        }
        let gauge = Arc::new(Gauge::default());
        namespaces.push((name.into(), gauge.clone()));
        gauge
    }
}

/// One parked polling GET, counted while it lives.
#[derive(Debug)]
pub(crate) struct ParkedGet(Arc<ShardMetrics>);

impl Drop for ParkedGet {
    fn drop(&mut self) {
        self.0.parked_gets.dec();
    }
}

/// Sums over every shard ([`Metrics::totals`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Totals {
    /// Open sessions: polling, WebSocket.
    pub(crate) sessions: [u64; 2],
    /// Sessions opened so far.
    pub(crate) opened: u64,
    /// Engine.IO messages: in, out.
    pub(crate) messages: [u64; 2],
    /// Bytes of every transport: in, out.
    pub(crate) bytes: [u64; 2],
    /// Connected sockets by namespace.
    pub(crate) namespaces: Vec<(String, u64)>,
}

/// Every shard's metrics, shared by all of them.
#[derive(Debug)]
pub struct Metrics {
    shards: Box<[Arc<ShardMetrics>]>,
}

impl Metrics {
    /// Counters for `shards` shards, all zero.
    pub fn new(shards: usize) -> Arc<Metrics> {
        Arc::new(Metrics { shards: (0..shards).map(|_| Arc::default()).collect() })
    }

    /// The metrics of shard `id` (`< shards`, as every shard id of the server).
    pub(crate) fn shard(&self, id: usize) -> Arc<ShardMetrics> {
        self.shards[id].clone()
    }

    /// Every shard's sessions, messages, bytes and namespace sockets, summed (the Admin UI's
    /// `server_stats`).
    pub(crate) fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for m in self.shards.iter() {
            for d in 0..2 {
                t.sessions[d] += m.sessions[d].get();
                t.opened += m.opened[d].get();
                t.messages[d] += m.messages[d].get();
                t.bytes[d] += m.bytes[0][d].get() + m.bytes[1][d].get();
            }
            let namespaces = m.namespaces.lock().unwrap_or_else(PoisonError::into_inner);
            for (name, gauge) in namespaces.iter() {
                match t.namespaces.iter_mut().find(|(n, _)| **n == **name) {
                    Some((_, count)) => *count += gauge.get(),
                    None => t.namespaces.push((name.to_string(), gauge.get())),
                }
            }
        }
        t
    }

    /// The scrape body: every metric of every shard in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        render::render(&self.shards, &mut out);
        out
    }
}
