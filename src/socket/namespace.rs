//! One shard's namespaces: the handler of each, its connected sockets, its rooms, the acks
//! its sockets owe.
//!
//! A dynamic namespace (Node's `io.of(predicate)`, a `ParentNamespace`) becomes a child
//! namespace on a shard the first time a client connects to a matching name there (or
//! [`Io::of`](super::Io::of) names one); the children share the parent's handler, as Node
//! copies the parent's listeners to each child, and remember their parent so that a
//! broadcast from it reaches them.

use std::any::Any;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::SystemTime;

use bytestring::ByteString;
use futures_channel::oneshot;

use super::acks::{AckSink, AckWaiter, next_socket_ack_id};
use super::admin::Tap;
use super::handler::ErasedHandler;
use crate::adapter::{BroadcastOptions, Room, Rooms};
use crate::engine::ShrinkSparse;
use crate::metrics::{Gauge, ShardMetrics};
use crate::protocol::sid::Sid;
use crate::protocol::value::Value;
use crate::server::EngineSocket;

/// A connected socket's state on its shard: its engine session inline (every broadcast reads
/// it for each recipient), the rest boxed. The map holding the entries keeps up to twice as
/// many buckets as entries, so what the entry keeps inline counts up to three times.
pub(crate) struct SocketEntry {
    pub(crate) engine: EngineSocket,
    more: Box<SocketMore>,
}

/// What a socket entry keeps out of line.
struct SocketMore {
    data: Rc<dyn Any>,
    /// The CONNECT payload as received (`{}` when none).
    auth: ByteString,
    /// When the socket joined (Node's `handshake.issued`).
    issued: SystemTime,
    /// Its private id, with connection state recovery on.
    pid: Option<Sid>,
    /// Restored by connection state recovery.
    recovered: bool,
    next_ack: u64,
    /// Acks the client owes, only while there are some: most sockets never owe one, and the
    /// box keeps the entry one pointer wide rather than six.
    #[allow(clippy::box_collection)]
    acks: Option<Box<HashMap<u64, AckWaiter>>>,
}

impl SocketMore {
    fn owe(&mut self, ack_id: u64, waiter: AckWaiter) {
        self.acks.get_or_insert_default().insert(ack_id, waiter);
    }

    fn settle(&mut self, ack_id: u64) -> Option<AckWaiter> {
        let acks = self.acks.as_mut()?;
        let waiter = acks.remove(&ack_id);
        if acks.is_empty() {
            self.acks = None;
        }
        waiter
    }
}

/// What [`NamespaceState::details_of`] tells of a socket.
pub(crate) struct SocketInfo {
    pub(crate) engine: EngineSocket,
    pub(crate) auth: ByteString,
    pub(crate) issued: SystemTime,
    pub(crate) rooms: Vec<Room>,
}

/// One namespace on one shard.
pub(crate) struct NamespaceState {
    pub(crate) name: ByteString,
    pub(crate) handler: Rc<dyn ErasedHandler>,
    /// The dynamic namespace (its index in the registry) this one is a child of.
    pub(crate) parent: Option<usize>,
    sockets: RefCell<foldhash::HashMap<Sid, SocketEntry>>,
    rooms: RefCell<Rooms<Sid>>,
    /// Reused by every broadcast selection.
    scratch: RefCell<Vec<Sid>>,
    /// Where this namespace is counted, known from its first socket on (before any room).
    metrics: OnceCell<NamespaceMetrics>,
    /// Told when a room appears on this shard or disappears (the sharded Redis adapter
    /// subscribes to its channel): `(room, exists, private)`, where private means it is the
    /// own room of a socket of this shard.
    room_hook: RefCell<Option<RoomHook>>,
    member_hook: RefCell<Option<MemberHook>>,
    /// The Admin UI's reporter (development mode), told of connects, rooms and events.
    pub(crate) tap: Option<Rc<Tap>>,
}

/// See [`NamespaceState::set_room_hook`].
pub(crate) type RoomHook = Rc<dyn Fn(&Room, bool, bool)>;

/// See [`NamespaceState::set_member_hook`].
pub(crate) type MemberHook = Rc<dyn Fn(Sid, bool)>;

struct NamespaceMetrics {
    shard: Arc<ShardMetrics>,
    sockets: Arc<Gauge>,
}

