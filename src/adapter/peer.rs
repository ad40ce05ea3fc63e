//! What a shard's Socket.IO layer runs over several shards, and what it tells the layer of
//! another shard: adapter requests and responses ([`AdapterMsg`], the request types of
//! `@socket.io/redis-adapter`), plus the emits of a parent namespace to its children.
//!
//! An operation is run on this shard's sockets and sent, as one message per peer carrying
//! the room selector (never a list of sockets), to the peers its [`Reach`] names: every
//! peer, none (`local`), or the one owning a given socket (a [`RemoteSocket`]'s operations,
//! routed by the shard its id names). A broadcast is encoded once; every shard gets the same
//! refcounted bytes.
//!
//! [`RemoteSocket`]: super::RemoteSocket

use std::rc::Rc;
use std::sync::Arc;

use bytestring::ByteString;

use super::outbox::Pushed;
use crate::adapter::{
    AdapterMsg, AdapterRequest, AdapterResponse, BroadcastOptions, BroadcastRequest, EncodedPacket,
    RequestId, Room,
};
use crate::cluster::adapter::wire_opts;
use crate::cluster::wire::Request;
use crate::engine::DisconnectReason;
use crate::protocol::sid::Sid;
use crate::protocol::sio::{DecodeOptions, Packet, SioVersion};
use crate::server::EngineSocket;
use crate::shard::ShardId;
use crate::socket::acks::AckSink;
use crate::socket::api::{EmitError, RawArgs, SocketRef};
use crate::socket::layer::Layer;
use crate::socket::namespace::NamespaceState;
use crate::socket::recovery::{self, SentSession};
use crate::socket::send::{raw_packet, send_encoded};

/// How long a shard keeps the acks of a broadcast registered when the sender set no timeout.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Which shards, and which servers of a cluster, an operation runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Every shard of this process and, with a cluster adapter, every other server.
    All,
    /// Every shard of this process, no other server: the `local` flag (this process is one
    /// server to a cluster), and what another server asked through the cluster.
    Process,
    /// The shard owning the sockets addressed.
    Shard(ShardId),
}

impl Reach {
    /// The whole cluster, or this process with the `local` flag.
    pub(crate) fn of(opts: &BroadcastOptions) -> Reach {
        if opts.flags.local { Reach::Process } else { Reach::All }
    }
}

/// What the layer of one shard sends the layer of another.
pub(crate) enum PeerMsg {
    Adapter(AdapterMsg),
    /// Everything one shard queued for another while it ran ([`super::outbox`]), in order.
    Batch(Vec<PeerMsg>),
    /// An emit of dynamic namespace `parent` (its index in every shard's registry) to its
    /// children on the receiving shard, each encoded once for its own name.
    Parent {
        parent: usize,
        opts: BroadcastOptions,
        emit: Arc<ParentEmit>,
    },
    /// A shard made this dynamic child namespace: shard 0 makes it too and subscribes to
    /// its cluster requests, so that the process answers them.
    ClusterNamespace(ByteString),
    /// A broadcast whose packet carries `offset` (connection state recovery): delivered and
    /// logged.
    Recoverable {
        broadcast: BroadcastRequest,
        offset: Arc<str>,
    },
    /// A CONNECT on shard `origin` asks for the session of `pid` (see [`crate::socket::recovery`]);
    /// `forwarded` once the pid's shard passed it on to the shard keeping the session.
    Restore {
        origin: ShardId,
        seq: u64,
        nsp: ByteString,
        pid: Sid,
        offset: String,
        forwarded: bool,
    },
    /// The answer to [`PeerMsg::Restore`] number `seq` of the receiving shard.
    Restored {
        seq: u64,
        session: Option<SentSession>,
    },
    /// The session of `pid`, one of the receiving shard's pids, is kept by `holder`.
    SessionKept {
        pid: Sid,
        holder: ShardId,
    },
}

/// An event for every child of a parent namespace; encoded per child, as the namespace is
/// written in the packet.
pub(crate) struct ParentEmit {
    pub(crate) event: String,
    pub(crate) args: EmitArgs,
}

pub(crate) enum EmitArgs {
    Raw(RawArgs),
}

