//! `@socket.io/redis-adapter` on one shard (classic, or sharded: see below): what this process publishes to the
//! cluster, and what it does with what the other servers publish.
//!
//! # One process, one server
//!
//! To the cluster a process is one server whatever its shard count: one uid (Node's
//! `uid2(6)`, shared by every shard), one subscriber to each namespace's request channel, so
//! `PUBSUB NUMSUB` (Node's `serverCount`) counts it once. The work is shared this way:
//!
//! - **Broadcasts** (`{key}#{nsp}#…`): every shard has its own subscriber connection and
//!   `PSUBSCRIBE`s `{key}#{nsp}#*`, then writes what it receives to its own sockets only. A
//!   broadcast from another server so reaches each local socket exactly once, with no hop
//!   between shards, and a room message is dropped before decoding by every shard that has
//!   no socket in that room (as Node's `hasRoom` check). A shard's own broadcasts come back
//!   to it from Redis with this process's uid and are dropped: they were delivered to every
//!   shard through the mesh already.
//! - **Requests** (`{key}-request#{nsp}#`): only shard 0 subscribes. It runs what another
//!   server asks on every shard of this process through the shard mesh (the same requests the
//!   shards send each other), sums the shards' answers into one, and publishes it, so a Node
//!   requester gets one answer per process, as it expects.
//! - **Responses** (`{key}-response#{nsp}#` and this server's `{key}-response#{nsp}#{uid}#`):
//!   every shard subscribes and keeps the answers to the requests it made itself (request
//!   ids name the shard), so no answer crosses the mesh.
//!
//! Every shard publishes on its own command connection, so what a shard publishes keeps its
//! order. A shard whose namespace is a dynamic child that shard 0 has not made yet asks shard
//! 0 to make it, so that the process answers that namespace's requests too.
//!
//! # The sharded adapter
//!
//! With [`AdapterKind::Sharded`] the same machinery speaks `createShardedAdapter` (see
//! [`super::wire::sharded`]), and a process is still one server: the uid (16 hex digits) is
//! shared; only shard 0 `SSUBSCRIBE`s the namespace's channel `{p}#{nsp}#`, so `PUBSUB
//! SHARDNUMSUB` counts the process once. It serves the requests on it as above and delivers
//! the broadcasts on it to every shard through the mesh (`Reach::Process`). Every shard
//! subscribes to this server's response channel `{p}#{nsp}#{uid}#`, keeping the answers to
//! its own request ids, and, in the dynamic modes, to the channel `{p}#{nsp}#{room}#` of each
//! room that appears on it (a socket id's own room only in `dynamic-private`), dropping it when
//! the room disappears: a room broadcast so reaches each shard in the room once, and each
//! delivers to its own sockets. Broadcasts go to a room's channel when Node's `computeChannel`
//! says so (one room, no acks, dynamic mode and not 20 characters long, or dynamic-private),
//! everything else to the namespace's channel; answers to `{p}#{nsp}#{requester}#`.
//!
//! # Faults
//!
//! Redis pub/sub is at most once, as in Node: what is published while a connection is down
//! is lost. Local delivery never waits for Redis. Each connection reconnects with a capped
//! backoff and resubscribes by itself; an outage is logged once when it starts and once when
//! it ends, and counted (`tpcio_cluster_redis_errors_total`, `tpcio_cluster_redis_up`). A
//! request that cannot be answered ends at its timeout. A message that does not decode is
//! dropped and counted (`tpcio_cluster_malformed_total`), never trusted.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use bytestring::ByteString;
use futures_channel::mpsc;
use tracing::{debug, info, warn};

use super::redis::{Client, ConnEvent, EventHook, Message, RedisError, SubKind, Subscriber};
use super::wire::sharded::{Body, ShardedMsg};
use super::wire::{BroadcastMsg, Request, Response, WirePacket};
use super::{AdapterKind, RedisAdapterConfig, SubscriptionMode};
use crate::adapter::peer::{PeerMsg, Reach};
use crate::adapter::{AdapterResponse, BroadcastOptions, EncodedPacket, RequestId, Room};
use crate::metrics::ShardMetrics;
use crate::protocol::value::Value;
use crate::socket::layer::Layer;

mod receive;
mod streams;

/// What this process shares between its shards: the configuration and the uid.
#[derive(Debug)]
pub(crate) struct ClusterSetup {
    pub(crate) config: RedisAdapterConfig,
    pub(crate) uid: String,
    /// How many of the process's Redis connections are down: an outage is logged when the
    /// first goes down and when the last comes back.
    down: AtomicUsize,
}

