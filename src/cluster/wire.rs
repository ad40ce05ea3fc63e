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

use std::time::Duration;

use bytestring::ByteString;

use super::msgpack;

mod read;
pub mod sharded;
mod write;

use crate::adapter::{BroadcastFlags, BroadcastOptions, EncodedPacket, Room, SocketDetails};
use crate::protocol::sio::{DecodeOptions, Packet, PacketKind, SioVersion};
use crate::protocol::value::{Value, from_json, json, number, reconstruct};
use read::*;
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
    /// `opts.flags` is not carried (Node sends rooms and except only).
    RemoteFetch {
        uid: String,
        request_id: String,
        opts: BroadcastOptions,
    },
    /// `data` is `[event, ...args]`; `request_id` when the sender waits for acks.
    ServerSideEmit {
        uid: String,
        request_id: Option<String>,
        data: Vec<Value>,
    },
    /// Type 7: a broadcast whose recipients' acks are awaited (`packet` has no id).
    Broadcast {
        uid: String,
        request_id: String,
        packet: WirePacket,
        opts: BroadcastOptions,
    },
}

impl Request {
    /// The sender's uid (none for the emitter's join, leave and disconnect).
    pub fn uid(&self) -> Option<&str> {
        match self {
            Request::Sockets { uid, .. }
            | Request::AllRooms { uid, .. }
            | Request::LegacyJoin { uid, .. }
            | Request::LegacyLeave { uid, .. }
            | Request::LegacyDisconnect { uid, .. }
            | Request::RemoteFetch { uid, .. }
            | Request::ServerSideEmit { uid, .. }
            | Request::Broadcast { uid, .. } => Some(uid),
            Request::RemoteJoin { uid, .. }
            | Request::RemoteLeave { uid, .. }
            | Request::RemoteDisconnect { uid, .. } => uid.as_deref(),
        }
    }

