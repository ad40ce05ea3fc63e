//! MessagePack as notepack.io writes and reads it: the `parser` of `@socket.io/redis-adapter`
//! (notepack.io 3.0.1 in adapter 8.x, 2.2 in 7.x) and of `@socket.io/redis-emitter` 5.1.
//! The Socket.IO msgpack parser ([`crate::protocol::sio::msgpack`], `socket.io-msgpack-parser`
//! 3.0.2 on notepack.io 2.2) writes its packets' data with it too: for these values the two
//! notepack versions write the same bytes.
//!
//! # Writing (notepack.io 3.0.1 `encode`)
//!
//! Each [`Value`] is written as notepack writes the JS value it stands for, through `rmp`'s
//! writers (whose size thresholds are notepack's):
//!
//! - `Null` → nil `c0`; `Bool` → `c2`/`c3`;
//! - a number that is an integer (`Math.floor(v) === v`, so `2.0` and `-0` too) in the smallest
//!   integer form: positive fixint below 0x80, uint8/16/32 below 2^8/2^16/2^32, uint64 above;
//!   negative fixint from −32, int8/16/32 from −2^7/−2^15/−2^31, int64 below;
//!   any other number as float64 `cb`;
//! - strings as fixstr (below 32 bytes), str8, str16, str32; buffers as bin8/16/32;
//! - arrays and objects (string keys, in order) in the smallest header: fix form below 16
//!   entries, then 16-bit, then 32-bit lengths.
//!
//! One deliberate difference: notepack writes an integral number beyond the 64-bit range
//! (`1e20`, `-1e300`) as the low 64 bits of the integer, which every reader takes for another
//! number; here such a number is written as float64, which reads back as itself.
//!
//! # Reading (notepack.io 2.x and 3.x `decode`)
//!
//! Everything above, plus float32, and the extension types those versions write:
//!
//! - timestamp ext −1 (32, 64 and 96-bit forms): a `Date` in notepack 3, here the string
//!   `JSON.stringify` writes for it (`"2024-01-02T03:04:05.678Z"`, `null` when out of range);
//! - notepack 2.2's `undefined` (`d4 00 00`) → `Null`, its `Date` (fixext8 type 0, signed
//!   milliseconds) → the same ISO string, its `ArrayBuffer` (ext 8/16/32 type 0) → `Binary`;
//! - any other extension → `[type, <bytes>]`, as notepack returns it.
//!
//! Objects are built as notepack builds them by assignment (`value[key] = …`): keys that are
//! not strings take their JS string form (`1` → `"1"`, `null` → `"null"`), a repeated key
//! keeps its first place and its last value, array-index keys (`"0"`, `"7"`) come first in
//! ascending order, and `__proto__` never becomes a key. Strings that are not UTF-8 are read
//! with U+FFFD replacements, as `Buffer#toString` reads them. Unsigned and signed 64-bit
//! integers beyond 2^53 become the nearest double, as notepack computes them.
//!
//! Input comes from other processes: decoding never panics, allocates no more than the input
//! could hold, nests at most [`MAX_DEPTH`] levels, and refuses trailing bytes.

use bytes::Bytes;
use rmp::Marker;
use rmp::encode as w;

use crate::protocol::value::parse::array_index;
use crate::protocol::value::{Value, number};

/// The deepest nesting of arrays and maps [`decode`] accepts (the JSON parsers' limit too).
pub const MAX_DEPTH: usize = 128;

/// Why bytes are not a notepack message.
#[derive(Debug, thiserror::Error)]
pub enum MsgpackError {
    #[error("invalid msgpack: {0}")]
    Invalid(String),
}

impl MsgpackError {
    fn new(what: impl Into<String>) -> Self {
        MsgpackError::Invalid(what.into())
    }
}

/// Appends `value` to `out` as notepack.io 3.0.1 encodes the same JS value.
///
/// A string, buffer, array or object longer than `u32::MAX` (which notepack refuses with an
/// exception, and Redis could not carry) is written as nil.
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    encode_as(value, out, Flavor::Notepack)
}

