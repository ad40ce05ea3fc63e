//! The messages of `@socket.io/redis-adapter` 8.3's `createShardedAdapter`: socket.io-adapter
//! 2.5's `ClusterAdapter` envelope (read from `dist/sharded-adapter.js` and
//! `socket.io-adapter/dist/cluster-adapter.js`).
//!
//! Every message is `{type, data, uid, nsp}` (Node builds `{type, data}` and then sets `uid`
//! and `nsp`, so that is the key order). `JSON.stringify` of it, unless the type is one that
//! may carry buffers (3, 8, 9, 10, 12) and `data` holds one: then notepack msgpack of the
//! whole message. A reader sniffs the first byte (`{`: JSON).
//!
//! | type | `data` |
//! |---|---|
//! | 3 BROADCAST | `{packet, opts}`; with acks `{packet, requestId, opts}` |
//! | 4 / 5 SOCKETS_JOIN / LEAVE | `{opts, rooms}` |
//! | 6 DISCONNECT_SOCKETS | `{opts, close}` |
//! | 7 FETCH_SOCKETS | `{opts, requestId}` |
//! | 8 FETCH_SOCKETS_RESPONSE | `{requestId, sockets: [{id, handshake, rooms, data}]}` |
//! | 9 SERVER_SIDE_EMIT | `{packet: [event, ...args]}`; with an ack `{requestId, packet}` |
//! | 10 SERVER_SIDE_EMIT_RESPONSE | `{requestId, packet}` (the first ack argument) |
//! | 11 BROADCAST_CLIENT_COUNT | `{requestId, clientCount}` |
//! | 12 BROADCAST_ACK | `{requestId, packet}` |
//!
//! `opts` is `{rooms, except, flags}` (`flags` as socket.io set them, `{}` for none). A
//! broadcast's `packet` is `{type: 2, data}`: Node publishes before its in-memory adapter
//! sets `nsp` and the ack id, so neither is on the wire (the envelope's `nsp` names the
//! namespace). Types 1, 2 and 13 (heartbeats, close) are not sent by the sharded adapter and
//! are read as [`Body::Other`].
//!
//! The messages map onto the classic ones ([`Request`], [`Response`]) so that the adapter
//! serves both protocols with one machinery; SOCKETS, ALL_ROOMS and the legacy requests have
//! no sharded form.

use super::{
    BroadcastOptions, Room, SocketDetails, Value, WireError, WirePacket, flags_value, malformed, msgpack,
    opt_str, parse_message, read_opts, read_rooms, read_socket, read_u64, req_str, take, truthy, write_json,
};
use super::{Request, Response};

/// `MessageType` of socket.io-adapter's `ClusterAdapter`.
pub mod mt {
    pub const INITIAL_HEARTBEAT: u64 = 1;
    pub const HEARTBEAT: u64 = 2;
    pub const BROADCAST: u64 = 3;
    pub const SOCKETS_JOIN: u64 = 4;
    pub const SOCKETS_LEAVE: u64 = 5;
    pub const DISCONNECT_SOCKETS: u64 = 6;
    pub const FETCH_SOCKETS: u64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub const SERVER_SIDE_EMIT: u64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub const BROADCAST_ACK: u64 = 12;
    pub const ADAPTER_CLOSE: u64 = 13;
}

/// One message of the sharded adapter.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardedMsg {
    /// The sender's uid (16 hex digits from Node).
    pub uid: String,
    pub nsp: String,
    pub body: Body,
}

/// What a [`ShardedMsg`] says.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// Type 3 without acks (`packet.nsp` is the envelope's).
    Broadcast { packet: WirePacket, opts: BroadcastOptions },
    /// Types 3 with acks, 4, 5, 6, 7 and 9, as the classic requests (their `uid` is the
    /// envelope's).
    Request(Request),
    /// Types 8, 10, 11, 12.
    Response(Response),
    /// Types 1, 2, 13 and unknown ones: nothing to do.
    Other(u64),
}

