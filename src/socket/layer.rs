//! The Socket.IO layer of one shard: the engine handler that turns Engine.IO
//! messages into namespace connections, events and acks (through each session's
//! [`SioClient`]) and runs the application's handlers as tasks. What it does across
//! shards (broadcasts, fetches, acks of broadcasts) is in `crate::adapter` (`peer`, `requests`);
//! writing packets to a session in [`super::send`].

use std::cell::{OnceCell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use tracing::error;

use super::api::{AckError, AckSender, ConnectInfo, EmitError, Event, SocketRef};
use super::client::{Action, ClientOptions, ConnectRefusal, EnginePayload, SioClient};
use super::handler::LocalFuture;
use super::inbound::Inbound;
use super::io::Io;
use super::namespace::{NamespaceState, Registry};
use super::recovery::{self, RecoveryStore, Session, Take};
use super::send::{is_reserved, send_encoded, send_packet};
use crate::adapter::outbox::Outbox;
use crate::adapter::peer::PeerMsg;
use crate::adapter::requests::Requests;
use crate::adapter::{BroadcastOptions, EncodedPacket};
use crate::cluster::adapter::{ClusterSetup, ClusterShard};
use crate::engine::DisconnectReason;
use crate::engine::ShrinkSparse;
use crate::protocol::sid::Sid;
use crate::protocol::sio::{Packet, Parser, SioVersion};
use crate::protocol::value::{self, Value};
use crate::protocol::{Data, EioVersion};
use crate::server::bundle::ClientBundle;
use crate::server::guard::{CatchPanic, Panic, catch};
use crate::server::{EngineHandler, EngineSocket, PlainHttp, ShardContext, sleep};
use crate::shard::ShardId;

mod connect;

/// The `CONNECT_ERROR` message of a connection whose connect middleware
/// ([`Handler::authorize`](super::Handler::authorize)) panicked.
pub(crate) const PANICKED_MIDDLEWARE: &str = "server error";

/// A session taken back for a CONNECT, with the packets its client missed.
pub(crate) struct Restored {
    sid: Sid,
    pid: Sid,
    rooms: Vec<crate::adapter::Room>,
    /// `None`: restored on another shard, whose handler exported no data; the middleware
    /// makes it.
    data: Option<Rc<dyn std::any::Any>>,
    missed: Vec<Arc<EncodedPacket>>,
}

impl Restored {
    fn into_session(self, nsp: ByteString) -> Option<Session> {
        let data = self.data?;
        Some(Session { sid: self.sid, pid: self.pid, nsp, rooms: self.rooms, data })
    }
}

/// What a handler callback was running for, to report its panic.
pub(crate) struct Site {
    pub(crate) ns: Rc<NamespaceState>,
    /// The socket to disconnect; `None` once it is gone (`on_disconnect`) or before it exists.
    pub(crate) socket: Option<Sid>,
    pub(crate) callback: &'static str,
    pub(crate) event: Option<ByteString>,
}

impl Site {
    pub(crate) fn new(ns: &Rc<NamespaceState>, socket: Option<Sid>, callback: &'static str) -> Self {
        Site { ns: ns.clone(), socket, callback, event: None }
    }
}

pub(crate) struct Layer {
    pub(crate) registry: Registry,
    opts: ClientOptions,
    ctx: OnceCell<ShardContext>,
    /// Each connection's client, boxed: the map keeps up to twice as many buckets as entries,
    /// and the client is most of a bucket.
    clients: RefCell<foldhash::HashMap<Sid, Box<SioClient>>>,
    /// This shard's requests waiting for other shards' answers.
    pub(crate) requests: Requests,
    /// Messages for other shards, sent in batches.
    pub(crate) outbox: Outbox,
    /// Messages from other shards, run in order.
    pub(crate) inbound: Inbound,
    /// Connections waiting for their connectTimeout, oldest first; a sweeper task runs while
    /// it is not empty.
    connect_deadlines: RefCell<VecDeque<(Instant, Sid)>>,
    /// The cluster adapter's configuration, shared by every shard, if there is one.
    cluster_setup: Option<Arc<ClusterSetup>>,
    /// This shard's side of the cluster adapter, from `on_start` on.
    cluster: OnceCell<Rc<ClusterShard>>,
    /// Connection state recovery's log and sessions, when it is on (from `on_start` on).
    recovery: OnceCell<RecoveryStore>,
    me: std::rc::Weak<Layer>,
}

/// The engine handler registered at the Socket.IO path, with the client bundle it serves (if any).
pub(crate) struct LayerHandler(pub(crate) Rc<Layer>, pub(crate) Option<Arc<ClientBundle>>);

impl Layer {
    pub(crate) fn new(
        registry: Registry,
        opts: ClientOptions,
        cluster_setup: Option<Arc<ClusterSetup>>,
    ) -> Rc<Layer> {
        Rc::new_cyclic(|me| Layer {
            registry,
            opts,
            ctx: OnceCell::new(),
            clients: RefCell::new(foldhash::HashMap::default()),
            requests: Requests::default(),
            outbox: Outbox::new(opts.outbox_capacity),
            inbound: Inbound::default(),
            connect_deadlines: RefCell::new(VecDeque::new()),
            cluster_setup,
            cluster: OnceCell::new(),
            recovery: OnceCell::new(),
            me: me.clone(),
        })
    }

    pub(crate) fn rc(&self) -> Rc<Layer> {
        self.me.upgrade().expect("the layer outlives its own calls")
    }

    /// The shard. Every handle that reaches the layer (a socket, an `Io`) exists only after
    /// `on_start` set it.
    pub(crate) fn ctx(&self) -> &ShardContext {
        self.ctx.get().expect("on_start runs before any session opens")
    }

    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + 'static) {
        self.ctx().spawn(task);
    }

    /// This shard's side of the cluster adapter, when the server is in a cluster.
    pub(crate) fn cluster(&self) -> Option<&Rc<ClusterShard>> {
        self.cluster.get()
    }

    /// The server's Socket.IO parser (every connection speaks it).
    pub(crate) fn parser(&self) -> Parser {
        self.opts.parser
    }

    /// Connection state recovery's store, when the option is on.
    /// The streams adapter, when it runs with connection state recovery on: offsets are stream
    /// ids and sessions live in Redis.
    pub(crate) fn streams(&self) -> Option<&Rc<ClusterShard>> {
        self.recovery()?;
        self.cluster().filter(|c| c.is_streams())
    }

    pub(crate) fn recovery(&self) -> Option<&RecoveryStore> {
        self.recovery.get()
    }

    /// Runs the recovery sweeper unless it runs already: it frees expired sessions and
    /// packets, at most once a second, and stops when none is left.
    pub(crate) fn ensure_recovery_sweeper(&self) {
        let Some(store) = self.recovery() else { return };
        if store.sweeping.replace(true) {
            return;
        }
        let layer = self.rc();
        self.spawn(async move {
            let Some(store) = layer.recovery() else { return };
            loop {
                let now = Instant::now();
                let Some(next) = store.sweep(now) else {
                    store.sweeping.set(false);
                    return;
                };
                sleep(next.saturating_duration_since(now).max(Duration::from_secs(1))).await;
            }
        });
    }

    /// A socket's own emit. With recovery on, an event without ack gets an offset and is
    /// logged, as Node routes `socket.emit` as a broadcast to the socket's room.
    pub(crate) fn unicast(&self, socket: &SocketRef, packet: EncodedPacket) -> Result<(), EmitError> {
        let Some(store) = self.recovery() else {
            return send_encoded(&socket.engine, &packet, self.parser());
        };
        let opts = BroadcastOptions::new().to(ByteString::from(socket.id.as_str()));
        if !recovery::is_eligible(&packet, &opts) {
            return send_encoded(&socket.engine, &packet, self.parser());
        }
        // The streams adapter: the offset is the stream entry's id (see cluster::streams::session).
        if let Some(xadd) = self.streams().and_then(|c| c.xadd_broadcast(&socket.ns.name, &opts, &packet)) {
            let engine = socket.engine.clone();
            let parser = self.parser();
            self.spawn(async move {
                let packet = match xadd.await {
                    Some(id) => recovery::with_offset(&packet, &id),
                    None => packet,
                };
                let _ = send_encoded(&engine, &packet, parser);
            });
            return Ok(());
        }
        let offset = store.next_offset(recovery::now_ms());
        let packet = Arc::new(recovery::with_offset(&packet, &offset));
        store.log(&offset, &socket.ns.name, &opts, packet.clone(), Instant::now());
        self.ensure_recovery_sweeper();
        send_encoded(&socket.engine, &packet, self.parser())
    }

    /// How long requests to other shards and servers wait (Node's `requestsTimeout`, 5 s).
    pub(crate) fn requests_timeout(&self) -> Duration {
        self.cluster().map_or(crate::adapter::peer::DEFAULT_REQUEST_TIMEOUT, |c| c.config().requests_timeout)
    }

    /// Another server's `serverSideEmit` (`data` is the event name then its arguments), for
    /// this namespace's handler; `ack` answers the sender when it waits for answers.
    pub(crate) fn server_side_event(
        &self,
        ns: &Rc<NamespaceState>,
        mut data: Vec<Value>,
        ack: Option<Box<dyn FnOnce(Value)>>,
    ) {
        let name = match data.first() {
            Some(Value::String(_)) => match data.remove(0) {
                Value::String(name) => name,
                _ => return,
            },
            _ => return,
        };
        let event =
            super::api::ServerSideEvent { name, args: data, ack: ack.map(super::api::ServerSideAck::new) };
        let site = Site::new(ns, None, "on_server_side_event");
        self.run_callback(site, ns.handler.on_server_side_event(Io::new(self.rc()), event));
    }

    /// Runs a handler callback: polled once right here, and made a task only if it has to
    /// wait. Most callbacks finish in that first poll, so an event costs no task. A panic
    /// in it, in either place, is reported by [`Layer::handler_panicked`]. The callback comes
    /// boxed, as the erased handler returns it: boxing it again would cost an allocation per
    /// event.
    fn run_callback(&self, site: Site, callback: LocalFuture<()>) {
        let mut callback = CatchPanic::new(callback);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        // A callback that waits registered the no-op waker; the task polls it again at once
        // and registers its own.
        match std::pin::Pin::new(&mut callback).poll(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(panic)) => self.handler_panicked(&site, &panic),
            Poll::Pending => {
                let layer = self.rc();
                self.spawn(async move {
                    if let Err(panic) = callback.await {
                        layer.handler_panicked(&site, &panic);
                    }
                });
            }
        }
    }

    /// A handler panicked: logged once with where it was, counted, and its socket (if it
    /// still has one) disconnected as by `socket.disconnect()` — the client sees a server
    /// disconnect, `on_disconnect` gets "server namespace disconnect". The disconnect runs
    /// as a task of its own, so that no caller up the stack finds its state changed under it.
    pub(crate) fn handler_panicked(&self, site: &Site, panic: &Panic) {
        let shard = self.ctx().id();
        self.ctx().metrics().handler_panicked();
        let socket = site.socket.map(|id| id.as_str().to_owned());
        error!(
            shard,
            namespace = %site.ns.name,
            callback = site.callback,
            event = site.event.as_deref(),
            socket,
            "handler panicked: {panic}"
        );
        let Some(id) = site.socket else { return };
        let (layer, ns) = (self.rc(), site.ns.clone());
        self.spawn(async move { layer.disconnect_socket(&ns, id, false) });
    }

    /// Feeds the session's client, then carries out everything it asked for.
    fn drive(&self, engine: &EngineSocket, f: impl FnOnce(&mut SioClient)) {
        if let Some(client) = self.clients.borrow_mut().get_mut(&engine.sid()) {
            f(client);
        }
        self.run_actions(engine);
    }

    /// Queues a connection's connectTimeout. Every connection gets the same timeout, so the
    /// queue is in deadline order and one sweeper task per shard serves it, instead of a
    /// task and a timer per connection that would live for the whole timeout.
    fn arm_connect_timeout(&self, at: Instant, sid: Sid) {
        let first = {
            let mut deadlines = self.connect_deadlines.borrow_mut();
            deadlines.push_back((at, sid));
            deadlines.len() == 1
        };
        if !first {
            return;
        }
        let layer = self.rc();
        self.spawn(async move {
            loop {
                let next = layer.connect_deadlines.borrow().front().copied();
                let Some((at, sid)) = next else {
                    // The queue held every connection of a storm: its room goes with them.
                    layer.connect_deadlines.borrow_mut().shrink_to_fit();
                    return;
                };
                let now = Instant::now();
                if at > now {
                    sleep(at - now).await;
                    continue;
                }
                layer.connect_deadlines.borrow_mut().pop_front();
                // A client that joined a namespace (or left) meanwhile ignores it.
                let engine = layer.ctx().socket(sid);
                layer.drive(&engine, |c| c.on_timeout(now));
            }
        });
    }

    fn run_actions(&self, engine: &EngineSocket) {
        loop {
            let action = match self.clients.borrow_mut().get_mut(&engine.sid()) {
                Some(client) => client.poll_action(),
                None => None,
            };
            let Some(action) = action else { return };
            self.run(engine, action);
        }
    }

    fn run(&self, engine: &EngineSocket, action: Action) {
        match action {
            Action::Send(EnginePayload::Text(text)) => {
                let _ = engine.send_text(text);
            }
            Action::Send(EnginePayload::Binary(data)) => {
                let _ = engine.send_binary(data);
            }
            Action::CloseEngine(_) => engine.close(),
            Action::Connect { nsp, auth } => self.connect(engine, nsp, auth),
            Action::Event { nsp, socket, packet, attachments } => {
                self.event(engine, nsp, socket, packet, attachments)
            }
            Action::Ack { nsp, socket, id, packet, attachments } => {
                if let Some(ns) = self.registry.get(&nsp) {
                    let args = packet.ack_args().unwrap_or_default();
                    let values = args
                        .iter()
                        .map(|a| value::reconstruct(a, &attachments).unwrap_or_default())
                        .collect();
                    ns.resolve_ack(socket, id, values);
                }
            }
            Action::Disconnect { nsp, socket, reason } => {
                let Some(ns) = self.registry.get(&nsp) else { return };
                let Some(data) = ns.data_of(socket) else { return };
                let socket_ref =
                    SocketRef { layer: self.rc(), ns: ns.clone(), id: socket, engine: engine.clone() };
                // Node's "disconnecting": the socket is still in its rooms.
                if let Err(panic) = catch(|| ns.handler.on_disconnecting(&socket_ref, &data, reason)) {
                    self.handler_panicked(&Site::new(&ns, None, "on_disconnecting"), &panic);
                }
                if recovery::is_recoverable(reason)
                    && let Some((Some(pid), _)) = ns.recovery_of(socket)
                {
                    let rooms = ns.rooms_of(socket);
                    let session =
                        Session { sid: socket, pid, nsp: ns.name.clone(), rooms, data: data.clone() };
                    self.persist(session);
                }
                if let Some(tap) = &ns.tap {
                    tap.disconnected(&ns.name, socket, reason);
                }
                if ns.remove(socket).is_some() {
                    if self.opts.cleanup_empty_child_namespaces
                        && self.registry.remove_empty_child(&ns)
                        && let Some(cluster) = self.cluster()
                    {
                        cluster.forget_namespace(&ns.name);
                    }
                    let site = Site::new(&ns, None, "on_disconnect");
                    self.run_callback(site, ns.handler.on_disconnect(socket_ref, data, reason));
                }
            }
            // Node emits the socket's "error" event; the connection is closing already.
            Action::Error { .. } => {}
        }
    }

    fn event(
        &self,
        engine: &EngineSocket,
        nsp: ByteString,
        socket: Sid,
        packet: Packet,
        attachments: Vec<Bytes>,
    ) {
        let Some(ns) = self.registry.get(&nsp) else { return };
        let Some(data) = ns.data_of(socket) else { return };
        let Some(event) = packet.event() else { return };
        let parser = self.parser();
        let ack = packet.id.map(|id| AckSender { engine: engine.clone(), nsp: nsp.clone(), id, parser });
        let event = Event { name: event.name, args: event.args, packet, attachments, ack };
        let socket_ref = SocketRef { layer: self.rc(), ns: ns.clone(), id: socket, engine: engine.clone() };
        let site = Site {
            ns: ns.clone(),
            socket: Some(socket),
            callback: "on_event",
            event: Some(event.name.clone()),
        };
        if let Some(tap) = &ns.tap {
            tap.received(&ns.name, socket, &event.packet, &event.attachments);
        }
        // Node's `socket.use`: a refused event is dropped, its ack never sent.
        match catch(|| ns.handler.on_packet(&socket_ref, &data, &event)) {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(panic) => {
                self.handler_panicked(&Site { callback: "on_packet", ..site }, &panic);
                return;
            }
        }
        self.run_callback(site, ns.handler.on_event(socket_ref, data, event));
    }

    /// Emits to one socket and waits for its ack, at most `timeout`.
    pub(crate) async fn emit_with_ack(
        &self,
        socket: &SocketRef,
        event: &str,
        args: &(impl serde::Serialize + ?Sized),
        timeout: Duration,
    ) -> Result<Vec<Value>, AckError> {
        if is_reserved(event) {
            return Err(AckError::Reserved);
        }
        let (mut packet, attachments) =
            super::typed::encode::event_packet(socket.ns.name.clone(), event, args, None)
                .map_err(|_| AckError::Unserializable)?;
        let (ack_id, rx) = socket.ns.register_ack(socket.id).ok_or(AckError::Disconnected)?;
        packet.id = Some(ack_id);
        socket.ns.handler.on_outgoing(socket, event);
        if let Some(tap) = &socket.ns.tap {
            tap.sent(&socket.ns.name, socket.id, &packet, &attachments);
        }
        if send_packet(&socket.engine, &packet, &attachments, self.parser()).is_err() {
            socket.ns.forget_ack(socket.id, ack_id);
            return Err(AckError::Disconnected);
        }
        let answer = async { rx.await.map_err(|_| AckError::Disconnected) };
        let expire = async {
            sleep(timeout).await;
            Err(AckError::Timeout)
        };
        let result = futures_lite::future::or(answer, expire).await;
        socket.ns.forget_ack(socket.id, ack_id);
        result
    }

    /// Server-side disconnect of one socket ("server namespace disconnect").
    pub(crate) fn disconnect_socket(&self, ns: &NamespaceState, id: Sid, close: bool) {
        let Some(engine) =
            ns.select(&BroadcastOptions::new().to(ByteString::from(id.as_str()))).pop().map(|(_, e)| e)
        else {
            return;
        };
        // Node's `socket.disconnect(true)` takes every namespace of the connection with it.
        self.drive(&engine, |c| match close {
            true => c.disconnect_all(Instant::now()),
            false => {
                c.disconnect_socket(&ns.name, Instant::now());
            }
        });
    }
}

