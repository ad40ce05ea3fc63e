//! The messages of `@socket.io/redis-adapter` 8.3 (classic) and `@socket.io/redis-emitter` 5.1
//! (stub: to be written).

use crate::adapter::{BroadcastOptions, EncodedPacket, Room, SocketDetails};
use crate::protocol::value::Value;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("malformed cluster message: {0}")]
    Malformed(String),
}

/// A socket.io-parser packet as the adapter carries it: `{type, data, nsp, id?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct WirePacket {
    pub kind: u8,
    pub nsp: String,
    /// `[event, ...args]` for an EVENT.
    pub data: Vec<Value>,
    pub id: Option<u64>,
}

impl WirePacket {
    /// An EVENT packet of ours (binary or not), as Node's adapter publishes it: type 2.
    pub fn from_encoded(_packet: &EncodedPacket) -> Result<WirePacket, WireError> {
        todo!()
    }
    /// The packet to write to our sockets (BINARY_EVENT when the arguments hold buffers),
    /// with `id` as its ack id when given.
    pub fn to_encoded(&self, _id: Option<u64>) -> Result<EncodedPacket, WireError> {
        todo!()
    }
}

/// A broadcast on `{key}#{nsp}#[room#]`: notepack `[uid, packet, opts]`.
#[derive(Clone, Debug, PartialEq)]
pub struct BroadcastMsg {
    pub uid: String,
    pub packet: WirePacket,
    pub opts: BroadcastOptions,
}

impl BroadcastMsg {
    /// The adapter's key order: rooms, except, flags.
    pub fn encode(&self) -> Vec<u8> {
        todo!()
    }
    /// The emitter's key order: rooms, flags, except.
    pub fn encode_as_emitter(&self) -> Vec<u8> {
        todo!()
    }
    pub fn decode(_bytes: &[u8]) -> Result<BroadcastMsg, WireError> {
        todo!()
    }
}

/// A request on `{key}-request#{nsp}#` (types 0–7).
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Sockets {
        uid: String,
        request_id: String,
        rooms: Vec<Room>,
    },
    AllRooms {
        uid: String,
        request_id: String,
    },
    /// `uid` is absent when an emitter sent it.
    RemoteJoin {
        uid: Option<String>,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    },
    RemoteLeave {
        uid: Option<String>,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    },
    LegacyJoin {
        uid: String,
        request_id: String,
        sid: String,
        room: Room,
    },
    LegacyLeave {
        uid: String,
        request_id: String,
        sid: String,
        room: Room,
    },
    RemoteDisconnect {
        uid: Option<String>,
        opts: BroadcastOptions,
        close: bool,
    },
    LegacyDisconnect {
        uid: String,
        request_id: String,
        sid: String,
        close: bool,
    },
    RemoteFetch {
        uid: String,
        request_id: String,
        opts: BroadcastOptions,
    },
    ServerSideEmit {
        uid: String,
        request_id: Option<String>,
        data: Vec<Value>,
    },
    Broadcast {
        uid: String,
        request_id: String,
        packet: WirePacket,
        opts: BroadcastOptions,
    },
}

impl Request {
    pub fn uid(&self) -> Option<&str> {
        todo!()
    }
    pub fn encode(&self) -> Vec<u8> {
        todo!()
    }
    pub fn decode(_bytes: &[u8]) -> Result<Request, WireError> {
        todo!()
    }
}

/// A response on `{key}-response#{nsp}#` (or the requester's own channel).
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    Sockets { request_id: String, sockets: Vec<String> },
    AllRooms { request_id: String, rooms: Vec<Room> },
    Legacy { request_id: String },
    FetchSockets { request_id: String, sockets: Vec<SocketDetails> },
    ServerSideEmit { request_id: String, data: Value },
    ClientCount { request_id: String, count: u64 },
    BroadcastAck { request_id: String, packet: Value },
}

impl Response {
    pub fn request_id(&self) -> &str {
        todo!()
    }
    pub fn encode(&self) -> Vec<u8> {
        todo!()
    }
    pub fn decode(_bytes: &[u8]) -> Result<Response, WireError> {
        todo!()
    }
}