impl ParentEmit {
    fn encode(&self, nsp: &ByteString) -> EncodedPacket {
        match &self.args {
            EmitArgs::Raw(raw) => {
                let packet = raw_packet(false, nsp.clone(), Some(&self.event), None, raw);
                EncodedPacket::new(&packet, raw.attachments.clone())
            }
        }
    }
}

/// The event name of a packet this layer encoded, for `on_outgoing`.
fn event_name(packet: &EncodedPacket) -> Option<ByteString> {
    let opts = DecodeOptions { max_attachments: usize::MAX };
    Packet::decode(packet.text().clone(), SioVersion::V5, &opts).ok()?.event().map(|e| e.name)
}

impl Layer {
    /// How many shards `reach` covers, this one included.
    pub(crate) fn servers(&self, reach: Reach) -> usize {
        match reach {
            Reach::All | Reach::Process => self.ctx().shards(),
            Reach::Shard(_) => 1,
        }
    }

    pub(crate) fn reaches_me(&self, reach: Reach) -> bool {
        match reach {
            Reach::All | Reach::Process => true,
            Reach::Shard(shard) => shard == self.ctx().id(),
        }
    }

    /// Sends `msg()` to every peer `reach` covers; returns how many took it.
    pub(crate) fn send_peers(&self, reach: Reach, msg: impl Fn() -> PeerMsg) -> usize {
        let ctx = self.ctx();
        let me = ctx.id();
        let peers: Vec<ShardId> = match reach {
            Reach::All | Reach::Process => (0..ctx.shards()).filter(|&p| p != me).collect(),
            Reach::Shard(shard) if shard != me && shard < ctx.shards() => vec![shard],
            Reach::Shard(_) => Vec::new(),
        };
        peers.into_iter().filter(|&peer| self.send_peer(peer, msg())).count()
    }

    /// Queues one message for `peer`. A flusher task (glommio polls it at once) sends it, then
    /// what was queued while the mesh made it wait, as one mesh message.
    ///
    /// A peer whose outbox is full does not get the message: it is dropped and counted
    /// (`tpcio_shard_outbox_drops_total`), as a volatile packet is dropped for a full session.
    /// A dropped broadcast misses that shard's clients; a dropped request or answer ends in
    /// its requester's timeout. Returns whether the message was queued.
    pub(crate) fn send_peer(&self, peer: ShardId, msg: PeerMsg) -> bool {
        match self.outbox.push(peer, msg) {
            Pushed::StartFlusher => {}
            Pushed::Queued => return true,
            Pushed::Full(dropped) => {
                drop(dropped);
                self.ctx().metrics().outbox_dropped();
                return false;
            }
        }
        let layer = self.rc();
        self.spawn(async move {
            while let Some(mut batch) = layer.outbox.take(peer) {
                let msg = match batch.len() {
                    1 => batch.pop().expect("one message"),
                    _ => PeerMsg::Batch(batch),
                };
                // Fails only when the peer is gone (shutdown): nothing to deliver to.
                let _ = layer.ctx().send_to_peer(peer, Box::new(msg)).await;
            }
        });
        true
    }

    pub(crate) fn broadcast(
        &self,
        reach: Reach,
        nsp: &ByteString,
        opts: BroadcastOptions,
        packet: Arc<EncodedPacket>,
    ) {
        self.ctx().metrics().broadcast_started();
        // The streams adapter with recovery: the offset is the stream entry's id, delivered
        // once Redis gave it (see cluster::streams::session).
        if reach == Reach::All
            && recovery::is_eligible(&packet, &opts)
            && let Some(xadd) = self.streams().and_then(|c| c.xadd_broadcast(nsp, &opts, &packet))
        {
            let (layer, nsp) = (self.rc(), nsp.clone());
            self.spawn(async move {
                let offset = xadd.await.map(Arc::<str>::from);
                layer.deliver_broadcast(reach, &nsp, opts, packet, offset);
            });
            return;
        }
        // Published first, as Node's adapter does: the publish task then runs before the
        // writes of the local recipients, and the other servers start as early as they can.
        // Other servers get the packet without an offset (see `recovery`).
        if let (Reach::All, Some(cluster)) = (reach, self.cluster()) {
            cluster.publish_broadcast(nsp, &opts, &packet);
        }
        self.deliver_broadcast(reach, nsp, opts, packet, None);
    }

