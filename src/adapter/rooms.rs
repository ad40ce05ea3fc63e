//! One shard's room index for one namespace, as socket.io-adapter's in-memory `Adapter` keeps
//! it (`rooms: Map<Room, Set<SocketId>>`, `sids: Map<SocketId, Set<Room>>`, `addAll`, `del`,
//! `delAll`, and the target selection of `apply` / `computeExceptSids`).
//!
//! Sockets are named by a small `Copy` key (the shard's slab key), not by their id string: the
//! id is one of the socket's rooms. A socket is known to the index from its first `add_all`
//! (even with no room, as in Node) until `del_all`; a broadcast to no room reaches exactly
//! those sockets.
//!
//! Every socket is in the room named by its own id (Node's `socket.join(socket.id)`) unless it
//! leaves it. That room is not stored: a key that names its own room ([`RoomKey`]) is found
//! from the room's name, and the socket's entry only says whether, and where in its join
//! order, it is in it. A set and a name per socket would cost more than the rest of its entry.
//! Other sockets may join a room named after a socket like any room; its members are then the
//! stored ones plus the owner.
//!
//! Selection allocates nothing once warm: the set of excluded and already-yielded sockets is
//! a scratch set owned by the index and cleared, not freed, between selections.

use std::collections::{HashMap, hash_map, hash_set};
use std::hash::Hash;

use super::selector::{BroadcastOptions, Room};
use crate::engine::ShrinkSparse;
use crate::protocol::sid::Sid;

/// Sets of socket keys: keys are chosen by the server, so a fast hash is safe. Room names may
/// come from clients and keep the std (SipHash) hasher.
type KeySet<K> = foldhash::HashSet<K>;
type KeyMap<K, V> = foldhash::HashMap<K, V>;

/// A socket key of the index, which may name a room of its own.
pub trait RoomKey: Copy + Eq + Hash {
    /// Calls `f` with the name of the socket's own room; `None` when keys have none.
    fn own_room<R>(self, f: impl FnOnce(&str) -> R) -> Option<R>;

    /// The socket whose own room is named `room`: `owner(r) == Some(k)` only if `k`'s own
    /// room is named exactly `r`.
    fn owner(room: &str) -> Option<Self>;
}

impl RoomKey for Sid {
    fn own_room<R>(self, f: impl FnOnce(&str) -> R) -> Option<R> {
        Some(f(self.as_str()))
    }

    fn owner(room: &str) -> Option<Sid> {
        // A sid's string is its bytes: parsing is exact, so the name round-trips.
        Sid::parse(room.as_bytes())
    }
}

/// The rooms of one namespace on one shard.
#[derive(Debug, Clone)]
pub struct Rooms<K> {
    /// Rooms with stored members: every room but the sockets' own (see the module docs).
    rooms: HashMap<Room, KeySet<K>>,
    sockets: KeyMap<K, Joined>,
    /// Sockets in their own room when no stored room has that name: those rooms exist too.
    own_only: usize,
    /// Excluded and already-yielded sockets of the selection under way.
    scratch: KeySet<K>,
}

/// The rooms one socket is in.
#[derive(Debug, Clone, Default)]
struct Joined {
    /// Stored rooms, in the order the socket joined them (Node's `socket.rooms` order). A
    /// boxed slice, not a `Vec`: most sockets join none, and every socket has an entry in a
    /// map that keeps up to twice as many buckets as entries.
    rooms: Box<[Room]>,
    /// Where its own room comes in that order (before `rooms[own]`); `None` when not in it.
    own: Option<u32>,
}

impl Joined {
    /// Every room, own room included, in join order.
    fn names<K: RoomKey>(&self, socket: K) -> Vec<Room> {
        let mut names = Vec::with_capacity(self.rooms.len() + 1);
        names.extend(self.rooms.iter().cloned());
        if let Some(at) = self.own
            && let Some(name) = socket.own_room(|name| Room::from(name))
        {
            names.insert((at as usize).min(names.len()), name);
        }
        names
    }
}

impl<K: RoomKey> Default for Rooms<K> {
    fn default() -> Self {
        Rooms { rooms: HashMap::new(), sockets: KeyMap::default(), own_only: 0, scratch: KeySet::default() }
    }
}

