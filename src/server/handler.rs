//! The engine-level embedding API: what the Socket.IO layer (or a raw Engine.IO
//! application such as the conformance echo) plugs into the runtime.
//!
//! One handler lives on each shard, made by a factory when the shard starts, so
//! it may hold `Rc` state. Callbacks run on the shard that owns the session and
//! must not block; [`EngineSocket`] sends and closes from inside them or later.

use std::any::Any;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use crate::engine::{DisconnectReason, SendError, TransportKind};
use crate::http::{ReplyInfo, Request, Responder};
use crate::protocol::sid::Sid;
use crate::protocol::{Data, EioVersion, Packet};
use crate::shard::ShardId;
use crate::shard::ShardMsg;
use crate::shard::mesh::Mesh;
use crate::shard::state::{Shard, SlotKey};

/// What an application does with Engine.IO sessions.
pub trait EngineHandler: 'static {
    /// The shard started; `shard` sends to this endpoint's handlers on other shards and spawns tasks.
    fn on_start(&self, _shard: ShardContext) {}
    /// A message from this endpoint's handler on shard `from` (see [`ShardContext::send_to_peer`]).
    fn on_peer_message(&self, _from: ShardId, _msg: Box<dyn Any + Send>) {}
    /// Whether the handler takes the next peer message now; if not, `cx` is woken when it
    /// does. The shard reads nothing more from its peers meanwhile, so a handler still busy
    /// with earlier messages holds them back through the bounded mesh channels (default: always
    /// ready).
    fn poll_peer_ready(&self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
    /// A session opened (its open packet is queued).
    fn on_open(&self, _socket: &EngineSocket) {}
    /// A message packet arrived, text or binary.
    fn on_message(&self, socket: &EngineSocket, data: Data);
    /// The session moved from polling to WebSocket.
    fn on_upgrade(&self, _socket: &EngineSocket) {}
    /// The session closed; `socket` can no longer send.
    fn on_close(&self, _socket: &EngineSocket, _reason: DisconnectReason) {}
    /// A plain HTTP request under this endpoint's path that is not Engine.IO's (Socket.IO's
    /// `socket.io.js`): write a whole response into `http.out` and return `true`, or return
    /// `false` to leave it to the router (a 404). Runs on the shard that read it; must not block.
    fn on_http(&self, _http: &mut PlainHttp<'_>) -> bool {
        false
    }
}

/// What [`EngineHandler::on_http`] answers from, and where its response goes.
pub struct PlainHttp<'a> {
    /// The request, parsed.
    pub request: &'a Request,
    /// The path after the endpoint's own (`socket.io.js` for `/socket.io/socket.io.js`).
    pub subpath: &'a [u8],
    /// The server's CORS, `Date` and keep-alive settings.
    pub responder: Responder<'a>,
    /// What the response must carry (HTTP version, keep-alive, CORS).
    pub reply: &'a ReplyInfo,
    /// Where the whole response is written.
    pub out: &'a mut BytesMut,
}

/// Makes the handler of each shard.
pub trait HandlerFactory: Send + Sync + Clone + 'static {
    /// The handler made per shard.
    type Handler: EngineHandler;
    /// Makes the handler of shard `shard`.
    fn make(&self, shard: ShardId) -> Self::Handler;
}

impl<F, H> HandlerFactory for F
where
    F: Fn(ShardId) -> H + Send + Sync + Clone + 'static,
    H: EngineHandler,
{
    type Handler = H;
    fn make(&self, shard: ShardId) -> H {
        self(shard)
    }
}

/// A handle to one session, valid on its shard. Cheap to clone.
#[derive(Clone)]
pub struct EngineSocket {
    pub(crate) shard: Rc<Shard>,
    pub(crate) sid: Sid,
    /// Where the shard's table kept the session when the handle was made.
    pub(crate) key: SlotKey,
}

impl EngineSocket {
    /// The session's id.
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// The shard the session lives on.
    pub fn shard(&self) -> ShardId {
        self.shard.id
    }

