//! One shard's room index for one namespace, as socket.io-adapter's in-memory `Adapter` keeps
//! it (`rooms: Map<Room, Set<SocketId>>`, `sids: Map<SocketId, Set<Room>>`, `addAll`, `del`,
//! `delAll`, and the target selection of `apply` / `computeExceptSids`).
//!
//! Sockets are named by a small `Copy` key (the shard's slab key), not by their id string: the
//! id is one of the socket's rooms. A socket is known to the index from its first `add_all`
//! (even with no room, as in Node) until `del_all`; a broadcast to no room reaches exactly
//! those sockets.
//!
//! Selection allocates nothing once warm: the set of excluded and already-yielded sockets is
//! a scratch set owned by the index and cleared, not freed, between selections.

use std::collections::{HashMap, hash_map, hash_set};
use std::hash::Hash;

use super::selector::{BroadcastOptions, Room};

/// Sets of socket keys: keys are chosen by the server, so a fast hash is safe. Room names may
/// come from clients and keep the std (SipHash) hasher.
type KeySet<K> = foldhash::HashSet<K>;
type KeyMap<K, V> = foldhash::HashMap<K, V>;

/// The rooms of one namespace on one shard.
#[derive(Debug, Clone)]
pub struct Rooms<K> {
    rooms: HashMap<Room, KeySet<K>>,
    /// Each socket's rooms in the order it joined them (Node's `socket.rooms` order).
    sockets: KeyMap<K, Vec<Room>>,
    /// Excluded and already-yielded sockets of the selection under way.
    scratch: KeySet<K>,
}

impl<K: Copy + Eq + Hash> Default for Rooms<K> {
    fn default() -> Self {
        Rooms { rooms: HashMap::new(), sockets: KeyMap::default(), scratch: KeySet::default() }
    }
}

impl<K: Copy + Eq + Hash> Rooms<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `socket` known and joins it to `rooms` (Node's `addAll`); rooms it is already in
    /// are skipped.
    pub fn add_all<I: IntoIterator<Item = Room>>(&mut self, socket: K, rooms: I) {
        let joined = self.sockets.entry(socket).or_default();
        for room in rooms {
            // Linear: a socket is in its own room and a handful of others.
            if joined.contains(&room) {
                continue;
            }
            match self.rooms.get_mut(&*room) {
                Some(members) => {
                    members.insert(socket);
                }
                None => {
                    self.rooms.insert(room.clone(), KeySet::from_iter([socket]));
                }
            }
            joined.push(room);
        }
    }

    /// Joins one room.
    pub fn add(&mut self, socket: K, room: Room) {
        self.add_all(socket, [room]);
    }

    /// Removes `socket` from `room` (Node's `del`), dropping the room once empty. The socket
    /// stays known. Whether it was in the room.
    pub fn del(&mut self, socket: K, room: &str) -> bool {
        let Some(joined) = self.sockets.get_mut(&socket) else {
            return false;
        };
        let Some(at) = joined.iter().position(|r| &**r == room) else {
            return false;
        };
        joined.remove(at);
        self.leave(socket, room);
        true
    }

    /// Forgets `socket` and leaves all its rooms (Node's `delAll`); hands back the rooms it
    /// was in, in join order.
    pub fn del_all(&mut self, socket: K) -> Vec<Room> {
        let joined = self.sockets.remove(&socket).unwrap_or_default();
        for room in &joined {
            self.leave(socket, room);
        }
        joined
    }

    fn leave(&mut self, socket: K, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&socket);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    /// The rooms `socket` is in, in join order (empty when unknown).
    pub fn rooms_of(&self, socket: K) -> &[Room] {
        self.sockets.get(&socket).map_or(&[], Vec::as_slice)
    }

    /// The sockets in `room`, in no particular order.
    pub fn sockets_in(&self, room: &str) -> impl Iterator<Item = K> + '_ {
        self.rooms.get(room).into_iter().flatten().copied()
    }

    /// How many sockets are in `room`.
    pub fn room_len(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, |m| m.len())
    }

    /// Whether some socket of this shard is in `room`.
    pub fn has_room(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// Every non-empty room (the Redis adapter's `allRooms`).
    pub fn room_names(&self) -> impl ExactSizeIterator<Item = &Room> + '_ {
        self.rooms.keys()
    }

    /// Whether `socket` is known (joined with `add_all` and not yet `del_all`ed).
    pub fn contains(&self, socket: K) -> bool {
        self.sockets.contains_key(&socket)
    }

    /// Known sockets.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The sockets `opts` targets, each once (Node's `apply`): the union of `opts.rooms`, or
    /// every known socket when it is empty, minus the sockets in `opts.except` and
    /// `except_sockets`. The flags play no part. The index cannot change while the selection
    /// is read; to join, leave or disconnect the selected sockets use [`Rooms::select_into`].
    pub fn select<'a>(&'a mut self, opts: &'a BroadcastOptions, except_sockets: &[K]) -> Selection<'a, K> {
        let excluded = &mut self.scratch;
        excluded.clear();
        excluded.extend(except_sockets.iter().copied());
        for room in &opts.except {
            if let Some(members) = self.rooms.get(&**room) {
                excluded.extend(members.iter().copied());
            }
        }
        let inner = match opts.rooms.as_slice() {
            [] => Inner::All { sockets: self.sockets.keys(), excluded },
            [room] => Inner::One { members: self.rooms.get(&**room).map(|m| m.iter()), excluded },
            _ => {
                Inner::Union { index: &self.rooms, targets: opts.rooms.iter(), members: None, seen: excluded }
            }
        };
        Selection { inner }
    }

    /// [`Rooms::select`] appended to `out`.
    pub fn select_into(&mut self, opts: &BroadcastOptions, except_sockets: &[K], out: &mut Vec<K>) {
        out.extend(self.select(opts, except_sockets));
    }
}