    /// [`Layer::broadcast`] on this process: delivered here and sent to the shards `reach`
    /// covers, with `offset` (else, recovery on, one made here) as the last argument.
    fn deliver_broadcast(
        &self,
        reach: Reach,
        nsp: &ByteString,
        opts: BroadcastOptions,
        packet: Arc<EncodedPacket>,
        offset: Option<Arc<str>>,
    ) {
        // Connection state recovery: the offset is written once, here, and every shard
        // delivers and logs the same packet.
        let (sent, offset) = match (self.recovery(), offset) {
            (Some(_), Some(offset)) => (Arc::new(recovery::with_offset(&packet, &offset)), Some(offset)),
            (Some(store), None) if recovery::is_eligible(&packet, &opts) => {
                let offset: Arc<str> = store.next_offset(recovery::now_ms()).into();
                (Arc::new(recovery::with_offset(&packet, &offset)), Some(offset))
            }
            _ => (packet.clone(), None),
        };
        if self.reaches_me(reach) {
            if let Some(ns) = self.registry.get(nsp) {
                self.deliver(&ns, &opts, &sent, None);
            }
            if let Some(offset) = &offset {
                self.log_recoverable(offset, nsp, &opts, &sent);
            }
        }
        self.send_peers(reach, || {
            let request = BroadcastRequest::new(nsp.clone(), opts.clone(), sent.clone());
            match &offset {
                Some(offset) => PeerMsg::Recoverable { broadcast: request, offset: offset.clone() },
                None => PeerMsg::Adapter(AdapterRequest::Broadcast(request).into()),
            }
        });
    }

    /// Logs a packet with an offset this shard delivered (connection state recovery).
    pub(crate) fn log_recoverable(
        &self,
        offset: &str,
        nsp: &ByteString,
        opts: &BroadcastOptions,
        packet: &Arc<EncodedPacket>,
    ) {
        if let Some(store) = self.recovery() {
            store.log(offset, nsp, opts, packet.clone(), std::time::Instant::now());
            self.ensure_recovery_sweeper();
        }
    }

    pub(crate) fn rooms(
        &self,
        reach: Reach,
        nsp: &ByteString,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
        join: bool,
    ) {
        if self.reaches_me(reach)
            && let Some(ns) = self.registry.get(nsp)
        {
            ns.select_rooms(&opts, &rooms, join);
        }
        self.send_peers(reach, || {
            let (nsp, opts, rooms) = (nsp.clone(), opts.clone(), rooms.clone());
            let request = match join {
                true => AdapterRequest::AddSockets { nsp, opts, rooms },
                false => AdapterRequest::DelSockets { nsp, opts, rooms },
            };
            PeerMsg::Adapter(request.into())
        });
        if let (Reach::All, Some(cluster)) = (reach, self.cluster()) {
            let (uid, opts) = (Some(cluster.uid().to_owned()), wire_opts(&opts));
            let request = match join {
                true => Request::RemoteJoin { uid, opts, rooms },
                false => Request::RemoteLeave { uid, opts, rooms },
            };
            cluster.publish_request(nsp, &request);
        }
    }

    pub(crate) fn disconnect_sockets(
        &self,
        reach: Reach,
        nsp: &ByteString,
        opts: BroadcastOptions,
        close: bool,
    ) {
        if self.reaches_me(reach) {
            self.disconnect_local(nsp, &opts, close);
        }
        self.send_peers(reach, || {
            let request = AdapterRequest::DisconnectSockets { nsp: nsp.clone(), opts: opts.clone(), close };
            PeerMsg::Adapter(request.into())
        });
        if let (Reach::All, Some(cluster)) = (reach, self.cluster()) {
            let request = Request::RemoteDisconnect {
                uid: Some(cluster.uid().to_owned()),
                opts: wire_opts(&opts),
                close,
            };
            cluster.publish_request(nsp, &request);
        }
    }

    fn disconnect_local(&self, nsp: &str, opts: &BroadcastOptions, close: bool) {
        if let Some(ns) = self.registry.get(nsp) {
            for (id, _) in ns.select(opts) {
                self.disconnect_socket(&ns, id, close);
            }
        }
    }

