//! Requests on `{key}-request#{nsp}#` (types 0–7; see the table of [`super`]): reading and
//! writing each as Node does.

use super::*;

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
