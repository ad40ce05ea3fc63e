//! One shard's state: its sessions, its timer wheel, its handler, its mesh.
//!
//! Everything here is touched by one thread only (`Rc`, `RefCell`). A session's
//! borrow is never held across a handler callback: every input is applied to
//! the session first, its events collected, the borrow released, and only then
//! are the events delivered — so a handler may send to any session, its own included.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::task::Waker;
use std::time::Instant;

use slab::Slab;

use super::config::ServerConfig;
use super::handler::{EngineHandler, EngineSocket};
use crate::engine::{DisconnectReason, EngineConfig, EngineEvent, SendError, Session, TimerId, TimerWheel};
use crate::protocol::EioVersion;
use crate::protocol::Packet;
use crate::protocol::handshake::Handshake;
use crate::protocol::sid::Sid;
use crate::shard::ShardId;

pub(crate) struct Shard {
    pub(crate) id: ShardId,
    pub(crate) shards: usize,
    pub(crate) config: Rc<ServerConfig>,
    pub(crate) engine: Rc<EngineConfig>,
    /// Engine.IO paths served here and the handler of each.
    pub(crate) endpoints: Vec<(Box<str>, Rc<dyn EngineHandler>)>,
    table: RefCell<Table>,
    /// The timer task's waker, and the tick it sleeps until.
    timer_waker: Cell<Option<Waker>>,
    timer_armed: Cell<Option<Instant>>,
    /// Set once shutdown begins: no new sessions.
    pub(crate) closing: Cell<bool>,
}

struct Entry {
    sid: Sid,
    endpoint: usize,
    session: Session,
    timer: Option<TimerId>,
}