    /// Node's `ParentNamespace` emit: each child namespace broadcasts the event to its own
    /// sockets, on every shard `reach` covers.
    pub(crate) fn parent_broadcast(
        &self,
        reach: Reach,
        parent: usize,
        opts: BroadcastOptions,
        emit: Arc<ParentEmit>,
    ) {
        self.ctx().metrics().broadcast_started();
        if self.reaches_me(reach) {
            self.parent_deliver(parent, &opts, &emit);
        }
        self.send_peers(reach, || PeerMsg::Parent { parent, opts: opts.clone(), emit: emit.clone() });
    }

    fn parent_deliver(&self, parent: usize, opts: &BroadcastOptions, emit: &ParentEmit) {
        for child in self.registry.children(parent) {
            let packet = emit.encode(&child.name);
            match self.recovery() {
                // Node's children emit each for itself: an offset per child (and here per shard).
                Some(store) if recovery::is_eligible(&packet, opts) => {
                    let offset = store.next_offset(recovery::now_ms());
                    let packet = Arc::new(recovery::with_offset(&packet, &offset));
                    self.deliver(&child, opts, &packet, None);
                    self.log_recoverable(&offset, &child.name, opts, &packet);
                }
                _ => {
                    self.deliver(&child, opts, &packet, None);
                }
            }
        }
    }

    /// Writes `packet` to the sockets `opts` selects here, registering `ack` (its id and where
    /// answers go) on each first; returns the recipients.
    pub(crate) fn deliver(
        &self,
        ns: &Rc<NamespaceState>,
        opts: &BroadcastOptions,
        packet: &EncodedPacket,
        ack: Option<(u64, &AckSink)>,
    ) -> Vec<(Sid, EngineSocket)> {
        let recipients = ns.select(opts);
        self.deliver_to(ns, opts, packet, ack, &recipients);
        recipients
    }

    /// [`Layer::deliver`]'s loop, over `recipients` selected before.
    pub(crate) fn deliver_to(
        &self,
        ns: &Rc<NamespaceState>,
        opts: &BroadcastOptions,
        packet: &EncodedPacket,
        ack: Option<(u64, &AckSink)>,
        recipients: &[(Sid, EngineSocket)],
    ) {
        if let Some(tap) = &ns.tap {
            tap.sent_to(&ns.name, recipients, packet);
        }
        let metrics = self.ctx().metrics();
        let mut delivered = 0;
        let mut name: Option<Option<ByteString>> = None;
        // Asked again only after a call: the default hook says no once it ran.
        let mut outgoing = ns.handler.wants_outgoing();
        for (id, engine) in recipients {
            if outgoing && let Some(event) = name.get_or_insert_with(|| event_name(packet)) {
                let socket = SocketRef { layer: self.rc(), ns: ns.clone(), id: *id, engine: engine.clone() };
                ns.handler.on_outgoing(&socket, event);
                outgoing = ns.handler.wants_outgoing();
            }
            if let Some((ack_id, sink)) = ack {
                ns.register_broadcast_ack(*id, ack_id, sink.clone());
            }
            match send_encoded(engine, packet, self.parser()) {
                Ok(()) => delivered += 1,
                // A full queue: volatile packets are dropped; otherwise the slow consumer goes.
                Err(EmitError::Full) if opts.flags.volatile => metrics.volatile_dropped(),
                Err(EmitError::Full) => {
                    metrics.slow_consumer();
                    engine.abort(DisconnectReason::SlowConsumer);
                }
                Err(_) => {}
            }
        }
        metrics.delivered(delivered);
    }

    pub(crate) fn on_peer_message(&self, msg: PeerMsg) {
        match msg {
            PeerMsg::Adapter(AdapterMsg::Request(request)) => self.serve(request),
            PeerMsg::Adapter(AdapterMsg::Response(response)) => self.requests.answer(response),
            PeerMsg::Parent { parent, opts, emit } => self.parent_deliver(parent, &opts, &emit),
            PeerMsg::Batch(msgs) => msgs.into_iter().for_each(|msg| self.on_peer_message(msg)),
            PeerMsg::Recoverable { broadcast, offset } => {
                let BroadcastRequest { nsp, opts, packet } = broadcast;
                if let Some(ns) = self.registry.get(&nsp) {
                    self.deliver(&ns, &opts, &packet.local_copy(), None);
                }
                self.log_recoverable(&offset, &nsp, &opts, &packet);
            }
            PeerMsg::Restore { origin, seq, nsp, pid, offset, forwarded } => {
                self.serve_restore(origin, seq, nsp, pid, offset, forwarded)
            }
            PeerMsg::Restored { seq, session } => {
                if let Some(store) = self.recovery() {
                    store.answered(seq, session);
                }
            }
            PeerMsg::SessionKept { pid, holder } => {
                if let Some(store) = self.recovery() {
                    store.forward(pid, holder, std::time::Instant::now());
                    self.ensure_recovery_sweeper();
                }
            }
            PeerMsg::ClusterNamespace(nsp) => {
                if let (Some(ns), Some(cluster)) = (self.registry.resolve(&nsp), self.cluster()) {
                    cluster.ensure_namespace(&ns.name);
                }
            }
        }
    }