impl<K: RoomKey> Rooms<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `socket` known and puts it in its own room, as Node's `_onconnect` joins
    /// `socket.id` first.
    pub fn add_socket(&mut self, socket: K) {
        self.sockets.entry(socket).or_default();
        if let Some(named_elsewhere) = socket.own_room(|name| self.rooms.contains_key(name)) {
            self.enter_own(socket, !named_elsewhere);
        }
    }

    /// Makes `socket` known and joins it to `rooms` (Node's `addAll`); rooms it is already in
    /// are skipped.
    pub fn add_all<I: IntoIterator<Item = Room>>(&mut self, socket: K, rooms: I) {
        self.sockets.entry(socket).or_default();
        for room in rooms {
            if K::owner(&room) == Some(socket) {
                let named_elsewhere = self.rooms.contains_key(&*room);
                self.enter_own(socket, !named_elsewhere);
                continue;
            }
            let Some(joined) = self.sockets.get(&socket) else { continue };
            // Linear: a socket is in a handful of rooms.
            if joined.rooms.contains(&room) {
                continue;
            }
            match self.rooms.get_mut(&*room) {
                Some(members) => {
                    members.insert(socket);
                }
                None => {
                    if own_member(&self.sockets, &room).is_some() {
                        // The owner's room now has stored members: counted with them.
                        self.own_only -= 1;
                    }
                    self.rooms.insert(room.clone(), KeySet::from_iter([socket]));
                }
            }
            if let Some(joined) = self.sockets.get_mut(&socket) {
                let mut rooms = std::mem::take(&mut joined.rooms).into_vec();
                rooms.push(room);
                joined.rooms = rooms.into_boxed_slice();
            }
        }
    }

    /// `socket` (known) enters its own room unless it is in it; `counts` when no stored room
    /// has that name.
    fn enter_own(&mut self, socket: K, counts: bool) {
        let Some(joined) = self.sockets.get_mut(&socket) else { return };
        if joined.own.is_none() {
            joined.own = Some(joined.rooms.len() as u32);
            if counts {
                self.own_only += 1;
            }
        }
    }

    /// Joins one room.
    pub fn add(&mut self, socket: K, room: Room) {
        self.add_all(socket, [room]);
    }

    /// Removes `socket` from `room` (Node's `del`), dropping the room once empty. The socket
    /// stays known. Whether it was in the room.
    pub fn del(&mut self, socket: K, room: &str) -> bool {
        let named_elsewhere = self.rooms.contains_key(room);
        let Some(joined) = self.sockets.get_mut(&socket) else {
            return false;
        };
        if K::owner(room) == Some(socket) {
            if joined.own.take().is_none() {
                return false;
            }
            if !named_elsewhere {
                self.own_only -= 1;
            }
            return true;
        }
        let Some(at) = joined.rooms.iter().position(|r| &**r == room) else {
            return false;
        };
        let mut rooms = std::mem::take(&mut joined.rooms).into_vec();
        rooms.remove(at);
        joined.rooms = rooms.into_boxed_slice();
        if let Some(own) = joined.own.as_mut().filter(|own| at < **own as usize) {
            *own -= 1;
        }
        self.leave(socket, room);
        true
    }

    /// Forgets `socket` and leaves all its rooms (Node's `delAll`); hands back the rooms it
    /// was in, in join order.
    pub fn del_all(&mut self, socket: K) -> Vec<Room> {
        let Some(joined) = self.sockets.remove(&socket) else {
            return Vec::new();
        };
        self.sockets.shrink_sparse();
        let names = joined.names(socket);
        if joined.own.is_some() && socket.own_room(|name| !self.rooms.contains_key(name)) == Some(true) {
            self.own_only -= 1;
        }
        for room in joined.rooms.iter() {
            self.leave(socket, room);
        }
        names
    }

    fn leave(&mut self, socket: K, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&socket);
            members.shrink_sparse();
            if members.is_empty() {
                self.rooms.remove(room);
                self.rooms.shrink_sparse();
                if own_member(&self.sockets, room).is_some() {
                    // The owner's room lives on without stored members.
                    self.own_only += 1;
                }
            }
        }
    }

    /// The rooms `socket` is in, in join order (empty when unknown).
    pub fn rooms_of(&self, socket: K) -> Vec<Room> {
        self.sockets.get(&socket).map_or_else(Vec::new, |joined| joined.names(socket))
    }

    /// The sockets in `room`, in no particular order.
    pub fn sockets_in(&self, room: &str) -> impl Iterator<Item = K> + '_ {
        self.rooms.get(room).into_iter().flatten().copied().chain(own_member(&self.sockets, room))
    }

    /// How many sockets are in `room`.
    pub fn room_len(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, |m| m.len()) + usize::from(own_member(&self.sockets, room).is_some())
    }

    /// Whether some socket of this shard is in `room`.
    pub fn has_room(&self, room: &str) -> bool {
        self.rooms.contains_key(room) || own_member(&self.sockets, room).is_some()
    }

    /// Every non-empty room (the Redis adapter's `allRooms`), own rooms included.
    pub fn room_names(&self) -> impl Iterator<Item = Room> + '_ {
        let owned = self.sockets.iter().filter(|(_, j)| j.own.is_some()).filter_map(|(&k, _)| {
            k.own_room(|name| (!self.rooms.contains_key(name)).then(|| Room::from(name))).flatten()
        });
        self.rooms.keys().cloned().chain(owned)
    }

    /// How many non-empty rooms there are: [`Rooms::room_names`] counted without naming them.
    pub fn room_count(&self) -> usize {
        self.rooms.len() + self.own_only
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
        let (rooms, sockets, excluded) = (&self.rooms, &self.sockets, &mut self.scratch);
        excluded.clear();
        excluded.extend(except_sockets.iter().copied());
        for room in &opts.except {
            if let Some(members) = rooms.get(&**room) {
                excluded.extend(members.iter().copied());
            }
            excluded.extend(own_member(sockets, room));
        }
        let inner = match opts.rooms.as_slice() {
            [] => Inner::All { sockets: sockets.keys(), excluded },
            [room] => Inner::One {
                members: rooms.get(&**room).map(|m| m.iter()),
                owner: own_member(sockets, room),
                excluded,
            },
            _ => Inner::Union {
                rooms,
                sockets,
                targets: opts.rooms.iter(),
                members: None,
                owner: None,
                seen: excluded,
            },
        };
        Selection { inner }
    }

    /// [`Rooms::select`] appended to `out`.
    pub fn select_into(&mut self, opts: &BroadcastOptions, except_sockets: &[K], out: &mut Vec<K>) {
        out.extend(self.select(opts, except_sockets));
    }
}

