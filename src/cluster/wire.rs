//! The messages of `@socket.io/redis-adapter` 8.3 (classic `createAdapter`, pub/sub) and of
//! `@socket.io/redis-emitter` 5.1, byte for byte as those packages write them (read from
//! `dist/index.js` of @socket.io/redis-adapter 8.3.0 and 7.2.0, @socket.io/redis-emitter 5.1.0,
//! socket.io 4.8.1, and checked against their output in the tests).
//!
//! # Broadcasts, on `{key}#{nsp}#` or `{key}#{nsp}#{room}#`
//!
//! notepack msgpack (see [`super::msgpack`]) of `[uid, packet, opts]`:
//! - `packet` is `{type: 2, data: [event, ...args], nsp}` — type 2 even when `data` holds
//!   buffers, which travel as msgpack bin; a packet with an ack id (socket.io's `socket.emit`
//!   with an ack under connection state recovery) has `id` before `nsp`;
//! - `opts` is `{rooms, except, flags}` from a node, `{rooms, flags, except}` from the emitter
//!   (whose uid is `"emitter"`); `flags` holds only the flags set (`{}` for a plain emit,
//!   `{volatile: true}`, `{compress: false}`, `{timeout: ms}`).
//!
//! # Requests, on `{key}-request#{nsp}#`
//!
//! JSON (`JSON.stringify` of the object Node builds, keys in its order), except type 7:
//!
//! | type | object |
//! |---|---|
//! | 0 SOCKETS | `{uid, requestId, type, rooms}` (7.x sends it; 8.x answers it) |
//! | 1 ALL_ROOMS | `{uid, requestId, type}` |
//! | 2 / 3 REMOTE_JOIN / LEAVE | `{uid, type, opts: {rooms, except}, rooms}`; emitter: no `uid`; 7.x legacy `{uid, requestId, type, sid, room}` |
//! | 4 REMOTE_DISCONNECT | `{uid, type, opts: {rooms, except}, close}`; emitter: no `uid`; legacy `{uid, requestId, type, sid, close}` |
//! | 5 REMOTE_FETCH | `{uid, requestId, type, opts: {rooms, except}}` |
//! | 6 SERVER_SIDE_EMIT | `{uid, type, data: [event, ...args]}`, `{uid, requestId, type, data}` with an ack |
//! | 7 BROADCAST (with acks) | msgpack `{uid, requestId, type, packet, opts: {rooms, except, flags}}` |
//!
//! # Responses, on `{key}-response#{nsp}#` (or `…#{requesterUid}#`)
//!
//! JSON: `{requestId, sockets: [sid…]}` (0), `{requestId, rooms}` (1), `{requestId}` (legacy
//! 2–4), `{requestId, sockets: [{id, handshake, rooms, data}]}` (5), `{type: 6, requestId,
//! data}`, `{type: 8, requestId, clientCount}`; msgpack `{type: 9, requestId, packet}`.
//!
//! A buffer inside a JSON message is what `JSON.stringify` makes of a Node `Buffer`:
//! `{"type":"Buffer","data":[1,2]}`. That is how [`Value::Binary`] is written in JSON
//! messages; read back, it stays that plain object, as it does in Node.
//!
//! # Reading
//!
//! As Node does: a message whose first byte is `{` is JSON, anything else msgpack. What a
//! peer sends is untrusted: anything malformed is a [`WireError`], unknown keys and flags are
//! ignored, room names may be numbers (read as JavaScript prints them), a packet without `nsp`
//! is for `/`.
//!
//! Here: broadcasts and their packets; [`Request`] and [`Response`] in their own files;
//! `read` and `write` hold the field readers and writers all of them share.

use std::time::Duration;

use bytestring::ByteString;

use super::msgpack;

mod read;
mod request;
mod response;
pub mod sharded;
mod write;

