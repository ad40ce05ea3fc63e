//! Reading received JSON text into a [`Value`] or any `Deserialize` type.
//!
//! simd-json goes first: it parses in place, so the text is copied into a buffer reused per
//! thread (one per shard), with simd-json's own buffers alongside. When it refuses text that
//! `JSON.parse` accepts (integers beyond 64 bits, lone surrogates), serde_json reads it instead.
//! Nesting is capped at 128 levels by both parsers, so recursive `Deserialize` impls (ours
//! included) cannot exhaust the stack.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Value, json};

/// Nesting limit for simd-json; serde_json has the same built in.
const MAX_DEPTH: usize = 128;

/// `Vec` capacity trusted from a size hint, so a hint cannot reserve unbounded memory.
const MAX_PREALLOC: usize = 1024;

struct Scratch {
    copy: Vec<u8>,
    buffers: simd_json::Buffers,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        copy: Vec::new(),
        buffers: simd_json::Buffers::with_max_depth(1024, MAX_DEPTH),
    });
}

/// Text that is not JSON, or not JSON of the requested shape.
#[derive(Debug, thiserror::Error)]
#[error("invalid JSON: {0}")]
pub struct JsonError(#[from] serde_json::Error);

/// Deserializes JSON text (an event argument, an ack, an auth payload) into `T`.
pub fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, JsonError> {
    parse_with(json.len(), |out| out.extend_from_slice(json.as_bytes()))
}

/// Deserializes raw JSON arguments (slices from an event or ack) as one array: into a tuple
/// `(String, u32)`, a `Vec<T>`, or a struct deserialized from a sequence.
pub fn from_json_args<T: DeserializeOwned, S: AsRef<str>>(args: &[S]) -> Result<T, JsonError> {
    let len = args.iter().map(|a| a.as_ref().len() + 1).sum::<usize>() + 1;
    parse_with(len, |out| {
        out.push(b'[');
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(arg.as_ref().as_bytes());
        }
        out.push(b']');
    })
}

/// Writes the text with `write` into the scratch copy and parses it; `write` only ever
/// appends UTF-8 from `&str`s.
fn parse_with<T: DeserializeOwned>(len: usize, write: impl Fn(&mut Vec<u8>)) -> Result<T, JsonError> {
    let fast = SCRATCH.with(|cell| {
        // A `Deserialize` impl that calls back in here finds the scratch busy and takes the slow path.
        let mut guard = cell.try_borrow_mut().ok()?;
        let Scratch { copy, buffers } = &mut *guard;
        copy.clear();
        copy.reserve(len);
        write(copy);
        simd_json::serde::from_slice_with_buffers::<T>(copy, buffers).ok()
    });
    if let Some(value) = fast {
        return Ok(value);
    }
    let mut text = Vec::with_capacity(len);
    write(&mut text);
    match std::str::from_utf8(&text) {
        Ok(s) => Ok(serde_json::from_str(&json::replace_lone_surrogates(s))?),
        Err(_) => Ok(serde_json::from_slice(&text)?),
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        match v.unsigned_abs() > MAX_SAFE_INTEGER {
            // `as` rounds to nearest, ties to even, as JSON.parse rounds the decimal text.
            true => Ok(Value::from(v as f64)),
            false => Ok(Value::from(v)),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match v > MAX_SAFE_INTEGER {
            true => Ok(Value::from(v as f64)),
            false => Ok(Value::from(v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Binary(bytes::Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Binary(v.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOC));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    /// Builds the object `JSON.parse` builds: a repeated key keeps its first place and its
    /// last value, and array-index keys (`"0"`, `"7"`) come first in ascending order, as
    /// every JS object orders its own properties (ECMA-262 OrdinaryOwnPropertyKeys).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields: Vec<(String, Value)> =
            Vec::with_capacity(map.size_hint().unwrap_or(0).min(MAX_PREALLOC));
        // Past a few keys, a repeated key is found by hash, so a hostile object of 100k keys
        // costs no quadratic scan.
        let mut index: Option<foldhash::HashMap<String, usize>> = None;
        let mut has_index_keys = false;
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            has_index_keys |= array_index(&key).is_some();
            let seen = match &mut index {
                Some(index) => index.get(&key).copied(),
                None => fields.iter().position(|(k, _)| *k == key),
            };
            match seen {
                Some(i) => fields[i].1 = value,
                None => {
                    if let Some(index) = &mut index {
                        index.insert(key.clone(), fields.len());
                    } else if fields.len() == LINEAR_KEYS {
                        let mut built: foldhash::HashMap<String, usize> = foldhash::HashMap::default();
                        built.extend(fields.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)));
                        built.insert(key.clone(), fields.len());
                        index = Some(built);
                    }
                    fields.push((key, value));
                }
            }
        }
        if has_index_keys {
            // Stable: the other keys keep their order after the index keys.
            fields.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |i| (0, i)));
        }
        Ok(Value::Object(fields))
    }
}