impl ClusterSetup {
    pub(crate) fn new(config: RedisAdapterConfig) -> Arc<ClusterSetup> {
        let uid = match config.kind {
            AdapterKind::Classic => super::node_uid(),
            AdapterKind::Sharded(_) | AdapterKind::Streams => super::sharded_uid(),
        };
        Arc::new(ClusterSetup { config, uid, down: AtomicUsize::new(0) })
    }
}

/// Where the answers to one of this shard's requests go.
enum Pending {
    /// A broadcast with acks: translated into the shard's own request table.
    Ack(RequestId),
    /// Everything else: handed over as it came.
    Gather(mpsc::UnboundedSender<Response>),
}

/// The adapter of one shard.
pub(crate) struct ClusterShard {
    me: Weak<ClusterShard>,
    layer: Weak<Layer>,
    setup: Arc<ClusterSetup>,
    shard: usize,
    client: Client,
    sub: Subscriber,
    subscribed: RefCell<foldhash::HashSet<ByteString>>,
    /// Sharded, dynamic modes: the room channels this shard subscribed to.
    room_channels: RefCell<foldhash::HashSet<String>>,
    pending: RefCell<HashMap<String, Pending>>,
    next_request: Cell<u64>,
    metrics: Arc<ShardMetrics>,
    /// Streams adapter with recovery: the sessions of this shard's live sockets.
    sessions: crate::cluster::streams::session::SessionKeeper,
}

impl ClusterShard {
    /// Opens this shard's two connections and subscribes to the namespaces it has.
    pub(crate) fn start(layer: &Rc<Layer>, setup: Arc<ClusterSetup>) -> Rc<ClusterShard> {
        let ctx = layer.ctx();
        let (shard, metrics) = (ctx.id(), ctx.metrics().clone());
        let config = &setup.config;
        let cluster = Rc::new_cyclic(|me: &Weak<ClusterShard>| {
            let hook = |role| Some(outage_hook(&setup, shard, &metrics, role));
            let client = Client::connect(config.url.clone(), config.redis.clone(), hook("publisher"));
            let on_message = {
                let me = me.clone();
                Rc::new(move |msg: Message| {
                    if let Some(me) = me.upgrade() {
                        me.on_message(msg);
                    }
                })
            };
            let sub =
                Subscriber::connect(config.url.clone(), config.redis.clone(), on_message, hook("subscriber"));
            ClusterShard {
                me: me.clone(),
                layer: Rc::downgrade(layer),
                setup: setup.clone(),
                shard,
                client,
                sub,
                subscribed: RefCell::default(),
                room_channels: RefCell::default(),
                pending: RefCell::default(),
                next_request: Cell::new(0),
                metrics,
                sessions: Default::default(),
            }
        });
        cluster.metrics.cluster_started();
        for nsp in layer.registry.names() {
            cluster.ensure_namespace(&nsp);
        }
        if cluster.is_streams() {
            cluster.start_readers(layer);
        }
        if shard == 0 {
            let (me, url) = (cluster.clone(), cluster.config().url.clone());
            layer.spawn(async move {
                me.subscribed().await;
                let kind = match me.setup.config.kind {
                    AdapterKind::Sharded(mode) => format!("sharded adapter, {} subscriptions", mode.as_str()),
                    AdapterKind::Streams => {
                        format!("streams adapter, stream {:?}", me.config().streams.stream_name)
                    }
                    AdapterKind::Classic => "classic adapter".to_owned(),
                };
                info!(uid = me.uid(), "joined the cluster on {url:?} (key {:?}, {kind})", me.key());
            });
        }
        cluster
    }

    pub(crate) fn uid(&self) -> &str {
        &self.setup.uid
    }

    pub(crate) fn config(&self) -> &RedisAdapterConfig {
        &self.setup.config
    }

    fn key(&self) -> &str {
        &self.setup.config.key
    }

    /// The sharded adapter's subscription mode; `None` for the classic adapter.
    pub(crate) fn sharded(&self) -> Option<SubscriptionMode> {
        match self.setup.config.kind {
            AdapterKind::Sharded(mode) => Some(mode),
            AdapterKind::Classic | AdapterKind::Streams => None,
        }
    }

    /// `@socket.io/redis-streams-adapter` (see [`super::streams`]).
    pub(crate) fn is_streams(&self) -> bool {
        self.setup.config.kind == AdapterKind::Streams
    }