use crate::adapter::{BroadcastFlags, BroadcastOptions, EncodedPacket, Room, SocketDetails};
use crate::protocol::sio::{DecodeOptions, Packet, PacketKind, SioVersion};
use crate::protocol::value::{Value, from_json, json, number, reconstruct};
use read::*;
pub use request::Request;
pub use response::Response;
use write::*;

/// For the streams adapter's entries ([`super::streams`]).
pub(crate) use read::parse_message;
pub(crate) use write::write_json;

/// The uid `@socket.io/redis-emitter` publishes under.
pub const EMITTER_UID: &str = "emitter";

/// A message that is not one of the adapter's.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("malformed cluster message: {0}")]
    Malformed(String),
}

fn malformed(what: impl Into<String>) -> WireError {
    WireError::Malformed(what.into())
}

impl From<msgpack::MsgpackError> for WireError {
    fn from(e: msgpack::MsgpackError) -> Self {
        WireError::Malformed(e.to_string())
    }
}

/// The request and response types (`RequestType` in the adapter).
mod rt {
    pub(crate) const SOCKETS: u64 = 0;
    pub(crate) const ALL_ROOMS: u64 = 1;
    pub(crate) const REMOTE_JOIN: u64 = 2;
    pub(crate) const REMOTE_LEAVE: u64 = 3;
    pub(crate) const REMOTE_DISCONNECT: u64 = 4;
    pub(crate) const REMOTE_FETCH: u64 = 5;
    pub(crate) const SERVER_SIDE_EMIT: u64 = 6;
    pub(crate) const BROADCAST: u64 = 7;
    pub(crate) const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub(crate) const BROADCAST_ACK: u64 = 9;
}

/// A socket.io-parser packet as the adapter carries it: `{type, data, nsp, id?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct WirePacket {
    /// socket.io-parser's packet type: 2 (EVENT) from 4.x nodes and the emitter, 5
    /// (BINARY_EVENT) from old ones.
    pub kind: u8,
    pub nsp: String,
    /// `[event, ...args]` for an EVENT.
    pub data: Vec<Value>,
    pub id: Option<u64>,
}

impl WirePacket {
    /// An EVENT packet of ours (binary or not), as Node's adapter publishes it: type 2, the
    /// buffers in place of their placeholders, the ack id of the text if it has one (a
    /// type-7 request carries none: clear it for those).
    pub fn from_encoded(packet: &EncodedPacket) -> Result<WirePacket, WireError> {
        let attachments = packet.attachments();
        let opts = DecodeOptions { max_attachments: attachments.len() };
        let decoded = Packet::decode(packet.text().clone(), SioVersion::V5, &opts)
            .map_err(|e| malformed(format!("packet text: {e}")))?;
        if !matches!(decoded.kind, PacketKind::Event | PacketKind::BinaryEvent) {
            return Err(malformed(format!("{:?} packet, not an event", decoded.kind)));
        }
        if decoded.attachments != attachments.len() {
            return Err(malformed("attachment count"));
        }
        let json = decoded.data.as_deref().ok_or_else(|| malformed("event without data"))?;
        let data = match reconstruct(json, attachments).map_err(|e| malformed(format!("event data: {e}")))? {
            Value::Array(items) => items,
            _ => return Err(malformed("event data is not an array")),
        };
        Ok(WirePacket { kind: PacketKind::Event as u8, nsp: decoded.nsp.to_string(), data, id: decoded.id })
    }

    /// The packet to write to our sockets (BINARY_EVENT when the arguments hold buffers),
    /// with `id` as its ack id when given, else the packet's own `id`. Only events (types 2
    /// and 5) whose name is a string can be sent.
    pub fn to_encoded(&self, id: Option<u64>) -> Result<EncodedPacket, WireError> {
        if self.kind != PacketKind::Event as u8 && self.kind != PacketKind::BinaryEvent as u8 {
            return Err(malformed(format!("packet type {} is not an event", self.kind)));
        }
        let Some((Value::String(name), args)) = self.data.split_first() else {
            return Err(malformed("event without a string name"));
        };
        Ok(EncodedPacket::event(ByteString::from(self.nsp.as_str()), name, args, id.or(self.id)))
    }

