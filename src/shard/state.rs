//! One shard's state: its sessions, its timer wheel, its handler, its mesh.
//!
//! Everything here is touched by one thread only (`Rc`, `RefCell`). A session's
//! borrow is never held across a handler callback: every input is applied to
//! the session first, its events collected, the borrow released, and only then
//! are the events delivered — so a handler may send to any session, its own included.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

use bytes::Bytes;

use crate::engine::{
    DisconnectReason, EngineConfig, EngineEvent, SendError, Session, SessionTable, ShrinkSparse,
    TransportKind, WsId,
};
use crate::metrics::{Direction, ShardMetrics};
use crate::protocol::handshake::Handshake as OpenPacket;
use crate::protocol::sid::Sid;
use crate::protocol::{EioVersion, Packet, PacketType};
use crate::server::Route;
use crate::server::config::ServerConfig;
use crate::server::handler::{EngineHandler, EngineSocket, Handshake, ShardContext};
use crate::server::limits::Admission;
use crate::shard::ShardId;

pub(crate) struct Shard {
    pub(crate) id: ShardId,
    pub(crate) shards: usize,
    pub(crate) config: Rc<ServerConfig>,
    pub(crate) engine: Rc<EngineConfig>,
    /// Engine.IO paths served here and the handler of each.
    pub(crate) endpoints: Vec<(Box<str>, Rc<dyn EngineHandler>)>,
    /// Plain HTTP paths answered outside any endpoint ([`crate::server::Server::route`]).
    pub(crate) routes: Vec<(Box<str>, Route)>,
    table: RefCell<SessionTable>,
    /// What each open session was opened with: its endpoint and handshake.
    meta: RefCell<foldhash::HashMap<Sid, Meta>>,
    /// The timer task's waker, and the tick it sleeps until.
    timer_waker: Cell<Option<Waker>>,
    timer_armed: Cell<Option<Instant>>,
    /// The most sessions open since the last reclaim, and when the next one is due
    /// ([`Shard::session_gone`]).
    peak: Cell<usize>,
    reclaim_at: Cell<Option<Instant>>,
    /// Set once shutdown begins: no new sessions.
    pub(crate) closing: Cell<bool>,
    /// Connections served by this shard right now.
    open_conns: Cell<usize>,
    /// Set once every session is closed: idle connections close too.
    draining: Cell<bool>,
    /// Connections waiting for their next request, woken when draining starts.
    idle: RefCell<slab::Slab<Option<Waker>>>,
    /// This shard's counters; only this shard writes them.
    pub(crate) metrics: Arc<ShardMetrics>,
    /// Every shard's, to read (the Admin UI's stats).
    pub(crate) all_metrics: Arc<crate::metrics::Metrics>,
    /// Which connections this shard accepts ([`crate::server::limits`]).
    pub(crate) admission: Rc<Admission>,
}

/// Where a shard's session table keeps a session (its slab key), remembered by the handles
/// to it; [`NO_KEY`] when not known.
pub(crate) type SlotKey = u32;
pub(crate) const NO_KEY: SlotKey = SlotKey::MAX;

/// Sessions that must have closed since the peak before memory is reclaimed.
const RECLAIM_MIN: usize = 256;

/// How long after that the reclaim runs: a burst of closes is over by then, mostly.
const RECLAIM_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// Counts a connection as open while it lives.
pub(crate) struct ConnGuard(Rc<Shard>);

impl ConnGuard {
    pub(crate) fn shard(&self) -> &Rc<Shard> {
        &self.0
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.open_conns.set(self.0.open_conns.get() - 1);
    }
}

/// Resolves once the shard drains (see [`Shard::drained`]); deregisters itself when dropped.
pub(crate) struct Drained<'a> {
    shard: &'a Shard,
    key: Option<usize>,
}

