//! Broadcast operators (Node's `BroadcastOperator`): choose sockets by rooms, then
//! emit to them (with or without acks), fetch them, or make them join, leave or disconnect —
//! on every shard.
//!
//! A broadcast is encoded once; this shard's recipients and each peer shard get the
//! same refcounted bytes, and a peer gets the room selector, never a list of sockets.

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytestring::ByteString;

use super::api::{BroadcastAckError, EmitError, RawArgs};
use super::layer::Layer;
use super::send::{is_reserved, raw_packet};
use crate::adapter::peer::Reach;
use crate::adapter::remote::RemoteSocket;
use crate::adapter::requests::{ClusterRequestError, Found};
use crate::adapter::{BroadcastOptions, EncodedPacket, Room};
use crate::cluster::RedisError;
use crate::cluster::wire::Request;
use crate::protocol::value::Value;

/// A selection of a namespace's sockets, built up with `to`/`except`/flags.
#[derive(Clone)]
pub struct Broadcast {
    layer: Rc<Layer>,
    nsp: ByteString,
    opts: BroadcastOptions,
}

impl std::fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast").field("nsp", &self.nsp).field("opts", &self.opts).finish()
    }
}

impl Broadcast {
    pub(crate) fn new(layer: Rc<Layer>, nsp: ByteString) -> Self {
        Broadcast { layer, nsp, opts: BroadcastOptions::new() }
    }

    /// Only sockets in `room` (several calls make a union).
    pub fn to(mut self, room: impl Into<ByteString>) -> Self {
        self.opts = self.opts.to(room.into());
        self
    }

    /// Node's `in`, the same as [`Broadcast::to`].
    pub fn within(self, room: impl Into<ByteString>) -> Self {
        self.to(room)
    }

    /// Not the sockets in `room`.
    pub fn except(mut self, room: impl Into<ByteString>) -> Self {
        self.opts = self.opts.except(room.into());
        self
    }

    /// Dropped for sockets whose outgoing queue is full, instead of disconnecting them.
    pub fn volatile(mut self) -> Self {
        self.opts = self.opts.volatile();
        self
    }

    /// Only this server's sockets (every shard of this process), none of the other servers of
    /// a cluster (Node's `local`).
    pub fn local(mut self) -> Self {
        self.opts = self.opts.local();
        self
    }

