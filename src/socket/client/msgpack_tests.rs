//! The client state machine with the msgpack parser: packets in and out are binary messages,
//! a text message is a parse error.

use std::time::Instant;

use bytes::Bytes;
use bytestring::ByteString;

use super::*;
use crate::protocol::msgpack as mp;
use crate::protocol::value::Value;

const SOCKET: &str = "wZX3oN0bSVIhsaknAAAI";

fn client(now: Instant) -> SioClient {
    let opts = ClientOptions { parser: Parser::MsgPack, ..ClientOptions::default() };
    let mut c = SioClient::new(SioVersion::V5, Sid::parse(b"hLOEJXN07AE0GQCNAAAB").unwrap(), &opts, now);
    c.on_open(now);
    c
}

fn drain(c: &mut SioClient) -> Vec<Action> {
    std::iter::from_fn(|| c.poll_action()).collect()
}

/// A msgpack map of these entries, in order.
fn map(fields: Vec<(&str, Value)>) -> Bytes {
    let map = Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    mp::encode_to_vec(&map).into()
}

fn sent(bytes: Bytes) -> Action {
    Action::Send(EnginePayload::Binary(bytes))
}

#[test]
fn a_conversation_in_binary_messages() {
    let now = Instant::now();
    let mut c = client(now);
    let auth = Value::Object(vec![("token".into(), "x".into())]);
    c.on_binary(map(vec![("type", 0.into()), ("data", auth), ("nsp", "/".into())]));
    assert_eq!(drain(&mut c), [Action::Connect { nsp: "/".into(), auth: r#"{"token":"x"}"#.into() }]);
    assert!(c.accept("/", Sid::parse(SOCKET.as_bytes()).unwrap(), now));
    assert_eq!(drain(&mut c), [sent(msgpack::connect_ok("/", SOCKET, None))]);

    let args = Value::Array(vec!["up".into(), Value::Array(vec![vec![1u8, 2].into()])]);
    c.on_binary(map(vec![("type", 2.into()), ("data", args), ("nsp", "/".into()), ("id", 4.into())]));
    let [Action::Event { nsp, packet, attachments, .. }] = &drain(&mut c)[..] else { panic!("one event") };
    assert_eq!((&**nsp, packet.kind, packet.id), ("/", PacketKind::BinaryEvent, Some(4)));
    assert_eq!(packet.data.as_deref(), Some(r#"["up",[{"_placeholder":true,"num":0}]]"#));
    assert_eq!(attachments, &[Bytes::from_static(&[1, 2])]);

    let (ack, buffers) = Packet::ack_values("/", 4, &[Value::from(vec![3u8])]);
    assert!(c.send_packet(&ack, &buffers));
    let want = msgpack::encode(&ack, &buffers, Order::Socket).unwrap();
    assert_eq!(drain(&mut c), [sent(want)]);

    // A CONNECT to another namespace, refused by a middleware without data.
    c.on_binary(map(vec![("type", 0.into()), ("nsp", "/admin".into())]));
    assert_eq!(drain(&mut c), [Action::Connect { nsp: "/admin".into(), auth: "{}".into() }]);
    let refusal = ConnectRefusal::Middleware { message: "no".into(), data: None };
    assert!(c.refuse("/admin", refusal));
    assert_eq!(drain(&mut c), [sent(msgpack::connect_error("/admin", "no", None))]);
    c.on_binary(map(vec![("type", 0.into()), ("nsp", "/nope".into())]));
    drain(&mut c);
    assert!(c.refuse("/nope", ConnectRefusal::InvalidNamespace));
    assert_eq!(drain(&mut c), [sent(msgpack::invalid_namespace("/nope"))]);
}

#[test]
fn a_text_message_is_a_parse_error() {
    let now = Instant::now();
    let mut c = client(now);
    c.on_binary(map(vec![("type", 0.into()), ("nsp", "/".into())]));
    drain(&mut c);
    let socket = Sid::parse(SOCKET.as_bytes()).unwrap();
    assert!(c.accept("/", socket, now));
    drain(&mut c);
    c.on_text(ByteString::from_static("2[\"echo\"]"));
    assert_eq!(
        drain(&mut c),
        [
            Action::Error { nsp: "/".into(), socket, error: ParseError::InvalidMsgpack },
            Action::CloseEngine(DisconnectReason::ParseError),
        ]
    );
    c.on_binary(Bytes::from_static(b"\x93\x01"));
    assert_eq!(drain(&mut c), [], "nothing is read once closing");
}