    /// socket.io-adapter's `ClusterAdapter` family (sharded, streams): one channel per
    /// namespace for requests, answers to the requester's own channel, own messages dropped.
    pub(crate) fn is_cluster_family(&self) -> bool {
        self.setup.config.kind != AdapterKind::Classic
    }

    /// Whether the other servers answer ALL_ROOMS (the sharded adapter has no such request).
    pub(crate) fn has_all_rooms(&self) -> bool {
        !self.is_cluster_family()
    }

    fn responder(&self) -> bool {
        self.shard == 0
    }

    fn broadcast_prefix(&self, nsp: &str) -> String {
        format!("{}#{nsp}#", self.key())
    }

    fn request_channel(&self, nsp: &str) -> String {
        format!("{}-request#{nsp}#", self.key())
    }

    fn response_channel(&self, nsp: &str) -> String {
        format!("{}-response#{nsp}#", self.key())
    }

    /// Subscribes to a namespace's channels, once; a shard other than 0 also has shard 0
    /// make the namespace, so that the process answers its requests.
    pub(crate) fn ensure_namespace(&self, nsp: &ByteString) {
        if !self.subscribed.borrow_mut().insert(nsp.clone()) {
            return;
        }
        if let Some(mode) = self.sharded() {
            return self.ensure_sharded(nsp, mode);
        }
        if self.is_streams() {
            return self.ensure_streams(nsp);
        }
        let pattern = format!("{}*", self.broadcast_prefix(nsp));
        self.sub.subscribe(SubKind::Pattern, vec![Bytes::from(pattern)]);
        let responses = self.response_channel(nsp);
        let own = format!("{responses}{}#", self.uid());
        self.sub.subscribe(SubKind::Channel, vec![Bytes::from(responses), Bytes::from(own)]);
        if self.responder() {
            self.sub.subscribe(SubKind::Channel, vec![Bytes::from(self.request_channel(nsp))]);
        } else if let Some(layer) = self.layer.upgrade()
            && layer.registry.get(nsp).is_some_and(|ns| ns.parent.is_some())
        {
            // A dynamic child: shard 0 may not have made it yet.
            layer.send_peer(0, PeerMsg::ClusterNamespace(nsp.clone()));
        }
    }

    /// The sharded adapter: every shard listens to its own responses channel and, in the
    /// dynamic modes, to the channels of its rooms; shard 0 alone to the namespace's.
    fn ensure_sharded(&self, nsp: &ByteString, mode: SubscriptionMode) {
        let main = self.broadcast_prefix(nsp);
        self.sub.subscribe(SubKind::Shard, vec![Bytes::from(format!("{main}{}#", self.uid()))]);
        let layer = self.layer.upgrade();
        if self.responder() {
            self.sub.subscribe(SubKind::Shard, vec![Bytes::from(main)]);
        } else if let Some(layer) = &layer
            && layer.registry.get(nsp).is_some_and(|ns| ns.parent.is_some())
        {
            layer.send_peer(0, PeerMsg::ClusterNamespace(nsp.clone()));
        }
        if mode != SubscriptionMode::Static
            && let Some(ns) = layer.as_ref().and_then(|l| l.registry.get(nsp))
        {
            let (me, name) = (self.me.clone(), nsp.clone());
            ns.set_room_hook(Some(Rc::new(move |room: &Room, exists: bool, private: bool| {
                if let Some(me) = me.upgrade() {
                    me.room_changed(&name, room, exists, private);
                }
            })));
        }
    }

    /// A room appeared on this shard or disappeared: Node's `create-room` / `delete-room`
    /// handlers, (un)subscribing the room's channel.
    fn room_changed(&self, nsp: &str, room: &Room, exists: bool, private: bool) {
        let channel = format!("{}{room}#", self.broadcast_prefix(nsp));
        if exists {
            let public = !private || self.sharded() == Some(SubscriptionMode::DynamicPrivate);
            if public && self.room_channels.borrow_mut().insert(channel.clone()) {
                self.sub.subscribe(SubKind::Shard, vec![Bytes::from(channel)]);
            }
        } else if self.room_channels.borrow_mut().remove(&channel) {
            self.sub.unsubscribe(SubKind::Shard, vec![Bytes::from(channel)]);
        }
    }

