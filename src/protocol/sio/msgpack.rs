//! Socket.IO packets as `socket.io-msgpack-parser` 3.0.2 writes and reads them: the whole packet
//! `{type, data, nsp, id}` is one MessagePack map (notepack.io 2.2), sent as one binary
//! Engine.IO message; buffers stay inline as `bin`, so there are no BINARY_EVENT / BINARY_ACK
//! types and no attachment messages.
//!
//! Inside the server a packet keeps its JSON form ([`Packet`] with placeholders, and its
//! attachments): [`decode`] turns a received map into that form, so handlers, acks and
//! broadcasts work unchanged, and [`encode`] turns it back into a map on the way out.
//!
//! # Writing
//!
//! notepack writes an object's keys in insertion order, so the bytes depend on how socket.io
//! 4.8 builds each packet object (`nsp` is assigned last by `socket.packet()`, `id` by
//! `socket.emit` before it, but after it by the adapter's `broadcastWithAck`):
//!
//! | packet | keys |
//! |---|---|
//! | event (`socket.emit`) | `type, data, [id], nsp` |
//! | event (broadcast, [`Order::Broadcast`]) | `type, data, nsp, [id]` |
//! | ack | `id, type, data, nsp` |
//! | connect ack, middleware refusal, disconnect | `type, [data], nsp` |
//! | unknown namespace ([`invalid_namespace`]) | `type, nsp, data` |
//!
//! notepack 2.2 writes a key whose value is `undefined` as fixext 1 type 0 (`d4 00 00`), which
//! Node sends for the connect ack's `pid` without connection state recovery ([`connect_ok`])
//! and a middleware error's `data` when it has none ([`connect_error`]).
//!
//! # Reading
//!
//! `Decoder.add` and `checkPacket`: a map (a key whose value is notepack's `undefined` counts as
//! absent: socket.io-client sends `data: undefined` in a CONNECT without auth) whose `type` is
//! an integer from 0 to 4, `nsp` a
//! string, `data` absent or an object for CONNECT, absent for DISCONNECT, a string or an object
//! for CONNECT_ERROR, an array otherwise, `id` absent or an integer. Text messages are refused
//! (notepack cannot read a string). On top of that, the JSON parser's limits hold (at most
//! `max_attachments` buffers, nesting at most 128 deep, an event named by a string or a number
//! and not a reserved name), and ids must fit 64 bits; every refusal closes the connection as
//! a parse error (its sockets see "forced close"), as in Node.
//!
//! What JSON cannot carry changes on the way through: notepack 2.2's `undefined` becomes `null`,
//! a `Date` its ISO string, an `ArrayBuffer` (ext type 0) a buffer sent back as `bin` (which a
//! Node client reads as a `Buffer`), a non-finite float `null`.

use bytes::Bytes;
use bytestring::ByteString;
use rmp::encode as w;

use super::payload::RESERVED_EVENTS;
use super::{DecodeOptions, Decoded, Packet, PacketKind, ParseError, SioVersion, v4};
use crate::protocol::msgpack::{self as mp, UNDEFINED};
use crate::protocol::value::{self, Value, write_json};

/// Where `id` goes in an EVENT: before `nsp` for a socket's own emit, after it for a
/// broadcast (the adapter sets `nsp`, then `id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Socket,
    Broadcast,
}

