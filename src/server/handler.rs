//! The engine-level embedding API: what the Socket.IO layer (or a raw Engine.IO
//! application such as the conformance echo) plugs into the runtime.
//!
//! One handler lives on each shard, made by a factory when the shard starts, so
//! it may hold `Rc` state. Callbacks run on the shard that owns the session and
//! must not block; [`EngineSocket`] sends and closes from inside them or later.

use std::rc::Rc;

use bytes::Bytes;
use bytestring::ByteString;

use super::shard::Shard;
use crate::engine::{DisconnectReason, SendError, TransportKind};
use crate::protocol::sid::Sid;
use crate::protocol::{Data, EioVersion, Packet};
use crate::shard::ShardId;

/// What an application does with Engine.IO sessions.
pub trait EngineHandler: 'static {
    /// A session opened (its open packet is queued).
    fn on_open(&self, _socket: &EngineSocket) {}
    /// A message packet arrived, text or binary.
    fn on_message(&self, socket: &EngineSocket, data: Data);
    /// The session moved from polling to WebSocket.
    fn on_upgrade(&self, _socket: &EngineSocket) {}
    /// The session closed; `socket` can no longer send.
    fn on_close(&self, _socket: &EngineSocket, _reason: DisconnectReason) {}
}

/// Makes the handler of each shard.
pub trait HandlerFactory: Send + Sync + Clone + 'static {
    type Handler: EngineHandler;
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
    pub(super) shard: Rc<Shard>,
    pub(super) sid: Sid,
}

impl EngineSocket {
    pub fn sid(&self) -> Sid {
        self.sid
    }

    pub fn shard(&self) -> ShardId {
        self.shard.id
    }

    /// The protocol revision of the client (`EIO=3` or `EIO=4`).
    pub fn version(&self) -> Option<EioVersion> {
        self.shard.with_session(self.sid, |s| s.version())
    }

    /// The transport in use now.
    pub fn transport(&self) -> Option<TransportKind> {
        self.shard.with_session(self.sid, |s| s.transport())
    }

    /// Queues a packet. `Err` hands the packet back when the session is closed or its queue is full.
    pub fn send(&self, packet: Packet) -> Result<(), SendError> {
        self.shard.send(self.sid, packet)
    }

    pub fn send_text(&self, text: impl Into<ByteString>) -> Result<(), SendError> {
        self.send(Packet::message(text))
    }

    pub fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send(Packet::binary(data))
    }

    /// Closes the session ("forced close"): queued packets are flushed first, then a close packet.
    pub fn close(&self) {
        self.shard.close(self.sid, DisconnectReason::ForcedClose);
    }
}

impl std::fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSocket").field("sid", &self.sid).field("shard", &self.shard.id).finish()
    }
}