/// The socket whose own room `room` is, when it is in it.
fn own_member<K: RoomKey>(sockets: &KeyMap<K, Joined>, room: &str) -> Option<K> {
    K::owner(room).filter(|k| sockets.get(k).is_some_and(|j| j.own.is_some()))
}

/// Iterator over the sockets a [`BroadcastOptions`] targets; see [`Rooms::select`].
pub struct Selection<'a, K> {
    inner: Inner<'a, K>,
}

enum Inner<'a, K> {
    /// No target room: every known socket not excluded.
    All { sockets: hash_map::Keys<'a, K, Joined>, excluded: &'a KeySet<K> },
    /// One target room: its stored members, then its owner; distinct already.
    One { members: Option<hash_set::Iter<'a, K>>, owner: Option<K>, excluded: &'a KeySet<K> },
    /// Several: `seen` starts as the excluded sockets and gains each one yielded.
    Union {
        rooms: &'a HashMap<Room, KeySet<K>>,
        sockets: &'a KeyMap<K, Joined>,
        targets: std::slice::Iter<'a, Room>,
        members: Option<hash_set::Iter<'a, K>>,
        owner: Option<K>,
        seen: &'a mut KeySet<K>,
    },
}

impl<K: RoomKey> Iterator for Selection<'_, K> {
    type Item = K;

    fn next(&mut self) -> Option<K> {
        match &mut self.inner {
            Inner::All { sockets, excluded } => sockets.find(|k| !excluded.contains(*k)).copied(),
            Inner::One { members, owner, excluded } => {
                if let Some(k) = members.as_mut().and_then(|m| m.find(|k| !excluded.contains(*k))) {
                    return Some(*k);
                }
                owner.take().filter(|k| !excluded.contains(k))
            }
            Inner::Union { rooms, sockets, targets, members, owner, seen } => loop {
                if let Some(k) = members.as_mut().and_then(|m| m.find(|k| seen.insert(**k))) {
                    return Some(*k);
                }
                if let Some(k) = owner.take().filter(|k| seen.insert(*k)) {
                    return Some(k);
                }
                let room = targets.next()?;
                *members = rooms.get(&**room).map(|m| m.iter());
                *owner = own_member(sockets, room);
            },
        }
    }
}

#[cfg(test)]
mod tests;
