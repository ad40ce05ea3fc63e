//! What `@socket.io/redis-streams-adapter` 0.3.1 writes (read from its `lib/adapter.ts` and
//! `lib/util.ts`, checked against its output in the tests).
//!
//! The messages are socket.io-adapter's `ClusterAdapter` ones ([`ShardedMsg`]: `{type, data,
//! uid, nsp}`, the types of [`mt`]); what differs from the sharded Redis adapter is where and
//! how they travel:
//!
//! - **Persistent** messages (a broadcast without acks, SOCKETS_JOIN / LEAVE,
//!   DISCONNECT_SOCKETS) are stream entries, `XADD {stream} MAXLEN ~ {maxLen} * uid {uid} nsp
//!   {nsp} type {decimal} data {data}`, where `data` is `JSON.stringify(data)`, or, when the
//!   type may carry buffers and does (and `onlyPlaintext` is off), the base64 of
//!   `@msgpack/msgpack`'s encoding of it. A reader takes a `data` that starts with `{` for
//!   JSON, anything else for base64 msgpack.
//! - **Ephemeral** messages (a broadcast with acks, SERVER_SIDE_EMIT, FETCH_SOCKETS) and
//!   every response are `@msgpack/msgpack` of the whole `{type, data, uid, nsp}`, PUBLISHed to
//!   `{channelPrefix}#{nsp}#` (responses to `{channelPrefix}#{nsp}#{requesterUid}#`).
//! - A **session** (connection state recovery) is `SET {sessionKeyPrefix}{pid}
//!   base64(@msgpack/msgpack({sid, pid, rooms, data})) PX {maxDisconnectionDuration}`.
//!
//! `@msgpack/msgpack` writes what notepack writes for JSON-like values but for integers beyond
//! 2^53 (see [`Flavor::MsgpackJs`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use crate::adapter::Room;
use crate::cluster::msgpack::{self, Flavor};
use crate::cluster::wire::sharded::{Body, ShardedMsg, mt};
use crate::cluster::wire::{Request, WireError, parse_message, write_json};
use crate::protocol::value::Value;

fn malformed(what: impl Into<String>) -> WireError {
    WireError::Malformed(what.into())
}

/// Node's `isEphemeral`: what goes through PUB/SUB rather than the stream.
pub(crate) fn is_ephemeral(msg: &ShardedMsg) -> bool {
    matches!(
        &msg.body,
        Body::Request(
            Request::Broadcast { .. } | Request::ServerSideEmit { .. } | Request::RemoteFetch { .. }
        ) | Body::Response(_)
    )
}

/// The stream a namespace's entries go to: `name`, or with several streams `name-{i}` where `i`
/// is the adapter's Java-style `hashCode(nsp) % count`, JavaScript's `%` (negative for a negative
/// hash, a stream no Node reader polls: kept as Node does it, so both write to the same key).
pub(crate) fn stream_key(name: &str, count: u32, nsp: &str) -> String {
    if count <= 1 {
        return name.to_owned();
    }
    let hash = nsp.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    format!("{name}-{}", i64::from(hash) % i64::from(count))
}

/// Every stream this adapter's readers poll (`name`, or `name-0` … `name-{count-1}`).
pub(crate) fn stream_keys(name: &str, count: u32) -> Vec<String> {
    match count {
        0 | 1 => vec![name.to_owned()],
        n => (0..n).map(|i| format!("{name}-{i}")).collect(),
    }
}

/// The fields of a persistent message's stream entry, in Node's order.
pub(crate) fn entry_fields(msg: &ShardedMsg, only_plaintext: bool) -> Vec<(&'static str, Bytes)> {
    let kind = msg.kind();
    let data = msg.data();
    let data = if !only_plaintext && ShardedMsg::binary(kind, &data) {
        let mut packed = Vec::with_capacity(64);
        msgpack::encode_as(&data, &mut packed, Flavor::MsgpackJs);
        STANDARD.encode(packed)
    } else {
        let mut out = String::with_capacity(128);
        write_json(&data, &mut out);
        out
    };
    vec![
        ("uid", Bytes::from(msg.uid.clone())),
        ("nsp", Bytes::from(msg.nsp.clone())),
        ("type", Bytes::from(kind.to_string())),
        ("data", Bytes::from(data)),
    ]
}

