//! Responses on `{key}-response#{nsp}#` or the requester's own channel (see [`super`]):
//! reading and writing each as Node does.

use super::*;

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