    /// The request id the responses will carry, if any are expected.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Request::Sockets { request_id, .. }
            | Request::AllRooms { request_id, .. }
            | Request::LegacyJoin { request_id, .. }
            | Request::LegacyLeave { request_id, .. }
            | Request::LegacyDisconnect { request_id, .. }
            | Request::RemoteFetch { request_id, .. }
            | Request::Broadcast { request_id, .. } => Some(request_id),
            Request::ServerSideEmit { request_id, .. } => request_id.as_deref(),
            Request::RemoteJoin { .. } | Request::RemoteLeave { .. } | Request::RemoteDisconnect { .. } => {
                None
            }
        }
    }

    /// JSON as Node's `JSON.stringify` writes the request (msgpack for [`Request::Broadcast`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::with_capacity(96);
        let mut o = JsonObject::new(&mut out);
        match self {
            Request::Sockets { uid, request_id, rooms } => {
                o.str("uid", uid);
                o.str("requestId", request_id);
                o.num("type", rt::SOCKETS);
                o.rooms("rooms", rooms);
            }
            Request::AllRooms { uid, request_id } => {
                o.str("uid", uid);
                o.str("requestId", request_id);
                o.num("type", rt::ALL_ROOMS);
            }
            Request::RemoteJoin { uid, opts, rooms } | Request::RemoteLeave { uid, opts, rooms } => {
                if let Some(uid) = uid {
                    o.str("uid", uid);
                }
                let t = if matches!(self, Request::RemoteJoin { .. }) {
                    rt::REMOTE_JOIN
                } else {
                    rt::REMOTE_LEAVE
                };
                o.num("type", t);
                o.target("opts", opts);
                o.rooms("rooms", rooms);
            }
            Request::LegacyJoin { uid, request_id, sid, room }
            | Request::LegacyLeave { uid, request_id, sid, room } => {
                o.str("uid", uid);
                o.str("requestId", request_id);
                let t = if matches!(self, Request::LegacyJoin { .. }) {
                    rt::REMOTE_JOIN
                } else {
                    rt::REMOTE_LEAVE
                };
                o.num("type", t);
                o.str("sid", sid);
                o.str("room", room);
            }
            Request::RemoteDisconnect { uid, opts, close } => {
                if let Some(uid) = uid {
                    o.str("uid", uid);
                }
                o.num("type", rt::REMOTE_DISCONNECT);
                o.target("opts", opts);
                o.bool("close", *close);
            }
            Request::LegacyDisconnect { uid, request_id, sid, close } => {
                o.str("uid", uid);
                o.str("requestId", request_id);
                o.num("type", rt::REMOTE_DISCONNECT);
                o.str("sid", sid);
                o.bool("close", *close);
            }
            Request::RemoteFetch { uid, request_id, opts } => {
                o.str("uid", uid);
                o.str("requestId", request_id);
                o.num("type", rt::REMOTE_FETCH);
                o.target("opts", opts);
            }
            Request::ServerSideEmit { uid, request_id, data } => {
                o.str("uid", uid);
                if let Some(request_id) = request_id {
                    o.str("requestId", request_id);
                }
                o.num("type", rt::SERVER_SIDE_EMIT);
                write_json_array(data, o.key("data"));
            }
            Request::Broadcast { uid, request_id, packet, opts } => {
                let mut bin = Vec::with_capacity(96 + packet.data.len() * 16);
                map_len(5, &mut bin);
                msgpack::write_str("uid", &mut bin);
                msgpack::write_str(uid, &mut bin);
                msgpack::write_str("requestId", &mut bin);
                msgpack::write_str(request_id, &mut bin);
                msgpack::write_str("type", &mut bin);
                msgpack::encode(&Value::from(rt::BROADCAST), &mut bin);
                msgpack::write_str("packet", &mut bin);
                packet.write_msgpack(&mut bin);
                msgpack::write_str("opts", &mut bin);
                write_opts_msgpack(opts, OptsOrder::Adapter, &mut bin);
                return bin;
            }
        }
        o.end();
        out.into_bytes()
    }

    /// Reads a request (JSON when it starts with `{`, msgpack otherwise).
    pub fn decode(bytes: &[u8]) -> Result<Request, WireError> {
        let mut v = parse_message(bytes)?;
        if !matches!(v, Value::Object(_)) {
            return Err(malformed("request is not an object"));
        }
        let t = read_u64(v.get("type"), "request type")?;
        Ok(match t {
            rt::SOCKETS => Request::Sockets {
                uid: req_str(&v, "uid")?,
                request_id: req_str(&v, "requestId")?,
                rooms: read_rooms(v.get("rooms"))?,
            },
            rt::ALL_ROOMS => {
                Request::AllRooms { uid: req_str(&v, "uid")?, request_id: req_str(&v, "requestId")? }
            }
            rt::REMOTE_JOIN | rt::REMOTE_LEAVE if has_opts(&v) => {
                let (uid, opts, rooms) =
                    (opt_str(&v, "uid")?, read_opts(target(&v)?, false)?, read_rooms(v.get("rooms"))?);
                match t {
                    rt::REMOTE_JOIN => Request::RemoteJoin { uid, opts, rooms },
                    _ => Request::RemoteLeave { uid, opts, rooms },
                }
            }
            rt::REMOTE_JOIN | rt::REMOTE_LEAVE => {
                let uid = req_str(&v, "uid")?;
                let request_id = req_str(&v, "requestId")?;
                let sid = req_str(&v, "sid")?;
                let room = room_name(v.get("room").ok_or_else(|| malformed("legacy request without room"))?)?;
                match t {
                    rt::REMOTE_JOIN => Request::LegacyJoin { uid, request_id, sid, room },
                    _ => Request::LegacyLeave { uid, request_id, sid, room },
                }
            }
            rt::REMOTE_DISCONNECT if has_opts(&v) => Request::RemoteDisconnect {
                uid: opt_str(&v, "uid")?,
                opts: read_opts(target(&v)?, false)?,
                close: v.get("close").is_some_and(truthy),
            },
            rt::REMOTE_DISCONNECT => Request::LegacyDisconnect {
                uid: req_str(&v, "uid")?,
                request_id: req_str(&v, "requestId")?,
                sid: req_str(&v, "sid")?,
                close: v.get("close").is_some_and(truthy),
            },
            rt::REMOTE_FETCH => Request::RemoteFetch {
                uid: req_str(&v, "uid")?,
                request_id: req_str(&v, "requestId")?,
                opts: read_opts(target(&v)?, false)?,
            },
            rt::SERVER_SIDE_EMIT => Request::ServerSideEmit {
                uid: req_str(&v, "uid")?,
                request_id: opt_str(&v, "requestId")?,
                data: match take(&mut v, "data") {
                    Some(Value::Array(items)) => items,
                    _ => return Err(malformed("server-side emit data is not an array")),
                },
            },
            rt::BROADCAST => Request::Broadcast {
                uid: req_str(&v, "uid")?,
                request_id: req_str(&v, "requestId")?,
                packet: WirePacket::read(
                    take(&mut v, "packet").ok_or_else(|| malformed("broadcast without packet"))?,
                )?,
                opts: read_opts(target(&v)?, true)?,
            },
            other => return Err(malformed(format!("request type {other}"))),
        })
    }
}

/// A response on `{key}-response#{nsp}#` (or the requester's own channel).
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    /// To a SOCKETS request (type 0).
    Sockets {
        request_id: String,
        sockets: Vec<String>,
    },
    AllRooms {
        request_id: String,
        rooms: Vec<Room>,
    },
    /// To a legacy (7.x) join, leave or disconnect.
    Legacy {
        request_id: String,
    },
    /// To a REMOTE_FETCH. An empty `sockets` list reads as this (8.x sends no SOCKETS
    /// requests); a requester of type 0 should take it as an empty [`Response::Sockets`].
    FetchSockets {
        request_id: String,
        sockets: Vec<SocketDetails>,
    },
    /// The first ack argument of a server-side emit handler (`Null` when it had none: Node
    /// then writes no `data` key, and we write `null`).
    ServerSideEmit {
        request_id: String,
        data: Value,
    },
    /// Type 8: how many clients got a type-7 broadcast on the responding node.
    ClientCount {
        request_id: String,
        count: u64,
    },
    /// Type 9: one client's ack, its first argument (`Null` when it had none: Node then
    /// writes no `packet` key, and we write nil).
    BroadcastAck {
        request_id: String,
        packet: Value,
    },
}

