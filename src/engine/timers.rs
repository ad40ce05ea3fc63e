//! A hashed timer wheel for one shard: every session's next deadline lives here, so the
//! runtime sleeps until [`TimerWheel::next_deadline`] once for the whole shard instead of keeping
//! one timer per session.
//!
//! Time is cut into ticks of [`DEFAULT_TICK`] (10 ms) counted from an origin, and a timer lives
//! in the slot of the tick its deadline falls in (rounded up). The tick only places it: each
//! entry keeps its exact deadline, [`TimerWheel::expired`] fires every timer whose deadline
//! `now` has reached (in the current, partly elapsed tick too), and
//! [`TimerWheel::next_deadline`] is the earliest exact deadline. A runtime that sleeps until
//! `next_deadline()` therefore fires each timer when it is due, never a tick late: Node's
//! `setTimeout` precision, which the heartbeat needs (a client waiting `pingInterval +
//! pingTimeout` expects the session closed by then). The ring has 4096 slots (41 s with 10 ms
//! ticks), enough for a 25 s ping interval; later deadlines stay in their slot for extra turns.
//!
//! Removal is O(1) and lazy: entries live in a slab and carry a generation; a slot keeps
//! `(index, generation)` pairs and skips the ones whose entry is gone or was reused. Each slot
//! also counts its live entries, so finding the next deadline skips empty and stale-only slots
//! without touching their ids (sessions reschedule their deadline constantly, and a
//! connection storm leaves thousands of stale ids behind).

use std::time::{Duration, Instant};

use slab::Slab;

/// The default width of a slot. It bounds how many slots [`TimerWheel::next_deadline`] scans,
/// not the precision, which is exact.
pub const DEFAULT_TICK: Duration = Duration::from_millis(10);

/// Entries a wheel must have had room for before it frees them once empty: below that, the
/// pass over every slot costs more than the room.
const RELEASE_MIN: usize = 64;

/// Ring size, a power of two so a tick maps to its slot with a mask.
const SLOTS: usize = 4096;

/// Handle to one armed timer; stale once it fired or was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: usize,
    generation: u64,
}

#[derive(Debug)]
struct Entry<K> {
    key: K,
    tick: u64,
    /// The exact deadline, in nanoseconds from the origin.
    at: u64,
    generation: u64,
    /// Armed in `due` rather than in the slot of `tick` (and not counted in `live`).
    due: bool,
}

/// A timer wheel keyed by `K` (the session table uses slab keys).
#[derive(Debug)]
pub struct TimerWheel<K> {
    origin: Instant,
    tick: Duration,
    entries: Slab<Entry<K>>,
    slots: Box<[Vec<TimerId>]>,
    /// Live entries of each slot (whatever turn of the ring they are for).
    live: Box<[u32]>,
    /// Timers armed for a tick that was already processed: they fire on the next `expired`.
    due: Vec<TimerId>,
    /// The first tick `expired` has not processed yet.
    next_tick: u64,
    next_generation: u64,
}

impl<K: Copy> TimerWheel<K> {
    /// A wheel with 10 ms slots counted from `origin` (usually the shard's start).
    pub fn new(origin: Instant) -> Self {
        Self::with_tick(origin, DEFAULT_TICK)
    }

    /// A wheel with another slot width (at least 1 ms).
    pub fn with_tick(origin: Instant, tick: Duration) -> Self {
        TimerWheel {
            origin,
            tick: tick.max(Duration::from_millis(1)),
            entries: Slab::new(),
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            live: vec![0; SLOTS].into_boxed_slice(),
            due: Vec::new(),
            next_tick: 0,
            next_generation: 0,
        }
    }

    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Arms a timer that fires `key` once `now >= deadline`.
    pub fn insert(&mut self, key: K, deadline: Instant) -> TimerId {
        let tick = self.tick_at_or_after(deadline);
        let at = self.nanos(deadline);
        let generation = self.next_generation;
        self.next_generation += 1;
        let due = tick < self.next_tick;
        let index = self.entries.insert(Entry { key, tick, at, generation, due });
        let id = TimerId { index, generation };
        if due {
            self.due.push(id);
        } else {
            self.slots[slot_of(tick)].push(id);
            self.live[slot_of(tick)] += 1;
        }
        id
    }

    /// Disarms a timer; `None` if it already fired or was removed.
    pub fn remove(&mut self, id: TimerId) -> Option<K> {
        if !self.is_live(id) {
            return None;
        }
        let entry = self.entries.remove(id.index);
        if !entry.due {
            self.live[slot_of(entry.tick)] -= 1;
        }
        self.release_if_empty();
        Some(entry.key)
    }

    /// Once no timer is armed after many were, frees the entries and the stale ids the slots
    /// still hold (a wheel that served 15 000 sessions would keep their room for good).
    fn release_if_empty(&mut self) {
        if self.entries.is_empty() && self.entries.capacity() >= RELEASE_MIN {
            self.entries = Slab::new();
            for slot in &mut self.slots {
                *slot = Vec::new();
            }
            self.due = Vec::new();
        }
    }

