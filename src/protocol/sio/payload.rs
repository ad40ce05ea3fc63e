//! The JSON part of a packet: what each type may carry (socket.io-parser `isPayloadValid`), and
//! reading an event's name and arguments out of it as slices.
//!
//! Validation uses serde_json's skipping parser, which checks the syntax as `JSON.parse` does
//! (lone surrogates and out-of-range numbers included) without building anything.

use std::fmt;

use bytestring::ByteString;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{Packet, PacketKind, ParseError, v4};
use crate::protocol::value::{JsonError, from_json_args, json, number};

/// Event names that a client may not emit: they mean something to Socket.IO or Node itself.
pub(super) const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

/// An EVENT's name and arguments, as slices of the packet's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRef {
    /// The name as Node's event emitter keys it: the string, or a number's JS text (`1.0` → `1`).
    pub name: ByteString,
    /// Each argument's raw JSON (binary arguments are still placeholders here).
    pub args: Vec<ByteString>,
}

impl EventRef {
    /// Deserializes the arguments as one array: `let (a, b): (String, u32) = ev.deserialize_args()?`.
    pub fn deserialize_args<T: serde::de::DeserializeOwned>(&self) -> Result<T, JsonError> {
        from_json_args(&self.args)
    }
}

impl Packet {
    /// For EVENT / BINARY_EVENT with data: the name and the arguments. An EVENT without data
    /// (which Node lets through and emits as `undefined`) has none.
    pub fn event(&self) -> Option<EventRef> {
        if !matches!(self.kind, PacketKind::Event | PacketKind::BinaryEvent) {
            return None;
        }
        let data = self.data.as_ref()?;
        let mut items = raw_items(data)?;
        if items.is_empty() {
            return None;
        }
        let first = items.remove(0);
        Some(EventRef { name: event_name(&first)?, args: items })
    }

    /// For ACK / BINARY_ACK: the arguments' raw JSON (none when the ack has no data).
    pub fn ack_args(&self) -> Option<Vec<ByteString>> {
        if !matches!(self.kind, PacketKind::Ack | PacketKind::BinaryAck) {
            return None;
        }
        match &self.data {
            None => Some(Vec::new()),
            Some(data) => raw_items(data),
        }
    }

    /// A CONNECT's auth payload as JSON: the data (v5), or the namespace's query as an object
    /// of strings (v4, Node's `Object.fromEntries(url.searchParams)`). `None` means `{}`.
    pub fn auth_json(&self) -> Option<ByteString> {
        if self.kind != PacketKind::Connect {
            return None;
        }
        match &self.query {
            Some(q) => Some(v4::query_to_json(q).into()),
            None => self.data.clone(),
        }
    }
}

/// Checks `json` against what `kind` may carry; returns it trimmed of JSON whitespace.
pub(super) fn validate(kind: PacketKind, json: &str) -> Result<&str, ParseError> {
    let trimmed = json.trim_matches([' ', '\t', '\n', '\r']);
    let first = trimmed.as_bytes().first().copied();
    match kind {
        PacketKind::Disconnect => return Err(ParseError::InvalidPayload),
        PacketKind::Event | PacketKind::BinaryEvent => {
            let head = serde_json::from_str::<EventHead>(json).map_err(|_| ParseError::InvalidPayload)?;
            check_event_name(head.0)?;
            return Ok(trimmed);
        }
        PacketKind::Connect => check_shape(first == Some(b'{'))?,
        PacketKind::ConnectError => check_shape(matches!(first, Some(b'{' | b'"')))?,
        PacketKind::Ack | PacketKind::BinaryAck => check_shape(first == Some(b'['))?,
    }
    serde_json::from_str::<IgnoredAny>(json).map_err(|_| ParseError::InvalidPayload)?;
    Ok(trimmed)
}

fn check_shape(ok: bool) -> Result<(), ParseError> {
    if ok { Ok(()) } else { Err(ParseError::InvalidPayload) }
}

/// `typeof data[0] === "number"`, or a string outside [`RESERVED_EVENTS`].
fn check_event_name(first: Option<&RawValue>) -> Result<(), ParseError> {
    let raw = first.ok_or(ParseError::InvalidPayload)?.get();
    match raw.as_bytes().first() {
        Some(b'"') => {
            let inner = raw.get(1..raw.len() - 1).unwrap_or("");
            let reserved = if inner.contains('\\') {
                RESERVED_EVENTS.contains(&json::unescape(inner).as_str())
            } else {
                RESERVED_EVENTS.contains(&inner)
            };
            if reserved { Err(ParseError::ReservedEventName) } else { Ok(()) }
        }
        Some(b'-' | b'0'..=b'9') => Ok(()),
        _ => Err(ParseError::InvalidPayload),
    }
}

/// The name from the first element's raw JSON: a string (a slice when it has no escapes), or a
/// number printed as JS prints it.
fn event_name(raw: &ByteString) -> Option<ByteString> {
    match raw.as_bytes().first()? {
        b'"' => {
            let inner = raw.get(1..raw.len().checked_sub(1)?)?;
            Some(if inner.contains('\\') { json::unescape(inner).into() } else { raw.slice_ref(inner) })
        }
        b'-' | b'0'..=b'9' => {
            let mut out = String::new();
            number::write(raw.parse::<f64>().ok()?, &mut out);
            Some(out.into())
        }
        _ => None,
    }
}

