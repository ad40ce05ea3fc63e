//! JSON values that may hold binary leaves, and the attachment placeholders that carry them
//! (socket.io-protocol, "Packet encoding": `BINARY_EVENT` / `BINARY_ACK`).
//!
//! A Socket.IO event with buffers in its arguments travels as JSON text in which each buffer is
//! replaced by `{"_placeholder":true,"num":N}`, followed by the N buffers as separate binary
//! messages. [`deconstruct`] writes that text for outgoing [`Value`]s, [`reconstruct`] puts the
//! received buffers back (Node's `deconstructPacket` / `reconstructPacket`). Handlers that do
//! not want a tree deserialize arguments into their own types with [`from_json`].
//!
//! Numbers and strings are written as `JSON.stringify` writes them (see `number` and `json`),
//! so what we send is byte for byte what Node sends for the same values.

mod binary;
mod de;
pub(crate) mod json;
pub(crate) mod number;
pub(crate) mod parse;
pub mod ser;

use bytes::Bytes;

pub use binary::{deconstruct, placeholders_valid, reconstruct, write_json};
pub use de::{ValueError, from_value};
pub use parse::{JsonError, from_json, from_json_args};

/// A JSON value whose leaves may also be binary buffers.
///
/// Objects keep their keys in order. Parsed ones are the objects `JSON.parse` makes (a repeated
/// key once, with its last value, in its first place; array-index keys first), so a value
/// received and emitted again is written as Node writes it; an object built with a key twice
/// is written twice, and [`Value::get`] returns the last.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// JSON `null`.
    #[default]
    Null,
    /// A JSON boolean.
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string.
    String(String),
    /// A binary attachment (a `Buffer` or `ArrayBuffer` on the JavaScript side).
    Binary(Bytes),
    /// A JSON array.
    Array(Vec<Value>),
    /// A JSON object, its members in order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The value under `key` of an object (the last one when the key repeats).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as an `f64`, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// The number as a `u64`, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a binary attachment.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Whether a buffer appears anywhere inside (Node's `hasBinary`): such arguments make a
    /// `BINARY_EVENT` / `BINARY_ACK` instead of an `EVENT` / `ACK`.
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(items) => items.iter().any(Value::has_binary),
            Value::Object(fields) => fields.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n.into())
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Number(n.into())
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Number(n.into())
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Number(n.into())
    }
}

/// NaN and infinities become `Null`, as `JSON.stringify` writes them `null`.
impl From<f64> for Value {
    fn from(n: f64) -> Self {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Binary(b)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Binary(b.into())
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl From<Vec<(String, Value)>> for Value {
    fn from(fields: Vec<(String, Value)>) -> Self {
        Value::Object(fields)
    }
}
