//! Bytes captured from the real package: a script in /tmp built socket.io 4.8 with
//! `createShardedAdapter` (@socket.io/redis-adapter 8.3.0, socket.io-adapter 2.5) on fake
//! recording clients (`spublish`/`ssubscribe`), set the adapter's uid to `0123456789abcdef`,
//! and printed each SPUBLISH (channel, payload): `io.emit("chat", "hi")`,
//! `io.to("room1").except("x").emit("chat", Buffer[1, 2])`, `socketsJoin`, `socketsLeave`,
//! `disconnectSockets(true)`, `serverSideEmit`, and `publishResponse` of each response type.

use super::*;
use crate::adapter::{BroadcastFlags, BroadcastOptions};
use crate::protocol::value::Value;

const UID: &str = "0123456789abcdef";

fn msg(body: Body) -> ShardedMsg {
    ShardedMsg { uid: UID.to_owned(), nsp: "/".to_owned(), body }
}

fn packet(data: Vec<Value>) -> WirePacket {
    WirePacket { kind: 2, nsp: "/".to_owned(), data, id: None }
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn roundtrip(m: &ShardedMsg, bytes: &[u8]) {
    assert_eq!(String::from_utf8_lossy(&m.encode()), String::from_utf8_lossy(bytes));
    assert_eq!(&ShardedMsg::decode(bytes).unwrap(), m);
}

#[test]
fn broadcast_json() {
    let m = msg(Body::Broadcast { packet: packet(vec![s("chat"), s("hi")]), opts: BroadcastOptions::new() });
    roundtrip(
        &m,
        br#"{"type":3,"data":{"packet":{"type":2,"data":["chat","hi"]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    let mut opts = BroadcastOptions::new();
    opts.flags = BroadcastFlags { volatile: true, compress: Some(false), ..Default::default() };
    let m = msg(Body::Broadcast { packet: packet(vec![s("e")]), opts });
    roundtrip(
        &m,
        br#"{"type":3,"data":{"packet":{"type":2,"data":["e"]},"opts":{"rooms":[],"except":[],"flags":{"volatile":true,"compress":false}}},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
}

#[test]
fn broadcast_binary_is_msgpack() {
    let bytes = unhex(
        "84a47479706503a46461746182a67061636b657482a47479706502a46461746192a463686174c4020102a46f70747383a5726f6f6d7391a5726f6f6d31a665786365707491a178a5666c61677380a3756964b030313233343536373839616263646566a36e7370a12f",
    );
    let opts = BroadcastOptions::new().to("room1").except("x");
    let m = msg(Body::Broadcast { packet: packet(vec![s("chat"), Value::Binary(vec![1, 2].into())]), opts });
    roundtrip(&m, &bytes);
}

#[test]
fn requests() {
    let opts = BroadcastOptions::new();
    let join =
        Request::RemoteJoin { uid: Some(UID.to_owned()), opts: opts.clone(), rooms: vec!["r1".into()] };
    roundtrip(
        &ShardedMsg::request("/", &join).unwrap(),
        br#"{"type":4,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"rooms":["r1"]},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    let leave = Request::RemoteLeave {
        uid: Some(UID.to_owned()),
        opts: opts.clone().to("r1"),
        rooms: vec!["r2".into()],
    };
    roundtrip(
        &ShardedMsg::request("/", &leave).unwrap(),
        br#"{"type":5,"data":{"opts":{"rooms":["r1"],"except":[],"flags":{}},"rooms":["r2"]},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    let disconnect = Request::RemoteDisconnect { uid: Some(UID.to_owned()), opts: opts.clone(), close: true };
    roundtrip(
        &ShardedMsg::request("/", &disconnect).unwrap(),
        br#"{"type":6,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"close":true},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    let emit = Request::ServerSideEmit {
        uid: UID.to_owned(),
        request_id: None,
        data: vec![s("hello"), s("x"), Value::from(2u64)],
    };
    roundtrip(
        &ShardedMsg::request("/", &emit).unwrap(),
        br#"{"type":9,"data":{"packet":["hello","x",2]},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    let emit = Request::ServerSideEmit {
        uid: UID.to_owned(),
        request_id: Some("q4".into()),
        data: vec![s("ev"), Value::from(1u64)],
    };
    roundtrip(
        &ShardedMsg::request("/", &emit).unwrap(),
        br#"{"type":9,"data":{"requestId":"q4","packet":["ev",1]},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    let mut fetch_opts = opts.clone().to("r");
    fetch_opts.flags.timeout = Some(std::time::Duration::from_millis(100));
    let fetch =
        Request::RemoteFetch { uid: UID.to_owned(), request_id: "q2".into(), opts: fetch_opts.clone() };
    roundtrip(
        &ShardedMsg::request("/", &fetch).unwrap(),
        br#"{"type":7,"data":{"opts":{"rooms":["r"],"except":[],"flags":{"timeout":100}},"requestId":"q2"},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    let mut ack_opts = opts.to("room1");
    ack_opts.flags.timeout = Some(std::time::Duration::from_millis(100));
    let ack = Request::Broadcast {
        uid: UID.to_owned(),
        request_id: "q3".into(),
        packet: packet(vec![s("e")]),
        opts: ack_opts,
    };
    roundtrip(
        &ShardedMsg::request("/", &ack).unwrap(),
        br#"{"type":3,"data":{"packet":{"type":2,"data":["e"]},"requestId":"q3","opts":{"rooms":["room1"],"except":[],"flags":{"timeout":100}}},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    assert!(
        ShardedMsg::request("/", &Request::AllRooms { uid: UID.into(), request_id: "x".into() }).is_none()
    );
}

#[test]
fn responses() {
    let r = |r| msg(Body::Response(r));
    roundtrip(
        &r(Response::ClientCount { request_id: "q1".into(), count: 3 }),
        br#"{"type":11,"data":{"requestId":"q1","clientCount":3},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    roundtrip(
        &r(Response::BroadcastAck { request_id: "q1".into(), packet: s("ok") }),
        br#"{"type":12,"data":{"requestId":"q1","packet":"ok"},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    roundtrip(
        &r(Response::ServerSideEmit { request_id: "q1".into(), data: Value::Null }),
        br#"{"type":10,"data":{"requestId":"q1"},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
    let socket = SocketDetails {
        id: "s".into(),
        handshake: Value::Object(vec![("a".into(), Value::from(1u64))]),
        rooms: vec!["s".into()],
        data: Value::Null,
    };
    roundtrip(
        &r(Response::FetchSockets { request_id: "q1".into(), sockets: vec![socket] }),
        br#"{"type":8,"data":{"requestId":"q1","sockets":[{"id":"s","handshake":{"a":1},"rooms":["s"],"data":null}]},"uid":"0123456789abcdef","nsp":"/"}"#,
    );
}

#[test]
fn malformed_and_other() {
    assert!(ShardedMsg::decode(b"{\"type\":3}").is_err());
    assert!(ShardedMsg::decode(b"\xc1").is_err());
    let m = ShardedMsg::decode(br#"{"type":2,"uid":"a","nsp":"/"}"#).unwrap();
    assert_eq!(m.body, Body::Other(2));
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