    /// Runs another shard's request on this shard's sockets and answers it.
    fn serve(&self, request: AdapterRequest) {
        match request {
            AdapterRequest::Broadcast(BroadcastRequest { nsp, opts, packet }) => {
                if let Some(ns) = self.registry.get(&nsp) {
                    self.deliver(&ns, &opts, &packet.local_copy(), None);
                }
            }
            AdapterRequest::BroadcastWithAck { id, ack_id, broadcast } => {
                self.serve_broadcast_with_ack(id, ack_id, broadcast)
            }
            AdapterRequest::FetchSockets { id, nsp, opts } => {
                let sockets = self.local_details(&nsp, &opts);
                self.respond(id, AdapterResponse::Sockets { id, sockets });
            }
            AdapterRequest::AddSockets { nsp, opts, rooms } => {
                if let Some(ns) = self.registry.get(&nsp) {
                    ns.select_rooms(&opts, &rooms, true);
                }
            }
            AdapterRequest::DelSockets { nsp, opts, rooms } => {
                if let Some(ns) = self.registry.get(&nsp) {
                    ns.select_rooms(&opts, &rooms, false);
                }
            }
            AdapterRequest::DisconnectSockets { nsp, opts, close } => {
                self.disconnect_local(&nsp, &opts, close)
            }
            AdapterRequest::SocketIds { id, nsp, rooms } => {
                let opts = rooms.into_iter().fold(BroadcastOptions::new(), BroadcastOptions::to);
                let ids = match self.registry.get(&nsp) {
                    Some(ns) => {
                        ns.select(&opts).into_iter().map(|(s, _)| ByteString::from(s.as_str())).collect()
                    }
                    None => Vec::new(),
                };
                self.respond(id, AdapterResponse::SocketIds { id, ids });
            }
            AdapterRequest::AllRooms { id, nsp } => {
                let rooms = self.registry.get(&nsp).map(|ns| ns.room_names()).unwrap_or_default();
                self.respond(id, AdapterResponse::AllRooms { id, rooms });
            }
            // A server-side emit is for one shard of each server: never sent between shards.
            AdapterRequest::ServerSideEmit { .. } => {}
        }
    }

    /// Delivers with each recipient's ack forwarded to the origin: first how many clients got
    /// the packet, then each answer; the acks still missing when the sender's timeout passes
    /// are forgotten.
    fn serve_broadcast_with_ack(&self, id: RequestId, ack_id: u64, broadcast: BroadcastRequest) {
        let BroadcastRequest { nsp, opts, packet } = broadcast;
        let count = match self.registry.get(&nsp) {
            Some(ns) => {
                let layer = self.rc();
                let sink: AckSink = Rc::new(move |response| {
                    layer.respond(id, AdapterResponse::Ack { id, response });
                });
                let recipients: Vec<Sid> = self
                    .deliver(&ns, &opts, &packet, Some((ack_id, &sink)))
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
                let count = recipients.len();
                let timeout = opts.flags.timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
                self.spawn(async move {
                    crate::server::sleep(timeout).await;
                    for socket in recipients {
                        ns.forget_ack(socket, ack_id);
                    }
                });
                count
            }
            None => 0,
        };
        self.respond(id, AdapterResponse::ClientCount { id, count });
    }

    /// Sends a response to the shard that asked.
    pub(crate) fn respond(&self, id: RequestId, response: AdapterResponse) {
        if id.origin == self.ctx().id() {
            self.requests.answer(response);
        } else {
            let _ = self.send_peer(id.origin, PeerMsg::Adapter(response.into()));
        }
    }
}