impl ShardedMsg {
    /// A request as the sharded adapter sends it; `None` for those it has no form for
    /// (SOCKETS, ALL_ROOMS, the legacy ones).
    pub fn request(nsp: &str, request: &Request) -> Option<ShardedMsg> {
        let uid = request.uid().unwrap_or(super::EMITTER_UID).to_owned();
        match request {
            Request::Sockets { .. }
            | Request::AllRooms { .. }
            | Request::LegacyJoin { .. }
            | Request::LegacyLeave { .. }
            | Request::LegacyDisconnect { .. } => None,
            _ => Some(ShardedMsg { uid, nsp: nsp.to_owned(), body: Body::Request(request.clone()) }),
        }
    }

    /// The message type.
    pub fn kind(&self) -> u64 {
        match &self.body {
            Body::Broadcast { .. } => mt::BROADCAST,
            Body::Request(r) => match r {
                Request::Broadcast { .. } => mt::BROADCAST,
                Request::RemoteJoin { .. } | Request::LegacyJoin { .. } => mt::SOCKETS_JOIN,
                Request::RemoteLeave { .. } | Request::LegacyLeave { .. } => mt::SOCKETS_LEAVE,
                Request::RemoteDisconnect { .. } | Request::LegacyDisconnect { .. } => mt::DISCONNECT_SOCKETS,
                Request::RemoteFetch { .. } | Request::Sockets { .. } | Request::AllRooms { .. } => {
                    mt::FETCH_SOCKETS
                }
                Request::ServerSideEmit { .. } => mt::SERVER_SIDE_EMIT,
            },
            Body::Response(r) => match r {
                Response::FetchSockets { .. } | Response::Sockets { .. } | Response::AllRooms { .. } => {
                    mt::FETCH_SOCKETS_RESPONSE
                }
                Response::ServerSideEmit { .. } | Response::Legacy { .. } => mt::SERVER_SIDE_EMIT_RESPONSE,
                Response::ClientCount { .. } => mt::BROADCAST_CLIENT_COUNT,
                Response::BroadcastAck { .. } => mt::BROADCAST_ACK,
            },
            Body::Other(t) => *t,
        }
    }

    /// `data` as Node builds it.
    pub(crate) fn data(&self) -> Value {
        let obj = |fields: Vec<(&str, Value)>| {
            Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        };
        let s = |v: &str| Value::String(v.to_owned());
        match &self.body {
            Body::Broadcast { packet, opts } => {
                obj(vec![("packet", packet_value(packet)), ("opts", opts_value(opts))])
            }
            Body::Request(r) => match r {
                Request::Broadcast { request_id, packet, opts, .. } => obj(vec![
                    ("packet", packet_value(packet)),
                    ("requestId", s(request_id)),
                    ("opts", opts_value(opts)),
                ]),
                Request::RemoteJoin { opts, rooms, .. } | Request::RemoteLeave { opts, rooms, .. } => {
                    obj(vec![("opts", opts_value(opts)), ("rooms", rooms_value(rooms))])
                }
                Request::RemoteDisconnect { opts, close, .. } => {
                    obj(vec![("opts", opts_value(opts)), ("close", Value::Bool(*close))])
                }
                Request::RemoteFetch { request_id, opts, .. } => {
                    obj(vec![("opts", opts_value(opts)), ("requestId", s(request_id))])
                }
                Request::ServerSideEmit { request_id: Some(id), data, .. } => {
                    obj(vec![("requestId", s(id)), ("packet", Value::Array(data.clone()))])
                }
                Request::ServerSideEmit { request_id: None, data, .. } => {
                    obj(vec![("packet", Value::Array(data.clone()))])
                }
                _ => obj(vec![]),
            },
            Body::Response(r) => match r {
                Response::FetchSockets { request_id, sockets } => obj(vec![
                    ("requestId", s(request_id)),
                    ("sockets", Value::Array(sockets.iter().map(socket_value).collect())),
                ]),
                Response::ServerSideEmit { request_id, data: packet }
                | Response::BroadcastAck { request_id, packet } => {
                    let mut fields = vec![("requestId", s(request_id))];
                    // `packet: undefined` (no ack argument) is left out by JSON.stringify.
                    if *packet != Value::Null {
                        fields.push(("packet", packet.clone()));
                    }
                    obj(fields)
                }
                Response::ClientCount { request_id, count } => {
                    obj(vec![("requestId", s(request_id)), ("clientCount", Value::from(*count))])
                }
                Response::Sockets { request_id, .. }
                | Response::AllRooms { request_id, .. }
                | Response::Legacy { request_id } => obj(vec![("requestId", s(request_id))]),
            },
            Body::Other(_) => Value::Object(Vec::new()),
        }
    }

