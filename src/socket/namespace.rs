//! One shard's namespaces: the handler of each, its connected sockets, its rooms.
//!
//! A dynamic namespace (Node's `io.of(predicate)`) becomes a child namespace on a shard
//! the first time a client connects to a matching name there; the children share the
//! parent's handler, as Node copies the parent's listeners to each child.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use bytestring::ByteString;
use futures_channel::oneshot;

use super::api::{ConnectError, ConnectInfo, Event, Handler, Socket, SocketRef};
use crate::adapter::{BroadcastOptions, Room, Rooms};
use crate::engine::DisconnectReason;
use crate::protocol::sid::Sid;
use crate::protocol::value::Value;
use crate::server::EngineSocket;

pub(crate) type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A [`Handler`] with its types erased, so namespaces of different handlers share one table.
pub(crate) trait ErasedHandler {
    fn authorize(&self, info: ConnectInfo) -> LocalFuture<Result<(), ConnectError>>;
    fn new_data(&self) -> Rc<dyn Any>;
    fn on_connect(&self, socket: SocketRef, data: Rc<dyn Any>) -> LocalFuture<()>;
    fn on_event(&self, socket: SocketRef, data: Rc<dyn Any>, event: Event) -> LocalFuture<()>;
    fn on_disconnect(
        &self,
        socket: SocketRef,
        data: Rc<dyn Any>,
        reason: DisconnectReason,
    ) -> LocalFuture<()>;
}

pub(crate) struct Typed<H>(pub(crate) Rc<H>);

impl<H: Handler> ErasedHandler for Typed<H> {
    fn authorize(&self, info: ConnectInfo) -> LocalFuture<Result<(), ConnectError>> {
        let h = self.0.clone();
        Box::pin(async move { h.authorize(&info).await })
    }

    fn new_data(&self) -> Rc<dyn Any> {
        Rc::new(RefCell::new(H::Data::default()))
    }

    fn on_connect(&self, socket: SocketRef, data: Rc<dyn Any>) -> LocalFuture<()> {
        let h = self.0.clone();
        Box::pin(async move {
            if let Some(socket) = Socket::<H::Data>::from_ref(socket, data) {
                h.on_connect(socket).await;
            }
        })
    }

    fn on_event(&self, socket: SocketRef, data: Rc<dyn Any>, event: Event) -> LocalFuture<()> {
        let h = self.0.clone();
        Box::pin(async move {
            if let Some(socket) = Socket::<H::Data>::from_ref(socket, data) {
                h.on_event(socket, event).await;
            }
        })
    }

    fn on_disconnect(
        &self,
        socket: SocketRef,
        data: Rc<dyn Any>,
        reason: DisconnectReason,
    ) -> LocalFuture<()> {
        let h = self.0.clone();
        Box::pin(async move {
            if let Some(socket) = Socket::<H::Data>::from_ref(socket, data) {
                h.on_disconnect(socket, reason).await;
            }
        })
    }
}

/// A connected socket's state on its shard.
pub(crate) struct SocketEntry {
    pub(crate) engine: EngineSocket,
    pub(crate) data: Rc<dyn Any>,
    /// The CONNECT payload as received (`{}` when none).
    auth: ByteString,
    next_ack: u64,
    acks: HashMap<u64, oneshot::Sender<Vec<Value>>>,
}

/// One namespace on one shard.
pub(crate) struct NamespaceState {
    pub(crate) name: ByteString,
    pub(crate) handler: Rc<dyn ErasedHandler>,
    sockets: RefCell<HashMap<Sid, SocketEntry>>,
    rooms: RefCell<Rooms<Sid>>,
    /// Reused by every broadcast selection.
    scratch: RefCell<Vec<Sid>>,
}

impl NamespaceState {
    pub(crate) fn new(name: ByteString, handler: Rc<dyn ErasedHandler>) -> Rc<Self> {
        Rc::new(NamespaceState {
            name,
            handler,
            sockets: RefCell::new(HashMap::new()),
            rooms: RefCell::new(Rooms::new()),
            scratch: RefCell::new(Vec::new()),
        })
    }