impl EngineHandler for LayerHandler {
    fn on_start(&self, shard: ShardContext) {
        let _ = self.0.ctx.set(shard);
        if let Some(opts) = self.0.opts.recovery {
            let _ = self.0.recovery.set(RecoveryStore::new(opts, self.0.ctx().id()));
        }
        if let Some(setup) = &self.0.cluster_setup {
            let _ = self.0.cluster.set(ClusterShard::start(&self.0, setup.clone()));
        }
        for handler in self.0.registry.handlers() {
            if let Err(panic) = catch(|| handler.on_start(Io::new(self.0.clone()))) {
                self.0.ctx().metrics().handler_panicked();
                error!(shard = self.0.ctx().id(), callback = "on_start", "handler panicked: {panic}");
            }
        }
    }

    fn on_peer_message(&self, _from: ShardId, msg: Box<dyn std::any::Any + Send>) {
        if let Ok(msg) = msg.downcast::<PeerMsg>() {
            self.0.receive_from_peer(*msg);
        }
    }

    fn poll_peer_ready(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.0.poll_inbound_idle(cx)
    }

    fn on_open(&self, engine: &EngineSocket) {
        let layer = &self.0;
        let version = SioVersion::for_eio(engine.version().unwrap_or(EioVersion::V4));
        let now = Instant::now();
        let mut client = SioClient::new(version, engine.sid(), &layer.opts, now);
        client.on_open(now);
        let deadline = client.next_deadline();
        layer.clients.borrow_mut().insert(engine.sid(), Box::new(client));
        layer.run_actions(engine);
        // connectTimeout: a connection that joins no namespace in time is closed.
        if let Some(at) = deadline {
            layer.arm_connect_timeout(at, engine.sid());
        }
    }

    fn on_message(&self, engine: &EngineSocket, data: Data) {
        match data {
            Data::Text(text) => self.0.drive(engine, |c| c.on_text(text)),
            Data::Binary(bytes) => self.0.drive(engine, |c| c.on_binary(bytes)),
        }
    }

    fn on_upgrade(&self, engine: &EngineSocket) {
        if let Some(tap) = self.0.registry.tap() {
            let clients = self.0.clients.borrow();
            let sockets =
                clients.get(&engine.sid()).map(|c| c.namespaces().map(|(n, id)| (n.into(), id)).collect());
            tap.upgraded(sockets.unwrap_or_default());
        }
    }

    fn on_close(&self, engine: &EngineSocket, reason: DisconnectReason) {
        self.0.drive(engine, |c| c.on_engine_close(reason));
        let mut clients = self.0.clients.borrow_mut();
        clients.remove(&engine.sid());
        clients.shrink_sparse();
    }

    fn on_http(&self, http: &mut PlainHttp<'_>) -> bool {
        let Some(bundle) = &self.1 else { return false };
        bundle.respond(http.subpath, http.request, &http.responder, http.reply, http.out)
    }
}
