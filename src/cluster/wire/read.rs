//! Reading the adapter's messages: the `{`-or-msgpack rule and the fields Node reads, as
//! leniently as Node reads them.

use super::*;

/// Moves out the value under `key` (the last one, as [`Value::get`] reads it).
pub(super) fn take(v: &mut Value, key: &str) -> Option<Value> {
    match v {
        Value::Object(fields) => {
            fields.iter_mut().rev().find(|(k, _)| k == key).map(|(_, v)| std::mem::take(v))
        }
        _ => None,
    }
}

/// Node's rule: `{` first means JSON (read as `msg.toString()`, so lossy UTF-8), else msgpack.
pub(crate) fn parse_message(bytes: &[u8]) -> Result<Value, WireError> {
    if bytes.first() == Some(&b'{') {
        from_json::<Value>(&String::from_utf8_lossy(bytes)).map_err(|e| malformed(e.to_string()))
    } else {
        Ok(msgpack::decode(bytes)?)
    }
}

pub(super) fn req_str(v: &Value, key: &str) -> Result<String, WireError> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(malformed(format!("`{key}` is not a string"))),
    }
}

/// Absent or `null`: `None`.
pub(super) fn opt_str(v: &Value, key: &str) -> Result<Option<String>, WireError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(malformed(format!("`{key}` is not a string"))),
    }
}

/// A non-negative integer (a double with no fraction counts).
pub(super) fn read_u64(v: Option<&Value>, what: &str) -> Result<u64, WireError> {
    let n = match v {
        Some(Value::Number(n)) => n,
        _ => return Err(malformed(format!("{what} is not a number"))),
    };
    if let Some(u) = n.as_u64() {
        return Ok(u);
    }
    match n.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0 => Ok(f as u64),
        _ => Err(malformed(format!("{what} is not a non-negative integer"))),
    }
}

/// Node tests `if (request.opts)`: a truthy `opts` means the 8.x form.
pub(super) fn has_opts(v: &Value) -> bool {
    v.get("opts").is_some_and(truthy)
}

pub(super) fn target(v: &Value) -> Result<&Value, WireError> {
    v.get("opts").ok_or_else(|| malformed("request without opts"))
}

/// JavaScript truthiness.
pub(super) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// `opts`: `rooms` and `except` (absent: none, as `new Set(undefined)` is empty), and
/// `flags` when `with_flags` (unknown flags ignored).
pub(super) fn read_opts(v: &Value, with_flags: bool) -> Result<BroadcastOptions, WireError> {
    if !matches!(v, Value::Object(_)) {
        return Err(malformed("opts is not an object"));
    }
    let flags = match (with_flags, v.get("flags")) {
        (true, Some(flags @ Value::Object(_))) => read_flags(flags),
        (true, Some(Value::Null) | None) | (false, _) => BroadcastFlags::default(),
        (true, Some(_)) => return Err(malformed("flags is not an object")),
    };
    Ok(BroadcastOptions { rooms: read_rooms(v.get("rooms"))?, except: read_rooms(v.get("except"))?, flags })
}

pub(super) fn read_flags(v: &Value) -> BroadcastFlags {
    let flag = |key| v.get(key).and_then(Value::as_bool);
    BroadcastFlags {
        volatile: flag("volatile").unwrap_or(false),
        compress: flag("compress"),
        local: flag("local").unwrap_or(false),
        broadcast: flag("broadcast").unwrap_or(false),
        binary: flag("binary"),
        timeout: v.get("timeout").and_then(Value::as_f64).map(|ms| {
            let secs = if ms.is_finite() && ms > 0.0 { ms / 1000.0 } else { 0.0 };
            Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
        }),
        expect_single_response: flag("expectSingleResponse").unwrap_or(false),
    }
}

/// A list of room names; absent or `null` is empty.
pub(super) fn read_rooms(v: Option<&Value>) -> Result<Vec<Room>, WireError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(room_name).collect(),
        Some(_) => Err(malformed("rooms is not an array")),
    }
}

/// A room name: a string, or a number as JavaScript prints it.
pub(super) fn room_name(v: &Value) -> Result<Room, WireError> {
    match v {
        Value::String(s) => Ok(Room::from(s.as_str())),
        Value::Number(n) => {
            let mut out = String::new();
            number::write_number(n, &mut out);
            Ok(Room::from(out))
        }
        _ => Err(malformed("room name is not a string")),
    }
}

/// A fetched socket of a REMOTE_FETCH response: `{id, handshake, rooms, data}`.
pub(super) fn read_socket(mut value: Value) -> Result<SocketDetails, WireError> {
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
