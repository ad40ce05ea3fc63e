//! One shard's sessions: a slab of [`Session`]s, an index by sid (the sid already named this
//! shard, see [`Sid::shard`]), and one [`TimerWheel`] holding each session's next deadline.
//!
//! Access goes through [`SessionRef`], a guard that, when dropped, re-arms the session's
//! timer and forgets the session once it is closed with every output collected
//! ([`Session::is_finished`]). The timer is only moved when the deadline comes *earlier*:
//! a later one (each pong postpones the next ping) leaves the old timer armed, which then fires
//! early, finds nothing due, and is re-armed. That keeps the common case free of wheel traffic.
//!
//! [`Sid::shard`]: crate::protocol::sid::Sid::shard

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash};
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use slab::Slab;

use super::timers::{TimerId, TimerWheel};
use super::{EngineEvent, Session};
use crate::protocol::sid::Sid;

/// Maps smaller than this are left as they are.
const SHRINK_MIN: usize = 64;

/// A hash map or set that gives its unused room back once mostly empty: below a quarter of
/// its capacity it shrinks to twice its length. (A hash table never shrinks by itself: after
/// 15 000 sessions closed, every per-session map would keep room for 28 000.) Each shrink
/// rehashes what is left after three quarters were removed, and leaves room to grow back to
/// double, so churn does not thrash.
pub(crate) trait ShrinkSparse {
    fn shrink_sparse(&mut self);
}

impl<K: Eq + Hash, V, S: BuildHasher> ShrinkSparse for HashMap<K, V, S> {
    fn shrink_sparse(&mut self) {
        if sparse(self.len(), self.capacity()) {
            self.shrink_to(self.len() * 2);
        }
    }
}

impl<K: Eq + Hash, S: BuildHasher> ShrinkSparse for HashSet<K, S> {
    fn shrink_sparse(&mut self) {
        if sparse(self.len(), self.capacity()) {
            self.shrink_to(self.len() * 2);
        }
    }
}

fn sparse(len: usize, capacity: usize) -> bool {
    capacity >= SHRINK_MIN && len < capacity / 4
}

#[derive(Debug)]
struct Slot<K> {
    sid: K,
    session: Session,
    /// The armed timer and the deadline it was armed for.
    timer: Option<(TimerId, Instant)>,
}

/// The sessions owned by one shard.
#[derive(Debug)]
pub struct SessionTable<K = Sid> {
    slots: Slab<Slot<K>>,
    /// Sids are random bytes: a fast hash is as good as SipHash here.
    index: foldhash::HashMap<K, usize>,
    wheel: TimerWheel<usize>,
    fired: Vec<usize>,
}

impl<K: Copy + Eq + Hash> SessionTable<K> {
    /// An empty table whose timer wheel has 10 ms slots counted from `origin`.
    pub fn new(origin: Instant) -> Self {
        Self::with_wheel(TimerWheel::new(origin))
    }

    /// An empty table with another timer resolution.
    pub fn with_tick(origin: Instant, tick: Duration) -> Self {
        Self::with_wheel(TimerWheel::with_tick(origin, tick))
    }

    fn with_wheel(wheel: TimerWheel<usize>) -> Self {
        SessionTable { slots: Slab::new(), index: foldhash::HashMap::default(), wheel, fired: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The sid of every session in the table.
    pub fn sids(&self) -> impl Iterator<Item = K> + '_ {
        self.slots.iter().map(|(_, slot)| slot.sid)
    }

    pub fn contains(&self, sid: &K) -> bool {
        self.index.contains_key(sid)
    }

    /// Adds a new session; hands it back (boxed: the error path stays small) if the sid is taken.
    pub fn insert(&mut self, sid: K, session: Session) -> Result<SessionRef<'_, K>, Box<Session>> {
        if self.index.contains_key(&sid) {
            return Err(Box::new(session));
        }
        let key = self.slots.insert(Slot { sid, session, timer: None });
        self.index.insert(sid, key);
        Ok(SessionRef { table: self, key })
    }