/// Which JavaScript encoder to write as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// notepack.io 3.0.1 (the Redis adapter and emitter).
    Notepack,
    /// `@msgpack/msgpack` 2.8 (the Redis streams adapter): the same bytes, except that an
    /// integral number beyond `Number.MAX_SAFE_INTEGER` (2^53 − 1) in magnitude is a float64
    /// (`2**60` → `cb 43 b0 …`, where notepack writes `cf 10 00 …`).
    MsgpackJs,
}

/// Appends `value` to `out` as `flavor` encodes the same JS value.
pub fn encode_as(value: &Value, out: &mut Vec<u8>, flavor: Flavor) {
    match value {
        Value::Null => done(w::write_nil(out)),
        Value::Bool(b) => done(w::write_bool(out, *b)),
        Value::Number(n) => write_number(n, out, flavor),
        Value::String(s) => write_str(s, out),
        Value::Binary(b) => match u32::try_from(b.len()) {
            Ok(len) => {
                done(w::write_bin_len(out, len));
                out.extend_from_slice(b);
            }
            Err(_) => done(w::write_nil(out)),
        },
        Value::Array(items) => match u32::try_from(items.len()) {
            Ok(len) => {
                done(w::write_array_len(out, len));
                items.iter().for_each(|item| encode_as(item, out, flavor));
            }
            Err(_) => done(w::write_nil(out)),
        },
        Value::Object(fields) => match u32::try_from(fields.len()) {
            Ok(len) => {
                done(w::write_map_len(out, len));
                for (key, item) in fields {
                    write_str(key, out);
                    encode_as(item, out, flavor);
                }
            }
            Err(_) => done(w::write_nil(out)),
        },
    }
}

/// [`encode`] into a new buffer.
pub fn encode_to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

/// Reads one notepack message (the whole of `bytes`) into a [`Value`].
pub fn decode(bytes: &[u8]) -> Result<Value, MsgpackError> {
    let mut reader = Reader { bytes, pos: 0 };
    let value = reader.value(0)?;
    match bytes.len() - reader.pos {
        0 => Ok(value),
        n => Err(MsgpackError::new(format!("{n} trailing bytes"))),
    }
}

/// notepack 2.2's `undefined` (fixext 1, type 0, one zero byte): what it writes for an object
/// key whose value is `undefined` (notepack 3 leaves such keys out).
pub const UNDEFINED: [u8; 3] = [0xd4, 0x00, 0x00];

/// A map's entries in order; `None` for a value that is [`UNDEFINED`].
pub type MapEntries = Vec<(String, Option<Value>)>;

/// Reads a message that is one map, entry by entry and in order, as [`decode`] would, except
/// that an entry whose value is [`UNDEFINED`] has `None`: a JS reader sees `undefined` there,
/// as for a missing key, where [`decode`] gives `Null`. `Ok(None)` when the message is one
/// value but not a map.
pub fn decode_map(bytes: &[u8]) -> Result<Option<MapEntries>, MsgpackError> {
    let mut reader = Reader { bytes, pos: 0 };
    let n = match Marker::from_u8(reader.u8()?) {
        Marker::FixMap(n) => usize::from(n),
        Marker::Map16 => reader.u16()?,
        Marker::Map32 => reader.u32()?,
        _ => return decode(bytes).map(|_| None),
    };
    // Every entry takes at least two bytes.
    let mut entries = Vec::with_capacity(n.min(reader.remaining() / 2));
    for _ in 0..n {
        let key = property_key(&reader.value(1)?);
        let value = match reader.bytes[reader.pos..].starts_with(&UNDEFINED) {
            true => {
                reader.pos += UNDEFINED.len();
                None
            }
            false => Some(reader.value(1)?),
        };
        entries.push((key, value));
    }
    match bytes.len() - reader.pos {
        0 => Ok(Some(entries)),
        n => Err(MsgpackError::new(format!("{n} trailing bytes"))),
    }
}

/// Writes to a `Vec` cannot fail.
fn done<T, E: std::fmt::Debug>(result: Result<T, E>) {
    debug_assert!(result.is_ok(), "{:?}", result.err());
}

