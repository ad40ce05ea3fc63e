//! Binary attachments: buffers taken out of the JSON as numbered placeholders, and put back
//! (socket.io-parser `deconstructPacket` / `reconstructPacket`).
//!
//! A placeholder is `{"_placeholder":true,"num":N}`, numbered depth-first in the order Node walks
//! the arguments. On the way in, an object counts as a placeholder when its (last) `_placeholder`
//! is `true`; its `num` must then be a number in `0..attachments`, else Node throws "illegal
//! attachments" and closes the connection. A non-integer `num` in range yields `undefined` in
//! Node; here `Null`.

use bytes::Bytes;

use super::{Value, from_json, json, number};
use crate::protocol::sio::ParseError;

/// Writes `args` as a JSON array, each [`Value::Binary`] replaced by a placeholder and pushed
/// onto `attachments` (which may already hold buffers: numbering continues after them).
pub fn deconstruct(args: &[Value], json_out: &mut String, attachments: &mut Vec<Bytes>) {
    json_out.push('[');
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            json_out.push(',');
        }
        write_json(arg, json_out, attachments);
    }
    json_out.push(']');
}

/// Writes one value as `JSON.stringify` would, buffers as placeholders (see [`deconstruct`]).
pub fn write_json(value: &Value, out: &mut String, attachments: &mut Vec<Bytes>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => number::write_number(n, out),
        Value::String(s) => json::write_str(s, out),
        Value::Binary(b) => {
            out.push_str("{\"_placeholder\":true,\"num\":");
            out.push_str(itoa::Buffer::new().format(attachments.len()));
            out.push('}');
            attachments.push(b.clone());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out, attachments);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json::write_str(key, out);
                out.push(':');
                write_json(item, out, attachments);
            }
            out.push('}');
        }
    }
}

/// Parses received JSON (the data of a `BINARY_EVENT`/`BINARY_ACK`, or anything else) and puts
/// `attachments` in place of its placeholders.
pub fn reconstruct(json: &str, attachments: &[Bytes]) -> Result<Value, ParseError> {
    let mut value: Value = from_json(json).map_err(|_| ParseError::InvalidPayload)?;
    fill(&mut value, attachments)?;
    Ok(value)
}

fn fill(value: &mut Value, attachments: &[Bytes]) -> Result<(), ParseError> {
    if value.get("_placeholder") == Some(&Value::Bool(true)) {
        let num = value.get("num").and_then(Value::as_f64);
        *value = match num {
            Some(n) if n >= 0.0 && n < attachments.len() as f64 => match attachments.get(n as usize) {
                Some(b) if n.fract() == 0.0 => Value::Binary(b.clone()),
                _ => Value::Null,
            },
            _ => return Err(ParseError::IllegalPlaceholder),
        };
        return Ok(());
    }
    match value {
        Value::Array(items) => items.iter_mut().try_for_each(|v| fill(v, attachments)),
        Value::Object(fields) => fields.iter_mut().try_for_each(|(_, v)| fill(v, attachments)),
        _ => Ok(()),
    }
}