impl NamespaceState {
    pub(crate) fn new(
        name: ByteString,
        handler: Rc<dyn ErasedHandler>,
        parent: Option<usize>,
        tap: Option<Rc<Tap>>,
    ) -> Rc<Self> {
        Rc::new(NamespaceState {
            name,
            handler,
            parent,
            sockets: RefCell::new(foldhash::HashMap::default()),
            rooms: RefCell::new(Rooms::new()),
            scratch: RefCell::new(Vec::new()),
            metrics: OnceCell::new(),
            room_hook: RefCell::new(None),
            member_hook: RefCell::new(None),
            tap,
        })
    }

    /// Adds a connected socket; it is in the room of its own id. `pid` is its private id
    /// (connection state recovery on), `recovered` whether the recovery restored it.
    pub(crate) fn insert(
        &self,
        id: Sid,
        engine: EngineSocket,
        data: Rc<dyn Any>,
        auth: ByteString,
        pid: Option<Sid>,
        recovered: bool,
    ) {
        let metrics = self.metrics.get_or_init(|| NamespaceMetrics {
            shard: engine.metrics().clone(),
            sockets: engine.metrics().namespace(&self.name),
        });
        let issued = SystemTime::now();
        let more = Box::new(SocketMore { data, auth, issued, pid, recovered, next_ack: 0, acks: None });
        let entry = SocketEntry { engine, more };
        if self.sockets.borrow_mut().insert(id, entry).is_none() {
            metrics.sockets.inc();
        }
        let room = self.hook().map(|_| Room::from(id.as_str()));
        self.rooms_watched(room.into_iter().collect(), |rooms| rooms.add_socket(id));
        self.member_changed(id, true);
        if let Some(tap) = &self.tap {
            tap.connected(&self.name, id);
        }
    }

    /// Removes a socket; its pending acks fail (their senders drop).
    pub(crate) fn remove(&self, id: Sid) -> Option<SocketEntry> {
        if let Some(tap) = &self.tap {
            for room in self.rooms_of(id) {
                tap.room(false, &self.name, &room, id);
            }
        }
        let watched = if self.hook().is_some() { self.rooms_of(id) } else { Vec::new() };
        self.rooms_watched(watched, |rooms| rooms.del_all(id));
        let entry = {
            let mut sockets = self.sockets.borrow_mut();
            let entry = sockets.remove(&id);
            sockets.shrink_sparse();
            entry
        };
        if let (Some(_), Some(metrics)) = (&entry, self.metrics.get()) {
            metrics.sockets.dec();
        }
        if entry.is_some() {
            self.member_changed(id, false);
        }
        entry
    }

    /// Socket `id` is connected to it.
    pub(crate) fn has_socket(&self, id: Sid) -> bool {
        self.sockets.borrow().contains_key(&id)
    }

    /// No socket is connected to it on this shard.
    pub(crate) fn is_empty(&self) -> bool {
        self.sockets.borrow().is_empty()
    }

    /// Changes the room index, counting the rooms it gained or lost.
    fn rooms_mut<R>(&self, change: impl FnOnce(&mut Rooms<Sid>) -> R) -> R {
        let mut rooms = self.rooms.borrow_mut();
        let before = rooms.room_count();
        let r = change(&mut rooms);
        if let Some(metrics) = self.metrics.get() {
            metrics.shard.rooms_changed(before, rooms.room_count());
        }
        r
    }

    pub(crate) fn auth_of(&self, id: Sid) -> Option<ByteString> {
        self.sockets.borrow().get(&id).map(|e| e.more.auth.clone())
    }

    /// The socket's private id (connection state recovery on) and whether it was recovered.
    pub(crate) fn recovery_of(&self, id: Sid) -> Option<(Option<Sid>, bool)> {
        self.sockets.borrow().get(&id).map(|e| (e.more.pid, e.more.recovered))
    }

    pub(crate) fn data_of(&self, id: Sid) -> Option<Rc<dyn Any>> {
        self.sockets.borrow().get(&id).map(|e| e.more.data.clone())
    }

    pub(crate) fn details_of(&self, id: Sid) -> Option<SocketInfo> {
        let sockets = self.sockets.borrow();
        let entry = sockets.get(&id)?;
        Some(SocketInfo {
            engine: entry.engine.clone(),
            auth: entry.more.auth.clone(),
            issued: entry.more.issued,
            rooms: self.rooms_of(id),
        })
    }