    /// Whether the type may carry buffers (3, 8, 9, 10, 12) and `data` holds one.
    pub(crate) fn binary(kind: u64, data: &Value) -> bool {
        matches!(
            kind,
            mt::BROADCAST
                | mt::BROADCAST_ACK
                | mt::FETCH_SOCKETS_RESPONSE
                | mt::SERVER_SIDE_EMIT
                | mt::SERVER_SIDE_EMIT_RESPONSE
        ) && has_binary(data)
    }

    /// The whole message `{type, data, uid, nsp}` as one value, keys in Node's order.
    pub(crate) fn to_value(&self) -> Value {
        Value::Object(vec![
            ("type".to_owned(), Value::from(self.kind())),
            ("data".to_owned(), self.data()),
            ("uid".to_owned(), Value::String(self.uid.clone())),
            ("nsp".to_owned(), Value::String(self.nsp.clone())),
        ])
    }

    /// Node's `encode()`: JSON, or notepack when the type may carry buffers and does.
    pub fn encode(&self) -> Vec<u8> {
        let message = self.to_value();
        let binary = message.get("data").is_some_and(|data| Self::binary(self.kind(), data));
        if binary {
            msgpack::encode_to_vec(&message)
        } else {
            let mut out = String::with_capacity(128);
            write_json(&message, &mut out);
            out.into_bytes()
        }
    }

    /// Reads a message (JSON when it starts with `{`, msgpack otherwise).
    pub fn decode(bytes: &[u8]) -> Result<ShardedMsg, WireError> {
        Self::from_value(parse_message(bytes)?)
    }