/// A JSON array's elements as slices of `data`; `None` when `data` is not an array.
fn raw_items(data: &ByteString) -> Option<Vec<ByteString>> {
    let mut de = serde_json::Deserializer::from_str(data);
    let items = RawItems(data).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(items)
}

/// Reads the first element of an array raw and skips the rest.
struct EventHead<'a>(Option<&'a RawValue>);

impl<'de> de::Deserialize<'de> for EventHead<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeadVisitor;
        impl<'de> Visitor<'de> for HeadVisitor {
            type Value = EventHead<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<&RawValue>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(EventHead(first))
            }
        }
        d.deserialize_seq(HeadVisitor)
    }
}

/// Collects an array's elements as slices of the text being parsed.
struct RawItems<'s>(&'s ByteString);

impl<'de> DeserializeSeed<'de> for RawItems<'_> {
    type Value = Vec<ByteString>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RawItems<'_> {
    type Value = Vec<ByteString>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while let Some(raw) = seq.next_element::<&RawValue>()? {
            items.push(self.0.slice_ref(raw.get()));
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::sio::{DecodeOptions, SioVersion};

    fn decode(s: &str) -> Packet {
        Packet::decode(ByteString::from(s), SioVersion::V5, &DecodeOptions::default()).unwrap()
    }

    fn event(s: &str) -> Option<(String, Vec<String>)> {
        decode(s).event().map(|e| (e.name.to_string(), e.args.iter().map(|a| a.to_string()).collect()))
    }

    #[test]
    fn event_name_and_args_as_slices() {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(event(r#"2["hello",1]"#), Some(("hello".into(), owned(&["1"]))));
        assert_eq!(
            event(r#"2/admin,4[ "a" , {"k": [1, 2]} ,"s" ]"#),
            Some(("a".into(), owned(&[r#"{"k": [1, 2]}"#, r#""s""#])))
        );
        assert_eq!(event("2[\"caf\\u00e9\\n\"]"), Some(("café\n".into(), vec![])));
        assert_eq!(event(r#"2["événement 😀"]"#), Some(("événement 😀".into(), vec![])));
        assert_eq!(event(r#"2["\ud800"]"#), Some(("\u{fffd}".into(), vec![])));
        assert_eq!(event("2[1.0]"), Some(("1".into(), vec![])));
        assert_eq!(event("2[-0, 2]"), Some(("0".into(), owned(&["2"]))));
        assert_eq!(event("2[1e21]"), Some(("1e+21".into(), vec![])));
        assert_eq!(event("2[1e400]"), Some(("Infinity".into(), vec![])));
        assert_eq!(
            event(r#"51-["b",{"_placeholder":true,"num":0}]"#).unwrap().1,
            owned(&[r#"{"_placeholder":true,"num":0}"#])
        );
        assert_eq!(event("2"), None);
        assert_eq!(event(r#"3["a"]"#), None);

        // No escapes: the name and the arguments point into the received text.
        let text = ByteString::from(r#"2["hello","world"]"#);
        let p = Packet::decode(text.clone(), SioVersion::V5, &DecodeOptions::default()).unwrap();
        let ev = p.event().unwrap();
        let range = text.as_bytes().as_ptr_range();
        assert!(range.contains(&ev.name.as_bytes().as_ptr()));
        assert!(range.contains(&ev.args[0].as_bytes().as_ptr()));
    }

    #[test]
    fn deep_nesting_is_checked_without_recursion() {
        // serde_json skips values iteratively: any depth validates, as with `JSON.parse`; only
        // building a tree (`from_json`, `reconstruct`) stops at 128 levels.
        let deep = format!(r#"2["a",{}{}]"#, "[".repeat(100_000), "]".repeat(100_000));
        let ev = decode(&deep).event().unwrap();
        assert_eq!(ev.args.len(), 1);
        assert!(ev.deserialize_args::<(crate::protocol::value::Value,)>().is_err());
        let unbalanced = format!(r#"2["a",{}]"#, "[".repeat(100_000));
        assert!(Packet::decode(unbalanced.into(), SioVersion::V5, &DecodeOptions::default()).is_err());
    }

    #[test]
    fn ack_args_and_typed_args() {
        assert_eq!(decode(r#"3/admin,456[]"#).ack_args(), Some(vec![]));
        assert_eq!(decode("3/admin,456").ack_args(), Some(vec![]));
        let args = decode(r#"61-1["x",{"_placeholder":true,"num":0}]"#).ack_args().unwrap();
        assert_eq!(args.len(), 2);
        assert_eq!(decode(r#"2["a"]"#).ack_args(), None);
        let ev = decode(r#"2["move",{"x":1,"y":2},"fast"]"#).event().unwrap();
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct Point {
            x: i32,
            y: i32,
        }
        let (p, speed): (Point, String) = ev.deserialize_args().unwrap();
        assert_eq!((p, speed.as_str()), (Point { x: 1, y: 2 }, "fast"));
        assert!(ev.deserialize_args::<(u8,)>().is_err());
    }

    #[test]
    fn truthiness_of_raw_json() {
        use crate::protocol::sio::SioVersion::V4;
        for falsy in ["null", "false", "0", "-0", "0.0", "0e5", r#""""#, " 0 "] {
            assert_eq!(&*Packet::connect_error("/", "m", Some(falsy), V4).data.unwrap(), r#""m""#, "{falsy}");
        }
        for truthy in ["true", "1", "-1", "0.1", r#""0""#, "[]", "{}"] {
            assert_eq!(&*Packet::connect_error("/", "m", Some(truthy), V4).data.unwrap(), truthy);
        }
    }
}