    pub(crate) fn join(&self, id: Sid, room: Room) {
        if self.sockets.borrow().contains_key(&id) {
            if let Some(tap) = &self.tap
                && !self.rooms_of(id).contains(&room)
            {
                tap.room(true, &self.name, &room, id);
            }
            let watched = if self.hook().is_some() { vec![room.clone()] } else { Vec::new() };
            self.rooms_watched(watched, |rooms| rooms.add(id, room));
            self.member_changed(id, true);
        }
    }

    pub(crate) fn leave(&self, id: Sid, room: &str) {
        let watched = if self.hook().is_some() { vec![Room::from(room)] } else { Vec::new() };
        let left = self.rooms_watched(watched, |rooms| rooms.del(id, room));
        if left && let Some(tap) = &self.tap {
            tap.room(false, &self.name, room, id);
        }
        if self.has_socket(id) {
            self.member_changed(id, true);
        }
    }

    /// Has `hook` told when a socket connects or its rooms change (`true`) and when it leaves
    /// (`false`): the streams adapter keeps its session in Redis meanwhile.
    pub(crate) fn set_member_hook(&self, hook: Option<MemberHook>) {
        *self.member_hook.borrow_mut() = hook;
    }

    fn member_changed(&self, id: Sid, alive: bool) {
        let hook = self.member_hook.borrow().clone();
        if let Some(hook) = hook {
            hook(id, alive);
        }
    }

    /// Has `hook` told of every room that appears or disappears from now on (replacing the
    /// hook before), and of the rooms there are now.
    pub(crate) fn set_room_hook(&self, hook: Option<RoomHook>) {
        *self.room_hook.borrow_mut() = hook.clone();
        if let Some(hook) = hook {
            for room in self.room_names() {
                let private = self.is_own_room(&room);
                hook(&room, true, private);
            }
        }
    }

    fn hook(&self) -> Option<RoomHook> {
        self.room_hook.borrow().clone()
    }

    /// The room is the own room of a socket of this shard.
    fn is_own_room(&self, room: &str) -> bool {
        Sid::parse(room.as_bytes()).is_some_and(|id| self.has_socket(id))
    }

    /// [`Self::rooms_mut`], telling the room hook which of `watched` appeared or disappeared.
    fn rooms_watched<R>(&self, watched: Vec<Room>, change: impl FnOnce(&mut Rooms<Sid>) -> R) -> R {
        let Some(hook) = self.hook().filter(|_| !watched.is_empty()) else {
            return self.rooms_mut(change);
        };
        let before: Vec<(bool, bool)> =
            watched.iter().map(|r| (self.has_room(r), self.is_own_room(r))).collect();
        let out = self.rooms_mut(change);
        for (room, (had, private)) in watched.iter().zip(before) {
            let has = self.has_room(room);
            if had != has {
                hook(room, has, private || self.is_own_room(room));
            }
        }
        out
    }

    pub(crate) fn rooms_of(&self, id: Sid) -> Vec<Room> {
        self.rooms.borrow().rooms_of(id)
    }

    /// Registers an ack the client will answer; returns its id and the receiving end.
    pub(crate) fn register_ack(&self, id: Sid) -> Option<(u64, oneshot::Receiver<Vec<Value>>)> {
        let mut sockets = self.sockets.borrow_mut();
        let entry = &mut sockets.get_mut(&id)?.more;
        let acks = &entry.acks;
        let (ack_id, next) =
            next_socket_ack_id(entry.next_ack, |i| acks.as_ref().is_some_and(|a| a.contains_key(&i)));
        entry.next_ack = next;
        let (tx, rx) = oneshot::channel();
        entry.owe(ack_id, AckWaiter::Socket(tx));
        Some((ack_id, rx))
    }

    /// Registers the ack of a broadcast whose packet carries `ack_id`; the client's first
    /// argument goes to `sink`. `false` when the socket is gone.
    pub(crate) fn register_broadcast_ack(&self, id: Sid, ack_id: u64, sink: AckSink) -> bool {
        let mut sockets = self.sockets.borrow_mut();
        let Some(entry) = sockets.get_mut(&id) else { return false };
        entry.more.owe(ack_id, AckWaiter::Broadcast(sink));
        true
    }

    pub(crate) fn forget_ack(&self, id: Sid, ack_id: u64) {
        if let Some(entry) = self.sockets.borrow_mut().get_mut(&id) {
            entry.more.settle(ack_id);
        }
    }

    /// The client answered ack `ack_id`.
    pub(crate) fn resolve_ack(&self, id: Sid, ack_id: u64, args: Vec<Value>) {
        let waiter = self.sockets.borrow_mut().get_mut(&id).and_then(|e| e.more.settle(ack_id));
        if let Some(waiter) = waiter {
            waiter.answer(args);
        }
    }