/// Iterator over the sockets a [`BroadcastOptions`] targets; see [`Rooms::select`].
pub struct Selection<'a, K> {
    inner: Inner<'a, K>,
}

enum Inner<'a, K> {
    /// No target room: every known socket not excluded.
    All { sockets: hash_map::Keys<'a, K, Vec<Room>>, excluded: &'a KeySet<K> },
    /// One target room: its members are distinct already.
    One { members: Option<hash_set::Iter<'a, K>>, excluded: &'a KeySet<K> },
    /// Several: `seen` starts as the excluded sockets and gains each one yielded.
    Union {
        index: &'a HashMap<Room, KeySet<K>>,
        targets: std::slice::Iter<'a, Room>,
        members: Option<hash_set::Iter<'a, K>>,
        seen: &'a mut KeySet<K>,
    },
}

impl<K: Copy + Eq + Hash> Iterator for Selection<'_, K> {
    type Item = K;

    fn next(&mut self) -> Option<K> {
        match &mut self.inner {
            Inner::All { sockets, excluded } => sockets.find(|k| !excluded.contains(*k)).copied(),
            Inner::One { members, excluded } => members.as_mut()?.find(|k| !excluded.contains(*k)).copied(),
            Inner::Union { index, targets, members, seen } => loop {
                if let Some(k) = members.as_mut().and_then(|m| m.find(|k| seen.insert(**k))) {
                    return Some(*k);
                }
                let room = targets.next()?;
                *members = index.get(&**room).map(|m| m.iter());
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use proptest::prelude::*;

    /// Sockets 1..=5, each in its own room `s<n>`; 1, 2, 3 in `a`; 3, 4 in `b`; 5 in none else.
    fn fixture() -> Rooms<u32> {
        let mut rooms = Rooms::new();
        for s in 1..=5u32 {
            rooms.add(s, Room::from(format!("s{s}")));
        }
        rooms.add_all(1, ["a".into()]);
        rooms.add_all(2, ["a".into()]);
        rooms.add_all(3, ["a".into(), "b".into(), "a".into()]);
        rooms.add(4, "b".into());
        rooms
    }

    fn selected(rooms: &mut Rooms<u32>, opts: BroadcastOptions, except: &[u32]) -> Vec<u32> {
        let mut out: Vec<u32> = rooms.select(&opts, except).collect();
        let len = out.len();
        out.sort_unstable();
        out.dedup();
        assert_eq!(out.len(), len, "a socket was selected twice");
        out
    }

    #[test]
    fn selection_table() {
        let o = BroadcastOptions::new;
        let cases: Vec<(BroadcastOptions, &[u32], Vec<u32>)> = vec![
            (o(), &[], vec![1, 2, 3, 4, 5]),
            (o().to("a"), &[], vec![1, 2, 3]),
            (o().to("a").to("b"), &[], vec![1, 2, 3, 4]),
            (o().to("b").to("a").to("nowhere"), &[], vec![1, 2, 3, 4]),
            (o().to("nowhere"), &[], vec![]),
            (o().to("a").except("b"), &[], vec![1, 2]),
            (o().to("a").to("b").except("s3"), &[], vec![1, 2, 4]),
            (o().except("a"), &[], vec![4, 5]),
            (o().except("a").except("b"), &[], vec![5]),
            (o().except("nowhere"), &[], vec![1, 2, 3, 4, 5]),
            (o().to("s4"), &[], vec![4]),
            (BroadcastOptions::from_socket("s1"), &[], vec![2, 3, 4, 5]),
            (BroadcastOptions::from_socket("s1").to("a"), &[], vec![2, 3]),
            (o().to("s2").to("a"), &[], vec![1, 2, 3]),
            (o().to("a"), &[2], vec![1, 3]),
            (o(), &[5, 99], vec![1, 2, 3, 4]),
            (o().to("a").to("b"), &[1], vec![2, 3, 4]),
            (o().to("a").except("a"), &[], vec![]),
        ];
        let mut rooms = fixture();
        for (opts, except, want) in cases {
            assert_eq!(selected(&mut rooms, opts.clone(), except), want, "{opts:?} except {except:?}");
        }
    }

    #[test]
    fn select_into_then_modify() {
        let mut rooms = fixture();
        let mut targets = Vec::new();
        rooms.select_into(&BroadcastOptions::new().to("b"), &[], &mut targets);
        for &s in &targets {
            rooms.add(s, "c".into());
        }
        assert_eq!(selected(&mut rooms, BroadcastOptions::new().to("c"), &[]), [3, 4]);
    }

    #[test]
    fn join_leave_bookkeeping() {
        let mut rooms = fixture();
        assert_eq!(rooms.rooms_of(3), ["s3", "a", "b"]);
        assert_eq!(rooms.room_len("a"), 3);
        assert!(rooms.del(3, "a"));
        assert!(!rooms.del(3, "a"), "not in it any more");
        assert!(!rooms.del(42, "a"), "unknown socket");
        assert_eq!(rooms.rooms_of(3), ["s3", "b"]);
        assert_eq!(rooms.del_all(4), ["s4", "b"]);
        assert!(!rooms.contains(4));
        assert_eq!(rooms.sockets_in("b").collect::<Vec<_>>(), [3]);
        assert!(rooms.del(3, "b"));
        assert!(!rooms.has_room("b"), "an empty room is dropped");
        // A socket that left every room is still known, so `io.emit` reaches it (as in Node).
        assert!(rooms.del(5, "s5"));
        assert!(rooms.contains(5));
        assert!(selected(&mut rooms, BroadcastOptions::new(), &[]).contains(&5));
        assert!(rooms.del_all(42).is_empty());
        assert_eq!(rooms.len(), 4);
        let mut names: Vec<&str> = rooms.room_names().map(|r| &**r).collect();
        names.sort_unstable();
        assert_eq!(names, ["a", "s1", "s2", "s3"]);
    }

    #[derive(Clone, Debug)]
    enum Op {
        AddAll(u32, Vec<u8>),
        Del(u32, u8),
        DelAll(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        let socket = 0u32..6;
        let room = 0u8..5;
        prop_oneof![
            (socket.clone(), proptest::collection::vec(room.clone(), 0..4))
                .prop_map(|(s, r)| Op::AddAll(s, r)),
            (socket.clone(), room).prop_map(|(s, r)| Op::Del(s, r)),
            socket.prop_map(Op::DelAll),
        ]
    }

    fn name(r: u8) -> Room {
        Room::from(format!("r{r}"))
    }

    proptest! {
        #[test]
        fn index_matches_a_naive_model(
            ops in proptest::collection::vec(op(), 0..40),
            targets in proptest::collection::vec(0u8..6, 0..3),
            except in proptest::collection::vec(0u8..6, 0..3),
            except_sockets in proptest::collection::vec(0u32..7, 0..2),
        ) {
            let mut rooms = Rooms::new();
            let mut model: BTreeMap<u32, Vec<Room>> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::AddAll(s, rs) => {
                        rooms.add_all(s, rs.iter().map(|&r| name(r)));
                        let joined = model.entry(s).or_default();
                        for r in rs {
                            if !joined.contains(&name(r)) {
                                joined.push(name(r));
                            }
                        }
                    }
                    Op::Del(s, r) => {
                        let was = model.get(&s).is_some_and(|j| j.contains(&name(r)));
                        prop_assert_eq!(rooms.del(s, &name(r)), was);
                        if let Some(joined) = model.get_mut(&s) {
                            joined.retain(|x| *x != name(r));
                        }
                    }
                    Op::DelAll(s) => {
                        prop_assert_eq!(rooms.del_all(s), model.remove(&s).unwrap_or_default());
                    }
                }
            }
            // rooms_of and sockets_in agree with each other and with the model.
            prop_assert_eq!(rooms.len(), model.len());
            for (&s, joined) in &model {
                prop_assert_eq!(rooms.rooms_of(s), joined.as_slice());
                for r in joined {
                    prop_assert!(rooms.sockets_in(r).any(|k| k == s));
                }
            }
            for r in (0..6).map(name) {
                let members: BTreeSet<u32> = rooms.sockets_in(&r).collect();
                let want: BTreeSet<u32> =
                    model.iter().filter(|(_, j)| j.contains(&r)).map(|(&s, _)| s).collect();
                prop_assert_eq!(rooms.room_len(&r), members.len());
                prop_assert_eq!(rooms.has_room(&r), !want.is_empty());
                prop_assert_eq!(members, want);
            }
            // Selection is Node's `apply` on the model.
            let mut opts = BroadcastOptions::new();
            for &t in &targets {
                opts = opts.to(name(t));
            }
            for &e in &except {
                opts = opts.except(name(e));
            }
            let excluded = |s: &u32, j: &Vec<Room>| except_sockets.contains(s) || j.iter().any(|r| opts.except.contains(r));
            let want: BTreeSet<u32> = model
                .iter()
                .filter(|(s, j)| !excluded(s, j) && (opts.rooms.is_empty() || j.iter().any(|r| opts.rooms.contains(r))))
                .map(|(&s, _)| s)
                .collect();
            let got: Vec<u32> = rooms.select(&opts, &except_sockets).collect();
            prop_assert_eq!(got.len(), want.len(), "each socket once");
            prop_assert_eq!(got.into_iter().collect::<BTreeSet<u32>>(), want);
        }
    }
}