/// The packet (in its JSON form, `attachments` filling its placeholders) as one msgpack map.
/// `Err` when its data is not JSON, or a placeholder names no attachment.
pub fn encode(packet: &Packet, attachments: &[Bytes], order: Order) -> Result<Bytes, ParseError> {
    let data = match &packet.data {
        None => None,
        Some(json) if packet.kind.is_binary() => Some(value::reconstruct(json, attachments)?),
        Some(json) => Some(value::from_json::<Value>(json).map_err(|_| ParseError::InvalidPayload)?),
    };
    let ty = wire_type(packet.kind);
    let nsp = &*packet.nsp;
    let mut out = Vec::with_capacity(
        24 + nsp.len()
            + packet.data.as_ref().map_or(0, |d| d.len())
            + attachments.iter().map(Bytes::len).sum::<usize>(),
    );
    let fields = 2 + usize::from(data.is_some()) + usize::from(packet.id.is_some());
    map_len(fields, &mut out);
    let id = |out: &mut Vec<u8>| {
        if let Some(id) = packet.id {
            mp::write_str("id", out);
            done(w::write_uint(out, id));
        }
    };
    let type_and_data = |out: &mut Vec<u8>| {
        mp::write_str("type", out);
        done(w::write_pfix(out, ty));
        if let Some(data) = &data {
            mp::write_str("data", out);
            mp::encode(data, out);
        }
    };
    match (ty, order) {
        (3, _) => {
            id(&mut out);
            type_and_data(&mut out);
            write_nsp(nsp, &mut out);
        }
        (_, Order::Socket) => {
            type_and_data(&mut out);
            id(&mut out);
            write_nsp(nsp, &mut out);
        }
        (_, Order::Broadcast) => {
            type_and_data(&mut out);
            write_nsp(nsp, &mut out);
            id(&mut out);
        }
    }
    Ok(out.into())
}

/// The v5 connect ack `{type: 0, data: {sid, pid}, nsp}`; `pid` is `undefined` without
/// connection state recovery.
pub fn connect_ok(nsp: &str, sid: &str, pid: Option<&str>) -> Bytes {
    let mut out = Vec::with_capacity(32 + nsp.len() + sid.len() + pid.map_or(3, str::len));
    map_len(3, &mut out);
    mp::write_str("type", &mut out);
    done(w::write_pfix(&mut out, PacketKind::Connect as u8));
    mp::write_str("data", &mut out);
    map_len(2, &mut out);
    mp::write_str("sid", &mut out);
    mp::write_str(sid, &mut out);
    mp::write_str("pid", &mut out);
    match pid {
        Some(pid) => mp::write_str(pid, &mut out),
        None => out.extend_from_slice(&UNDEFINED),
    }
    write_nsp(nsp, &mut out);
    out.into()
}

/// A v5 middleware refusal `{type: 4, data: {message, data}, nsp}`; `data` (JSON) is
/// `undefined` when there is none.
pub fn connect_error(nsp: &str, message: &str, data: Option<&str>) -> Bytes {
    let data = data.and_then(|json| value::from_json::<Value>(json).ok());
    let mut out = Vec::with_capacity(32 + nsp.len() + message.len());
    map_len(3, &mut out);
    mp::write_str("type", &mut out);
    done(w::write_pfix(&mut out, PacketKind::ConnectError as u8));
    mp::write_str("data", &mut out);
    map_len(2, &mut out);
    mp::write_str("message", &mut out);
    mp::write_str(message, &mut out);
    mp::write_str("data", &mut out);
    match &data {
        Some(data) => mp::encode(data, &mut out),
        None => out.extend_from_slice(&UNDEFINED),
    }
    write_nsp(nsp, &mut out);
    out.into()
}

/// The refusal of an unknown namespace, `{type: 4, nsp, data: {message: "Invalid namespace"}}`
/// (Node's `client.ts` writes `nsp` before `data` here), in both protocol versions.
pub fn invalid_namespace(nsp: &str) -> Bytes {
    let mut out = Vec::with_capacity(48 + nsp.len());
    map_len(3, &mut out);
    mp::write_str("type", &mut out);
    done(w::write_pfix(&mut out, PacketKind::ConnectError as u8));
    write_nsp(nsp, &mut out);
    mp::write_str("data", &mut out);
    map_len(1, &mut out);
    mp::write_str("message", &mut out);
    mp::write_str("Invalid namespace", &mut out);
    out.into()
}