impl std::future::Future for Drained<'_> {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.shard.draining.get() {
            return std::task::Poll::Ready(());
        }
        let mut idle = self.shard.idle.borrow_mut();
        match self.key {
            Some(key) => idle[key] = Some(cx.waker().clone()),
            None => {
                let key = idle.insert(Some(cx.waker().clone()));
                drop(idle);
                self.key = Some(key);
            }
        }
        std::task::Poll::Pending
    }
}

impl Drop for Drained<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.shard.idle.borrow_mut().try_remove(key);
        }
    }
}

/// Kept per session for its whole life: small on purpose.
struct Meta {
    /// An index into [`Shard::endpoints`] (a handful).
    endpoint: u32,
    handshake: Box<KeptHandshake>,
    /// The transport in use, as the metrics count it.
    transport: TransportKind,
}

/// A session's handshake as kept for its life: the head's bytes and the client's address,
/// read back into a [`Handshake`] when asked ([`Shard::handshake`]: the Socket.IO connect,
/// `socket.handshake`). Most sessions are asked once or twice; the parsed request (150 bytes
/// more, per session) is not worth keeping between.
struct KeptHandshake {
    head: Box<[u8]>,
    remote: Option<SocketAddr>,
    /// The JSONP callback index when the handshake had `j` (Node decides it once, there).
    jsonp: Option<Rc<str>>,
}

impl KeptHandshake {
    fn new(handshake: Handshake, jsonp: Option<Rc<str>>) -> Box<Self> {
        let Handshake { request, remote } = handshake;
        Box::new(KeptHandshake { head: Box::from(&request.head()[..]), remote, jsonp })
    }

    fn read(&self) -> Option<Handshake> {
        let request = crate::http::parse_kept_head(Bytes::copy_from_slice(&self.head))?;
        Some(Handshake { request, remote: self.remote })
    }
}

/// How a new session starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opening {
    Polling,
    WebSocket,
}

impl Shard {
    pub(crate) fn new(
        id: ShardId,
        shards: usize,
        config: Rc<ServerConfig>,
        endpoints: Vec<(Box<str>, Rc<dyn EngineHandler>)>,
        routes: Vec<(Box<str>, Route)>,
        all_metrics: Arc<crate::metrics::Metrics>,
    ) -> Rc<Shard> {
        let metrics = all_metrics.shard(id);
        let engine = Rc::new(config.engine.clone());
        let admission = Admission::new(&config, shards);
        Rc::new(Shard {
            id,
            shards,
            config,
            engine,
            endpoints,
            routes,
            table: RefCell::new(SessionTable::new(Instant::now())),
            meta: RefCell::new(foldhash::HashMap::default()),
            timer_waker: Cell::new(None),
            timer_armed: Cell::new(None),
            peak: Cell::new(0),
            reclaim_at: Cell::new(None),
            closing: Cell::new(false),
            open_conns: Cell::new(0),
            draining: Cell::new(false),
            idle: RefCell::new(slab::Slab::new()),
            metrics,
            all_metrics,
            admission,
        })
    }

    /// Counts a new connection until the guard drops.
    pub(crate) fn conn_opened(self: &Rc<Self>) -> ConnGuard {
        self.open_conns.set(self.open_conns.get() + 1);
        ConnGuard(self.clone())
    }

    pub(crate) fn open_conns(&self) -> usize {
        self.open_conns.get()
    }