    /// The engine sessions of the sockets `opts` selects on this shard.
    pub(crate) fn select(&self, opts: &BroadcastOptions) -> Vec<(Sid, EngineSocket)> {
        let mut keys = self.scratch.borrow_mut();
        keys.clear();
        self.rooms.borrow_mut().select_into(opts, &[], &mut keys);
        let sockets = self.sockets.borrow();
        keys.iter().filter_map(|id| sockets.get(id).map(|e| (*id, e.engine.clone()))).collect()
    }

    /// Whether a socket of this shard is in `room` (a socket id is a room too).
    pub(crate) fn has_room(&self, room: &str) -> bool {
        self.rooms.borrow().has_room(room)
    }

    /// Every room with a socket of this shard in it, socket ids included (Node's
    /// `adapter.rooms.keys()`).
    pub(crate) fn room_names(&self) -> Vec<Room> {
        self.rooms.borrow().room_names().collect()
    }

    /// Adds or removes the selected sockets to or from `rooms` (Node's `socketsJoin`/`socketsLeave`).
    pub(crate) fn select_rooms(&self, opts: &BroadcastOptions, rooms: &[Room], join: bool) {
        for (id, _) in self.select(opts) {
            for room in rooms {
                if join {
                    self.join(id, room.clone());
                } else {
                    self.leave(id, room);
                }
            }
        }
    }
}

/// The namespaces a shard serves.
#[derive(Default)]
pub(crate) struct Registry {
    /// Looked up for every packet received: foldhash (seeded per process, as the other tables
    /// keyed by what clients send) rather than SipHash, which costs more on a short name.
    live: RefCell<foldhash::HashMap<ByteString, Rc<NamespaceState>>>,
    /// The static namespaces' names, in the order they were declared.
    statics: Vec<ByteString>,
    /// The dynamic namespaces (parents), in the order they were declared: their index is the
    /// same on every shard.
    dynamic: Vec<(Predicate, Rc<dyn ErasedHandler>)>,
    /// Given to every namespace made here: the Admin UI's reporter, when it is on.
    tap: Option<Rc<Tap>>,
}

pub(crate) type Predicate = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

impl Registry {
    /// The Admin UI's reporter for the namespaces added from now on.
    pub(crate) fn set_tap(&mut self, tap: Option<Rc<Tap>>) {
        self.tap = tap;
    }

    pub(crate) fn tap(&self) -> Option<&Rc<Tap>> {
        self.tap.as_ref()
    }

    /// The static namespaces' names, in the order they were declared.
    pub(crate) fn static_names(&self) -> &[ByteString] {
        &self.statics
    }

    pub(crate) fn add_static(&mut self, name: ByteString, handler: Rc<dyn ErasedHandler>) {
        self.statics.push(name.clone());
        let ns = NamespaceState::new(name.clone(), handler, None, self.tap.clone());
        self.live.get_mut().insert(name, ns);
    }

    pub(crate) fn add_dynamic(&mut self, predicate: Predicate, handler: Rc<dyn ErasedHandler>) {
        self.dynamic.push((predicate, handler));
    }

    /// The namespace a client may connect to by this name, creating a dynamic child if one matches.
    pub(crate) fn resolve(&self, name: &ByteString) -> Option<Rc<NamespaceState>> {
        if let Some(ns) = self.live.borrow().get(name) {
            return Some(ns.clone());
        }
        let parent = self.parent_of(name)?;
        let handler = self.dynamic[parent].1.clone();
        let ns = NamespaceState::new(name.clone(), handler, Some(parent), self.tap.clone());
        self.live.borrow_mut().insert(name.clone(), ns.clone());
        Some(ns)
    }

    /// Node's `cleanupEmptyChildNamespaces`: forgets `ns` if it is a dynamic child with no
    /// socket left; `true` if it did. Its gauge goes from the metrics too, so names used
    /// once do not pile up there either.
    pub(crate) fn remove_empty_child(&self, ns: &Rc<NamespaceState>) -> bool {
        if ns.parent.is_none() || !ns.is_empty() {
            return false;
        }
        let mut live = self.live.borrow_mut();
        if !live.get(&ns.name).is_some_and(|current| Rc::ptr_eq(current, ns)) {
            return false;
        }
        live.remove(&ns.name);
        if let Some(metrics) = ns.metrics.get() {
            metrics.shard.forget_namespace(&ns.name);
        }
        true
    }