    /// The protocol revision of the client (`EIO=3` or `EIO=4`).
    pub fn version(&self) -> Option<EioVersion> {
        self.shard.with_session(self.sid, |s| s.version())
    }

    /// The request that opened the session (head only) and the client's address.
    pub fn handshake(&self) -> Option<Rc<Handshake>> {
        self.shard.handshake(self.sid)
    }

    /// The transport in use now.
    pub fn transport(&self) -> Option<TransportKind> {
        self.shard.with_session(self.sid, |s| s.transport())
    }

    /// Queues a packet. `Err` hands the packet back when the session is closed or its queue is full.
    pub fn send(&self, packet: Packet) -> Result<(), SendError> {
        self.shard.send(self.sid, self.key, packet)
    }

    /// Sends a text message.
    pub fn send_text(&self, text: impl Into<ByteString>) -> Result<(), SendError> {
        self.send(Packet::message(text))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send(Packet::binary(data))
    }

    /// What is queued now goes out in a write of its own, and the next write waits the
    /// engine's `first_write_gap` (WebSocket only): see [`Session::write_boundary`].
    ///
    /// [`Session::write_boundary`]: crate::engine::Session::write_boundary
    pub fn write_boundary(&self) {
        let gap = self.shard.engine.first_write_gap;
        self.shard.drive_at(self.sid, self.key, |s| s.write_boundary(gap));
    }

    /// Closes the session ("forced close"): queued packets are flushed first, then a close packet.
    pub fn close(&self) {
        self.shard.close(self.sid, DisconnectReason::ForcedClose);
    }

    /// Closes the session at once with `reason`, as Node's `onError` does.
    pub fn abort(&self, reason: DisconnectReason) {
        self.shard.abort(self.sid, reason);
    }
}

impl std::fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSocket").field("sid", &self.sid).field("shard", &self.shard.id).finish()
    }
}

/// What a session's handler may know of the request that opened it.
#[derive(Debug)]
pub struct Handshake {
    /// The handshake request, head only (headers, path, query).
    pub request: Request,
    /// The client's address, when the socket still knew it.
    pub remote: Option<SocketAddr>,
}

/// A handler's view of its shard, given once in [`EngineHandler::on_start`].
#[derive(Clone)]
pub struct ShardContext {
    pub(crate) shard: Rc<Shard>,
    pub(super) mesh: Rc<Mesh>,
    pub(super) endpoint: usize,
}

impl ShardContext {
    /// This shard's index.
    pub fn id(&self) -> ShardId {
        self.shard.id
    }

    /// How many shards run.
    pub fn shards(&self) -> usize {
        self.shard.shards
    }

    /// Sends `msg` to this endpoint's handler on shard `peer`, waiting while its channel is full.
    /// `Err` if the peer is gone.
    pub async fn send_to_peer(&self, peer: ShardId, msg: Box<dyn Any + Send>) -> Result<(), ()> {
        self.mesh.send(peer, ShardMsg::Peer { endpoint: self.endpoint, from: self.shard.id, msg }).await
    }

    /// Runs `task` on this shard, detached. A panic in it is logged and counted
    /// (`tpcio_handler_panics_total`) and ends only the task.
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        let shard = self.shard.clone();
        glommio::spawn_local(async move {
            let task = std::pin::pin!(task);
            if let Err(panic) = super::guard::CatchPanic::new(task).await {
                shard.metrics.handler_panicked();
                tracing::error!(shard = shard.id, "spawned task panicked: {panic}");
            }
        })
        .detach();
    }

    /// A handle to a session of this shard (it may be gone: sends then fail).
    pub fn socket(&self, sid: Sid) -> EngineSocket {
        self.shard.socket(sid)
    }
}

/// Waits `duration` on the current shard's timer.
pub async fn sleep(duration: Duration) {
    glommio::timer::sleep(duration).await;
}

/// Lets the shard's other ready tasks run before going on.
pub async fn yield_now() {
    glommio::executor().yield_now().await;
}