    /// Moves a live timer to a new deadline, or arms `key` anew if `id` is stale.
    pub fn reschedule(&mut self, id: TimerId, key: K, deadline: Instant) -> TimerId {
        self.remove(id);
        self.insert(key, deadline)
    }

    /// When a live timer will fire: its deadline.
    pub fn fires_at(&self, id: TimerId) -> Option<Instant> {
        self.is_live(id).then(|| self.instant_at(self.entries[id.index].at))
    }

    /// Collects the keys of every timer whose deadline `now` has reached, disarming them.
    pub fn expired(&mut self, now: Instant, out: &mut Vec<K>) {
        for id in std::mem::take(&mut self.due) {
            if let Some(key) = self.remove(id) {
                out.push(key);
            }
        }
        let now_at = self.nanos(now);
        // Ticks up to `whole` have fully elapsed; `partial` is the one `now` is inside of (the
        // same tick when `now` falls on its end), whose timers fire when their deadline passed.
        let whole = self.tick_at_or_before(now);
        let partial = self.tick_at_or_after(now);
        if partial < self.next_tick {
            return;
        }
        // After a long sleep every slot is visited once: each holds all of its ticks.
        let span = (partial - self.next_tick).min(SLOTS as u64 - 1);
        for t in partial - span..=partial {
            let mut kept = std::mem::take(&mut self.slots[slot_of(t)]);
            kept.retain(|&id| match self.entries.get(id.index) {
                Some(e) if e.generation == id.generation => {
                    if e.tick <= whole || (e.tick == partial && e.at <= now_at) {
                        out.push(self.entries.remove(id.index).key);
                        self.live[slot_of(t)] -= 1;
                        false
                    } else {
                        true
                    }
                }
                _ => false,
            });
            self.slots[slot_of(t)] = kept;
        }
        self.next_tick = whole.saturating_add(1);
        self.release_if_empty();
    }

    /// The earliest deadline of an armed timer, if any: the runtime sleeps until then.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.entries.is_empty() {
            return None;
        }
        let live_at = |id: &TimerId| self.entries.get(id.index).filter(|e| e.generation == id.generation);
        if let Some(at) = self.due.iter().filter_map(live_at).map(|e| e.at).min() {
            return Some(self.instant_at(at));
        }
        for t in self.next_tick..self.next_tick.saturating_add(SLOTS as u64) {
            if self.live[slot_of(t)] == 0 {
                continue;
            }
            let earliest =
                self.slots[slot_of(t)].iter().filter_map(live_at).filter(|e| e.tick == t).map(|e| e.at).min();
            if let Some(at) = earliest {
                return Some(self.instant_at(at));
            }
        }
        // Nothing within one turn of the ring: the rare far deadline.
        self.entries.iter().map(|(_, e)| e.at).min().map(|at| self.instant_at(at))
    }

    fn is_live(&self, id: TimerId) -> bool {
        self.entries.get(id.index).is_some_and(|e| e.generation == id.generation)
    }

    fn instant_at(&self, nanos: u64) -> Instant {
        self.origin + Duration::from_nanos(nanos)
    }

    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    fn ticks(&self, t: Instant) -> (u128, u128) {
        let elapsed = t.saturating_duration_since(self.origin).as_nanos();
        let tick = self.tick.as_nanos();
        (elapsed / tick, elapsed % tick)
    }

    fn tick_at_or_after(&self, t: Instant) -> u64 {
        let (whole, rest) = self.ticks(t);
        u64::try_from(whole + u128::from(rest != 0)).unwrap_or(u64::MAX)
    }

    fn tick_at_or_before(&self, t: Instant) -> u64 {
        u64::try_from(self.ticks(t).0).unwrap_or(u64::MAX)
    }
}