/// Reads one received binary message into the packet's JSON form and its buffers.
pub fn decode(bytes: &[u8], version: SioVersion, opts: &DecodeOptions) -> Result<Decoded, ParseError> {
    let entries = mp::decode_map(bytes).map_err(|_| ParseError::InvalidMsgpack)?;
    let entries = entries.ok_or(ParseError::InvalidMsgpack)?;
    // `decoded.key`: the last entry of that key; `undefined` (`None`) as if absent.
    let get = |key: &str| entries.iter().rev().find(|(k, _)| k == key).and_then(|(_, v)| v.as_ref());
    let kind = match get("type").and_then(integer) {
        Some(n) if (0.0..=4.0).contains(&n) => {
            PacketKind::from_u8(n as u8).ok_or(ParseError::InvalidPacketType)?
        }
        _ => return Err(ParseError::InvalidPacketType),
    };
    let Some(Value::String(nsp)) = get("nsp") else {
        return Err(ParseError::InvalidNamespace);
    };
    let data = get("data");
    let valid = matches!(
        (kind, data),
        (PacketKind::Connect, None | Some(Value::Object(_)))
            | (PacketKind::Disconnect, None)
            | (PacketKind::ConnectError, Some(Value::String(_) | Value::Object(_)))
            | (PacketKind::Event | PacketKind::Ack, Some(Value::Array(_)))
    );
    if !valid {
        return Err(ParseError::InvalidPayload);
    }
    if kind == PacketKind::Event {
        check_event_name(data)?;
    }
    let id = match get("id") {
        None => None,
        Some(id) => Some(ack_id(id)?),
    };

    let mut attachments = Vec::new();
    let json = data.map(|data| {
        let mut json = String::with_capacity(bytes.len());
        write_json(data, &mut json, &mut attachments);
        ByteString::from(json)
    });
    if attachments.len() > opts.max_attachments {
        return Err(ParseError::TooManyAttachments);
    }
    let kind = match (kind, attachments.is_empty()) {
        (PacketKind::Event, false) => PacketKind::BinaryEvent,
        (PacketKind::Ack, false) => PacketKind::BinaryAck,
        (kind, _) => kind,
    };
    let (nsp, query) = match version {
        SioVersion::V5 => (ByteString::from(nsp.as_str()), None),
        SioVersion::V4 => {
            let (path, query) = v4::split_namespace(nsp);
            (ByteString::from(path), query.map(ByteString::from))
        }
    };
    let packet = Packet { kind, nsp, query, id, attachments: attachments.len(), data: json };
    Ok(Decoded { packet, attachments })
}

/// The `type` number on the wire: binary kinds are plain EVENT / ACK here.
fn wire_type(kind: PacketKind) -> u8 {
    match kind {
        PacketKind::BinaryEvent => PacketKind::Event as u8,
        PacketKind::BinaryAck => PacketKind::Ack as u8,
        kind => kind as u8,
    }
}

/// `Number.isInteger`: a number with no fraction.
fn integer(value: &Value) -> Option<f64> {
    value.as_f64().filter(|n| n.is_finite() && n.fract() == 0.0)
}

/// An integer id; one that is negative or beyond 64 bits has no ack to match here.
fn ack_id(value: &Value) -> Result<u64, ParseError> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            let f =
                n.as_f64().filter(|f| f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(f))?;
            Some(f as u64)
        }),
        _ => None,
    }
    .ok_or(ParseError::InvalidAckId)
}

/// The JSON parser's rule: an event is named by a string that is not reserved, or a number.
fn check_event_name(data: Option<&Value>) -> Result<(), ParseError> {
    match data.and_then(Value::as_array).and_then(<[Value]>::first) {
        Some(Value::String(name)) if RESERVED_EVENTS.contains(&name.as_str()) => {
            Err(ParseError::ReservedEventName)
        }
        Some(Value::String(_) | Value::Number(_)) => Ok(()),
        _ => Err(ParseError::InvalidPayload),
    }
}

fn write_nsp(nsp: &str, out: &mut Vec<u8>) {
    mp::write_str("nsp", out);
    mp::write_str(nsp, out);
}

fn map_len(n: usize, out: &mut Vec<u8>) {
    // At most four keys: a fixmap.
    done(w::write_map_len(out, n as u32));
}

/// Writes to a `Vec` cannot fail.
fn done<T, E: std::fmt::Debug>(result: Result<T, E>) {
    debug_assert!(result.is_ok(), "{:?}", result.err());
}

#[cfg(test)]
mod tests;
