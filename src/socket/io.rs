//! The server as an application reaches it outside any socket's callback (Node's `io`):
//! [`Io`], one per shard, given to [`Handler::on_start`](super::Handler::on_start) and by
//! [`SocketRef::io`](super::SocketRef::io); and [`ParentBroadcast`], the emits of a dynamic
//! namespace to all its children (Node's `ParentNamespace`, `lib/parent-namespace.ts`).
//!
//! A dynamic namespace has children on each shard where a client joined one of its names; a
//! parent broadcast is sent to every shard, and each shard's children broadcast it to their
//! own sockets, each child encoding it once with its own name.

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use bytestring::ByteString;

use super::api::{EmitError, RawArgs};
use super::broadcast::Broadcast;
use super::layer::Layer;
use super::send::is_reserved;
use crate::adapter::BroadcastOptions;
use crate::adapter::peer::{EmitArgs, ParentEmit, Reach};
use crate::adapter::requests::ClusterRequestError;
use crate::cluster::RedisError;
use crate::protocol::value::Value;
use crate::shard::ShardId;

/// This shard's Socket.IO server. Cheap to clone; stays on its shard.
#[derive(Clone)]
pub struct Io {
    layer: Rc<Layer>,
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io").field("shard", &self.shard()).finish()
    }
}

impl Io {
    pub(crate) fn new(layer: Rc<Layer>) -> Self {
        Io { layer }
    }

    /// This shard's index.
    pub fn shard(&self) -> ShardId {
        self.layer.ctx().id()
    }

    pub(crate) fn layer(&self) -> &Rc<Layer> {
        &self.layer
    }

    /// How many shards run.
    pub fn shards(&self) -> usize {
        self.layer.ctx().shards()
    }

    /// A broadcast from namespace `name` (Node's `io.of(name)`; a missing leading `/` is
    /// added): a static namespace, or a child of the dynamic namespace whose predicate accepts
    /// the name (made on this shard if no client joined it here yet). It reaches the sockets
    /// of that name on every shard. `None` when no namespace has that name.
    pub fn of(&self, name: &str) -> Option<Broadcast> {
        let name = match name.starts_with('/') {
            true => ByteString::from(name),
            false => ByteString::from(format!("/{name}")),
        };
        let ns = self.layer.registry.resolve(&name)?;
        if let Some(cluster) = self.layer.cluster() {
            cluster.ensure_namespace(&ns.name);
        }
        Some(Broadcast::new(self.layer.clone(), ns.name.clone()))
    }

    /// The dynamic namespace whose predicate accepts `child_name` (the first declared), to
    /// emit to all its children on every shard.
    pub fn of_parent(&self, child_name: &str) -> Option<ParentBroadcast> {
        let parent = self.layer.registry.parent_of(child_name)?;
        Some(ParentBroadcast { layer: self.layer.clone(), parent, opts: BroadcastOptions::new() })
    }

    /// Node's `io.serverSideEmit(event, ...args)` on the main namespace: see
    /// [`Broadcast::server_side_emit`].
    pub fn server_side_emit<A: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        args: &A,
    ) -> Result<(), EmitError> {
        self.main().server_side_emit(event, args)
    }

    /// Node's `io.serverSideEmit(event, ...args, callback)` on the main namespace: see
    /// [`Broadcast::server_side_emit_with_ack`].
    pub fn server_side_emit_with_ack<A: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        args: &A,
    ) -> impl Future<Output = Result<Vec<Value>, (Vec<Value>, ClusterRequestError)>> + 'static + use<A> {
        self.main().server_side_emit_with_ack(event, args)
    }

    /// How many servers the cluster has, this one included: see [`Broadcast::server_count`].
    pub fn server_count(&self) -> impl Future<Output = Result<usize, RedisError>> + use<> {
        self.main().server_count()
    }

    /// The main namespace, whether or not it was declared (it only names the channels).
    fn main(&self) -> Broadcast {
        Broadcast::new(self.layer.clone(), ByteString::from_static("/"))
    }

    /// Runs `task` on this shard, detached. A panic in it ends only the task: it is logged
    /// and counted (`tpcio_handler_panics_total`).
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.layer.spawn(task);
    }
}

/// Emits from a dynamic namespace to its children (Node's `ParentNamespace` emit and
/// `to(…).emit`), on every shard. As in Node, only emits: joining, fetching and acks are
/// per child ([`Io::of`]).
#[derive(Clone)]
pub struct ParentBroadcast {
    layer: Rc<Layer>,
    parent: usize,
    opts: BroadcastOptions,
}

impl std::fmt::Debug for ParentBroadcast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParentBroadcast").field("parent", &self.parent).field("opts", &self.opts).finish()
    }
}

impl ParentBroadcast {
    /// Only sockets in `room` of each child (several calls make a union).
    pub fn to(mut self, room: impl Into<ByteString>) -> Self {
        self.opts = self.opts.to(room.into());
        self
    }

    /// Only the sockets in `room` (Node's `to`/`in`); more calls add rooms.
    pub fn within(self, room: impl Into<ByteString>) -> Self {
        self.to(room)
    }

    /// Not the sockets in `room`.
    pub fn except(mut self, room: impl Into<ByteString>) -> Self {
        self.opts = self.opts.except(room.into());
        self
    }

    /// Drop the packet for sockets that cannot take it now (Node's `volatile`).
    pub fn volatile(mut self) -> Self {
        self.opts = self.opts.volatile();
        self
    }

    /// Only the children of this process (every shard), none of the other servers of a cluster.
    pub fn local(mut self) -> Self {
        self.opts = self.opts.local();
        self
    }

    /// The selection so far: rooms, exceptions and flags.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Emits to every child's selected sockets; `args` is an argument list as for
    /// [`SocketRef::emit`](super::SocketRef::emit).
    pub fn emit<A: serde::Serialize + ?Sized>(&self, event: &str, args: &A) -> Result<(), EmitError> {
        self.send(event, EmitArgs::Raw(super::typed::encode::raw_args(args)?))
    }

    /// Emits arguments exactly as received elsewhere (no re-encoding of their JSON).
    pub fn emit_raw(&self, event: &str, args: &RawArgs) -> Result<(), EmitError> {
        self.send(event, EmitArgs::Raw(args.clone()))
    }

    fn send(&self, event: &str, args: EmitArgs) -> Result<(), EmitError> {
        if is_reserved(event) {
            return Err(EmitError::Reserved);
        }
        let emit = Arc::new(ParentEmit { event: event.to_owned(), args });
        self.layer.parent_broadcast(Reach::of(&self.opts), self.parent, self.opts.clone(), emit);
        Ok(())
    }
}
