//! Writing the adapter's messages: msgpack headers and options in Node's key orders, and
//! JSON as `JSON.stringify` writes the objects Node builds.

use super::*;

pub(super) fn array_len(n: usize, out: &mut Vec<u8>) {
    // Our own lists: never near 2^32 items.
    let _ = rmp::encode::write_array_len(out, u32::try_from(n).unwrap_or(u32::MAX));
}

pub(super) fn map_len(n: usize, out: &mut Vec<u8>) {
    let _ = rmp::encode::write_map_len(out, u32::try_from(n).unwrap_or(u32::MAX));
}

pub(super) fn write_rooms_msgpack(rooms: &[Room], out: &mut Vec<u8>) {
    array_len(rooms.len(), out);
    rooms.iter().for_each(|r| msgpack::write_str(r, out));
}

pub(super) fn write_opts_msgpack(opts: &BroadcastOptions, order: OptsOrder, out: &mut Vec<u8>) {
    map_len(3, out);
    msgpack::write_str("rooms", out);
    write_rooms_msgpack(&opts.rooms, out);
    if order == OptsOrder::Emitter {
        msgpack::write_str("flags", out);
        msgpack::encode(&flags_value(&opts.flags), out);
    }
    msgpack::write_str("except", out);
    write_rooms_msgpack(&opts.except, out);
    if order == OptsOrder::Adapter {
        msgpack::write_str("flags", out);
        msgpack::encode(&flags_value(&opts.flags), out);
    }
}

/// The flags that are set, in socket.io's field order (Node's object has them in the order
/// the operator methods were called; a receiver reads them by name).
pub(super) fn flags_value(flags: &BroadcastFlags) -> Value {
    let mut fields = Vec::new();
    let mut set = |key: &str, v: Value| fields.push((key.to_owned(), v));
    if flags.volatile {
        set("volatile", Value::Bool(true));
    }
    if let Some(c) = flags.compress {
        set("compress", Value::Bool(c));
    }
    if flags.local {
        set("local", Value::Bool(true));
    }
    if flags.broadcast {
        set("broadcast", Value::Bool(true));
    }
    if let Some(b) = flags.binary {
        set("binary", Value::Bool(b));
    }
    if let Some(t) = flags.timeout {
        set("timeout", timeout_ms(t));
    }
    if flags.expect_single_response {
        set("expectSingleResponse", Value::Bool(true));
    }
    Value::Object(fields)
}

/// A timeout as `setTimeout` was given it: whole milliseconds as an integer.
pub(super) fn timeout_ms(t: Duration) -> Value {
    if t.subsec_nanos().is_multiple_of(1_000_000) {
        Value::from(u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
    } else {
        Value::from(t.as_secs_f64() * 1000.0)
    }
}

/// Writes a JSON object key by key.
pub(super) struct JsonObject<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> JsonObject<'a> {
    pub(super) fn new(out: &'a mut String) -> Self {
        out.push('{');
        JsonObject { out, empty: true }
    }

    /// Writes `"key":` and hands back the output for the value.
    pub(super) fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        json::write_str(key, self.out);
        self.out.push(':');
        self.out
    }

    pub(super) fn str(&mut self, key: &str, v: &str) {
        json::write_str(v, self.key(key));
    }

    pub(super) fn num(&mut self, key: &str, v: u64) {
        self.key(key).push_str(itoa::Buffer::new().format(v));
    }

    pub(super) fn bool(&mut self, key: &str, v: bool) {
        self.key(key).push_str(if v { "true" } else { "false" });
    }

    pub(super) fn rooms(&mut self, key: &str, rooms: &[Room]) {
        write_json_list(rooms.iter(), self.key(key), |r, out| json::write_str(r, out));
    }

    /// `{rooms, except}`: the `opts` of requests 2–5 (no flags).
    pub(super) fn target(&mut self, key: &str, opts: &BroadcastOptions) {
        let mut o = JsonObject::new(self.key(key));
        o.rooms("rooms", &opts.rooms);
        o.rooms("except", &opts.except);
        o.end();
    }

    pub(super) fn end(self) {
        self.out.push('}');
    }
}

pub(super) fn write_json_list<T>(
    items: impl Iterator<Item = T>,
    out: &mut String,
    mut each: impl FnMut(T, &mut String),
) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(item, out);
    }
    out.push(']');
}

pub(super) fn write_json_array(items: &[Value], out: &mut String) {
    write_json_list(items.iter(), out, write_json);
}

/// `JSON.stringify` of the value, a buffer as Node's `Buffer#toJSON`:
/// `{"type":"Buffer","data":[…bytes]}`.
pub(crate) fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => number::write_number(n, out),
        Value::String(s) => json::write_str(s, out),
        Value::Binary(b) => {
            out.push_str("{\"type\":\"Buffer\",\"data\":");
            write_json_list(b.iter(), out, |byte, out| out.push_str(itoa::Buffer::new().format(*byte)));
            out.push('}');
        }
        Value::Array(items) => write_json_array(items, out),
        Value::Object(fields) => {
            let mut o = JsonObject::new(out);
            for (key, item) in fields {
                write_json(item, o.key(key));
            }
            o.end();
        }
    }
}