/// Node's `RedisStreamsAdapter.decode` of one entry's fields (name, value pairs).
pub(crate) fn decode_entry<'a>(
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<ShardedMsg, WireError> {
    let (mut uid, mut nsp, mut kind, mut data) = (None, None, None, None);
    for (name, value) in fields {
        let text = || String::from_utf8_lossy(value).into_owned();
        match name {
            b"uid" => uid = Some(text()),
            b"nsp" => nsp = Some(text()),
            b"type" => kind = Some(text()),
            b"data" => data = Some(value),
            _ => {}
        }
    }
    let nsp = nsp.filter(|n| !n.is_empty()).ok_or_else(|| malformed("stream entry without nsp"))?;
    // `parseInt(type, 10)`: leading digits.
    let kind = kind.unwrap_or_default();
    let digits: String = kind.trim_start().chars().take_while(char::is_ascii_digit).collect();
    let kind: u64 = digits.parse().map_err(|_| malformed(format!("stream entry type {kind:?}")))?;
    let data = match data {
        None | Some(b"") => Value::Null,
        Some(d) if d.first() == Some(&b'{') => parse_message(d)?,
        Some(d) => {
            let packed = STANDARD.decode(d).map_err(|e| malformed(format!("stream entry data: {e}")))?;
            msgpack::decode(&packed)?
        }
    };
    let message = Value::Object(vec![
        ("type".to_owned(), Value::from(kind)),
        ("data".to_owned(), data),
        ("uid".to_owned(), Value::String(uid.unwrap_or_default())),
        ("nsp".to_owned(), Value::String(nsp)),
    ]);
    ShardedMsg::from_value(message)
}

/// An ephemeral message or a response: `@msgpack/msgpack` of the whole message.
pub(crate) fn encode_ephemeral(msg: &ShardedMsg) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    msgpack::encode_as(&msg.to_value(), &mut out, Flavor::MsgpackJs);
    out
}

/// Reads a PUB/SUB payload (msgpack only, as Node's `decode(payload)`).
pub(crate) fn decode_ephemeral(payload: &[u8]) -> Result<ShardedMsg, WireError> {
    ShardedMsg::from_value(msgpack::decode(payload)?)
}

/// A session as Node's `persistSession` stores it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredSession {
    pub(crate) sid: String,
    pub(crate) pid: String,
    /// Its own id's room included.
    pub(crate) rooms: Vec<Room>,
    pub(crate) data: Value,
}

impl StoredSession {
    /// `base64(encode({sid, pid, rooms, data}))`.
    pub(crate) fn encode(&self) -> String {
        let rooms = self.rooms.iter().map(|r| Value::String(r.to_string())).collect();
        let value = Value::Object(vec![
            ("sid".to_owned(), Value::String(self.sid.clone())),
            ("pid".to_owned(), Value::String(self.pid.clone())),
            ("rooms".to_owned(), Value::Array(rooms)),
            ("data".to_owned(), self.data.clone()),
        ]);
        let mut packed = Vec::with_capacity(96);
        msgpack::encode_as(&value, &mut packed, Flavor::MsgpackJs);
        STANDARD.encode(packed)
    }

    pub(crate) fn decode(text: &[u8]) -> Result<StoredSession, WireError> {
        let packed = STANDARD.decode(text).map_err(|e| malformed(format!("session: {e}")))?;
        let value = msgpack::decode(&packed)?;
        let text = |key: &str| match value.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(malformed(format!("session without {key}"))),
        };
        let rooms = match value.get("rooms") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|r| match r {
                    Value::String(s) => Some(Room::from(s.as_str())),
                    Value::Number(n) => Some(Room::from(n.to_string())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(StoredSession {
            sid: text("sid")?,
            pid: text("pid")?,
            rooms,
            data: value.get("data").cloned().unwrap_or(Value::Null),
        })
    }
}

/// Whether a broadcast entry read back during a restore is one the session missed: a type-3
/// message of its namespace whose rooms meet the session's (or are none) and whose exceptions
/// do not (socket.io-adapter's `shouldIncludePacket`).
pub(crate) fn missed(msg: &ShardedMsg, nsp: &str, rooms: &[Room]) -> bool {
    match &msg.body {
        Body::Broadcast { opts, .. } if msg.nsp == nsp && msg.kind() == mt::BROADCAST => {
            (opts.rooms.is_empty() || opts.rooms.iter().any(|r| rooms.contains(r)))
                && !opts.except.iter().any(|r| rooms.contains(r))
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