/// A string (also a map key) in fixstr/str8/str16/str32.
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    match u32::try_from(s.len()) {
        Ok(len) => {
            done(w::write_str_len(out, len));
            out.extend_from_slice(s.as_bytes());
        }
        Err(_) => done(w::write_nil(out)),
    }
}

/// 2^64 and 2^63 as doubles: the range in which notepack writes an integer correctly.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE: u64 = (1 << 53) - 1;

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>, flavor: Flavor) {
    if flavor == Flavor::MsgpackJs {
        let unsafe_int = match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u > MAX_SAFE,
            (_, Some(i), _) => i.unsigned_abs() > MAX_SAFE,
            (_, _, Some(v)) => v.floor() == v && v.abs() > MAX_SAFE as f64,
            _ => false,
        };
        if unsafe_int {
            return done(w::write_f64(out, n.as_f64().unwrap_or(f64::NAN)));
        }
    }
    if let Some(u) = n.as_u64() {
        done(w::write_uint(out, u));
    } else if let Some(i) = n.as_i64() {
        done(w::write_sint(out, i));
    } else {
        let v = n.as_f64().unwrap_or(f64::NAN);
        if v.is_finite() && v.floor() == v && (-TWO_POW_63..TWO_POW_64).contains(&v) {
            // Integral and in range, so the casts are exact (`-0.0` becomes 0, as in notepack).
            if v >= 0.0 {
                done(w::write_uint(out, v as u64));
            } else {
                done(w::write_sint(out, v as i64));
            }
        } else {
            done(w::write_f64(out, v));
        }
    }
}