struct Table {
    slab: Slab<Entry>,
    by_sid: HashMap<Sid, usize>,
    wheel: TimerWheel<usize>,
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
    ) -> Rc<Shard> {
        let engine = Rc::new(config.engine.clone());
        Rc::new(Shard {
            id,
            shards,
            config,
            engine,
            endpoints,
            table: RefCell::new(Table {
                slab: Slab::new(),
                by_sid: HashMap::new(),
                wheel: TimerWheel::new(Instant::now()),
            }),
            timer_waker: Cell::new(None),
            timer_armed: Cell::new(None),
            closing: Cell::new(false),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.table.borrow().slab.len()
    }

    /// The shard that owns `sid`.
    pub(crate) fn owner(&self, sid: &Sid) -> ShardId {
        sid.shard(self.shards)
    }

    pub(crate) fn lookup(&self, sid: &Sid) -> Option<usize> {
        self.table.borrow().by_sid.get(sid).copied()
    }

    /// Opens a session; for a WebSocket also returns the id of its socket.
    pub(crate) fn open(
        self: &Rc<Self>,
        endpoint: usize,
        opening: Opening,
        version: EioVersion,
        supports_binary: bool,
        now: Instant,
    ) -> (usize, Sid, Option<crate::engine::WsId>) {
        let sid = Sid::generate(self.id, self.shards);
        let handshake = Handshake {
            sid,
            upgrade_to_websocket: opening == Opening::Polling && self.engine.allow_upgrades,
            ping_interval_ms: self.engine.ping_interval.as_millis() as u64,
            ping_timeout_ms: self.engine.ping_timeout.as_millis() as u64,
            max_payload: self.engine.max_payload as u64,
        };
        let open = handshake.to_json();
        let (session, ws) = match opening {
            Opening::Polling => {
                (Session::polling(self.engine.clone(), version, supports_binary, open, now), None)
            }
            Opening::WebSocket => {
                let (s, ws) = Session::websocket(self.engine.clone(), version, supports_binary, open, now);
                (s, Some(ws))
            }
        };
        let key = {
            let mut table = self.table.borrow_mut();
            let key = table.slab.insert(Entry { sid, endpoint, session, timer: None });
            table.by_sid.insert(sid, key);
            key
        };
        self.endpoints[endpoint].1.on_open(&self.socket(key, sid));
        self.settle(key, sid);
        (key, sid, ws)
    }

    pub(crate) fn socket(self: &Rc<Self>, key: usize, sid: Sid) -> EngineSocket {
        EngineSocket { shard: self.clone(), key, sid }
    }

    /// Reads the session without changing it.
    pub(crate) fn with_session<R>(&self, key: usize, sid: Sid, f: impl FnOnce(&Session) -> R) -> Option<R> {
        let table = self.table.borrow();
        table.slab.get(key).filter(|e| e.sid == sid).map(|e| f(&e.session))
    }

    /// Applies an input to the session, then delivers what it caused. `None` if the session is gone.
    pub(crate) fn drive<R>(
        self: &Rc<Self>,
        key: usize,
        sid: Sid,
        f: impl FnOnce(&mut Session) -> R,
    ) -> Option<R> {
        let r = {
            let mut table = self.table.borrow_mut();
            let entry = table.slab.get_mut(key).filter(|e| e.sid == sid)?;
            f(&mut entry.session)
        };
        self.settle(key, sid);
        Some(r)
    }

    pub(crate) fn send(self: &Rc<Self>, key: usize, sid: Sid, packet: Packet) -> Result<(), SendError> {
        match self.drive(key, sid, |s| s.send(packet.clone())) {
            Some(r) => r,
            None => Err(SendError::Closed(packet)),
        }
    }

    pub(crate) fn close(self: &Rc<Self>, key: usize, sid: Sid, reason: DisconnectReason) {
        self.drive(key, sid, |s| s.close(reason, Instant::now()));
    }

    /// After any input: re-arm the session's timer, drop it if finished, deliver its events.
    fn settle(self: &Rc<Self>, key: usize, sid: Sid) {
        let mut events = Vec::new();
        let mut wake_timer = false;
        let endpoint;
        {
            let mut table = self.table.borrow_mut();
            let table = &mut *table;
            let Some(entry) = table.slab.get_mut(key).filter(|e| e.sid == sid) else { return };
            endpoint = entry.endpoint;
            while let Some(ev) = entry.session.poll_event() {
                events.push(ev);
            }
            if entry.session.is_finished() {
                if let Some(t) = entry.timer.take() {
                    table.wheel.remove(t);
                }
                table.slab.remove(key);
                table.by_sid.remove(&sid);
            } else {
                match (entry.session.next_deadline(), entry.timer) {
                    (Some(at), Some(t)) => entry.timer = Some(table.wheel.reschedule(t, key, at)),
                    (Some(at), None) => entry.timer = Some(table.wheel.insert(key, at)),
                    (None, Some(t)) => {
                        table.wheel.remove(t);
                        entry.timer = None;
                    }
                    (None, None) => {}
                }
                if let Some(at) = entry.timer.and_then(|t| table.wheel.fires_at(t)) {
                    wake_timer = self.timer_armed.get().is_none_or(|armed| at < armed);
                }
            }
        }
        if wake_timer {
            if let Some(w) = self.timer_waker.take() {
                w.wake();
            }
        }
        if events.is_empty() {
            return;
        }
        let socket = self.socket(key, sid);
        let handler = &self.endpoints[endpoint].1;
        for ev in events {
            match ev {
                EngineEvent::Message(data) => handler.on_message(&socket, data),
                EngineEvent::Upgraded => handler.on_upgrade(&socket),
                EngineEvent::Closed(reason) => handler.on_close(&socket, reason),
            }
        }
    }

    /// Fires every deadline that has passed; returns the next tick to wake at.
    pub(crate) fn fire_timers(self: &Rc<Self>, now: Instant) -> Option<Instant> {
        let mut due = Vec::new();
        self.table.borrow_mut().wheel.expired(now, &mut due);
        for key in due {
            let sid = {
                let mut table = self.table.borrow_mut();
                match table.slab.get_mut(key) {
                    Some(e) => {
                        e.timer = None;
                        e.session.on_timeout(now);
                        e.sid
                    }
                    None => continue,
                }
            };
            self.settle(key, sid);
        }
        let next = self.table.borrow().wheel.next_tick();
        self.timer_armed.set(next);
        next
    }

    pub(crate) fn park_timer(&self, waker: &Waker) {
        self.timer_waker.set(Some(waker.clone()));
    }

    /// Closes every session with `reason` (shutdown).
    pub(crate) fn close_all(self: &Rc<Self>, reason: DisconnectReason) {
        let all: Vec<(usize, Sid)> = self.table.borrow().slab.iter().map(|(k, e)| (k, e.sid)).collect();
        let now = Instant::now();
        for (key, sid) in all {
            self.drive(key, sid, |s| s.close(reason, now));
        }
    }
}