    /// Writes `{type, data, id?, nsp}` (Node adds `nsp` last, after an `id` set by the socket).
    fn write_msgpack(&self, out: &mut Vec<u8>) {
        map_len(3 + usize::from(self.id.is_some()), out);
        msgpack::write_str("type", out);
        msgpack::encode(&Value::from(u64::from(self.kind)), out);
        msgpack::write_str("data", out);
        array_len(self.data.len(), out);
        self.data.iter().for_each(|item| msgpack::encode(item, out));
        if let Some(id) = self.id {
            msgpack::write_str("id", out);
            msgpack::encode(&Value::from(id), out);
        }
        msgpack::write_str("nsp", out);
        msgpack::write_str(&self.nsp, out);
    }

    fn read(mut value: Value) -> Result<WirePacket, WireError> {
        if !matches!(value, Value::Object(_)) {
            return Err(malformed("packet is not an object"));
        }
        let kind = read_u64(value.get("type"), "packet type")?;
        let kind = u8::try_from(kind).map_err(|_| malformed("packet type"))?;
        let data = match take(&mut value, "data") {
            Some(Value::Array(items)) => items,
            _ => return Err(malformed("packet data is not an array")),
        };
        let nsp = match take(&mut value, "nsp") {
            None => "/".to_owned(),
            Some(Value::String(s)) => s,
            Some(_) => return Err(malformed("packet nsp")),
        };
        let id = match value.get("id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(read_u64(Some(v), "packet id")?),
        };
        Ok(WirePacket { kind, nsp, data, id })
    }
}

/// A broadcast on `{key}#{nsp}#[room#]`: notepack `[uid, packet, opts]`.
#[derive(Clone, Debug, PartialEq)]
pub struct BroadcastMsg {
    pub uid: String,
    pub packet: WirePacket,
    pub opts: BroadcastOptions,
}

/// Key orders of a broadcast's `opts`.
#[derive(Clone, Copy, PartialEq)]
enum OptsOrder {
    /// `{rooms, except, flags}`, as `RedisAdapter.broadcast` builds it.
    Adapter,
    /// `{rooms, flags, except}`, as the emitter builds it.
    Emitter,
}

impl BroadcastMsg {
    /// The adapter's key order: rooms, except, flags.
    pub fn encode(&self) -> Vec<u8> {
        self.write(OptsOrder::Adapter)
    }

    /// The emitter's key order: rooms, flags, except (`uid` should be [`EMITTER_UID`]).
    pub fn encode_as_emitter(&self) -> Vec<u8> {
        self.write(OptsOrder::Emitter)
    }

    fn write(&self, order: OptsOrder) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.packet.data.len() * 16);
        array_len(3, &mut out);
        msgpack::write_str(&self.uid, &mut out);
        self.packet.write_msgpack(&mut out);
        write_opts_msgpack(&self.opts, order, &mut out);
        out
    }

    /// Reads a broadcast from a node, the emitter or an older adapter.
    pub fn decode(bytes: &[u8]) -> Result<BroadcastMsg, WireError> {
        let value = msgpack::decode(bytes)?;
        let Value::Array(mut items) = value else {
            return Err(malformed("broadcast is not an array"));
        };
        let [uid, packet, opts, ..] = items.as_mut_slice() else {
            return Err(malformed("broadcast of fewer than 3 items"));
        };
        let Value::String(uid) = std::mem::take(uid) else {
            return Err(malformed("broadcast uid"));
        };
        let opts = read_opts(opts, true)?;
        Ok(BroadcastMsg { uid, packet: WirePacket::read(std::mem::take(packet))?, opts })
    }
}

#[cfg(test)]
mod tests;