    /// Stops listening to a namespace that this shard forgot (an empty dynamic child).
    pub(crate) fn forget_namespace(&self, nsp: &str) {
        if !self.subscribed.borrow_mut().remove(nsp) {
            return;
        }
        if self.sharded().is_some() {
            let main = self.broadcast_prefix(nsp);
            let mut channels = vec![Bytes::from(format!("{main}{}#", self.uid()))];
            if self.responder() {
                channels.push(Bytes::from(main.clone()));
            }
            self.room_channels.borrow_mut().retain(|c| {
                let mine = c.starts_with(&main);
                if mine {
                    channels.push(Bytes::from(c.clone()));
                }
                !mine
            });
            for channel in channels {
                self.sub.unsubscribe(SubKind::Shard, vec![channel]);
            }
            if let Some(ns) = self.layer.upgrade().and_then(|l| l.registry.get(nsp)) {
                ns.set_room_hook(None);
            }
            return;
        }
        if self.is_streams() {
            return self.forget_streams(nsp);
        }
        let pattern = format!("{}*", self.broadcast_prefix(nsp));
        self.sub.unsubscribe(SubKind::Pattern, vec![Bytes::from(pattern)]);
        let responses = self.response_channel(nsp);
        let own = format!("{responses}{}#", self.uid());
        self.sub.unsubscribe(SubKind::Channel, vec![Bytes::from(responses), Bytes::from(own)]);
        if self.responder() {
            self.sub.unsubscribe(SubKind::Channel, vec![Bytes::from(self.request_channel(nsp))]);
        }
    }

    /// Resolves once every subscription asked so far is confirmed by Redis.
    pub(crate) async fn subscribed(&self) {
        self.sub.subscribed().await
    }

    // --- publishing ----------------------------------------------------------------

    fn publish(&self, channel: String, payload: Vec<u8>) {
        self.metrics.cluster_published();
        let (client, metrics) = (self.client.clone(), self.metrics.clone());
        let Some(layer) = self.layer.upgrade() else { return };
        let sharded = self.sharded().is_some();
        layer.spawn(async move {
            let (channel, payload) = (Bytes::from(channel), Bytes::from(payload));
            let sent = match sharded {
                true => client.spublish(channel, payload).await,
                false => client.publish(channel, payload).await,
            };
            // The outage is logged by the connection; each lost message is counted.
            if sent.is_err() {
                metrics.cluster_publish_failed();
            }
        });
    }

    /// Node's `RedisAdapter.broadcast`: `[uid, packet, opts]` on the room's channel when there
    /// is exactly one room, else on the namespace's.
    pub(crate) fn publish_broadcast(&self, nsp: &str, opts: &BroadcastOptions, packet: &EncodedPacket) {
        let packet = match WirePacket::from_encoded(packet) {
            Ok(packet) => WirePacket { nsp: nsp.to_owned(), ..packet },
            Err(e) => {
                debug!(namespace = nsp, "not published to the cluster: {e}");
                return;
            }
        };
        if self.is_streams() {
            let body = Body::Broadcast { packet: WirePacket { id: None, ..packet }, opts: wire_opts(opts) };
            let msg = ShardedMsg { uid: self.uid().to_owned(), nsp: nsp.to_owned(), body };
            return self.send_streams(msg);
        }
        let mut channel = self.broadcast_prefix(nsp);
        if let Some(mode) = self.sharded() {
            // Node's `computeChannel`.
            if let [room] = opts.rooms.as_slice()
                && match mode {
                    // `looksLikeASocketId`: a JavaScript length, in UTF-16 units.
                    SubscriptionMode::Dynamic => room.encode_utf16().count() != 20,
                    SubscriptionMode::DynamicPrivate => true,
                    SubscriptionMode::Static => false,
                }
            {
                channel.push_str(room);
                channel.push('#');
            }
            let body = Body::Broadcast { packet: WirePacket { id: None, ..packet }, opts: wire_opts(opts) };
            let msg = ShardedMsg { uid: self.uid().to_owned(), nsp: nsp.to_owned(), body };
            return self.publish(channel, msg.encode());
        }
        if let [room] = opts.rooms.as_slice() {
            channel.push_str(room);
            channel.push('#');
        }
        let msg = BroadcastMsg { uid: self.uid().to_owned(), packet, opts: wire_opts(opts) };
        self.publish(channel, msg.encode());
    }

