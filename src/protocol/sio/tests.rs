//! Exact-bytes tables for both directions and both protocol versions, and round trips.

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use proptest::prelude::*;

use super::*;
use crate::protocol::value::{Value, write_json};

fn decode(s: &str, version: SioVersion) -> Result<Packet, ParseError> {
    Packet::decode(ByteString::from(s), version, &DecodeOptions::default())
}

fn packet(kind: PacketKind, nsp: &str, id: Option<u64>, attachments: usize, data: Option<&str>) -> Packet {
    Packet { kind, nsp: nsp.into(), query: None, id, attachments, data: data.map(ByteString::from) }
}

fn encoded(p: &Packet) -> String {
    let mut out = BytesMut::new();
    p.encode(&mut out);
    assert_eq!(&out[..], p.to_text().as_bytes(), "encode and to_text agree");
    String::from_utf8(out.to_vec()).unwrap()
}

use PacketKind::*;

/// Canonical texts: they decode to the packet, and the packet encodes back to them.
#[test]
fn canonical_packets_both_ways() {
    let table: &[(&str, Packet)] = &[
        ("0", packet(Connect, "/", None, 0, None)),
        (r#"0{"token":"abc"}"#, packet(Connect, "/", None, 0, Some(r#"{"token":"abc"}"#))),
        (r#"0/admin,{"token":"abc"}"#, packet(Connect, "/admin", None, 0, Some(r#"{"token":"abc"}"#))),
        (
            r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
            packet(Connect, "/", None, 0, Some(r#"{"sid":"wZX3oN0bSVIhsaknAAAI"}"#)),
        ),
        ("0/admin,", packet(Connect, "/admin", None, 0, None)),
        ("1", packet(Disconnect, "/", None, 0, None)),
        ("1/admin,", packet(Disconnect, "/admin", None, 0, None)),
        (r#"2["hello",1]"#, packet(Event, "/", None, 0, Some(r#"["hello",1]"#))),
        (r#"212["foo"]"#, packet(Event, "/", Some(12), 0, Some(r#"["foo"]"#))),
        (
            r#"2/admin,456["project:delete",123]"#,
            packet(Event, "/admin", Some(456), 0, Some(r#"["project:delete",123]"#)),
        ),
        (r#"3/admin,456[]"#, packet(Ack, "/admin", Some(456), 0, Some("[]"))),
        (r#"3/admin,13["bar"]"#, packet(Ack, "/admin", Some(13), 0, Some(r#"["bar"]"#))),
        (
            r#"4{"message":"Not authorized"}"#,
            packet(ConnectError, "/", None, 0, Some(r#"{"message":"Not authorized"}"#)),
        ),
        (
            r#"4/admin,{"message":"Invalid namespace"}"#,
            packet(ConnectError, "/admin", None, 0, Some(r#"{"message":"Invalid namespace"}"#)),
        ),
        (r#"4"Not authorized""#, packet(ConnectError, "/", None, 0, Some(r#""Not authorized""#))),
        (
            r#"51-["hello",{"_placeholder":true,"num":0}]"#,
            packet(BinaryEvent, "/", None, 1, Some(r#"["hello",{"_placeholder":true,"num":0}]"#)),
        ),
        (
            r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            packet(
                BinaryEvent,
                "/admin",
                None,
                2,
                Some(r#"["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            ),
        ),
        (
            r#"61-/admin,456[{"_placeholder":true,"num":0}]"#,
            packet(BinaryAck, "/admin", Some(456), 1, Some(r#"[{"_placeholder":true,"num":0}]"#)),
        ),
        (
            r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
            packet(BinaryAck, "/", Some(15), 1, Some(r#"["bar",{"_placeholder":true,"num":0}]"#)),
        ),
        ("2[\"caf\\u00e9\\\"\",1]", packet(Event, "/", None, 0, Some("[\"caf\\u00e9\\\"\",1]"))),
        ("2/ñs,[\"événement\",\"😀\"]", packet(Event, "/ñs", None, 0, Some("[\"événement\",\"😀\"]"))),
        ("2[7,\"x\"]", packet(Event, "/", None, 0, Some("[7,\"x\"]"))),
    ];
    for (wire, want) in table {
        for version in [SioVersion::V5, SioVersion::V4] {
            assert_eq!(decode(wire, version).as_ref(), Ok(want), "decode {wire} {version:?}");
        }
        assert_eq!(encoded(want), *wire);
    }
}

#[test]
fn v4_namespace_carries_the_query() {
    for wire in ["0/admin?token=abc", "0/admin?token=abc,"] {
        let p = decode(wire, SioVersion::V4).unwrap();
        assert_eq!((&*p.nsp, p.query.as_deref()), ("/admin", Some("token=abc")), "{wire}");
        assert_eq!(p.auth_json().as_deref(), Some(r#"{"token":"abc"}"#));
        assert_eq!(encoded(&p), "0/admin?token=abc,");
        // v5 has no such convention: the whole text is the namespace.
        assert_eq!(&*decode(wire, SioVersion::V5).unwrap().nsp, "/admin?token=abc");
    }
    // Node parses every v4 namespace as a URL, whatever the packet type.
    let p = decode(r#"2/chat?x=1,["a"]"#, SioVersion::V4).unwrap();
    assert_eq!((&*p.nsp, p.query.as_deref()), ("/chat", Some("x=1")));
    assert_eq!(decode("0", SioVersion::V4).unwrap().auth_json(), None);
    let v5 = decode(r#"0/admin,{"token":"abc"}"#, SioVersion::V5).unwrap();
    assert_eq!(v5.auth_json().as_deref(), Some(r#"{"token":"abc"}"#));
}

/// Texts Node accepts in a non-canonical form, and what it makes of them.
#[test]
fn lenient_forms_as_node() {
    let table: &[(&str, Packet)] = &[
        // `Number("") === 0`, `Number(" ") === 0`.
        ("", packet(Connect, "/", None, 0, None)),
        (" {}", packet(Connect, "/", None, 0, Some("{}"))),
        // Spaces count as id characters: `Number(" ")` is 0, `Number(" 12 ")` is 12.
        (r#"2 ["a"]"#, packet(Event, "/", Some(0), 0, Some(r#"["a"]"#))),
        (r#"2 12 ["a"]"#, packet(Event, "/", Some(12), 0, Some(r#"["a"]"#))),
        (r#"2007["a"]"#, packet(Event, "/", Some(7), 0, Some(r#"["a"]"#))),
        ("2\n[\"a\"] \r\n", packet(Event, "/", Some(0), 0, Some(r#"["a"]"#))),
        // An event without data is let through (emitted as `undefined`).
        ("2", packet(Event, "/", None, 0, None)),
        ("3/admin,7", packet(Ack, "/admin", Some(7), 0, None)),
        // No comma: the namespace runs to the end.
        (r#"2/admin["a"]"#, packet(Event, r#"/admin["a"]"#, None, 0, None)),
        // The attachment count is `Number()` of the text before the first `-`.
        (r#"5 1 -["a"]"#, packet(BinaryEvent, "/", None, 1, Some(r#"["a"]"#))),
        (r#"50x2-["a"]"#, packet(BinaryEvent, "/", None, 2, Some(r#"["a"]"#))),
        (r#"51e1-["a"]"#, packet(BinaryEvent, "/", None, 10, Some(r#"["a"]"#))),
        (r#"51.0-["a"]"#, packet(BinaryEvent, "/", None, 1, Some(r#"["a"]"#))),
        // `42{}` is CONNECT_ERROR with ack id 2 (Node then closes: a client may not send it).
        ("42{}", packet(ConnectError, "/", Some(2), 0, Some("{}"))),
        // Lone surrogates and huge numbers are valid for `JSON.parse`.
        (r#"2["\ud800",1e400]"#, packet(Event, "/", None, 0, Some(r#"["\ud800",1e400]"#))),
        (r#"2[1e400]"#, packet(Event, "/", None, 0, Some("[1e400]"))),
    ];
    for (wire, want) in table {
        assert_eq!(decode(wire, SioVersion::V5).as_ref(), Ok(want), "{wire:?}");
    }
}

#[test]
fn malformed_packets() {
    use ParseError::*;
    let table: &[(&str, ParseError)] = &[
        ("7", UnknownType(b'7')),
        ("9[]", UnknownType(b'9')),
        ("x", UnknownType(b'x')),
        ("é", UnknownType(0xc3)),
        ("😀", UnknownType(0xf0)),
        ("4abc", InvalidPayload),
        ("2{}", InvalidPayload),
        (r#"2abc["a"]"#, InvalidPayload),
        (r#"42abc["a"]"#, InvalidPayload),
        ("2[]", InvalidPayload),
        ("2[null]", InvalidPayload),
        ("2[{}]", InvalidPayload),
        (r#"2["a""#, InvalidPayload),
        (r#"2["a"]x"#, InvalidPayload),
        (r#"2"a""#, InvalidPayload),
        (r#"2["connect"]"#, ReservedEventName),
        (r#"2["connect_error",1]"#, ReservedEventName),
        (r#"2["disconnect"]"#, ReservedEventName),
        (r#"2["disconnecting"]"#, ReservedEventName),
        (r#"2["newListener"]"#, ReservedEventName),
        (r#"2/admin,1["removeListener"]"#, ReservedEventName),
        (r#"2["\u0063onnect"]"#, ReservedEventName),
        (r#"51["a"]"#, IllegalAttachments),
        // At least one attachment: an empty or zero count is refused.
        (r#"5-["a"]"#, IllegalAttachments),
        (r#"50-["a"]"#, IllegalAttachments),
        (r#"60-7[]"#, IllegalAttachments),
        (r#"5x-["a"]"#, IllegalAttachments),
        (r#"51.5-["a"]"#, IllegalAttachments),
        (r#"5Infinity-["a"]"#, IllegalAttachments),
        ("5", IllegalAttachments),
        (r#"511-["a"]"#, TooManyAttachments),
        (r#"51e9-["a"]"#, TooManyAttachments),
        (r#"5["connect"]"#, IllegalAttachments),
        (r#"51-["connect"]"#, ReservedEventName),
        (r#"51-{}"#, InvalidPayload),
        ("6", IllegalAttachments),
        ("61-{}", InvalidPayload),
        ("3{}", InvalidPayload),
        (r#"3"a""#, InvalidPayload),
        ("0[]", InvalidPayload),
        (r#"0"x""#, InvalidPayload),
        ("0null", InvalidPayload),
        ("1{}", InvalidPayload),
        ("1/admin,{}", InvalidPayload),
        ("1x", InvalidPayload),
        ("4[]", InvalidPayload),
        ("4 1 2\"a\"", InvalidAckId),
        (r#"2 1 2["a"]"#, InvalidAckId),
        (r#"218446744073709551616["a"]"#, InvalidAckId),
    ];
    for (wire, want) in table {
        assert_eq!(decode(wire, SioVersion::V5), Err(*want), "{wire:?}");
        assert_eq!(decode(wire, SioVersion::V4), Err(*want), "v4 {wire:?}");
    }
    assert_eq!(decode(r#"218446744073709551615["a"]"#, SioVersion::V5).unwrap().id, Some(u64::MAX));
    let opts = DecodeOptions { max_attachments: 100 };
    assert!(Packet::decode(r#"550-["a"]"#.into(), SioVersion::V5, &opts).is_ok());
    assert_eq!(
        Packet::decode_bytes(Bytes::from_static(b"2[\"\xff\"]"), SioVersion::V5, &opts),
        Err(InvalidUtf8)
    );
}

/// What the server sends, built by the constructors.
#[test]
fn server_packets_exact_bytes() {
    use SioVersion::{V4, V5};
    let none: &[&str] = &[];
    let table: Vec<(Packet, &str)> = vec![
        (Packet::connect_ok("/", "abc", None), r#"0{"sid":"abc"}"#),
        (Packet::connect_ok("/admin", "abc", Some("x\"y")), r#"0/admin,{"sid":"abc","pid":"x\"y"}"#),
        (Packet::connect_ack(V5, "/", "s", None), r#"0{"sid":"s"}"#),
        (Packet::connect_v4("/"), "0"),
        (Packet::connect_v4("/admin"), "0/admin,"),
        (Packet::connect_ack(V4, "/admin", "s", None), "0/admin,"),
        (Packet::connect_error("/", "Not authorized", None, V5), r#"4{"message":"Not authorized"}"#),
        (
            Packet::connect_error("/admin", "Invalid namespace", None, V5),
            r#"4/admin,{"message":"Invalid namespace"}"#,
        ),
        (
            Packet::connect_error("/", "Not authorized", Some(r#"{"code":1}"#), V5),
            r#"4{"message":"Not authorized","data":{"code":1}}"#,
        ),
        (Packet::connect_error("/", "m", Some("null"), V5), r#"4{"message":"m","data":null}"#),
        (Packet::connect_error("/", "Not authorized", None, V4), r#"4"Not authorized""#),
        (Packet::connect_error("/admin", "m", Some(r#"{"code":1}"#), V4), r#"4/admin,{"code":1}"#),
        (Packet::connect_error("/", "m", Some("null"), V4), r#"4"m""#),
        (Packet::connect_error("/", "m", Some("0.0"), V4), r#"4"m""#),
        (Packet::connect_error("/", "m", Some(r#""""#), V4), r#"4"m""#),
        (Packet::connect_error("/", "m", Some("false"), V4), r#"4"m""#),
        (Packet::connect_error("/", "m", Some("[]"), V4), "4[]"),
        (Packet::connect_error("/", "m", Some("\"x\""), V4), "4\"x\""),
        (Packet::disconnect("/"), "1"),
        (Packet::disconnect("/admin"), "1/admin,"),
        (Packet::new_event("/", "hello", &["1"], None), r#"2["hello",1]"#),
        (Packet::new_event("/", "hey", &[r#""Jude""#], None), r#"2["hey","Jude"]"#),
        (
            Packet::new_event("/admin", "project:delete", &["123"], Some(456)),
            r#"2/admin,456["project:delete",123]"#,
        ),
        (Packet::new_event("/", "a\"b\n\u{1}", none, None), r#"2["a\"b\n\u0001"]"#),
        (Packet::new_event("/", "café 😀", none, Some(0)), r#"20["café 😀"]"#),
        (Packet::new_ack("/admin", 456, none), "3/admin,456[]"),
        (Packet::new_ack("/", 12, &[r#""bar""#, "{}"]), r#"312["bar",{}]"#),
        (
            Packet::new_binary_event("/", "hello", &[r#"{"_placeholder":true,"num":0}"#], 1, None),
            r#"51-["hello",{"_placeholder":true,"num":0}]"#,
        ),
        (
            Packet::new_binary_ack("/admin", 456, &[r#"{"_placeholder":true,"num":0}"#], 1),
            r#"61-/admin,456[{"_placeholder":true,"num":0}]"#,
        ),
    ];
    for (p, want) in &table {
        assert_eq!(encoded(p), *want);
    }
}

#[test]
fn value_packets_switch_to_binary() {
    let buf = Bytes::from_static(&[1, 2, 3, 4]);
    let (p, bufs) = Packet::event_values("/", "hello", &[Value::Binary(buf.clone())], None);
    assert_eq!(encoded(&p), r#"51-["hello",{"_placeholder":true,"num":0}]"#);
    assert_eq!(bufs, std::slice::from_ref(&buf));
    let (p, bufs) = Packet::ack_values("/admin", 456, &[Value::Binary(buf.clone())]);
    assert_eq!(encoded(&p), r#"61-/admin,456[{"_placeholder":true,"num":0}]"#);
    assert_eq!(bufs, [buf]);
    let (p, bufs) = Packet::event_values("/", "x", &[Value::from(1.0), Value::from("s")], Some(3));
    assert_eq!((encoded(&p), bufs.len(), p.kind), (r#"23["x",1,"s"]"#.to_owned(), 0, Event));
    let (p, _) = Packet::ack_values("/", 1, &[]);
    assert_eq!(encoded(&p), "31[]");
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..4).prop_map(Value::Object),
        ]
    })
}

fn to_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out, &mut Vec::new());
    out
}

fn array_json(first: Option<Value>) -> impl Strategy<Value = String> {
    proptest::collection::vec(json_value(), 0..4).prop_map(move |rest| {
        let items: Vec<Value> = first.clone().into_iter().chain(rest).collect();
        to_json(&Value::Array(items))
    })
}

fn data_for(kind: PacketKind) -> BoxedStrategy<Option<String>> {
    let object = proptest::collection::vec((any::<String>(), json_value()), 0..4)
        .prop_map(|fields| to_json(&Value::Object(fields)));
    let name = prop_oneof![
        "[a-z:_ é]{0,10}"
            .prop_filter("not reserved", |n| !n.starts_with("connect") && !n.starts_with("disconnect"))
            .prop_map(Value::String),
        any::<i32>().prop_map(Value::from),
    ];
    match kind {
        Connect => proptest::option::of(object).boxed(),
        Disconnect => Just(None).boxed(),
        ConnectError => proptest::option::of(prop_oneof![
            object,
            any::<String>().prop_map(|s| to_json(&Value::String(s)))
        ])
        .boxed(),
        Event | BinaryEvent => proptest::option::of(name.prop_flat_map(|n| array_json(Some(n)))).boxed(),
        Ack | BinaryAck => proptest::option::of(array_json(None)).boxed(),
    }
}

fn any_packet(version: SioVersion) -> impl Strategy<Value = Packet> {
    let kind = proptest::sample::select(PacketKind::ALL.to_vec());
    (
        kind,
        "/|/[a-z0-9_.-]{1,8}",
        proptest::option::of("[a-z=&%]{0,8}"),
        proptest::option::of(any::<u64>()),
        // A binary packet has one attachment at least.
        1usize..=10,
    )
        .prop_flat_map(move |(kind, nsp, query, id, n)| {
            let query = if version == SioVersion::V4 { query } else { None };
            data_for(kind).prop_map(move |data| Packet {
                kind,
                nsp: nsp.as_str().into(),
                query: query.as_deref().map(ByteString::from),
                id,
                attachments: if kind.is_binary() { n } else { 0 },
                data: data.map(ByteString::from),
            })
        })
}

proptest! {
    #[test]
    fn round_trip_v5(p in any_packet(SioVersion::V5)) {
        prop_assert_eq!(decode(&encoded(&p), SioVersion::V5), Ok(p));
    }

    #[test]
    fn round_trip_v4(p in any_packet(SioVersion::V4)) {
        prop_assert_eq!(decode(&encoded(&p), SioVersion::V4), Ok(p));
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        for version in [SioVersion::V5, SioVersion::V4] {
            if let Ok(p) = decode(&s, version) {
                let _ = (p.event(), p.ack_args(), p.auth_json(), encoded(&p));
            }
        }
    }

    #[test]
    fn wire_like_text_never_panics(s in "[0-9/,\\-\\[\\]{}\"a-z ?#:.e+_\\\\]{0,40}") {
        for version in [SioVersion::V5, SioVersion::V4] {
            if let Ok(p) = decode(&s, version) {
                let _ = (p.event(), p.ack_args(), p.auth_json(), encoded(&p));
            }
        }
    }
}