impl Response {
    pub fn request_id(&self) -> &str {
        match self {
            Response::Sockets { request_id, .. }
            | Response::AllRooms { request_id, .. }
            | Response::Legacy { request_id }
            | Response::FetchSockets { request_id, .. }
            | Response::ServerSideEmit { request_id, .. }
            | Response::ClientCount { request_id, .. }
            | Response::BroadcastAck { request_id, .. } => request_id,
        }
    }

    /// JSON as Node writes each response (msgpack for [`Response::BroadcastAck`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::with_capacity(64);
        let mut o = JsonObject::new(&mut out);
        match self {
            Response::Sockets { request_id, sockets } => {
                o.str("requestId", request_id);
                let out = o.key("sockets");
                write_json_list(sockets.iter(), out, |s, out| json::write_str(s, out));
            }
            Response::AllRooms { request_id, rooms } => {
                o.str("requestId", request_id);
                o.rooms("rooms", rooms);
            }
            Response::Legacy { request_id } => o.str("requestId", request_id),
            Response::FetchSockets { request_id, sockets } => {
                o.str("requestId", request_id);
                write_json_list(sockets.iter(), o.key("sockets"), |s, out| {
                    let mut so = JsonObject::new(out);
                    so.str("id", &s.id);
                    write_json(&s.handshake, so.key("handshake"));
                    so.rooms("rooms", &s.rooms);
                    write_json(&s.data, so.key("data"));
                    so.end();
                });
            }
            Response::ServerSideEmit { request_id, data } => {
                o.num("type", rt::SERVER_SIDE_EMIT);
                o.str("requestId", request_id);
                write_json(data, o.key("data"));
            }
            Response::ClientCount { request_id, count } => {
                o.num("type", rt::BROADCAST_CLIENT_COUNT);
                o.str("requestId", request_id);
                o.num("clientCount", *count);
            }
            Response::BroadcastAck { request_id, packet } => {
                let mut bin = Vec::with_capacity(32);
                map_len(3, &mut bin);
                msgpack::write_str("type", &mut bin);
                msgpack::encode(&Value::from(rt::BROADCAST_ACK), &mut bin);
                msgpack::write_str("requestId", &mut bin);
                msgpack::write_str(request_id, &mut bin);
                msgpack::write_str("packet", &mut bin);
                msgpack::encode(packet, &mut bin);
                return bin;
            }
        }
        o.end();
        out.into_bytes()
    }

    /// Reads a response (JSON when it starts with `{`, msgpack otherwise). Responses without
    /// `type` are told apart by their keys: `sockets` (ids: SOCKETS, objects or empty:
    /// REMOTE_FETCH), `rooms`, or neither (legacy).
    pub fn decode(bytes: &[u8]) -> Result<Response, WireError> {
        let mut v = parse_message(bytes)?;
        if !matches!(v, Value::Object(_)) {
            return Err(malformed("response is not an object"));
        }
        let request_id = req_str(&v, "requestId")?;
        let t = match v.get("type") {
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        Ok(match t {
            Some(rt::SERVER_SIDE_EMIT) => {
                Response::ServerSideEmit { request_id, data: take(&mut v, "data").unwrap_or_default() }
            }
            Some(rt::BROADCAST_CLIENT_COUNT) => {
                Response::ClientCount { request_id, count: read_u64(v.get("clientCount"), "clientCount")? }
            }
            Some(rt::BROADCAST_ACK) => {
                Response::BroadcastAck { request_id, packet: take(&mut v, "packet").unwrap_or_default() }
            }
            _ => match take(&mut v, "sockets") {
                Some(Value::Array(items))
                    if !items.is_empty() && items.iter().all(|s| matches!(s, Value::String(_))) =>
                {
                    let sockets = items
                        .into_iter()
                        .filter_map(|s| match s {
                            Value::String(s) => Some(s),
                            _ => None,
                        })
                        .collect();
                    Response::Sockets { request_id, sockets }
                }
                Some(Value::Array(items)) => {
                    let sockets = items.into_iter().map(read_socket).collect::<Result<_, _>>()?;
                    Response::FetchSockets { request_id, sockets }
                }
                Some(_) => return Err(malformed("response sockets is not an array")),
                None => match v.get("rooms") {
                    Some(rooms) => Response::AllRooms { request_id, rooms: read_rooms(Some(rooms))? },
                    None => Response::Legacy { request_id },
                },
            },
        })
    }
}

fn read_socket(mut value: Value) -> Result<SocketDetails, WireError> {
    if !matches!(value, Value::Object(_)) {
        return Err(malformed("fetched socket is not an object"));
    }
    Ok(SocketDetails {
        id: ByteString::from(req_str(&value, "id")?),
        handshake: take(&mut value, "handshake").unwrap_or_default(),
        rooms: read_rooms(value.get("rooms"))?,
        data: take(&mut value, "data").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests;