    /// A request to every other server (no answer awaited).
    pub(crate) fn publish_request(&self, nsp: &str, request: &Request) {
        if self.is_streams() {
            if let Some(msg) = ShardedMsg::request(nsp, request) {
                self.send_streams(ShardedMsg { uid: self.uid().to_owned(), ..msg });
            }
            return;
        }
        if self.sharded().is_some() {
            // Requests always go to the namespace's channel (a broadcast with acks too).
            if let Some(msg) = ShardedMsg::request(nsp, request) {
                let msg = ShardedMsg { uid: self.uid().to_owned(), ..msg };
                self.publish(self.broadcast_prefix(nsp), msg.encode());
            }
            return;
        }
        self.publish(self.request_channel(nsp), request.encode());
    }

    /// An answer to `requester`'s request (classic: `None` for the shared channel).
    fn publish_response(&self, nsp: &str, requester: Option<&str>, response: &Response) {
        if self.is_cluster_family() {
            let Some(requester) = requester else { return };
            let channel = format!("{}{requester}#", self.broadcast_prefix(nsp));
            let body = Body::Response(response.clone());
            let msg = ShardedMsg { uid: self.uid().to_owned(), nsp: nsp.to_owned(), body };
            let payload = match self.is_streams() {
                true => crate::cluster::streams::wire::encode_ephemeral(&msg),
                false => msg.encode(),
            };
            return self.publish(channel, payload);
        }
        let mut channel = self.response_channel(nsp);
        if let (true, Some(uid)) = (self.config().publish_on_specific_response_channel, requester) {
            channel.push_str(uid);
            channel.push('#');
        }
        self.publish(channel, response.encode());
    }

    /// Node's `serverCount()`: the servers subscribed to the namespace's request channel, this
    /// one included.
    pub(crate) async fn server_count(&self, nsp: &str) -> Result<usize, RedisError> {
        let count = match self.setup.config.kind {
            AdapterKind::Sharded(_) => {
                self.client.shardnumsub(Bytes::from(self.broadcast_prefix(nsp))).await?
            }
            AdapterKind::Streams => self.client.numsub(Bytes::from(self.broadcast_prefix(nsp))).await?,
            AdapterKind::Classic => self.client.numsub(Bytes::from(self.request_channel(nsp))).await?,
        };
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// A fresh request id, unique in the cluster (it starts with this server's uid).
    fn request_id(&self) -> String {
        let seq = self.next_request.get();
        self.next_request.set(seq.wrapping_add(1));
        format!("{}{}.{seq}", self.uid(), self.shard)
    }

    /// Registers a request whose answers come back as this shard's `id` answers.
    pub(crate) fn open_ack_request(&self, id: RequestId) -> String {
        let request_id = self.request_id();
        self.pending.borrow_mut().insert(request_id.clone(), Pending::Ack(id));
        request_id
    }

    /// Registers a request whose answers are handed over as they come.
    pub(crate) fn open_request(&self) -> (String, mpsc::UnboundedReceiver<Response>) {
        let request_id = self.request_id();
        let (tx, rx) = mpsc::unbounded();
        self.pending.borrow_mut().insert(request_id.clone(), Pending::Gather(tx));
        (request_id, rx)
    }

    pub(crate) fn close_request(&self, request_id: &str) {
        self.pending.borrow_mut().remove(request_id);
    }

    fn rc(&self) -> Rc<ClusterShard> {
        self.me.upgrade().expect("the adapter outlives its own calls")
    }
}

/// The options as Node puts them on the wire: `local` never leaves this server.
pub(crate) fn wire_opts(opts: &BroadcastOptions) -> BroadcastOptions {
    let mut opts = opts.clone();
    opts.flags.local = false;
    opts
}

/// Counts each loss of one connection, and logs an outage of the process's connections once
/// when the first goes down and once when the last is back.
fn outage_hook(
    setup: &Arc<ClusterSetup>,
    shard: usize,
    metrics: &Arc<ShardMetrics>,
    role: &'static str,
) -> EventHook {
    let (setup, metrics) = (setup.clone(), metrics.clone());
    let down = Rc::new(Cell::new(false));
    Rc::new(move |event| match event {
        ConnEvent::Connected => {
            metrics.cluster_redis_up(role, true);
            if down.replace(false) && setup.down.fetch_sub(1, Ordering::AcqRel) == 1 {
                info!("Redis is back: the cluster reconnected ({shard}/{role} last)");
            }
        }
        ConnEvent::Disconnected(e) => {
            metrics.cluster_redis_up(role, false);
            metrics.cluster_redis_error();
            if !down.replace(true) && setup.down.fetch_add(1, Ordering::AcqRel) == 0 {
                warn!(
                    url = ?setup.config.url,
                    "Redis unreachable: serving local clients only, reconnecting ({shard}/{role}: {e})"
                );
            }
        }
    })
}
