//! The Socket.IO adapter: rooms, broadcast target selection and encode-once delivery
//! (socket.io-adapter's in-memory `Adapter`, socket.io's `BroadcastOperator`), and the plain
//! data the shards exchange to run those operations over every shard.
//!
//! Each shard keeps a [`Rooms`] per namespace for its own sockets only. An operation on the
//! whole server is run locally and sent to every other shard as an [`AdapterRequest`] that
//! carries the [`BroadcastOptions`], never socket lists: each shard selects among its own
//! sockets. Requests that expect answers name their origin in a [`RequestId`]; the answers come
//! back as [`AdapterResponse`]s. The variants follow the request types of
//! `@socket.io/redis-adapter` ([`RequestType`]), so a Redis-backed adapter can translate them
//! one for one. `flags.local` means "this server": it keeps a request away from other servers
//! (Redis), not from the other shards of this process.
//!
//! Everything here is `Send` data: the packet of a broadcast is an `Arc<EncodedPacket>` whose
//! buffers are shared, not copied, by every shard.
//!
//! The near distance, the other shards of this process: `peer` is what one shard's
//! Socket.IO layer tells another (broadcasts, requests, answers, recovery lookups), queued
//! by `outbox` (bounded, batched per peer); `requests` waits for the answers of a
//! request sent to every shard (and, with a Redis adapter, to every server); [`remote`] is a
//! socket found on any of them. The far distance, other servers on Redis, is `crate::cluster`,
//! which carries the same requests and answers.

pub mod encoded;
pub(crate) mod outbox;
pub(crate) mod peer;
pub mod remote;
pub(crate) mod requests;
pub mod rooms;
pub mod selector;

use std::sync::Arc;

use bytestring::ByteString;

pub use encoded::EncodedPacket;
pub use rooms::{Rooms, Selection};
pub use selector::{BroadcastFlags, BroadcastOptions, Room};

use crate::protocol::value::Value;
use crate::shard::ShardId;

/// `@socket.io/redis-adapter`'s request types, with its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RequestType {
    Sockets = 0,
    AllRooms = 1,
    RemoteJoin = 2,
    RemoteLeave = 3,
    RemoteDisconnect = 4,
    RemoteFetch = 5,
    ServerSideEmit = 6,
    Broadcast = 7,
    BroadcastClientCount = 8,
    BroadcastAck = 9,
}

/// Names a request so its responses find their way back: the shard that asked, and a number
/// that shard does not reuse while the request is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId {
    pub origin: ShardId,
    pub seq: u64,
}

impl RequestId {
    pub fn new(origin: ShardId, seq: u64) -> Self {
        RequestId { origin, seq }
    }
}

/// A packet for the sockets `opts` selects in namespace `nsp`. The sender is left out by its
/// own room in `opts.except` (`socket.broadcast`), so no separate field names it.
#[derive(Clone, Debug)]
pub struct BroadcastRequest {
    pub nsp: ByteString,
    pub opts: BroadcastOptions,
    pub packet: Arc<EncodedPacket>,
}

impl BroadcastRequest {
    pub fn new(nsp: impl Into<ByteString>, opts: BroadcastOptions, packet: Arc<EncodedPacket>) -> Self {
        BroadcastRequest { nsp: nsp.into(), opts, packet }
    }
}

/// What Node's `RemoteSocket` is built from: a socket found by `fetchSockets` on another shard.
#[derive(Clone, Debug, PartialEq)]
pub struct SocketDetails {
    /// The socket's id (also a room).
    pub id: ByteString,
    /// Node's `socket.handshake` object (`headers`, `time`, `address`, `query`, `auth`, …).
    pub handshake: Value,
    /// Its rooms in join order, its own id first.
    pub rooms: Vec<Room>,
    /// `socket.data`.
    pub data: Value,
}

/// An adapter operation for the receiving shard to run on its own sockets.
#[derive(Clone, Debug)]
pub enum AdapterRequest {
    /// `io.to(…).emit(…)`: deliver, no answer.
    Broadcast(BroadcastRequest),
    /// An emit with an ack callback: register `ack_id` on each recipient, answer one
    /// [`AdapterResponse::ClientCount`], then one [`AdapterResponse::Ack`] per client answer.
    /// `ack_id` is the id already written in the packet.
    BroadcastWithAck { id: RequestId, ack_id: u64, broadcast: BroadcastRequest },
    /// `allSockets()`: the ids of the sockets in any of `rooms` (all when empty).
    SocketIds { id: RequestId, nsp: ByteString, rooms: Vec<Room> },
    /// `allRooms()`: the rooms with a socket on the shard.
    AllRooms { id: RequestId, nsp: ByteString },
    /// `fetchSockets()`: answered with [`AdapterResponse::Sockets`].
    FetchSockets { id: RequestId, nsp: ByteString, opts: BroadcastOptions },
    /// `socketsJoin(rooms)`: no answer.
    AddSockets { nsp: ByteString, opts: BroadcastOptions, rooms: Vec<Room> },
    /// `socketsLeave(rooms)`: no answer.
    DelSockets { nsp: ByteString, opts: BroadcastOptions, rooms: Vec<Room> },
    /// `disconnectSockets(close)`: no answer.
    DisconnectSockets { nsp: ByteString, opts: BroadcastOptions, close: bool },
    /// `serverSideEmit(event, …args)`: `args[0]` is the event name. With `id`, the handler's
    /// ack answers [`AdapterResponse::ServerSideEmitAck`].
    ServerSideEmit { id: Option<RequestId>, nsp: ByteString, args: Vec<Value> },
}