    /// The live namespace named as `ns`, for a socket accepted into `ns` after an await: a
    /// child removed meanwhile for being empty is put back (or the one made since is used).
    pub(crate) fn readopt(&self, ns: Rc<NamespaceState>) -> Rc<NamespaceState> {
        self.live.borrow_mut().entry(ns.name.clone()).or_insert(ns).clone()
    }

    /// A namespace that exists on this shard already.
    pub(crate) fn get(&self, name: &str) -> Option<Rc<NamespaceState>> {
        self.live.borrow().get(name).cloned()
    }

    /// The dynamic namespace that would make a child named `name` (the first declared).
    pub(crate) fn parent_of(&self, name: &str) -> Option<usize> {
        self.dynamic.iter().position(|(matches, _)| matches(name))
    }

    /// The children of dynamic namespace `parent` on this shard.
    pub(crate) fn children(&self, parent: usize) -> Vec<Rc<NamespaceState>> {
        self.live.borrow().values().filter(|ns| ns.parent == Some(parent)).cloned().collect()
    }

    /// Every handler once: the static namespaces' then the dynamic ones', in declaration order.
    /// The namespaces this shard has now: the static ones and the children made so far.
    pub(crate) fn names(&self) -> Vec<ByteString> {
        self.live.borrow().keys().cloned().collect()
    }

    pub(crate) fn handlers(&self) -> Vec<Rc<dyn ErasedHandler>> {
        let live = self.live.borrow();
        let statics = self.statics.iter().filter_map(|name| live.get(name)).map(|ns| ns.handler.clone());
        statics.chain(self.dynamic.iter().map(|(_, h)| h.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::api::Socket;
    use crate::socket::handler::{Handler, Typed};

    struct Nop;
    impl Handler for Nop {
        type Data = ();

        async fn authorize(&self, _: &crate::socket::ConnectInfo) -> Result<(), crate::socket::ConnectError> {
            Ok(())
        }
        async fn on_event(&self, _socket: Socket<()>, _event: crate::socket::Event) {}
    }

    fn handler() -> Rc<dyn ErasedHandler> {
        Rc::new(Typed::new(Nop))
    }

    #[test]
    fn children_know_their_parent_and_statics_come_first() {
        let mut registry = Registry::default();
        registry.add_static("/dyn-static".into(), handler());
        registry.add_dynamic(std::sync::Arc::new(|n| n.starts_with("/dyn-")), handler());
        registry.add_dynamic(std::sync::Arc::new(|n| n.starts_with("/d")), handler());
        assert_eq!(registry.handlers().len(), 3);

        assert_eq!(registry.resolve(&"/dyn-static".into()).map(|ns| ns.parent), Some(None));
        assert!(registry.get("/dyn-a").is_none());
        assert_eq!(registry.resolve(&"/dyn-a".into()).map(|ns| ns.parent), Some(Some(0)));
        assert_eq!(registry.resolve(&"/dx".into()).map(|ns| ns.parent), Some(Some(1)));
        assert!(registry.resolve(&"/other".into()).is_none());
        assert_eq!(registry.parent_of("/dyn-z"), Some(0));
        assert_eq!(registry.parent_of("/other"), None);

        let names = |parent| {
            let mut names: Vec<String> =
                registry.children(parent).iter().map(|ns| ns.name.to_string()).collect();
            names.sort();
            names
        };
        assert_eq!(names(0), ["/dyn-a"]);
        assert_eq!(names(1), ["/dx"]);
        // A child made once is found again, not made twice.
        let a = registry.resolve(&"/dyn-a".into()).expect("the child");
        assert!(Rc::ptr_eq(&a, &registry.get("/dyn-a").expect("registered")));

        // Empty: a child may go, a static namespace never.
        let statik = registry.get("/dyn-static").expect("static");
        assert!(!registry.remove_empty_child(&statik));
        assert!(registry.remove_empty_child(&a));
        assert!(registry.get("/dyn-a").is_none());
        assert!(!registry.remove_empty_child(&a), "gone already");
        // Put back for a socket accepted after the removal; a newer child wins over it.
        assert!(Rc::ptr_eq(&registry.readopt(a.clone()), &a));
        assert!(registry.remove_empty_child(&a));
        let newer = registry.resolve(&"/dyn-a".into()).expect("made again");
        assert!(!Rc::ptr_eq(&newer, &a));
        assert!(Rc::ptr_eq(&registry.readopt(a), &newer));
    }
}