fn slot_of(tick: u64) -> usize {
    // The mask keeps the value below SLOTS, so the cast cannot truncate.
    (tick & (SLOTS as u64 - 1)) as usize
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_at_its_exact_deadline() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0);
        let us = Duration::from_micros;
        // Two timers in the same 10 ms slot, and one on a slot boundary.
        wheel.insert(1, t0 + ms(25));
        wheel.insert(2, t0 + ms(27) + us(500));
        wheel.insert(3, t0 + ms(30));
        assert_eq!(wheel.next_deadline(), Some(t0 + ms(25)));
        let mut out = Vec::new();
        wheel.expired(t0 + ms(25) - us(1), &mut out);
        assert!(out.is_empty(), "fired before its deadline");
        wheel.expired(t0 + ms(25), &mut out);
        assert_eq!(out, [1]);
        assert_eq!(wheel.next_deadline(), Some(t0 + ms(27) + us(500)));
        wheel.expired(t0 + ms(27) + us(499), &mut out);
        assert_eq!(out, [1]);
        wheel.expired(t0 + ms(27) + us(500), &mut out);
        assert_eq!(out, [1, 2]);
        assert_eq!(wheel.next_deadline(), Some(t0 + ms(30)));
        wheel.expired(t0 + ms(30), &mut out);
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn an_emptied_wheel_frees_its_room() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0);
        let ids: Vec<TimerId> = (0..1000u32).map(|k| wheel.insert(k, t0 + ms(u64::from(k) * 7))).collect();
        for id in &ids[..500] {
            assert!(wheel.remove(*id).is_some());
        }
        // The other half fires.
        let mut fired = Vec::new();
        wheel.expired(t0 + ms(10_000), &mut fired);
        assert_eq!(fired.len(), 500);
        assert!(wheel.is_empty());
        assert_eq!(wheel.entries.capacity(), 0);
        assert!(wheel.slots.iter().all(|slot| slot.capacity() == 0) && wheel.due.capacity() == 0);
        // Old ids stay stale; new timers work as before.
        assert_eq!(wheel.remove(ids[600]), None);
        let id = wheel.insert(7, t0 + ms(10_050));
        assert_eq!(wheel.fires_at(id), Some(t0 + ms(10_050)));
        wheel.expired(t0 + ms(10_050), &mut fired);
        assert_eq!(fired.last(), Some(&7));
    }

    #[test]
    fn removed_and_rescheduled_timers() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0);
        let a = wheel.insert('a', t0 + ms(10));
        let b = wheel.insert('b', t0 + ms(10));
        assert_eq!(wheel.remove(a), Some('a'));
        assert_eq!(wheel.remove(a), None);
        let b = wheel.reschedule(b, 'b', t0 + ms(50));
        assert_eq!(wheel.fires_at(b), Some(t0 + ms(50)));
        let mut out = Vec::new();
        wheel.expired(t0 + ms(40), &mut out);
        assert!(out.is_empty());
        assert_eq!(wheel.next_deadline(), Some(t0 + ms(50)));
        wheel.expired(t0 + ms(55), &mut out);
        assert_eq!(out, ['b']);
        assert!(wheel.is_empty());
    }

    #[test]
    fn far_deadlines_wait_their_turn() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0);
        // 45 s is more than one turn of the ring (40.96 s).
        wheel.insert(7, t0 + ms(45_000));
        assert_eq!(wheel.next_deadline(), Some(t0 + ms(45_000)));
        let mut out = Vec::new();
        for step in 1..=44 {
            wheel.expired(t0 + ms(step * 1000), &mut out);
        }
        assert!(out.is_empty());
        wheel.expired(t0 + ms(45_000), &mut out);
        assert_eq!(out, [7]);
    }

    #[test]
    fn past_deadlines_fire_on_the_next_call() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0);
        let mut out = Vec::new();
        wheel.expired(t0 + ms(100), &mut out);
        wheel.insert(3, t0 + ms(20));
        assert_eq!(wheel.next_deadline(), Some(t0 + ms(20)));
        wheel.expired(t0 + ms(100), &mut out);
        assert_eq!(out, [3]);
    }

    proptest! {
        /// Whatever was armed, moved, removed or fired: the next deadline is the earliest
        /// live tick, as a full scan finds it.
        #[test]
        fn next_tick_is_the_earliest_live_tick(
            ops in proptest::collection::vec((0u8..4, 0u64..90_000, 0usize..40), 1..200),
        ) {
            let t0 = Instant::now();
            let mut wheel = TimerWheel::new(t0);
            let mut ids: Vec<(TimerId, u64)> = Vec::new();
            let mut now = 0;
            let mut out = Vec::new();
            for (op, at, pick) in ops {
                match op {
                    0 | 1 => ids.push((wheel.insert(0u8, t0 + ms(now + at)), now + at)),
                    2 if !ids.is_empty() => {
                        let (id, _) = ids.swap_remove(pick % ids.len());
                        wheel.remove(id);
                    }
                    _ => {
                        now += at / 100;
                        wheel.expired(t0 + ms(now), &mut out);
                    }
                }
                ids.retain(|(id, _)| wheel.fires_at(*id).is_some());
                let earliest = ids.iter().filter_map(|(id, _)| wheel.fires_at(*id)).min();
                prop_assert_eq!(wheel.next_deadline(), earliest);
            }
        }

        #[test]
        fn fires_in_window(deadlines in proptest::collection::vec(0u64..60_000, 1..50), step in 1u64..10) {
            let t0 = Instant::now();
            let mut wheel = TimerWheel::new(t0);
            for (key, d) in deadlines.iter().enumerate() {
                wheel.insert(key, t0 + ms(*d));
            }
            let mut fired = vec![None; deadlines.len()];
            let mut out = Vec::new();
            let mut now = 0;
            while now <= 61_000 {
                wheel.expired(t0 + ms(now), &mut out);
                for key in out.drain(..) {
                    prop_assert!(fired[key].is_none(), "fired twice");
                    fired[key] = Some(now);
                }
                now += step;
            }
            for (key, d) in deadlines.iter().enumerate() {
                let at = fired[key].expect("every timer fires");
                prop_assert!(at >= *d, "early: deadline {} fired at {}", d, at);
                prop_assert!(at < d + step, "late: deadline {} fired at {}", d, at);
            }
        }
    }
}