    pub fn get_mut(&mut self, sid: &K) -> Option<SessionRef<'_, K>> {
        let key = *self.index.get(sid)?;
        Some(SessionRef { table: self, key })
    }

    /// [`SessionTable::get_mut`] starting from the slot `key` (from [`SessionTable::key_of`]
    /// or [`SessionRef::key`]): no hashing when the slot still holds `sid`, the index otherwise
    /// (a slot is reused once its session is gone).
    pub fn get_mut_at(&mut self, sid: &K, key: usize) -> Option<SessionRef<'_, K>> {
        if self.slots.get(key).is_some_and(|slot| slot.sid == *sid) {
            return Some(SessionRef { table: self, key });
        }
        self.get_mut(sid)
    }

    /// Where `sid` is kept now, for [`SessionTable::get_mut_at`].
    pub fn key_of(&self, sid: &K) -> Option<usize> {
        self.index.get(sid).copied()
    }

    /// Takes a session out, whatever its state.
    pub fn remove(&mut self, sid: &K) -> Option<Session> {
        let key = self.index.remove(sid)?;
        let slot = self.slots.remove(key);
        if let Some((id, _)) = slot.timer {
            self.wheel.remove(id);
        }
        self.shrink();
        Some(slot.session)
    }

    /// After a session left: the index gives back its room when mostly empty, the slab (whose
    /// keys cannot move while sessions hold them) once it is empty.
    fn shrink(&mut self) {
        self.index.shrink_sparse();
        if self.slots.is_empty() && self.slots.capacity() >= SHRINK_MIN {
            self.slots = Slab::new();
        }
    }

    /// When [`SessionTable::expire`] must run next: the runtime's one sleep for the shard.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.wheel.next_deadline()
    }

    /// Runs every session whose deadline passed (pings, timeouts, upgrade noops) and collects
    /// the events that produced, typically `Closed(PingTimeout)`.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<(K, EngineEvent)>) {
        let mut fired = std::mem::take(&mut self.fired);
        self.wheel.expired(now, &mut fired);
        for key in fired.drain(..) {
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            slot.timer = None;
            slot.session.on_timeout(now);
            while let Some(event) = slot.session.poll_event() {
                out.push((slot.sid, event));
            }
            self.settle(key);
        }
        self.fired = fired;
    }

    /// After any use of a session: forget it if finished, else make sure its timer fires no
    /// later than its next deadline.
    fn settle(&mut self, key: usize) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if slot.session.is_finished() {
            let slot = self.slots.remove(key);
            self.index.remove(&slot.sid);
            if let Some((id, _)) = slot.timer {
                self.wheel.remove(id);
            }
            self.shrink();
            return;
        }
        match (slot.timer, slot.session.next_deadline()) {
            (Some((id, _)), None) => {
                self.wheel.remove(id);
                slot.timer = None;
            }
            (None, Some(deadline)) => slot.timer = Some((self.wheel.insert(key, deadline), deadline)),
            (Some((id, armed)), Some(deadline)) if deadline < armed => {
                slot.timer = Some((self.wheel.reschedule(id, key, deadline), deadline));
            }
            (Some(_), Some(_)) | (None, None) => {}
        }
    }
}

/// Mutable access to one session of a [`SessionTable`]; settles the session when dropped.
#[derive(Debug)]
pub struct SessionRef<'a, K: Copy + Eq + Hash> {
    table: &'a mut SessionTable<K>,
    key: usize,
}

impl<K: Copy + Eq + Hash> SessionRef<'_, K> {
    pub fn sid(&self) -> K {
        self.table.slots[self.key].sid
    }

    /// The slot the session is kept in, while it lives.
    pub fn key(&self) -> usize {
        self.key
    }
}

impl<K: Copy + Eq + Hash> Deref for SessionRef<'_, K> {
    type Target = Session;

    fn deref(&self) -> &Session {
        // The guard is only built for a live key and the table cannot change under it.
        &self.table.slots[self.key].session
    }
}

impl<K: Copy + Eq + Hash> DerefMut for SessionRef<'_, K> {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.table.slots[self.key].session
    }
}