impl AdapterRequest {
    pub fn kind(&self) -> RequestType {
        match self {
            AdapterRequest::Broadcast(_) | AdapterRequest::BroadcastWithAck { .. } => RequestType::Broadcast,
            AdapterRequest::SocketIds { .. } => RequestType::Sockets,
            AdapterRequest::AllRooms { .. } => RequestType::AllRooms,
            AdapterRequest::FetchSockets { .. } => RequestType::RemoteFetch,
            AdapterRequest::AddSockets { .. } => RequestType::RemoteJoin,
            AdapterRequest::DelSockets { .. } => RequestType::RemoteLeave,
            AdapterRequest::DisconnectSockets { .. } => RequestType::RemoteDisconnect,
            AdapterRequest::ServerSideEmit { .. } => RequestType::ServerSideEmit,
        }
    }

    /// The request whose answers are awaited, if any.
    pub fn id(&self) -> Option<RequestId> {
        match self {
            AdapterRequest::BroadcastWithAck { id, .. }
            | AdapterRequest::SocketIds { id, .. }
            | AdapterRequest::AllRooms { id, .. }
            | AdapterRequest::FetchSockets { id, .. } => Some(*id),
            AdapterRequest::ServerSideEmit { id, .. } => *id,
            _ => None,
        }
    }
}

/// An answer to the shard named by `id.origin`.
#[derive(Clone, Debug)]
pub enum AdapterResponse {
    /// How many sockets of the shard got an ack-expecting broadcast (`BROADCAST_CLIENT_COUNT`).
    ClientCount {
        id: RequestId,
        count: usize,
    },
    /// One client's ack: its first argument, as Node keeps only that (`BROADCAST_ACK`).
    Ack {
        id: RequestId,
        response: Value,
    },
    SocketIds {
        id: RequestId,
        ids: Vec<ByteString>,
    },
    AllRooms {
        id: RequestId,
        rooms: Vec<Room>,
    },
    Sockets {
        id: RequestId,
        sockets: Vec<SocketDetails>,
    },
    /// The first argument the handler acked a server-side emit with.
    ServerSideEmitAck {
        id: RequestId,
        response: Value,
    },
}

impl AdapterResponse {
    pub fn id(&self) -> RequestId {
        match self {
            AdapterResponse::ClientCount { id, .. }
            | AdapterResponse::Ack { id, .. }
            | AdapterResponse::SocketIds { id, .. }
            | AdapterResponse::AllRooms { id, .. }
            | AdapterResponse::Sockets { id, .. }
            | AdapterResponse::ServerSideEmitAck { id, .. } => *id,
        }
    }
}

/// One adapter message between shards.
#[derive(Clone, Debug)]
pub enum AdapterMsg {
    Request(AdapterRequest),
    Response(AdapterResponse),
}

impl From<AdapterRequest> for AdapterMsg {
    fn from(r: AdapterRequest) -> Self {
        AdapterMsg::Request(r)
    }
}

impl From<AdapterResponse> for AdapterMsg {
    fn from(r: AdapterResponse) -> Self {
        AdapterMsg::Response(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_shards() {
        fn send<T: Send + 'static>() {}
        send::<AdapterMsg>();
        send::<AdapterMsg>();
    }

    #[test]
    fn kinds_and_ids() {
        let packet = Arc::new(EncodedPacket::from_text("2[\"e\"]".into(), Vec::new()));
        let id = RequestId::new(2, 9);
        let broadcast = BroadcastRequest::new("/", BroadcastOptions::new().to("a"), packet);
        let ack = AdapterRequest::BroadcastWithAck { id, ack_id: 4, broadcast: broadcast.clone() };
        assert_eq!(ack.kind() as u8, 7);
        assert_eq!(ack.id(), Some(id));
        assert_eq!(AdapterRequest::Broadcast(broadcast).id(), None);
        let fetch = AdapterRequest::FetchSockets { id, nsp: "/".into(), opts: BroadcastOptions::new() };
        assert_eq!(fetch.kind(), RequestType::RemoteFetch);
        assert_eq!(AdapterResponse::ClientCount { id, count: 3 }.id(), id);
        assert!(matches!(AdapterMsg::from(fetch), AdapterMsg::Request(AdapterRequest::FetchSockets { .. })));
    }
}