    /// Reads a message already parsed (`type` a number, `data` an object or absent).
    pub(crate) fn from_value(mut v: Value) -> Result<ShardedMsg, WireError> {
        if !matches!(v, Value::Object(_)) {
            return Err(malformed("message is not an object"));
        }
        let uid = req_str(&v, "uid")?;
        let nsp = req_str(&v, "nsp")?;
        let kind = read_u64(v.get("type"), "message type")?;
        let mut d = match take(&mut v, "data") {
            Some(d @ Value::Object(_)) => d,
            None | Some(Value::Null) => Value::Object(Vec::new()),
            Some(_) => return Err(malformed("message data is not an object")),
        };
        let opts = |d: &Value, flags| match d.get("opts") {
            Some(o) => read_opts(o, flags),
            None => Err(malformed("message without opts")),
        };
        let packet = |d: &mut Value| -> Result<WirePacket, WireError> {
            let p = take(d, "packet").ok_or_else(|| malformed("broadcast without packet"))?;
            Ok(WirePacket { nsp: nsp.clone(), ..WirePacket::read(p)? })
        };
        let owned_uid = uid.clone();
        let body = match kind {
            mt::BROADCAST => match opt_str(&d, "requestId")? {
                None => Body::Broadcast { opts: opts(&d, true)?, packet: packet(&mut d)? },
                Some(request_id) => Body::Request(Request::Broadcast {
                    uid: owned_uid,
                    request_id,
                    opts: opts(&d, true)?,
                    packet: WirePacket { id: None, ..packet(&mut d)? },
                }),
            },
            mt::SOCKETS_JOIN | mt::SOCKETS_LEAVE => {
                let (opts, rooms) = (opts(&d, true)?, read_rooms(d.get("rooms"))?);
                let uid = Some(owned_uid);
                Body::Request(match kind {
                    mt::SOCKETS_JOIN => Request::RemoteJoin { uid, opts, rooms },
                    _ => Request::RemoteLeave { uid, opts, rooms },
                })
            }
            mt::DISCONNECT_SOCKETS => Body::Request(Request::RemoteDisconnect {
                uid: Some(owned_uid),
                opts: opts(&d, true)?,
                close: d.get("close").is_some_and(truthy),
            }),
            mt::FETCH_SOCKETS => Body::Request(Request::RemoteFetch {
                uid: owned_uid,
                request_id: req_str(&d, "requestId")?,
                opts: opts(&d, true)?,
            }),
            mt::SERVER_SIDE_EMIT => Body::Request(Request::ServerSideEmit {
                uid: owned_uid,
                request_id: opt_str(&d, "requestId")?,
                data: match take(&mut d, "packet") {
                    Some(Value::Array(items)) => items,
                    _ => return Err(malformed("server-side emit packet is not an array")),
                },
            }),
            mt::FETCH_SOCKETS_RESPONSE => {
                let request_id = req_str(&d, "requestId")?;
                let sockets = match take(&mut d, "sockets") {
                    Some(Value::Array(items)) => {
                        items.into_iter().map(read_socket).collect::<Result<_, _>>()?
                    }
                    None | Some(Value::Null) => Vec::new(),
                    Some(_) => return Err(malformed("response sockets is not an array")),
                };
                Body::Response(Response::FetchSockets { request_id, sockets })
            }
            mt::SERVER_SIDE_EMIT_RESPONSE => Body::Response(Response::ServerSideEmit {
                request_id: req_str(&d, "requestId")?,
                data: take(&mut d, "packet").unwrap_or_default(),
            }),
            mt::BROADCAST_CLIENT_COUNT => Body::Response(Response::ClientCount {
                request_id: req_str(&d, "requestId")?,
                count: read_u64(d.get("clientCount"), "clientCount")?,
            }),
            mt::BROADCAST_ACK => Body::Response(Response::BroadcastAck {
                request_id: req_str(&d, "requestId")?,
                packet: take(&mut d, "packet").unwrap_or_default(),
            }),
            other => Body::Other(other),
        };
        Ok(ShardedMsg { uid, nsp, body })
    }
}

/// `{type, data}` (and `id` when set): what Node's broadcast operator hands its adapter.
fn packet_value(packet: &WirePacket) -> Value {
    let mut fields = vec![
        ("type".to_owned(), Value::from(u64::from(packet.kind))),
        ("data".to_owned(), Value::Array(packet.data.clone())),
    ];
    if let Some(id) = packet.id {
        fields.push(("id".to_owned(), Value::from(id)));
    }
    Value::Object(fields)
}

fn rooms_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::String(r.to_string())).collect())
}

/// `encodeOptions(opts)`: `{rooms, except, flags}`.
fn opts_value(opts: &BroadcastOptions) -> Value {
    Value::Object(vec![
        ("rooms".to_owned(), rooms_value(&opts.rooms)),
        ("except".to_owned(), rooms_value(&opts.except)),
        ("flags".to_owned(), flags_value(&opts.flags)),
    ])
}

fn socket_value(s: &SocketDetails) -> Value {
    Value::Object(vec![
        ("id".to_owned(), Value::String(s.id.to_string())),
        ("handshake".to_owned(), s.handshake.clone()),
        ("rooms".to_owned(), rooms_value(&s.rooms)),
        ("data".to_owned(), s.data.clone()),
    ])
}

/// socket.io's `hasBinary`.
fn has_binary(v: &Value) -> bool {
    match v {
        Value::Binary(_) => true,
        Value::Array(items) => items.iter().any(has_binary),
        Value::Object(fields) => fields.iter().any(|(_, v)| has_binary(v)),
        _ => false,
    }
}

#[cfg(test)]
#[path = "sharded_tests.rs"]
mod tests;
