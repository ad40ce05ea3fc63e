//! Bytes captured from the real package: a script built socket.io 4.8.4 with
//! `@socket.io/redis-streams-adapter` 0.3.1 (`@msgpack/msgpack` 2.8.0) on a fake recording
//! ioredis-style client, set the adapter's uid to `0123456789abcdef` and printed each XADD,
//! PUBLISH and SET: `io.emit("chat", "hi")`, `io.to("room1").except("x").emit("chat",
//! Buffer[1, 2])`, `socketsJoin("r2")`, `in("r1").socketsLeave("r2")`,
//! `disconnectSockets(true)`, `serverSideEmit("hello", 1.5, Buffer[3])`,
//! `to("room1").timeout(1000).emit("q", 2.5, cb)`, `fetchSockets()`, three `publishResponse`s
//! and `persistSession`.

use std::time::Duration;

use super::*;
use crate::adapter::BroadcastOptions;
use crate::cluster::wire::WirePacket;

const UID: &str = "0123456789abcdef";

fn msg(body: Body) -> ShardedMsg {
    ShardedMsg { uid: UID.to_owned(), nsp: "/".to_owned(), body }
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn packet(data: Vec<Value>) -> WirePacket {
    WirePacket { kind: 2, nsp: "/".to_owned(), data, id: None }
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// The entry's fields as text, and decoded back to the message.
fn entry(m: &ShardedMsg, kind: &str, data: &str) {
    let fields = entry_fields(m, false);
    let text: Vec<(&str, String)> =
        fields.iter().map(|(k, v)| (*k, String::from_utf8_lossy(v).into_owned())).collect();
    assert_eq!(
        text,
        [
            ("uid", UID.to_owned()),
            ("nsp", "/".to_owned()),
            ("type", kind.to_owned()),
            ("data", data.to_owned())
        ]
    );
    let back = decode_entry(fields.iter().map(|(k, v)| (k.as_bytes(), &v[..]))).unwrap();
    assert_eq!(&back, m);
}

#[test]
fn persistent_messages_are_stream_entries() {
    let chat =
        msg(Body::Broadcast { packet: packet(vec![s("chat"), s("hi")]), opts: BroadcastOptions::new() });
    entry(
        &chat,
        "3",
        r#"{"packet":{"type":2,"data":["chat","hi"]},"opts":{"rooms":[],"except":[],"flags":{}}}"#,
    );
    assert!(!is_ephemeral(&chat));
    let binary = msg(Body::Broadcast {
        packet: packet(vec![s("chat"), Value::Binary(vec![1, 2].into())]),
        opts: BroadcastOptions::new().to("room1").except("x"),
    });
    entry(
        &binary,
        "3",
        "gqZwYWNrZXSCpHR5cGUCpGRhdGGSpGNoYXTEAgECpG9wdHODpXJvb21zkaVyb29tMaZleGNlcHSRoXilZmxhZ3OA",
    );
    let join = msg(Body::Request(Request::RemoteJoin {
        uid: Some(UID.to_owned()),
        opts: BroadcastOptions::new(),
        rooms: vec!["r2".into()],
    }));
    entry(&join, "4", r#"{"opts":{"rooms":[],"except":[],"flags":{}},"rooms":["r2"]}"#);
    let leave = msg(Body::Request(Request::RemoteLeave {
        uid: Some(UID.to_owned()),
        opts: BroadcastOptions::new().to("r1"),
        rooms: vec!["r2".into()],
    }));
    entry(&leave, "5", r#"{"opts":{"rooms":["r1"],"except":[],"flags":{}},"rooms":["r2"]}"#);
    let kick = msg(Body::Request(Request::RemoteDisconnect {
        uid: Some(UID.to_owned()),
        opts: BroadcastOptions::new(),
        close: true,
    }));
    entry(&kick, "6", r#"{"opts":{"rooms":[],"except":[],"flags":{}},"close":true}"#);
    assert!(!is_ephemeral(&join) && !is_ephemeral(&leave) && !is_ephemeral(&kick));
    // onlyPlaintext: JSON whatever the data.
    let plain = entry_fields(&binary, true);
    assert!(plain[3].1.starts_with(b"{\"packet\""));
}

/// (message, channel suffix, hex payload) as the package published them.
fn ephemeral_cases() -> Vec<(ShardedMsg, &'static str)> {
    use crate::cluster::wire::Response;
    vec![
        (
            msg(Body::Request(Request::ServerSideEmit {
                uid: UID.to_owned(),
                request_id: None,
                data: vec![s("hello"), Value::from(1.5), Value::Binary(vec![3].into())],
            })),
            "84a47479706509a46461746181a67061636b657493a568656c6c6fcb3ff8000000000000c40103a3756964b030313233343536373839616263646566a36e7370a12f",
        ),
        (
            msg(Body::Request(Request::Broadcast {
                uid: UID.to_owned(),
                request_id: "7ac2a53c47cf82fd".to_owned(),
                packet: packet(vec![s("q"), Value::from(2.5)]),
                opts: BroadcastOptions::new().to("room1").timeout(Duration::from_millis(1000)),
            })),
            "84a47479706503a46461746183a67061636b657482a47479706502a46461746192a171cb4004000000000000a9726571756573744964b037616332613533633437636638326664a46f70747383a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677381a774696d656f7574cd03e8a3756964b030313233343536373839616263646566a36e7370a12f",
        ),
        (
            msg(Body::Request(Request::RemoteFetch {
                uid: UID.to_owned(),
                request_id: "646d272fe6edc337".to_owned(),
                opts: BroadcastOptions::new(),
            })),
            "84a47479706507a46461746182a46f70747383a5726f6f6d7390a665786365707490a5666c61677380a9726571756573744964b036343664323732666536656463333337a3756964b030313233343536373839616263646566a36e7370a12f",
        ),
        (
            msg(Body::Response(Response::ClientCount { request_id: "req1".to_owned(), count: 3 })),
            "84a4747970650ba46461746182a9726571756573744964a472657131ab636c69656e74436f756e7403a3756964b030313233343536373839616263646566a36e7370a12f",
        ),
        (
            msg(Body::Response(Response::BroadcastAck {
                request_id: "req1".to_owned(),
                packet: Value::from(0.5),
            })),
            "84a4747970650ca46461746182a9726571756573744964a472657131a67061636b6574cb3fe0000000000000a3756964b030313233343536373839616263646566a36e7370a12f",
        ),
    ]
}

#[test]
fn ephemeral_messages_are_msgpack_js() {
    for (m, bytes) in ephemeral_cases() {
        assert!(is_ephemeral(&m), "{m:?}");
        assert_eq!(encode_ephemeral(&m), hex(bytes), "{m:?}");
        assert_eq!(decode_ephemeral(&hex(bytes)).unwrap(), m);
    }
    // A fetch answer, read (its handshake is whatever the other node sent).
    let answer = hex(
        "84a47479706508a46461746182a9726571756573744964a472657132a7736f636b6574739184a26964a27331a968616e647368616b6581a17801a5726f6f6d7392a27331a172a46461746181a16ecb3ff4000000000000a3756964b030313233343536373839616263646566a36e7370a12f",
    );
    let decoded = decode_ephemeral(&answer).unwrap();
    assert_eq!(encode_ephemeral(&decoded), answer);
}

#[test]
fn integers_beyond_2_53_are_floats_as_in_msgpack_js() {
    // `encode([1.5, 2**40, -(2**40), 2**60, -0.25, 300, -200, -0, 2**53, 2**53-1, -(2**53),
    // 4294967296, -2147483649, 1e300])` from @msgpack/msgpack 2.8.0.
    let want = hex(
        "9ecb3ff8000000000000cf0000010000000000d3ffffff0000000000cb43b0000000000000cbbfd0000000000000cd012cd1ff3800cb4340000000000000cf001fffffffffffffcbc340000000000000cf0000000100000000d3ffffffff7fffffffcb7e37e43c8800759c",
    );
    let values = vec![
        Value::from(1.5),
        Value::from(1u64 << 40),
        Value::from(-(1i64 << 40)),
        Value::from(1u64 << 60),
        Value::from(-0.25),
        Value::from(300),
        Value::from(-200),
        Value::from(-0.0),
        Value::from(1u64 << 53),
        Value::from((1u64 << 53) - 1),
        Value::from(-(1i64 << 53)),
        Value::from(4_294_967_296u64),
        Value::from(-2_147_483_649i64),
        Value::from(1e300),
    ];
    let mut out = Vec::new();
    msgpack::encode_as(&Value::Array(values), &mut out, Flavor::MsgpackJs);
    assert_eq!(out, want);
}

#[test]
fn sessions_as_persist_session_writes_them() {
    let session = StoredSession {
        sid: "AAAAAAAAAAAAAAAAAAAA".to_owned(),
        pid: "BBBBBBBBBBBBBBBBBBBB".to_owned(),
        rooms: vec!["AAAAAAAAAAAAAAAAAAAA".into(), "r".into()],
        data: Value::Object(vec![("n".to_owned(), Value::from(1.25)), ("s".to_owned(), s("x"))]),
    };
    let text = "hKNzaWS0QUFBQUFBQUFBQUFBQUFBQUFBQUGjcGlktEJCQkJCQkJCQkJCQkJCQkJCQkJCpXJvb21zkrRBQUFBQUFBQUFBQUFBQUFBQUFBQaFypGRhdGGCoW7LP/QAAAAAAAChc6F4";
    assert_eq!(session.encode(), text);
    assert_eq!(StoredSession::decode(text.as_bytes()).unwrap(), session);
    assert!(StoredSession::decode(b"not base64!").is_err());
    assert!(StoredSession::decode(STANDARD.encode([0x93, 1, 2, 3]).as_bytes()).is_err());
}

#[test]
fn stream_keys_follow_the_namespace_hash() {
    assert_eq!(stream_key("socket.io", 1, "/chat"), "socket.io");
    // hashCode in Node: "/" 47, "/chat" 46457863, "/notifications" -1014064871.
    assert_eq!(stream_key("s", 3, "/"), "s-2");
    assert_eq!(stream_key("s", 4, "/chat"), "s-3");
    assert_eq!(stream_keys("s", 3), ["s-0", "s-1", "s-2"]);
    // A namespace whose hash is negative gets a negative index, as in Node.
    assert_eq!(stream_key("s", 3, "/notifications"), "s--2");
}

#[test]
fn bad_entries_are_errors() {
    let fields = |pairs: &[(&'static str, &'static str)]| -> Vec<(&'static [u8], &'static [u8])> {
        pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect()
    };
    assert!(decode_entry(fields(&[("uid", "x"), ("type", "3")])).is_err(), "no nsp");
    assert!(decode_entry(fields(&[("uid", "x"), ("nsp", "/"), ("type", "three")])).is_err());
    assert!(decode_entry(fields(&[("uid", "x"), ("nsp", "/"), ("type", "3"), ("data", "%%%")])).is_err());
    assert!(
        decode_entry(fields(&[("uid", "x"), ("nsp", "/"), ("type", "3"), ("data", "{\"packet\":1")]))
            .is_err()
    );
    let other = decode_entry(fields(&[("uid", "x"), ("nsp", "/"), ("type", "2")])).unwrap();
    assert_eq!(other.body, Body::Other(2));
}
