//! Expected bytes come from `fixtures.json`, written by `tests/js/msgpack_fixtures.mjs` with
//! socket.io-msgpack-parser 3.0.2 (notepack.io 2.2.0) from packet objects built in socket.io
//! 4.8's key order, and from packets as a client's encoder writes them.

use super::*;
use crate::protocol::msgpack::tests::hex;
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    static FIXTURES: &str = include_str!("fixtures.json");
    let all: serde_json::Map<String, serde_json::Value> = serde_json::from_str(FIXTURES).unwrap();
    hex(all[name].as_str().unwrap_or_else(|| panic!("no fixture {name}")))
}

fn values(json: &str) -> Vec<Value> {
    match value::from_json::<Value>(json).unwrap() {
        Value::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

fn v5() -> DecodeOptions {
    DecodeOptions::default()
}

const SID: &str = "AAAAAAAAAAAAAAAAAAAA";

#[test]
fn control_packets_as_node_writes_them() {
    assert_eq!(connect_ok("/", SID, None), fixture("connect_ok"));
    assert_eq!(connect_ok("/chat", SID, Some("BBBBBBBBBBBBBBBBBBBB")), fixture("connect_ok_pid"));
    let v4 = Packet::connect_v4("/admin");
    assert_eq!(encode(&v4, &[], Order::Socket).unwrap(), fixture("connect_v4"));
    assert_eq!(invalid_namespace("/nope"), fixture("invalid_namespace"));
    assert_eq!(connect_error("/", "not authorized", None), fixture("middleware_no_data"));
    let data = Some(r#"{"code":42,"why":["a",1.5]}"#);
    assert_eq!(connect_error("/", "not authorized", data), fixture("middleware_data"));
    assert_eq!(encode(&Packet::disconnect("/chat"), &[], Order::Socket).unwrap(), fixture("disconnect"));
}

#[test]
fn events_and_acks_as_node_writes_them() {
    let args = values(r#"[{"hello":"world","n":1,"f":2.5,"neg":-40,"big":4294967296,"t":true,"z":null}]"#);
    let (p, bufs) = Packet::event_values("/", "news", &args, None);
    assert_eq!(encode(&p, &bufs, Order::Socket).unwrap(), fixture("event"));
    assert_eq!(encode(&p, &bufs, Order::Broadcast).unwrap(), fixture("event"), "no id: one order");

    let p = Packet::new_event("/chat", "q", &["7"], Some(12));
    assert_eq!(encode(&p, &[], Order::Socket).unwrap(), fixture("event_with_ack"));
    assert_eq!(encode(&p, &[], Order::Broadcast).unwrap(), fixture("broadcast_with_ack"));

    let nested = Value::Object(vec![("nested".into(), Value::Array(vec![Value::from(vec![7u8; 300])]))]);
    let (p, bufs) = Packet::event_values("/", "up", &[Value::from(vec![1u8, 2, 3]), nested], None);
    assert_eq!(p.kind, PacketKind::BinaryEvent);
    assert_eq!(encode(&p, &bufs, Order::Socket).unwrap(), fixture("event_binary"));

    let args = [Value::from("x".repeat(300)), Value::from("\u{e9}\u{1F600}")];
    let (p, bufs) = Packet::event_values("/", "s", &args, None);
    assert_eq!(encode(&p, &bufs, Order::Socket).unwrap(), fixture("event_long_string"));

    let (p, bufs) = Packet::ack_values("/", 3, &[Value::from("ok"), Value::from(vec![9u8])]);
    assert_eq!(encode(&p, &bufs, Order::Socket).unwrap(), fixture("ack"));
    let p = Packet::new_ack::<&str>("/x", 300, &[]);
    assert_eq!(encode(&p, &[], Order::Broadcast).unwrap(), fixture("ack_empty"));
}

fn decoded(name: &str) -> Decoded {
    decode(&fixture(name), SioVersion::V5, &v5()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn data(d: &Decoded) -> Option<&str> {
    d.packet.data.as_deref()
}

#[test]
fn client_packets_read_into_the_json_form() {
    let d = decoded("c_connect");
    assert_eq!(
        (d.packet.kind, &*d.packet.nsp, data(&d), d.packet.id),
        (PacketKind::Connect, "/", None, None)
    );

    for name in ["c_connect_undefined", "c_disconnect_undefined"] {
        let d = decoded(name);
        assert_eq!((&*d.packet.nsp, data(&d), d.packet.id), ("/", None, None), "{name}: undefined is absent");
    }

    let d = decoded("c_connect_auth");
    assert_eq!((&*d.packet.nsp, data(&d)), ("/chat", Some(r#"{"token":"abc","n":3}"#)));

    let d = decoded("c_event_buffer");
    assert_eq!((d.packet.kind, d.packet.id, d.packet.attachments), (PacketKind::BinaryEvent, Some(5), 2));
    assert_eq!(
        data(&d),
        Some(r#"["up",{"deep":[{"_placeholder":true,"num":0}]},{"_placeholder":true,"num":1}]"#)
    );
    assert_eq!(d.attachments, [Bytes::from_static(&[1, 2]), Bytes::from_static(&[3])]);
    let event = d.packet.event().unwrap();
    assert_eq!((&*event.name, event.args.len()), ("up", 2));

    let d = decoded("c_event_arraybuffer");
    assert_eq!(data(&d), Some(r#"["ab",{"_placeholder":true,"num":0}]"#));
    assert_eq!(d.attachments, [Bytes::from_static(&[4, 5, 6])]);

    let d = decoded("c_event_undefined_date");
    assert_eq!(data(&d), Some(r#"["misc",null,"1970-01-01T00:00:00.000Z",2,-0.5]"#));
    assert_eq!(d.packet.kind, PacketKind::Event);

    let d = decoded("c_ack");
    assert_eq!((d.packet.kind, d.packet.id, data(&d)), (PacketKind::Ack, Some(0), Some(r#"["pong",1]"#)));

    let d = decoded("c_disconnect");
    assert_eq!((d.packet.kind, &*d.packet.nsp, data(&d)), (PacketKind::Disconnect, "/chat", None));
}

#[test]
fn v4_namespace_query_is_split() {
    // {type: 0, nsp: "/admin?token=abc"}
    let mut bytes = hex("82 a4 74797065 00 a3 6e7370");
    mp::write_str("/admin?token=abc", &mut bytes);
    let d = decode(&bytes, SioVersion::V4, &v5()).unwrap();
    assert_eq!((&*d.packet.nsp, d.packet.query.as_deref()), ("/admin", Some("token=abc")));
}

/// `{type, nsp: "/", data?, id?}` built from parts, for the refusal table.
fn packet(ty: &str, data: Option<&str>, id: Option<&str>) -> Vec<u8> {
    let n = 2 + usize::from(data.is_some()) + usize::from(id.is_some());
    let mut out = vec![0x80 | n as u8];
    out.extend(hex("a4 74797065"));
    out.extend(hex(ty));
    out.extend(hex("a3 6e7370 a1 2f"));
    if let Some(d) = data {
        out.extend(hex("a4 64617461"));
        out.extend(hex(d));
    }
    if let Some(id) = id {
        out.extend(hex("a2 6964"));
        out.extend(hex(id));
    }
    out
}

#[test]
fn what_check_packet_refuses() {
    use ParseError::*;
    let ev = "92 a1 65 01"; // ["e", 1]
    let cases: Vec<(&str, Vec<u8>, ParseError)> = vec![
        ("empty", vec![], InvalidMsgpack),
        ("not a map", hex("93 01 02 03"), InvalidMsgpack),
        ("nil", hex("c0"), InvalidMsgpack),
        ("trailing byte", [fixture("c_connect"), vec![0]].concat(), InvalidMsgpack),
        ("reserved marker", hex("c1"), InvalidMsgpack),
        ("type missing", hex("81 a3 6e7370 a1 2f"), InvalidPacketType),
        ("type 5", packet("05", Some(ev), None), InvalidPacketType),
        ("type -1", packet("ff", Some(ev), None), InvalidPacketType),
        ("type 2.5", packet("cb 4004000000000000", Some(ev), None), InvalidPacketType),
        ("type \"2\"", packet("a1 32", Some(ev), None), InvalidPacketType),
        ("nsp missing", hex("81 a4 74797065 00"), InvalidNamespace),
        ("nsp a number", hex("82 a4 74797065 00 a3 6e7370 01"), InvalidNamespace),
        ("event without data", packet("02", None, None), InvalidPayload),
        ("event data an object", packet("02", Some("80"), None), InvalidPayload),
        ("event with no name", packet("02", Some("90"), None), InvalidPayload),
        ("event named by null", packet("02", Some("91 c0"), None), InvalidPayload),
        ("reserved name", packet("02", Some("91 a7 636f6e6e656374"), None), ReservedEventName),
        ("ack data a string", packet("03", Some("a1 78"), Some("01")), InvalidPayload),
        ("connect data an array", packet("00", Some("90"), None), InvalidPayload),
        ("disconnect with data", packet("01", Some("80"), None), InvalidPayload),
        ("connect error data null", packet("04", Some("c0"), None), InvalidPayload),
        ("id nil", packet("02", Some(ev), Some("c0")), InvalidAckId),
        ("id a string", packet("02", Some(ev), Some("a1 31")), InvalidAckId),
        ("id negative", packet("02", Some(ev), Some("ff")), InvalidAckId),
        ("id 1.5", packet("02", Some(ev), Some("cb 3ff8000000000000")), InvalidAckId),
        ("str32 of 4 GiB announced", packet("02", Some("92 a1 65 db ffffffff"), None), InvalidMsgpack),
        ("array32 of 4G items announced", packet("02", Some("dd ffffffff"), None), InvalidMsgpack),
        ("map32 of 4G entries announced", hex("df ffffffff"), InvalidMsgpack),
        ("bin32 of 4 GiB announced", packet("02", Some("92 a1 65 c6 ffffffff"), None), InvalidMsgpack),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(decode(&bytes, SioVersion::V5, &v5()).err(), Some(want), "{what}");
    }
}

#[test]
fn deep_nesting_and_many_buffers_are_refused() {
    let mut deep = hex("92 a1 65");
    deep.extend(std::iter::repeat_n(0x91, 200));
    deep.push(0xc0);
    let bytes = packet("02", Some(&deep.iter().map(|b| format!("{b:02x}")).collect::<String>()), None);
    assert_eq!(decode(&bytes, SioVersion::V5, &v5()).err(), Some(ParseError::InvalidMsgpack));

    // ["e", <11 buffers>] against the default limit of 10.
    let mut many = String::from("9c a1 65");
    many.push_str(&" c4 01 00".repeat(11));
    let bytes = packet("02", Some(&many), None);
    assert_eq!(decode(&bytes, SioVersion::V5, &v5()).err(), Some(ParseError::TooManyAttachments));
    let loose = DecodeOptions { max_attachments: 11 };
    assert_eq!(decode(&bytes, SioVersion::V5, &loose).unwrap().attachments.len(), 11);
}

#[test]
fn every_truncation_is_refused() {
    for name in ["event_binary", "ack", "c_event_buffer", "c_connect_auth", "connect_ok_pid"] {
        let bytes = fixture(name);
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len], SioVersion::V5, &v5()).is_err(), "{name} cut at {len}");
        }
    }
}

#[test]
fn server_packets_read_back() {
    let args = values(r#"[{"a":[1,2.5,"x"]},null,true]"#);
    let mut args = args;
    args.push(Value::from(vec![1u8, 2]));
    let (p, bufs) = Packet::event_values("/chat", "ev", &args, Some(9));
    for order in [Order::Socket, Order::Broadcast] {
        let d = decode(&encode(&p, &bufs, order).unwrap(), SioVersion::V5, &v5()).unwrap();
        assert_eq!((d.packet, d.attachments), (p.clone(), bufs.clone()));
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes, SioVersion::V5, &v5());
        let _ = decode(&bytes, SioVersion::V4, &v5());
    }

    #[test]
    fn events_round_trip(name in "[a-z]{1,8}", n in any::<i32>(), s in "\\PC{0,40}", bin in proptest::collection::vec(any::<u8>(), 0..40), id in proptest::option::of(0u64..1 << 40)) {
        let args = [Value::from(n), Value::from(s), Value::Array(vec![Value::from(bin)])];
        let (p, bufs) = Packet::event_values("/", &name, &args, id);
        let d = decode(&encode(&p, &bufs, Order::Socket).unwrap(), SioVersion::V5, &v5()).unwrap();
        prop_assert_eq!((d.packet, d.attachments), (p, bufs));
    }
}
