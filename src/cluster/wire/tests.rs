//! The wire messages against what the real packages wrote ([`fixtures`]), in both directions,
//! and arbitrary input that must never panic.

use super::*;
use crate::cluster::msgpack::tests::hex;
use bytes::Bytes;
use proptest::prelude::*;

mod fixtures;
mod requests;
use fixtures::*;

fn s(v: &str) -> Value {
    Value::from(v)
}

fn bin(b: &[u8]) -> Value {
    Value::from(b.to_vec())
}

fn obj(fields: &[(&str, Value)]) -> Value {
    Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
}

/// What `JSON.parse` makes of a Node Buffer in JSON.
fn buffer_json(b: &[u8]) -> Value {
    obj(&[
        ("type", s("Buffer")),
        ("data", Value::Array(b.iter().map(|&x| Value::from(u64::from(x))).collect())),
    ])
}

fn event(nsp: &str, data: Vec<Value>) -> WirePacket {
    WirePacket { kind: 2, nsp: nsp.to_owned(), data, id: None }
}

fn opts(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
    let mut o = BroadcastOptions::new();
    rooms.iter().for_each(|r| o = o.clone().to(*r));
    except.iter().for_each(|r| o = o.clone().except(*r));
    o
}

fn broadcast(uid: &str, packet: WirePacket, opts: BroadcastOptions) -> BroadcastMsg {
    BroadcastMsg { uid: uid.to_owned(), packet, opts }
}

#[test]
fn broadcasts_as_the_adapter_writes_them() {
    let table = [
        (IO_EMIT, broadcast("AbCdEf", event("/", vec![s("chat"), s("hi")]), opts(&[], &[]))),
        (
            IO_TO_ROOM1_EMIT_BIN,
            broadcast("AbCdEf", event("/", vec![s("chat"), s("hi"), bin(&[1, 2])]), opts(&["room1"], &[])),
        ),
        (
            IO_VOLATILE_EMIT,
            broadcast("AbCdEf", event("/", vec![s("ev"), 1.into()]), opts(&[], &[]).volatile()),
        ),
        (
            IO_COMPRESS_FALSE_EMIT,
            broadcast("AbCdEf", event("/", vec![s("ev"), Value::Null]), opts(&[], &[]).compress(false)),
        ),
        (
            IO_TIMEOUT_1000_EMIT_NO_CB,
            broadcast(
                "AbCdEf",
                event(
                    "/",
                    vec![s("ev"), obj(&[("x", Value::Array(vec![1.into(), 2.5.into(), (-3).into()]))])],
                ),
                opts(&[], &[]).timeout(Duration::from_millis(1000)),
            ),
        ),
        (
            IO_EXCEPT_A_TO_B_TO_C_EMIT,
            broadcast("AbCdEf", event("/", vec![s("ev"), true.into()]), opts(&["b", "c"], &["a"])),
        ),
        (SOCKET_BROADCAST_EMIT, broadcast("AbCdEf", event("/", vec![s("ev"), s("x")]), opts(&[], &[SID]))),
        (CHAT_NSP_EMIT, broadcast("AbCdEf", event("/chat", vec![s("ev")]), opts(&[], &[]))),
    ];
    for (bytes, msg) in table {
        assert_eq!(msg.encode(), hex(bytes), "{msg:?}");
        assert_eq!(BroadcastMsg::decode(&hex(bytes)).unwrap(), msg);
    }
}

#[test]
fn broadcast_from_our_encoded_packet() {
    // The example of the shared notes: `io.to("room1").emit("chat", "hi", Buffer[1,2])`.
    let packet = EncodedPacket::event("/", "chat", &[s("hi"), bin(&[1, 2])], None);
    let wire = WirePacket::from_encoded(&packet).unwrap();
    assert_eq!(wire, event("/", vec![s("chat"), s("hi"), bin(&[1, 2])]));
    let msg = broadcast("AbCdEf", wire, opts(&["room1"], &[]));
    assert_eq!(msg.encode(), hex(IO_TO_ROOM1_EMIT_BIN));
    let plain = EncodedPacket::event("/chat", "ev", &[], None);
    assert_eq!(WirePacket::from_encoded(&plain).unwrap(), event("/chat", vec![s("ev")]));
}