/// `Number.MAX_SAFE_INTEGER`: integers beyond it are not all doubles, and `JSON.parse` reads
/// every number as a double.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Keys an object searches for by scanning before it builds a hash index.
const LINEAR_KEYS: usize = 16;

/// The value of an array-index key (ECMA-262: a canonical numeric string of an integer below
/// 2^32 - 1): `"0"`, `"42"`, not `"01"`, `"-1"` or `"4294967295"`.
pub(crate) fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || (b.len() > 1 && b[0] == b'0') || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i != u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind() {
        let v: Value = from_json(r#"{"a":[null,true,1,-2,1.5,"x"],"b":{}}"#).unwrap();
        let want = Value::Object(vec![
            (
                "a".into(),
                Value::Array(vec![
                    Value::Null,
                    Value::Bool(true),
                    Value::from(1u64),
                    Value::from(-2i64),
                    Value::from(1.5),
                    Value::from("x"),
                ]),
            ),
            ("b".into(), Value::Object(vec![])),
        ]);
        assert_eq!(v, want);
    }

    #[test]
    fn falls_back_where_json_parse_is_lenient() {
        let v: Value = from_json("[123456789012345678901234567890]").unwrap();
        assert_eq!(v.as_array().unwrap()[0].as_f64(), Some(1.2345678901234568e29));
        let v: Value = from_json(r#"["a\ud800b"]"#).unwrap();
        assert_eq!(v.as_array().unwrap()[0].as_str(), Some("a\u{fffd}b"));
        let v: (String, u32) = from_json(r#"["\udc00", 7]"#).unwrap();
        assert_eq!(v, ("\u{fffd}".to_owned(), 7));
    }

    /// Each expected text is what `JSON.stringify(JSON.parse(input))` prints in Node.
    #[test]
    fn reads_objects_and_numbers_as_json_parse() {
        let table = [
            (r#"{"a":1,"b":0,"a":2}"#, r#"{"a":2,"b":0}"#),
            (
                r#"{"b":1,"1":2,"a":3,"0":4,"01":5,"4294967294":6,"4294967295":7,"-1":8}"#,
                r#"{"0":4,"1":2,"4294967294":6,"b":1,"a":3,"01":5,"4294967295":7,"-1":8}"#,
            ),
            (
                "[9007199254740993,12345678901234567890,-9223372036854775809,9007199254740992,-9007199254740993]",
                "[9007199254740992,12345678901234567000,-9223372036854776000,9007199254740992,-9007199254740992]",
            ),
            (r#"{"__proto__":1}"#, r#"{"__proto__":1}"#),
        ];
        for (input, want) in table {
            let v: Value = from_json(input).unwrap();
            let mut out = String::new();
            super::super::write_json(&v, &mut out, &mut Vec::new());
            assert_eq!(out, want, "{input}");
        }
        let many: String = (0..40).map(|i| format!(r#""k{}":{i},"#, i % 20)).collect();
        let v: Value = from_json(&format!("{{{}\"z\":0}}", many)).unwrap();
        let Value::Object(fields) = &v else { panic!("{v:?}") };
        assert_eq!(fields.len(), 21);
        assert_eq!(v.get("k3").and_then(Value::as_u64), Some(23));
        assert_eq!(fields[3].0, "k3");
    }

    #[test]
    fn reads_args_as_one_array() {
        let v: (String, u32, Vec<bool>) = from_json_args(&["\"a\"", "7", "[true]"]).unwrap();
        assert_eq!(v, ("a".to_owned(), 7, vec![true]));
        let v: Vec<u64> = from_json_args::<_, &str>(&[]).unwrap();
        assert!(v.is_empty());
        assert!(from_json_args::<(String,), _>(&["1"]).is_err());
    }

    #[test]
    fn rejects_bad_text_and_deep_nesting() {
        assert!(from_json::<Value>("[1,").is_err());
        assert!(from_json::<Value>("").is_err());
        assert!(from_json::<u32>("\"x\"").is_err());
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(from_json::<Value>(&deep).is_err());
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert!(from_json::<Value>(&ok).is_ok());
    }
}