    /// Adds a connected socket; it is in the room of its own id.
    pub(crate) fn insert(&self, id: Sid, engine: EngineSocket, data: Rc<dyn Any>, auth: ByteString) {
        let entry = SocketEntry { engine, data, auth, next_ack: 0, acks: HashMap::new() };
        self.sockets.borrow_mut().insert(id, entry);
        self.rooms.borrow_mut().add_all(id, [ByteString::from(id.as_str())]);
    }

    /// Removes a socket; its pending acks fail (their senders drop).
    pub(crate) fn remove(&self, id: Sid) -> Option<SocketEntry> {
        self.rooms.borrow_mut().del_all(id);
        self.sockets.borrow_mut().remove(&id)
    }

    pub(crate) fn auth_of(&self, id: Sid) -> Option<ByteString> {
        self.sockets.borrow().get(&id).map(|e| e.auth.clone())
    }

    pub(crate) fn data_of(&self, id: Sid) -> Option<Rc<dyn Any>> {
        self.sockets.borrow().get(&id).map(|e| e.data.clone())
    }

    pub(crate) fn join(&self, id: Sid, room: Room) {
        if self.sockets.borrow().contains_key(&id) {
            self.rooms.borrow_mut().add(id, room);
        }
    }

    pub(crate) fn leave(&self, id: Sid, room: &str) {
        self.rooms.borrow_mut().del(id, room);
    }

    pub(crate) fn rooms_of(&self, id: Sid) -> Vec<Room> {
        self.rooms.borrow().rooms_of(id).to_vec()
    }

    /// Registers an ack the client will answer; returns its id and the receiving end.
    pub(crate) fn register_ack(&self, id: Sid) -> Option<(u64, oneshot::Receiver<Vec<Value>>)> {
        let mut sockets = self.sockets.borrow_mut();
        let entry = sockets.get_mut(&id)?;
        let ack_id = entry.next_ack;
        entry.next_ack += 1;
        let (tx, rx) = oneshot::channel();
        entry.acks.insert(ack_id, tx);
        Some((ack_id, rx))
    }

    pub(crate) fn forget_ack(&self, id: Sid, ack_id: u64) {
        if let Some(entry) = self.sockets.borrow_mut().get_mut(&id) {
            entry.acks.remove(&ack_id);
        }
    }

    /// The client answered ack `ack_id`.
    pub(crate) fn resolve_ack(&self, id: Sid, ack_id: u64, args: Vec<Value>) {
        let sender = self.sockets.borrow_mut().get_mut(&id).and_then(|e| e.acks.remove(&ack_id));
        if let Some(sender) = sender {
            let _ = sender.send(args);
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
    live: RefCell<HashMap<ByteString, Rc<NamespaceState>>>,
    dynamic: Vec<(Predicate, Rc<dyn ErasedHandler>)>,
}

pub(crate) type Predicate = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

impl Registry {
    pub(crate) fn add_static(&mut self, name: ByteString, handler: Rc<dyn ErasedHandler>) {
        self.live.get_mut().insert(name.clone(), NamespaceState::new(name, handler));
    }

    pub(crate) fn add_dynamic(&mut self, predicate: Predicate, handler: Rc<dyn ErasedHandler>) {
        self.dynamic.push((predicate, handler));
    }

    /// The namespace a client may connect to by this name, creating a dynamic child if one matches.
    pub(crate) fn resolve(&self, name: &ByteString) -> Option<Rc<NamespaceState>> {
        if let Some(ns) = self.live.borrow().get(name) {
            return Some(ns.clone());
        }
        let (_, handler) = self.dynamic.iter().find(|(matches, _)| matches(name))?;
        let ns = NamespaceState::new(name.clone(), handler.clone());
        self.live.borrow_mut().insert(name.clone(), ns.clone());
        Some(ns)
    }

    /// A namespace that exists on this shard already.
    pub(crate) fn get(&self, name: &str) -> Option<Rc<NamespaceState>> {
        self.live.borrow().get(name).cloned()
    }
}