#[test]
fn broadcasts_as_the_emitter_writes_them() {
    let table = [
        (
            EMITTER_TO_ROOM1_CHAT_HI_BIN,
            broadcast(EMITTER_UID, event("/", vec![s("chat"), s("hi"), bin(&[1, 2])]), opts(&["room1"], &[])),
        ),
        (
            EMITTER_VOLATILE,
            broadcast(EMITTER_UID, event("/", vec![s("ev"), 1.into()]), opts(&[], &[]).volatile()),
        ),
        (
            EMITTER_COMPRESS_FALSE_EXCEPT,
            broadcast(EMITTER_UID, event("/", vec![s("ev")]), opts(&["a", "b"], &["x"]).compress(false)),
        ),
    ];
    for (bytes, msg) in table {
        assert_eq!(msg.encode_as_emitter(), hex(bytes), "{msg:?}");
        assert_eq!(BroadcastMsg::decode(&hex(bytes)).unwrap(), msg);
    }
}

#[test]
fn packets_to_our_sockets() {
    let p = event("/chat", vec![s("chat"), s("hi"), bin(&[1, 2])]);
    let encoded = p.to_encoded(None).unwrap();
    assert_eq!(encoded.text(), r#"51-/chat,["chat","hi",{"_placeholder":true,"num":0}]"#);
    assert_eq!(encoded.attachments(), [Bytes::from_static(&[1, 2])]);
    assert_eq!(
        p.to_encoded(Some(7)).unwrap().text(),
        r#"51-/chat,7["chat","hi",{"_placeholder":true,"num":0}]"#
    );
    // Old nodes' BINARY_EVENT; the packet's own id when none is given.
    let old = WirePacket { kind: 5, id: Some(3), ..event("/", vec![s("e"), 1.into()]) };
    assert_eq!(old.to_encoded(None).unwrap().text(), r#"23["e",1]"#);
    for bad in [
        WirePacket { kind: 3, ..event("/", vec![s("e")]) },
        event("/", vec![]),
        event("/", vec![1.into()]),
        event("/", vec![Value::Null, s("x")]),
    ] {
        assert!(bad.to_encoded(None).is_err(), "{bad:?}");
    }
    // Ids written by the socket (an emit with ack under CSR) come before `nsp`, as in Node.
    let with_id =
        broadcast("AbCdEf", WirePacket { id: Some(1), ..event("/", vec![s("e")]) }, opts(&[SID], &[]));
    let bytes = with_id.encode();
    assert_eq!(
        bytes,
        hex("93 a6416243644566 84 a474797065 02 a464617461 91 a165 a26964 01 a36e7370 a12f \
             83 a5726f6f6d73 91 b4 6d564a6d69386f7565735633766e4c7041414141 a6657863657074 90 a5666c616773 80")
    );
    assert_eq!(BroadcastMsg::decode(&bytes).unwrap(), with_id);
    let ack = EncodedPacket::from_text("3[1]".into(), Vec::new());
    assert!(WirePacket::from_encoded(&ack).is_err());
    let with_ack_id = EncodedPacket::event("/", "e", &[], Some(9));
    assert_eq!(WirePacket::from_encoded(&with_ack_id).unwrap().id, Some(9));
}

/// `notepack.encode(v)` for the inputs below, written with our encoder (same bytes, see the
/// msgpack tests).
fn np(v: &Value) -> Vec<u8> {
    msgpack::encode_to_vec(v)
}

#[test]
fn reads_what_other_senders_write() {
    let packet = obj(&[("type", 2.into()), ("data", Value::Array(vec![s("e")]))]);
    let flags =
        obj(&[("broadcast", true.into()), ("binary", false.into()), ("future", Value::Array(vec![]))]);
    // socket.io 2.x era: no nsp, numeric rooms, legacy flags, no `except`.
    let msg = Value::Array(vec![
        s("OlDnOd"),
        packet.clone(),
        obj(&[("rooms", Value::Array(vec![1.into(), 2.5.into(), s("r")])), ("flags", flags)]),
    ]);
    let got = BroadcastMsg::decode(&np(&msg)).unwrap();
    assert_eq!(got.packet, event("/", vec![s("e")]));
    assert_eq!(got.opts.rooms, ["1", "2.5", "r"]);
    assert!(got.opts.except.is_empty());
    assert!(got.opts.flags.broadcast);
    assert_eq!(got.opts.flags.binary, Some(false));
    // A CSR `socket.emit` is broadcast with undefined flags: notepack drops the key.
    let msg = Value::Array(vec![
        s("AbCdEf"),
        packet,
        obj(&[("rooms", Value::Array(vec![s(SID)])), ("except", Value::Array(vec![]))]),
    ]);
    assert_eq!(BroadcastMsg::decode(&np(&msg)).unwrap().opts, opts(&[SID], &[]));
    // JSON requests with extra keys and numeric rooms.
    let r =
        Request::decode(br#"{"uid":"x","type":2,"opts":{"rooms":[7]},"rooms":[8,"r"],"extra":1}"#).unwrap();
    assert_eq!(
        r,
        Request::RemoteJoin {
            uid: Some("x".into()),
            opts: opts(&["7"], &[]),
            rooms: vec!["8".into(), "r".into()]
        }
    );
    let r = Request::decode(br#"{"uid":"x","requestId":"q","type":2,"sid":"s","room":5}"#).unwrap();
    assert!(matches!(r, Request::LegacyJoin { room, .. } if room == "5"));
    // A msgpack request (a custom parser) reads as well as JSON.
    let r =
        Request::decode(&np(&obj(&[("uid", s("u")), ("requestId", s("q")), ("type", 1.into())]))).unwrap();
    assert_eq!(r, Request::AllRooms { uid: "u".into(), request_id: "q".into() });
}

#[test]
fn refuses_malformed_messages() {
    let broadcasts: Vec<Vec<u8>> = vec![
        vec![],
        b"{}".to_vec(),
        np(&Value::Array(vec![s("u"), Value::Null])),
        np(&Value::Array(vec![1.into(), obj(&[]), obj(&[])])),
        np(&Value::Array(vec![s("u"), obj(&[("type", 2.into())]), obj(&[])])),
        np(&Value::Array(vec![s("u"), obj(&[("type", s("2")), ("data", Value::Array(vec![]))]), obj(&[])])),
        np(&Value::Array(vec![
            s("u"),
            obj(&[("type", 2.into()), ("data", Value::Array(vec![])), ("nsp", 1.into())]),
            obj(&[]),
        ])),
        np(&Value::Array(vec![
            s("u"),
            obj(&[("type", 2.into()), ("data", Value::Array(vec![]))]),
            obj(&[("rooms", s("a"))]),
        ])),
        np(&Value::Array(vec![
            s("u"),
            obj(&[("type", 2.into()), ("data", Value::Array(vec![]))]),
            obj(&[("rooms", Value::Array(vec![Value::Null]))]),
        ])),
        np(&Value::Array(vec![
            s("u"),
            obj(&[("type", 2.into()), ("data", Value::Array(vec![])), ("id", (-1).into())]),
            obj(&[]),
        ])),
        hex("93a161"),
    ];
    for b in &broadcasts {
        assert!(BroadcastMsg::decode(b).is_err(), "{b:?}");
    }
    let requests: [&[u8]; 12] = [
        b"",
        b"{",
        b"[]",
        br#"{"type":"1","uid":"u","requestId":"q"}"#,
        br#"{"type":10,"uid":"u","requestId":"q"}"#,
        br#"{"type":1,"uid":"u"}"#,
        br#"{"type":1,"uid":"u","requestId":5}"#,
        br#"{"type":2,"uid":"u","requestId":"q","sid":"s"}"#,
        br#"{"type":5,"uid":"u","requestId":"q"}"#,
        br#"{"type":6,"uid":"u","data":"x"}"#,
        br#"{"type":6,"data":[]}"#,
        br#"{"type":7,"uid":"u","requestId":"q","opts":{"rooms":[]}}"#,
    ];
    for b in requests {
        assert!(Request::decode(b).is_err(), "{}", String::from_utf8_lossy(b));
    }
    let responses: [&[u8]; 7] = [
        b"",
        br#"{"sockets":[]}"#,
        br#"{"requestId":1}"#,
        br#"{"requestId":"q","sockets":"x"}"#,
        br#"{"requestId":"q","sockets":[1]}"#,
        br#"{"requestId":"q","type":8,"clientCount":-1}"#,
        br#"{"requestId":"q","rooms":[{}]}"#,
    ];
    for b in responses {
        assert!(Response::decode(b).is_err(), "{}", String::from_utf8_lossy(b));
    }
}

#[test]
fn every_variant_round_trips() {
    let requests = vec![
        Request::Sockets { uid: "u".into(), request_id: "q".into(), rooms: vec!["a".into(), "b\"".into()] },
        Request::RemoteDisconnect { uid: Some("u".into()), opts: opts(&["a"], &["b"]), close: true },
        Request::LegacyLeave { uid: "u".into(), request_id: "q".into(), sid: "s".into(), room: "r".into() },
        Request::ServerSideEmit {
            uid: "u".into(),
            request_id: None,
            data: vec![s("e"), obj(&[("é", Value::Null)])],
        },
        Request::Broadcast {
            uid: "u".into(),
            request_id: "q".into(),
            packet: event("/x", vec![s("e"), bin(&[0; 300])]),
            opts: opts(&["a"], &["b"]).volatile().compress(true).timeout(Duration::from_micros(1500)),
        },
    ];
    for r in requests {
        assert_eq!(Request::decode(&r.encode()).unwrap(), r);
    }
    let socket = SocketDetails {
        id: "sid".into(),
        handshake: obj(&[("query", obj(&[("q", s("1"))]))]),
        rooms: vec!["sid".into()],
        data: Value::Null,
    };
    let responses = vec![
        Response::FetchSockets { request_id: "q".into(), sockets: vec![socket.clone(), socket] },
        Response::ClientCount { request_id: "q".into(), count: u64::from(u32::MAX) + 1 },
        Response::BroadcastAck { request_id: "q".into(), packet: Value::Array(vec![bin(&[1]), 2.5.into()]) },
        Response::AllRooms { request_id: "q".into(), rooms: vec![] },
    ];
    for r in responses {
        assert_eq!(Response::decode(&r.encode()).unwrap(), r);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = BroadcastMsg::decode(&bytes);
        let _ = Request::decode(&bytes);
        let _ = Response::decode(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\{[\"a-z0-9:,\\[\\]{}]{0,80}") {
        let _ = Request::decode(text.as_bytes());
        let _ = Response::decode(text.as_bytes());
    }

    #[test]
    fn mutated_captures_never_panic(i in 0usize..4, at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = hex([IO_TO_ROOM1_EMIT_BIN, EMITTER_COMPRESS_FALSE_EXCEPT, IO_TIMEOUT_5000_EMIT_WITH_ACK, RESP_BROADCAST_2][i]);
        let at = at.index(bytes.len());
        bytes[at] = byte;
        let _ = BroadcastMsg::decode(&bytes);
        let _ = Request::decode(&bytes);
        let _ = Response::decode(&bytes);
    }
}