/// Whether every placeholder in `json` names one of `attachments` buffers, checked the way
/// [`reconstruct`] (and Node) would, without building a tree: one pass, no recursion.
///
/// Meant for JSON already validated (a decoded packet's data); on anything else it returns
/// some answer without panicking.
pub fn placeholders_valid(json: &str, attachments: usize) -> bool {
    let bytes = json.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut top_illegal = false;
    let mut i = 0;
    while i < bytes.len() {
        let (leaf, next) = match bytes[i] {
            b'{' | b'[' => {
                stack.push(Frame {
                    object: bytes[i] == b'{',
                    expect_key: bytes[i] == b'{',
                    ..Frame::default()
                });
                i += 1;
                continue;
            }
            b'}' | b']' => {
                let Some(frame) = stack.pop() else { return false };
                let illegal = if frame.placeholder {
                    !frame.num.is_some_and(|n| n >= 0.0 && n < attachments as f64)
                } else {
                    frame.illegal
                };
                (Leaf { kind: Kind::Other, illegal }, i + 1)
            }
            b'"' => {
                let end = string_end(bytes, i + 1);
                if let Some(frame) = stack.last_mut().filter(|f| f.object && f.expect_key) {
                    frame.key = classify_key(json.get(i + 1..end.saturating_sub(1)).unwrap_or(""));
                    frame.expect_key = false;
                    i = end;
                    continue;
                }
                (Leaf { kind: Kind::Other, illegal: false }, end)
            }
            b',' => {
                if let Some(frame) = stack.last_mut() {
                    frame.expect_key = frame.object;
                }
                i += 1;
                continue;
            }
            b't' | b'f' | b'n' | b'-' | b'0'..=b'9' => {
                let end = i + bytes[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || b"+-.".contains(c))
                    .count();
                let text = json.get(i..end).unwrap_or("");
                let kind = match text {
                    "true" => Kind::True,
                    _ => text.parse::<f64>().map_or(Kind::Other, Kind::Number),
                };
                (Leaf { kind, illegal: false }, end)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        match stack.last_mut() {
            Some(frame) => frame.take(leaf),
            None => top_illegal |= leaf.illegal,
        }
        i = next;
    }
    stack.is_empty() && !top_illegal
}

#[derive(Default)]
struct Frame {
    object: bool,
    expect_key: bool,
    key: Key,
    placeholder: bool,
    num: Option<f64>,
    illegal: bool,
}

#[derive(Default, Clone, Copy, PartialEq)]
enum Key {
    #[default]
    Other,
    Placeholder,
    Num,
}

#[derive(Clone, Copy)]
enum Kind {
    True,
    Number(f64),
    Other,
}

struct Leaf {
    kind: Kind,
    illegal: bool,
}

impl Frame {
    /// Records a completed member. Later duplicates of a key win, as in `JSON.parse`.
    fn take(&mut self, leaf: Leaf) {
        if self.object {
            match self.key {
                Key::Placeholder => self.placeholder = matches!(leaf.kind, Kind::True),
                Key::Num => self.num = if let Kind::Number(n) = leaf.kind { Some(n) } else { None },
                Key::Other => {}
            }
        }
        self.illegal |= leaf.illegal;
    }
}

/// The index just past the closing quote of the string whose content starts at `from`.
fn string_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn classify_key(inner: &str) -> Key {
    let unescaped;
    let key = if inner.contains('\\') {
        unescaped = json::unescape(inner);
        unescaped.as_str()
    } else {
        inner
    };
    match key {
        "_placeholder" => Key::Placeholder,
        "num" => Key::Num,
        _ => Key::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bin(b: &'static [u8]) -> Value {
        Value::Binary(Bytes::from_static(b))
    }

    fn obj(fields: Vec<(&str, Value)>) -> Value {
        Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    #[test]
    fn deconstructs_depth_first_as_node() {
        let args = vec![
            Value::from("hello"),
            bin(b"\x01"),
            obj(vec![("a", Value::Array(vec![bin(b"\x02"), Value::Null])), ("b", bin(b"\x03"))]),
            Value::from(1.0),
            Value::from(1e21),
            Value::from(-7i64),
            Value::from(f64::NAN),
            Value::from("é\"\n"),
        ];
        let (mut json, mut buffers) = (String::new(), Vec::new());
        deconstruct(&args, &mut json, &mut buffers);
        assert_eq!(
            json,
            concat!(
                r#"["hello",{"_placeholder":true,"num":0},"#,
                r#"{"a":[{"_placeholder":true,"num":1},null],"b":{"_placeholder":true,"num":2}},"#,
                r#"1,1e+21,-7,null,"é\"\n"]"#
            )
        );
        assert_eq!(buffers, [&b"\x01"[..], b"\x02", b"\x03"]);
    }

    #[test]
    fn reconstructs_placeholders() {
        let bufs = [Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        let v = reconstruct(
            r#"["x",{"_placeholder":true,"num":1},{"k":[{"num":0,"_placeholder":true}]}]"#,
            &bufs,
        );
        let want =
            Value::Array(vec![Value::from("x"), bin(b"b"), obj(vec![("k", Value::Array(vec![bin(b"a")]))])]);
        assert_eq!(v, Ok(want));
        // A plain object that merely looks similar stays as it is.
        let v = reconstruct(r#"[{"_placeholder":"true","num":0}]"#, &bufs).unwrap();
        assert_eq!(v.as_array().unwrap()[0].get("_placeholder"), Some(&Value::from("true")));
        // In range but not an integer: `buffers[0.5]` is undefined in Node.
        assert_eq!(
            reconstruct(r#"[{"_placeholder":true,"num":0.5}]"#, &bufs),
            Ok(Value::Array(vec![Value::Null]))
        );
        assert_eq!(
            reconstruct(r#"[{"_placeholder":true,"num":2}]"#, &bufs),
            Err(ParseError::IllegalPlaceholder)
        );
        assert_eq!(
            reconstruct(r#"[{"_placeholder":true,"num":"0"}]"#, &bufs),
            Err(ParseError::IllegalPlaceholder)
        );
        assert_eq!(reconstruct(r#"[{"_placeholder":true}]"#, &bufs), Err(ParseError::IllegalPlaceholder));
        assert_eq!(reconstruct("[", &bufs), Err(ParseError::InvalidPayload));
    }

    #[test]
    fn placeholder_scan_table() {
        let table: &[(&str, usize, bool)] = &[
            (r#"["a",{"_placeholder":true,"num":0}]"#, 1, true),
            (r#"["a",{"_placeholder":true,"num":0}]"#, 0, false),
            (r#"["a",{"_placeholder":true,"num":-1}]"#, 3, false),
            (r#"["a",{"_placeholder":true,"num":1.5}]"#, 2, true),
            (r#"["a",{"_placeholder":true,"num":1e400}]"#, 2, false),
            (r#"["a",{"_placeholder":true,"num":"0"}]"#, 1, false),
            (r#"["a",{"_placeholder":true}]"#, 1, false),
            (r#"["a",{"_placeholder":false,"num":9}]"#, 1, true),
            (r#"["a",{"_placeholder":true,"_placeholder":false,"num":9}]"#, 1, true),
            (r#"["a",{"_placeholder":false,"_placeholder":true,"num":9}]"#, 1, false),
            (r#"["a",{"_placeholder":true,"num":9,"num":0}]"#, 1, true),
            (r#"["a",{"_place\u0068older":true,"num":9}]"#, 1, false),
            (r#"["a",{"x":{"_placeholder":true,"num":9},"_placeholder":true,"num":0}]"#, 1, true),
            (r#"["a",{"x":{"_placeholder":true,"num":9}}]"#, 1, false),
            (r#"["a",{"_placeholder":{"_placeholder":true,"num":9}}]"#, 1, false),
            (r#"["_placeholder",true,"num",9]"#, 0, true),
            (r#"{"s":"\"{\"_placeholder\":true,\"num\":9}"}"#, 0, true),
            (r#" [ { "_placeholder" : true , "num" : 0 } ] "#, 1, true),
        ];
        for &(json, n, want) in table {
            assert_eq!(placeholders_valid(json, n), want, "{json} with {n}");
            let bufs = vec![Bytes::new(); n];
            assert_eq!(reconstruct(json, &bufs).is_ok(), want, "reconstruct {json} with {n}");
        }
    }

    fn value_tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            // JSON.parse reads numbers as doubles: beyond 2^53 an integer does not come back.
            (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
            (0u64..(1u64 << 53)).prop_map(Value::from),
            any::<f64>().prop_filter("fraction", |f| f.is_finite() && f.fract() != 0.0).prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("[a-z]{0,4}", inner), 0..6)
                    .prop_map(|fields| Value::Object(unique(fields))),
            ]
        })
    }

    /// The first of each key: an object as `JSON.parse` can make it (no key twice).
    fn unique<T>(fields: Vec<(String, T)>) -> Vec<(String, T)> {
        let mut seen = std::collections::HashSet::new();
        fields.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect()
    }

    fn placeholder_json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            (-2i32..5).prop_map(|n| format!(r#"{{"_placeholder":true,"num":{n}}}"#)),
            Just(r#"{"_placeholder":false,"num":7}"#.to_owned()),
            Just(r#"{"num":1,"_placeholder":true}"#.to_owned()),
            Just("1".to_owned()),
            Just(r#""_placeholder""#.to_owned()),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec(("[a-z_]{1,3}", inner), 0..4).prop_map(|v| {
                    let fields: Vec<String> =
                        unique(v).into_iter().map(|(k, x)| format!("\"{k}\":{x}")).collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn deconstruct_then_reconstruct(args in proptest::collection::vec(value_tree(), 0..4)) {
            let (mut json, mut buffers) = (String::new(), Vec::new());
            deconstruct(&args, &mut json, &mut buffers);
            prop_assert!(placeholders_valid(&json, buffers.len()));
            prop_assert_eq!(reconstruct(&json, &buffers), Ok(Value::Array(args)));
        }

        #[test]
        fn scan_agrees_with_reconstruct(json in placeholder_json(), n in 0usize..4) {
            let bufs = vec![Bytes::new(); n];
            prop_assert_eq!(placeholders_valid(&json, n), reconstruct(&json, &bufs).is_ok(), "{}", json);
        }

        #[test]
        fn scan_never_panics(s in any::<String>(), n in 0usize..3) {
            let _ = placeholders_valid(&s, n);
            let _ = reconstruct(&s, &[]);
        }
    }
}