/// A cursor over untrusted input.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MsgpackError> {
        if n > self.remaining() {
            return Err(MsgpackError::new(format!(
                "{n} bytes announced at offset {}, {} left",
                self.pos,
                self.remaining()
            )));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MsgpackError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, MsgpackError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<usize, MsgpackError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn u32(&mut self) -> Result<usize, MsgpackError> {
        usize::try_from(u32::from_be_bytes(self.array()?))
            .map_err(|_| MsgpackError::new("length beyond usize"))
    }

    fn ext_type(&mut self) -> Result<i8, MsgpackError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    fn value(&mut self, depth: usize) -> Result<Value, MsgpackError> {
        let at = self.pos;
        let marker = Marker::from_u8(self.u8()?);
        Ok(match marker {
            Marker::FixPos(n) => Value::from(u64::from(n)),
            Marker::FixNeg(n) => Value::from(i64::from(n)),
            Marker::Null => Value::Null,
            Marker::False => Value::Bool(false),
            Marker::True => Value::Bool(true),
            Marker::U8 => Value::from(u64::from(self.u8()?)),
            Marker::U16 => Value::from(u64::from(u16::from_be_bytes(self.array()?))),
            Marker::U32 => Value::from(u64::from(u32::from_be_bytes(self.array()?))),
            Marker::U64 => unsigned(u64::from_be_bytes(self.array()?)),
            Marker::I8 => Value::from(i64::from(i8::from_be_bytes(self.array()?))),
            Marker::I16 => Value::from(i64::from(i16::from_be_bytes(self.array()?))),
            Marker::I32 => Value::from(i64::from(i32::from_be_bytes(self.array()?))),
            Marker::I64 => signed(i64::from_be_bytes(self.array()?)),
            Marker::F32 => Value::from(f64::from(f32::from_be_bytes(self.array()?))),
            Marker::F64 => Value::from(f64::from_be_bytes(self.array()?)),
            Marker::FixStr(n) => self.str(usize::from(n))?,
            Marker::Str8 => {
                let n = usize::from(self.u8()?);
                self.str(n)?
            }
            Marker::Str16 => {
                let n = self.u16()?;
                self.str(n)?
            }
            Marker::Str32 => {
                let n = self.u32()?;
                self.str(n)?
            }
            Marker::Bin8 => {
                let n = usize::from(self.u8()?);
                self.bin(n)?
            }
            Marker::Bin16 => {
                let n = self.u16()?;
                self.bin(n)?
            }
            Marker::Bin32 => {
                let n = self.u32()?;
                self.bin(n)?
            }
            Marker::FixArray(n) => self.seq(usize::from(n), depth)?,
            Marker::Array16 => {
                let n = self.u16()?;
                self.seq(n, depth)?
            }
            Marker::Array32 => {
                let n = self.u32()?;
                self.seq(n, depth)?
            }
            Marker::FixMap(n) => self.map(usize::from(n), depth)?,
            Marker::Map16 => {
                let n = self.u16()?;
                self.map(n, depth)?
            }
            Marker::Map32 => {
                let n = self.u32()?;
                self.map(n, depth)?
            }
            Marker::FixExt1 => self.fixext(1)?,
            Marker::FixExt2 => self.fixext(2)?,
            Marker::FixExt4 => self.fixext(4)?,
            Marker::FixExt8 => self.fixext(8)?,
            Marker::FixExt16 => self.fixext(16)?,
            Marker::Ext8 => {
                let n = usize::from(self.u8()?);
                self.ext(n)?
            }
            Marker::Ext16 => {
                let n = self.u16()?;
                self.ext(n)?
            }
            Marker::Ext32 => {
                let n = self.u32()?;
                self.ext(n)?
            }
            Marker::Reserved => return Err(MsgpackError::new(format!("reserved byte 0xc1 at offset {at}"))),
        })
    }

    fn str(&mut self, n: usize) -> Result<Value, MsgpackError> {
        Ok(Value::String(String::from_utf8_lossy(self.take(n)?).into_owned()))
    }

    fn bin(&mut self, n: usize) -> Result<Value, MsgpackError> {
        Ok(Value::Binary(Bytes::copy_from_slice(self.take(n)?)))
    }

    fn nested(&self, depth: usize) -> Result<usize, MsgpackError> {
        match depth < MAX_DEPTH {
            true => Ok(depth + 1),
            false => {
                Err(MsgpackError::new(format!("nesting deeper than {MAX_DEPTH} at offset {}", self.pos)))
            }
        }
    }

    fn seq(&mut self, n: usize, depth: usize) -> Result<Value, MsgpackError> {
        let depth = self.nested(depth)?;
        // Every item takes at least one byte: a declared length cannot reserve more than that.
        let mut items = Vec::with_capacity(n.min(self.remaining()));
        for _ in 0..n {
            items.push(self.value(depth)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, MsgpackError> {
        let depth = self.nested(depth)?;
        let mut object = ObjectBuilder::with_capacity(n.min(self.remaining() / 2));
        for _ in 0..n {
            let key = self.value(depth)?;
            let value = self.value(depth)?;
            object.set(property_key(&key), value);
        }
        Ok(object.finish())
    }

    fn fixext(&mut self, n: usize) -> Result<Value, MsgpackError> {
        let ty = self.ext_type()?;
        let data = self.take(n)?;
        Ok(match (ty, n) {
            // notepack 2.2: `undefined`.
            (0, 1) => Value::Null,
            // notepack 2.2: a `Date`, as signed milliseconds (high word signed).
            (0, 8) => {
                let hi = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                let lo = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                date(f64::from(hi) * 4_294_967_296.0 + f64::from(lo))
            }
            // Timestamp 32: unsigned seconds.
            (-1, 4) => date(f64::from(u32::from_be_bytes([data[0], data[1], data[2], data[3]])) * 1e3),
            // Timestamp 64: 30 bits of nanoseconds, 34 bits of seconds.
            (-1, 8) => {
                let hi = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                let lo = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                let secs = f64::from(hi & 0x3) * 4_294_967_296.0 + f64::from(lo);
                date(secs * 1e3 + f64::from(hi >> 2) / 1e6)
            }
            _ => other_ext(ty, data),
        })
    }

    fn ext(&mut self, n: usize) -> Result<Value, MsgpackError> {
        let ty = self.ext_type()?;
        let data = self.take(n)?;
        Ok(match ty {
            // notepack 2.2: an `ArrayBuffer`.
            0 => Value::Binary(Bytes::copy_from_slice(data)),
            // Timestamp 96: 32 bits of nanoseconds, 64 bits of signed seconds.
            -1 if n == 12 => {
                let ns = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                let hi = i32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                let lo = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
                let secs = f64::from(hi) * 4_294_967_296.0 + f64::from(lo);
                date(secs * 1e3 + f64::from(ns) / 1e6)
            }
            -1 => return Err(MsgpackError::new(format!("timestamp of {n} bytes"))),
            _ => other_ext(ty, data),
        })
    }
}

/// An unknown extension, as notepack returns it: `[type, Buffer]`.
fn other_ext(ty: i8, data: &[u8]) -> Value {
    Value::Array(vec![Value::from(i64::from(ty)), Value::Binary(Bytes::copy_from_slice(data))])
}

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A uint64 as notepack computes it (`hi * 2^32 + lo`, one rounding to the nearest double).
fn unsigned(v: u64) -> Value {
    match v > MAX_SAFE_INTEGER {
        true => Value::from(v as f64),
        false => Value::from(v),
    }
}

/// An int64 as notepack computes it.
fn signed(v: i64) -> Value {
    match v.unsigned_abs() > MAX_SAFE_INTEGER {
        true => Value::from(v as f64),
        false => Value::from(v),
    }
}

/// The value `JSON.stringify` writes for `new Date(ms)`: its ISO string, or `null` when the
/// time is out of the Date range (an invalid date).
fn date(ms: f64) -> Value {
    // TimeClip: beyond ±8.64e15 ms the date is invalid; otherwise truncate toward zero.
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return Value::Null;
    }
    crate::protocol::date::iso_string(ms.trunc() as i64).map_or(Value::Null, Value::String)
}

/// The string JS makes of a decoded map key when it assigns `value[key]` (ToPropertyKey).
/// Dates are already ISO strings here (JS would use `Date#toString`, which depends on the
/// local time zone); objects are `[object Object]`.
fn property_key(key: &Value) -> String {
    let mut out = String::new();
    key_text(key, &mut out, 0);
    out
}

fn key_text(value: &Value, out: &mut String, depth: usize) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => out.push_str(itoa::Buffer::new().format(u)),
            (_, Some(i)) => out.push_str(itoa::Buffer::new().format(i)),
            _ => number::write(n.as_f64().unwrap_or(f64::NAN), out),
        },
        Value::Binary(b) => out.push_str(&String::from_utf8_lossy(b)),
        // `Array#toString` is `join(",")`, with `null` items as empty strings.
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !item.is_null() && depth < MAX_DEPTH {
                    key_text(item, out, depth + 1);
                }
            }
        }
        Value::Object(_) => out.push_str("[object Object]"),
    }
}