impl<K: Copy + Eq + Hash> Drop for SessionRef<'_, K> {
    fn drop(&mut self) {
        self.table.settle(self.key);
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use bytestring::ByteString;

    use super::*;
    use crate::engine::{DisconnectReason, EngineConfig, WsId, WsStatus};
    use crate::protocol::{EioVersion, Frame};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ws_session(config: &Rc<EngineConfig>, now: Instant) -> (Session, WsId) {
        Session::websocket(config.clone(), EioVersion::V4, true, ByteString::from_static("{}"), now)
    }

    fn drain(table: &mut SessionTable<u32>, sid: u32, ws: WsId) -> (Vec<Frame>, WsStatus) {
        let mut out = Vec::new();
        let mut session = table.get_mut(&sid).expect("session");
        let status = session.drain_ws(ws, &mut out);
        (out, status)
    }

    #[test]
    fn sparse_maps_shrink_without_thrashing() {
        let mut map: foldhash::HashMap<u32, u32> = (0..15_000).map(|i| (i, i)).collect();
        let full = map.capacity();
        let mut shrinks = 0;
        for i in 0..15_000 {
            let before = map.capacity();
            map.remove(&i);
            map.shrink_sparse();
            // (A removal that leaves a tombstone takes one from the capacity; a shrink halves it.)
            if map.capacity() + 1 < before {
                shrinks += 1;
                // Room for twice what is left, never less than what is left.
                assert!(map.capacity() >= 2 * map.len(), "{} for {}", map.capacity(), map.len());
            }
        }
        assert!(full >= 15_000 && map.capacity() < SHRINK_MIN, "{full} -> {}", map.capacity());
        // Each shrink halves the room: a dozen at most, not one per removal.
        assert!((5..=12).contains(&shrinks), "{shrinks} shrinks");
    }

    #[test]
    fn closed_sessions_give_their_room_back() {
        let t0 = Instant::now();
        let config = Rc::new(EngineConfig::default());
        let mut table = SessionTable::new(t0);
        for sid in 0..1000u32 {
            let (session, _) = ws_session(&config, t0);
            assert!(table.insert(sid, session).is_ok());
        }
        assert!(table.slots.capacity() >= 1000 && table.index.capacity() >= 1000);
        for sid in 0..1000u32 {
            assert!(table.remove(&sid).is_some());
        }
        assert!(table.is_empty());
        assert_eq!(table.slots.capacity(), 0);
        assert!(table.index.capacity() < SHRINK_MIN, "{}", table.index.capacity());
        assert_eq!(table.wheel.next_deadline(), None);
        // And it serves new sessions as before.
        let (session, _) = ws_session(&config, t0);
        assert!(table.insert(1, session).is_ok());
        assert!(table.contains(&1) && table.next_deadline().is_some());
    }

    #[test]
    fn lookup_and_duplicates() {
        let t0 = Instant::now();
        let config = Rc::new(EngineConfig::default());
        let mut table = SessionTable::new(t0);
        let (a, _) = ws_session(&config, t0);
        assert_eq!(table.insert(7u32, a).map(|s| s.sid()).ok(), Some(7));
        let (b, _) = ws_session(&config, t0);
        assert!(table.insert(7, b).is_err());
        assert!(table.contains(&7));
        assert!(table.get_mut(&8).is_none());
        assert_eq!(table.next_deadline(), Some(t0 + ms(25_000)));
        assert!(table.remove(&7).is_some());
        assert!(table.is_empty());
        assert_eq!(table.next_deadline(), None);
    }

    #[test]
    fn a_kept_key_finds_its_session_and_never_another() {
        let t0 = Instant::now();
        let config = Rc::new(EngineConfig::default());
        let mut table = SessionTable::new(t0);
        let (a, _) = ws_session(&config, t0);
        let key = table.insert(1u32, a).map(|s| s.key()).expect("inserted");
        assert_eq!(table.key_of(&1), Some(key));
        assert_eq!(table.get_mut_at(&1, key).map(|s| s.sid()), Some(1));
        // A stale or made-up key falls back to the index.
        assert_eq!(table.get_mut_at(&1, key + 5).map(|s| s.sid()), Some(1));
        // The slot is reused by another session: the old sid no longer reaches it.
        assert!(table.remove(&1).is_some());
        let (b, _) = ws_session(&config, t0);
        assert_eq!(table.insert(2, b).map(|s| s.key()).ok(), Some(key));
        assert!(table.get_mut_at(&1, key).is_none());
        assert_eq!(table.get_mut_at(&2, key).map(|s| s.sid()), Some(2));
    }

    #[test]
    fn heartbeat_through_the_wheel() {
        let t0 = Instant::now();
        let config = Rc::new(EngineConfig::default());
        let mut table = SessionTable::new(t0);
        let (session, ws) = ws_session(&config, t0);
        table.insert(1u32, session).ok();
        drain(&mut table, 1, ws);
        let mut events = Vec::new();

        table.expire(t0 + ms(24_999), &mut events);
        assert!(drain(&mut table, 1, ws).0.is_empty(), "pinged early");
        table.expire(t0 + ms(25_000), &mut events);
        assert_eq!(drain(&mut table, 1, ws).0, [Frame::Text(ByteString::from_static("2"))]);

        // No pong: the timeout fires at 45 s, not before.
        assert_eq!(table.next_deadline(), Some(t0 + ms(45_000)));
        table.expire(t0 + ms(44_999), &mut events);
        assert!(events.is_empty());
        table.expire(t0 + ms(45_000), &mut events);
        assert_eq!(events, [(1, EngineEvent::Closed(DisconnectReason::PingTimeout))]);
        // The session stays until its WebSocket has been told to close.
        assert!(table.contains(&1));
        assert_eq!(drain(&mut table, 1, ws).1, WsStatus::Close);
        assert!(!table.contains(&1));
    }

    #[test]
    fn pongs_postpone_without_moving_the_timer() {
        let t0 = Instant::now();
        let config = Rc::new(EngineConfig::default());
        let mut table = SessionTable::new(t0);
        let (session, ws) = ws_session(&config, t0);
        table.insert(1u32, session).ok();
        drain(&mut table, 1, ws);
        let mut events = Vec::new();
        table.expire(t0 + ms(25_000), &mut events);
        let pong = Frame::Text(ByteString::from_static("3"));
        table.get_mut(&1).unwrap().on_ws_frame(ws, pong.clone(), t0 + ms(26_000));
        // The 45 s timer stays armed, fires early, finds nothing due and re-arms at 51 s.
        assert_eq!(table.next_deadline(), Some(t0 + ms(45_000)));
        table.expire(t0 + ms(45_000), &mut events);
        assert!(events.is_empty());
        assert_eq!(table.next_deadline(), Some(t0 + ms(51_000)));
        drain(&mut table, 1, ws);
        table.expire(t0 + ms(51_000), &mut events);
        assert_eq!(drain(&mut table, 1, ws).0, [Frame::Text(ByteString::from_static("2"))]);
    }

    #[test]
    fn uncollected_outputs_are_dropped_after_the_linger() {
        let t0 = Instant::now();
        let config = Rc::new(EngineConfig::default());
        let mut table = SessionTable::new(t0);
        let (session, _ws) = ws_session(&config, t0);
        table.insert(1u32, session).ok();
        let mut events = Vec::new();
        let mut session = table.get_mut(&1).unwrap();
        session.close_now(DisconnectReason::ServerShuttingDown, t0);
        assert_eq!(session.poll_event(), Some(EngineEvent::Closed(DisconnectReason::ServerShuttingDown)));
        drop(session);
        assert!(table.contains(&1), "the WebSocket was not told to close yet");
        table.expire(t0 + config.closed_linger, &mut events);
        assert!(table.is_empty());
    }

    #[test]
    fn thousands_of_sessions_share_the_wheel() {
        let t0 = Instant::now();
        let config = Rc::new(EngineConfig::default());
        let mut table = SessionTable::new(t0);
        for sid in 0..5000u32 {
            let (session, _) = ws_session(&config, t0 + ms(u64::from(sid % 50)));
            table.insert(sid, session).ok();
        }
        assert_eq!(table.next_deadline(), Some(t0 + ms(25_000)));
        let mut events = Vec::new();
        // The runtime wakes once per distinct deadline (50 of them), not once per session.
        let mut wakeups = 0;
        let mut now = t0 + ms(25_000);
        while now <= t0 + ms(25_050) {
            table.expire(now, &mut events);
            wakeups += 1;
            now = table.next_deadline().expect("timeouts armed");
        }
        assert_eq!(wakeups, 50);
        // Every session pinged at its own deadline; nothing closed.
        assert!(events.is_empty());
        assert_eq!(table.next_deadline(), Some(t0 + ms(45_000)));
        table.expire(t0 + ms(45_049), &mut events);
        assert_eq!(events.len(), 5000);
    }
}