    /// Resolves when shutdown reaches idle connections; an idle connection races its read against it.
    pub(crate) fn drained(&self) -> Drained<'_> {
        Drained { shard: self, key: None }
    }

    /// Shutdown's last step: wake every idle connection so it closes.
    pub(crate) fn drain(&self) {
        self.draining.set(true);
        let wakers: Vec<Waker> = self.idle.borrow_mut().drain().flatten().collect();
        for waker in wakers {
            waker.wake();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.borrow().len()
    }

    /// The shard that owns `sid`.
    pub(crate) fn owner(&self, sid: &Sid) -> ShardId {
        sid.shard(self.shards)
    }

    pub(crate) fn contains(&self, sid: &Sid) -> bool {
        self.table.borrow().contains(sid)
    }

    /// Opens a session; for a WebSocket also returns the id of its socket. Its handler hears of
    /// it with [`Shard::announce`].
    pub(crate) fn open(
        self: &Rc<Self>,
        endpoint: usize,
        opening: Opening,
        version: EioVersion,
        supports_binary: bool,
        handshake: Handshake,
        now: Instant,
    ) -> (Sid, Option<WsId>) {
        let jsonp =
            crate::http::EngineQuery::parse(handshake.request.query()).jsonp_index().map(|j| Rc::from(&*j));
        let open_packet = |sid| OpenPacket {
            sid,
            upgrade_to_websocket: opening == Opening::Polling && self.engine.allow_upgrades,
            ping_interval_ms: self.engine.ping_interval.as_millis() as u64,
            ping_timeout_ms: self.engine.ping_timeout.as_millis() as u64,
            max_payload: self.engine.max_payload as u64,
        };
        loop {
            let sid = Sid::generate(self.id, self.shards);
            let open = open_packet(sid).to_json();
            let (session, ws) = match opening {
                Opening::Polling => {
                    (Session::polling(self.engine.clone(), version, supports_binary, open, now), None)
                }
                Opening::WebSocket => {
                    let (s, ws) =
                        Session::websocket(self.engine.clone(), version, supports_binary, open, now);
                    (s, Some(ws))
                }
            };
            let deadline = session.next_deadline();
            // 117 random bits: a collision is a broken random source, but costs only a retry.
            if self.table.borrow_mut().insert(sid, session).is_err() {
                continue;
            }
            let transport = match opening {
                Opening::Polling => TransportKind::Polling,
                Opening::WebSocket => TransportKind::WebSocket,
            };
            let eio = match version {
                EioVersion::V3 => 3,
                EioVersion::V4 => 4,
            };
            tracing::debug!(shard = self.id, %sid, ?transport, eio, remote = ?handshake.remote, "handshake");
            let open = {
                let mut meta = self.meta.borrow_mut();
                let handshake = KeptHandshake::new(handshake, jsonp);
                meta.insert(sid, Meta { endpoint: endpoint as u32, handshake, transport });
                meta.len()
            };
            self.peak.set(self.peak.get().max(open));
            self.metrics.session_opened(transport);
            self.wake_timer_for(deadline);
            return (sid, ws);
        }
    }

    /// Tells the session's handler it opened. Called once the open packet is on its way (for
    /// polling: taken by the handshake GET), so whatever the handler sends at once goes out
    /// after it, with the next poll, as in Node.
    pub(crate) fn announce(self: &Rc<Self>, sid: Sid) {
        let Some(endpoint) = self.meta.borrow().get(&sid).map(|m| m.endpoint as usize) else { return };
        self.endpoints[endpoint].1.on_open(&self.socket(sid));
    }

    pub(crate) fn handshake(&self, sid: Sid) -> Option<Rc<Handshake>> {
        let handshake = self.meta.borrow().get(&sid)?.handshake.read();
        debug_assert!(handshake.is_some(), "a kept head parses again");
        handshake.map(Rc::new)
    }

    /// The JSONP callback index of a session that polls by JSONP (its handshake had `j`).
    pub(crate) fn jsonp(&self, sid: Sid) -> Option<Rc<str>> {
        self.meta.borrow().get(&sid).and_then(|m| m.handshake.jsonp.clone())
    }

    /// A handle to the session `sid`, which remembers where the table keeps it.
    pub(crate) fn socket(self: &Rc<Self>, sid: Sid) -> EngineSocket {
        let key = self.key_of(sid);
        self.socket_at(sid, key)
    }

    fn socket_at(self: &Rc<Self>, sid: Sid, key: SlotKey) -> EngineSocket {
        EngineSocket { shard: self.clone(), sid, key }
    }

    /// Where the table keeps `sid` now ([`NO_KEY`] if nowhere), for [`Shard::drive_at`].
    pub(crate) fn key_of(&self, sid: Sid) -> SlotKey {
        let table = self.table.try_borrow().ok();
        table.and_then(|t| t.key_of(&sid)).and_then(|k| SlotKey::try_from(k).ok()).unwrap_or(NO_KEY)
    }

    /// Reads the session without changing it.
    pub(crate) fn with_session<R>(&self, sid: Sid, f: impl FnOnce(&Session) -> R) -> Option<R> {
        let mut table = self.table.borrow_mut();
        table.get_mut(&sid).map(|s| f(&s))
    }

    /// Applies an input to the session, then delivers what it caused. `None` if the session is gone.
    pub(crate) fn drive<R>(self: &Rc<Self>, sid: Sid, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        self.drive_at(sid, NO_KEY, f)
    }

    /// [`Shard::drive`] from where the table kept `sid` when `key` was taken: a broadcast
    /// reaches each session without hashing its sid (the slot is checked to still hold it).
    pub(crate) fn drive_at<R>(
        self: &Rc<Self>,
        sid: Sid,
        key: SlotKey,
        f: impl FnOnce(&mut Session) -> R,
    ) -> Option<R> {
        let (r, events, deadline, key) = {
            let mut table = self.table.borrow_mut();
            let mut session = table.get_mut_at(&sid, key as usize)?;
            let r = f(&mut session);
            let key = SlotKey::try_from(session.key()).unwrap_or(NO_KEY);
            (r, session.take_events(), session.next_deadline(), key)
            // Dropping the guard re-arms the session's timer, or forgets a finished session.
        };
        self.wake_timer_for(deadline);
        self.deliver(sid, key, events);
        Some(r)
    }

    pub(crate) fn send(self: &Rc<Self>, sid: Sid, key: SlotKey, packet: Packet) -> Result<(), SendError> {
        let message = packet.kind == PacketType::Message;
        let mut packet = Some(packet);
        let sent = self.drive_at(sid, key, |s| s.send(packet.take().expect("the closure runs once")));
        let result = match (sent, packet) {
            (Some(result), _) => result,
            (None, Some(packet)) => Err(SendError::Closed(packet)),
            (None, None) => unreachable!("the packet is taken only when the session exists"),
        };
        if message && result.is_ok() {
            self.metrics.message(Direction::Out);
        }
        result
    }

    /// Closes gracefully: queued packets go out first, then a close packet.
    pub(crate) fn close(self: &Rc<Self>, sid: Sid, reason: DisconnectReason) {
        self.drive(sid, |s| s.close(reason, Instant::now()));
    }

    /// Closes at once, as Node's `onError`/`onClose` do for transport failures.
    pub(crate) fn abort(self: &Rc<Self>, sid: Sid, reason: DisconnectReason) {
        self.drive(sid, |s| s.close_now(reason, Instant::now()));
    }

    /// The timer task sleeps until `timer_armed`: wake it if a deadline now comes earlier.
    fn wake_timer_for(&self, deadline: Option<Instant>) {
        let Some(at) = deadline else { return };
        if self.timer_armed.get().is_none_or(|armed| at < armed) {
            self.timer_armed.set(Some(at));
            if let Some(w) = self.timer_waker.take() {
                w.wake();
            }
        }
    }

    fn deliver(self: &Rc<Self>, sid: Sid, key: SlotKey, events: impl IntoIterator<Item = EngineEvent>) {
        let mut events = events.into_iter().peekable();
        if events.peek().is_none() {
            return;
        }
        let Some(endpoint) = self.meta.borrow().get(&sid).map(|m| m.endpoint as usize) else { return };
        let handler = &self.endpoints[endpoint].1;
        let socket = self.socket_at(sid, key);
        for ev in events {
            match ev {
                EngineEvent::Message(data) => {
                    self.metrics.message(Direction::In);
                    handler.on_message(&socket, data);
                }
                EngineEvent::Upgraded => {
                    let was = self
                        .meta
                        .borrow_mut()
                        .get_mut(&sid)
                        .map(|m| std::mem::replace(&mut m.transport, TransportKind::WebSocket));
                    if was == Some(TransportKind::Polling) {
                        self.metrics.session_upgraded();
                    }
                    tracing::debug!(shard = self.id, %sid, "upgraded to websocket");
                    handler.on_upgrade(&socket);
                }
                EngineEvent::Closed(reason) => {
                    let gone = {
                        let mut meta = self.meta.borrow_mut();
                        let gone = meta.remove(&sid);
                        meta.shrink_sparse();
                        gone
                    };
                    if let Some(meta) = &gone {
                        self.metrics.session_closed(meta.transport);
                        self.session_gone();
                    }
                    let transport = gone.map(|meta| meta.transport);
                    tracing::debug!(shard = self.id, %sid, ?transport, reason = reason.as_str(), "closed");
                    handler.on_close(&socket, reason);
                }
            }
        }
    }

    /// Fires every deadline that has passed, and the reclaim if due; returns the next tick to
    /// wake at.
    pub(crate) fn fire_timers(self: &Rc<Self>, now: Instant) -> Option<Instant> {
        let mut fired = Vec::new();
        self.table.borrow_mut().expire(now, &mut fired);
        self.deliver_all(fired);
        let mut next = self.table.borrow().next_deadline();
        match self.reclaim_at.get() {
            Some(at) if at <= now => self.reclaim(),
            Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
            None => {}
        }
        self.timer_armed.set(next);
        next
    }

    /// After a session closed: once a quarter of the sessions open at the peak are gone (at
    /// least [`RECLAIM_MIN`]), the timer task reclaims memory [`RECLAIM_DELAY`] later.
    fn session_gone(&self) {
        let (left, peak) = (self.meta.borrow().len(), self.peak.get());
        if self.reclaim_at.get().is_none() && peak - left.min(peak) >= RECLAIM_MIN.max(peak / 4) {
            let at = Instant::now() + RECLAIM_DELAY;
            self.reclaim_at.set(Some(at));
            self.wake_timer_for(Some(at));
        }
    }

    /// Asks the allocator to give the memory the closed sessions freed back to the system.
    /// mimalloc keeps a thread's freed pages and returns them only on the thread's later
    /// allocations: a shard left idle after a burst of closes would hold them for good. The
    /// tables already shrank as sessions left ([`ShrinkSparse`]).
    fn reclaim(&self) {
        self.reclaim_at.set(None);
        self.peak.set(self.meta.borrow().len());
        // SAFETY: `mi_collect` takes no pointers; it walks this thread's mimalloc heap (the
        // server binary's global allocator; an embedder's other allocator leaves it empty).
        unsafe { libmimalloc_sys::mi_collect(true) };
    }

    fn deliver_all(self: &Rc<Self>, events: Vec<(Sid, EngineEvent)>) {
        for (sid, ev) in events {
            self.deliver(sid, NO_KEY, [ev]);
        }
    }

    pub(crate) fn park_timer(&self, waker: &Waker) {
        self.timer_waker.set(Some(waker.clone()));
    }

    /// Closes every session with `reason` (shutdown). Unlike Node's `close(true)`, which
    /// discards a polling session caught between two GETs (its client then sees a transport
    /// error), each session closes gracefully: the close packet waits for the next GET, within
    /// the shutdown timeout. A WebSocket gets a close frame.
    pub(crate) fn close_all(self: &Rc<Self>, reason: DisconnectReason) {
        let sids: Vec<Sid> = self.table.borrow().sids().collect();
        let now = Instant::now();
        for sid in sids {
            self.drive(sid, |s| s.close(reason, now));
        }
    }
}

// The counters of the shard a handle lives on, for the layers above the runtime.
impl EngineSocket {
    pub(crate) fn metrics(&self) -> &Arc<ShardMetrics> {
        &self.shard.metrics
    }
}

impl ShardContext {
    pub(crate) fn metrics(&self) -> &Arc<ShardMetrics> {
        &self.shard.metrics
    }

    /// Every shard's counters.
    pub(crate) fn all_metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.shard.all_metrics
    }
}