/// Fields assigned one by one to a JS object.
struct ObjectBuilder {
    fields: Vec<(String, Value)>,
    /// Past a few keys, repeated keys are found by hash (no quadratic scan on hostile maps).
    index: Option<foldhash::HashMap<String, usize>>,
    has_index_keys: bool,
}

/// Keys scanned linearly before the builder hashes them.
const LINEAR_KEYS: usize = 16;

impl ObjectBuilder {
    fn with_capacity(n: usize) -> Self {
        ObjectBuilder { fields: Vec::with_capacity(n), index: None, has_index_keys: false }
    }

    fn set(&mut self, key: String, value: Value) {
        // `obj.__proto__ = x` sets the prototype (or nothing): no own property appears.
        if key == "__proto__" {
            return;
        }
        self.has_index_keys |= array_index(&key).is_some();
        let seen = match &self.index {
            Some(index) => index.get(&key).copied(),
            None => self.fields.iter().position(|(k, _)| *k == key),
        };
        if let Some(i) = seen {
            self.fields[i].1 = value;
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.fields.len());
        } else if self.fields.len() == LINEAR_KEYS {
            let mut index: foldhash::HashMap<String, usize> = foldhash::HashMap::default();
            index.extend(self.fields.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)));
            index.insert(key.clone(), self.fields.len());
            self.index = Some(index);
        }
        self.fields.push((key, value));
    }

    fn finish(mut self) -> Value {
        if self.has_index_keys {
            // Array-index keys first, ascending; the others keep their order (stable sort).
            self.fields.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |i| (0, i)));
        }
        Value::Object(self.fields)
    }
}

#[cfg(test)]
pub(crate) mod tests;