    /// How long [`Broadcast::emit_with_ack`] and [`Broadcast::fetch_sockets`] wait (Node's
    /// `timeout`); 5 s when not set.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts = self.opts.timeout(timeout);
        self
    }

    /// The selection so far: rooms, exceptions and flags.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// The namespace it selects from.
    pub fn namespace(&self) -> &str {
        &self.nsp
    }

    fn reach(&self) -> Reach {
        Reach::of(&self.opts)
    }

    /// Emits to every selected socket, on every shard (Node's `io.to(room).emit(event,
    /// ...args)`), encoded once. `args` is an argument list as for
    /// [`SocketRef::emit`](super::SocketRef::emit).
    pub fn emit<A: serde::Serialize + ?Sized>(&self, event: &str, args: &A) -> Result<(), EmitError> {
        if is_reserved(event) {
            return Err(EmitError::Reserved);
        }
        let (packet, attachments) = super::typed::encode::event_packet(self.nsp.clone(), event, args, None)?;
        let packet = EncodedPacket::new(&packet, attachments);
        self.layer.broadcast(self.reach(), &self.nsp, self.opts.clone(), Arc::new(packet));
        Ok(())
    }

    /// Emits arguments exactly as received elsewhere (no re-encoding).
    pub fn emit_raw(&self, event: &str, args: &RawArgs) -> Result<(), EmitError> {
        if is_reserved(event) {
            return Err(EmitError::Reserved);
        }
        let packet = raw_packet(false, self.nsp.clone(), Some(event), None, args);
        let encoded = EncodedPacket::new(&packet, args.attachments.clone());
        self.layer.broadcast(self.reach(), &self.nsp, self.opts.clone(), Arc::new(encoded));
        Ok(())
    }

    /// Emits to every selected socket, on every shard, one ack id for all, and collects each
    /// client's answer (its first argument, as Node's adapter keeps it), in arrival order.
    /// Node's `io.timeout(ms).emit(ev, …args, (err, responses) => …)` / `emitWithAck`.
    ///
    /// The packet is sent when this is called; the future only waits. It resolves once every
    /// shard said how many clients it reached and each of them answered, or with
    /// [`BroadcastAckError::Timeout`] (and the answers that came) when [`Broadcast::timeout`]
    /// passes first. Without `timeout` the wait is 5 s (Node's operator, given no timeout,
    /// times out at its next timer tick, `setTimeout(…, undefined)`).
    ///
    /// `args` as for [`SocketRef::emit`](super::SocketRef::emit); each answer comes as `R`: a
    /// [`Value`] as it came, or any `Deserialize` type read from it.
    pub fn emit_with_ack<A: serde::Serialize + ?Sized, R: serde::de::DeserializeOwned + 'static>(
        &self,
        event: &str,
        args: &A,
    ) -> impl Future<Output = Result<Vec<R>, BroadcastAckError>> + 'static + use<A, R> {
        let started = match is_reserved(event) {
            true => Err(BroadcastAckError::Reserved),
            false => super::typed::encode::event_packet(self.nsp.clone(), event, args, None)
                .map_err(|_| BroadcastAckError::Unserializable)
                .and_then(|(packet, attachments)| {
                    let make = |ack_id| {
                        Some(EncodedPacket::new(
                            &crate::protocol::sio::Packet { id: Some(ack_id), ..packet },
                            attachments,
                        ))
                    };
                    self.layer.ctx().metrics().broadcast_started();
                    let wait = self.layer.start_broadcast_with_ack_packet(
                        self.reach(),
                        &self.nsp,
                        self.opts.clone(),
                        make,
                    );
                    wait.ok_or(BroadcastAckError::Unserializable)
                }),
        };
        collect_acks(started)
    }

    /// The selected sockets of every shard and of every other server of the cluster (Node's
    /// `fetchSockets`), this shard's included, as [`RemoteSocket`]s. A shard that does not
    /// answer within [`Broadcast::timeout`] (else the cluster's `requestsTimeout`, 5 s) is
    /// left out; another server that does not answer in time makes it an `Err`, as Node's
    /// adapter rejects, with the sockets that were found.
    pub fn fetch_sockets(
        &self,
    ) -> impl Future<Output = Result<Vec<RemoteSocket>, (Vec<RemoteSocket>, ClusterRequestError)>> + 'static
    {
        let wait = self.layer.start_fetch(self.reach(), &self.nsp, self.opts.clone());
        let (layer, nsp) = (self.layer.clone(), self.nsp.clone());
        async move {
            let sockets = |found: Vec<Found>| -> Vec<RemoteSocket> {
                found
                    .into_iter()
                    .filter_map(|(d, remote)| RemoteSocket::new(layer.clone(), nsp.clone(), d, remote))
                    .collect()
            };
            match wait.wait().await {
                Ok(found) => Ok(sockets(found)),
                Err((found, e)) => Err((sockets(found), e)),
            }
        }
    }

    /// Node's `serverSideEmit(event, ...args)`: the event to this namespace's handler on every
    /// other server of the cluster ([`Handler::on_server_side_event`]), not to this one; with
    /// no cluster it reaches nobody. Rooms and flags do not apply.
    ///
    /// [`Handler::on_server_side_event`]: super::Handler::on_server_side_event
    pub fn server_side_emit<A: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        args: &A,
    ) -> Result<(), EmitError> {
        if is_reserved(event) {
            return Err(EmitError::Reserved);
        }
        if let Some(cluster) = self.layer.cluster() {
            let args = super::typed::encode::values(args)?;
            let data = std::iter::once(Value::String(event.to_owned())).chain(args).collect();
            let request = Request::ServerSideEmit { uid: cluster.uid().to_owned(), request_id: None, data };
            cluster.publish_request(&self.nsp, &request);
        }
        Ok(())
    }

    /// Node's `serverSideEmit(event, ...args, (err, responses) => …)`: the first value each
    /// other server answered with, once all answered; `Err` with those that came when some
    /// did not within the cluster's `requestsTimeout`. `Ok` and empty with no other server.
    ///
    /// `args` as for [`SocketRef::emit`](super::SocketRef::emit); arguments that do not
    /// serialize reach nobody (`Ok` and empty, as for a reserved name).
    pub fn server_side_emit_with_ack<A: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        args: &A,
    ) -> impl Future<Output = Result<Vec<Value>, (Vec<Value>, ClusterRequestError)>> + 'static + use<A> {
        let data: Option<Vec<Value>> = match is_reserved(event) {
            true => None,
            false => super::typed::encode::values(args)
                .ok()
                .map(|args| std::iter::once(Value::String(event.to_owned())).chain(args).collect()),
        };
        server_side_answers(self.layer.clone(), self.nsp.clone(), data)
    }

    /// Node's `adapter.serverCount()`: how many servers the cluster has, this one included (1
    /// with no cluster). `Err` when Redis cannot be asked.
    pub fn server_count(&self) -> impl Future<Output = Result<usize, RedisError>> + use<> {
        let (cluster, nsp) = (self.layer.cluster().cloned(), self.nsp.clone());
        async move {
            match cluster {
                Some(cluster) => cluster.server_count(&nsp).await.map(|n| n.max(1)),
                None => Ok(1),
            }
        }
    }

    /// Node's `adapter.allRooms()`: every room with a socket in it, on every shard and every
    /// other server of the cluster (only this server's with `local`), socket ids included.
    pub fn all_rooms(&self) -> impl Future<Output = Result<Vec<Room>, ClusterRequestError>> + 'static {
        self.layer.clone().all_rooms(self.reach(), self.nsp.clone())
    }

    /// The selected sockets join `room` (Node's `socketsJoin`).
    pub fn sockets_join(&self, room: impl Into<ByteString>) {
        self.layer.rooms(self.reach(), &self.nsp, self.opts.clone(), vec![room.into()], true);
    }

    /// The selected sockets leave `room` (Node's `socketsLeave`).
    pub fn sockets_leave(&self, room: impl Into<ByteString>) {
        self.layer.rooms(self.reach(), &self.nsp, self.opts.clone(), vec![room.into()], false);
    }

    /// Disconnects the selected sockets (Node's `disconnectSockets`); with `close`, their
    /// Engine.IO connections too.
    pub fn disconnect_sockets(&self, close: bool) {
        self.layer.disconnect_sockets(self.reach(), &self.nsp, self.opts.clone(), close);
    }
}

/// The answers of a server-side emit with acks (`None`: nothing was sent).
async fn server_side_answers(
    layer: Rc<Layer>,
    nsp: ByteString,
    data: Option<Vec<Value>>,
) -> Result<Vec<Value>, (Vec<Value>, ClusterRequestError)> {
    match data {
        Some(data) => layer.server_side_emit_with_ack(nsp, data).await,
        None => Ok(Vec::new()),
    }
}

/// Waits for a broadcast's acks and reads each answer as `R`.
async fn collect_acks<R: serde::de::DeserializeOwned + 'static>(
    started: Result<crate::adapter::requests::AckWait, BroadcastAckError>,
) -> Result<Vec<R>, BroadcastAckError> {
    let responses = started?.wait().await.map_err(|responses| BroadcastAckError::Timeout { responses })?;
    let kept = (std::any::TypeId::of::<R>() != std::any::TypeId::of::<Value>()).then(|| responses.clone());
    super::typed::encode::answer::<Vec<R>>(responses)
        .map_err(|_| BroadcastAckError::InvalidAnswer { responses: kept.unwrap_or_default() })
}
