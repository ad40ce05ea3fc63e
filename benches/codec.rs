//! Throughput of the pure codecs on the paths a server takes per message: polling bodies (v4,
//! v3 text, v3 binary), a Socket.IO event over WebSocket in both directions, a binary event
//! with a 1 KiB attachment, client WebSocket frames, and session ids.
//!
//! Every case reports time per iteration, bytes/s and packets/s (`Throughput::ElementsAndBytes`).
//! "Packets" are Engine.IO packets (one WebSocket message each); "bytes" are the wire bytes of
//! the body, message or frame. Inputs are built once, checked against the expected wire bytes,
//! and only refcounted (`Bytes::clone`) per iteration, as the server hands received buffers on.
//! Output goes to one reused `BytesMut`, cleared per iteration, as a connection's send buffer.
//! Run with `cargo bench --bench codec`; `cargo test --benches` runs each case once.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tpcio::__private::protocol::payload::{self, PayloadFormat};
use tpcio::__private::protocol::sio::{self, DecodeOptions, Decoder, SioVersion};
use tpcio::__private::protocol::value::{Value, reconstruct};
use tpcio::__private::protocol::{Data, EioVersion, Frame, Packet, ws_message};
use tpcio::__private::transport::ws_codec::{self, WsDecoder, WsMessage};
use tpcio::prelude::Sid;

// The server binary's allocator, so allocation costs are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHAT: &str = r#"42["chat message",{"user":"alice","text":"hello world","ts":1700000000000}]"#;
const CHAT_PACKETS: usize = 10;
const ECHO: &str = r#"42["echo","hello"]"#;
const UPLOAD: &str = r#"451-["upload",{"_placeholder":true,"num":0}]"#;

fn throughput(packets: usize, bytes: usize) -> Throughput {
    Throughput::ElementsAndBytes { elements: packets as u64, bytes: bytes as u64 }
}

fn attachment() -> Bytes {
    (0..1024u32).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>().into()
}

/// The ten chat events as Engine.IO message packets (`4` stripped: the data is `2[...]`).
fn chat_packets() -> Vec<Packet> {
    let data = ByteString::from(&CHAT[1..]);
    (0..CHAT_PACKETS).map(|_| Packet::message(data.clone())).collect()
}

fn encoded(format: PayloadFormat, packets: &[Packet]) -> Bytes {
    let mut out = BytesMut::new();
    payload::encode(format, packets, &mut out);
    out.freeze()
}

/// The Socket.IO side of a received Engine.IO message: packet, then event name and arguments.
fn sio_event(packet: Packet) -> Option<sio::EventRef> {
    let Data::Text(text) = packet.data else { return None };
    sio::Packet::decode(text, SioVersion::V5, &DecodeOptions::default()).ok()?.event()
}

/// What the server writes for an outgoing event: Socket.IO text, Engine.IO packet, WS frame.
fn write_event(packet: &sio::Packet, out: &mut BytesMut) {
    if let Frame::Text(text) = Packet::message(packet.to_text()).to_frame(EioVersion::V4) {
        ws_codec::write_text(&text, out);
    }
}

fn polling(c: &mut Criterion) {
    let packets = chat_packets();
    let mut with_binary = packets.clone();
    with_binary.push(Packet::binary(attachment()));
    let cases = [
        ("v4", PayloadFormat::V4, &packets),
        ("v3_text", PayloadFormat::V3Text, &packets),
        ("v3_binary", PayloadFormat::V3Binary, &with_binary),
    ];
    let v4_body = encoded(PayloadFormat::V4, &packets);
    assert_eq!(v4_body.len(), CHAT_PACKETS * (CHAT.len() + 1) - 1);
    assert!(v4_body.starts_with(format!("{CHAT}\x1e{CHAT}").as_bytes()));

    let mut g = c.benchmark_group("polling");
    for (name, format, packets) in cases {
        let body = encoded(format, packets);
        assert_eq!(payload::decode(format, body.clone()).as_ref(), Ok(packets));
        g.throughput(throughput(packets.len(), body.len()));
        g.bench_function(format!("{name}/decode"), |b| {
            b.iter(|| payload::decode(format, black_box(body.clone())))
        });
        let mut out = BytesMut::with_capacity(body.len());
        g.bench_function(format!("{name}/encode"), |b| {
            b.iter(|| {
                out.clear();
                payload::encode(format, black_box(packets), &mut out);
                black_box(out.len())
            })
        });
    }
    // What a POST costs end to end: the body, then each message as a Socket.IO event.
    g.throughput(throughput(packets.len(), v4_body.len()));
    g.bench_function("v4/decode+sio_event", |b| {
        b.iter(|| {
            let decoded = payload::decode(PayloadFormat::V4, black_box(v4_body.clone())).ok()?;
            decoded.into_iter().map(|p| sio_event(p).map(|e| e.args.len())).sum::<Option<usize>>()
        })
    });
    g.finish();
}

fn websocket_event(c: &mut Criterion) {
    let received = ByteString::from(ECHO);
    let event = sio_event(Packet::decode_text(received.clone()).expect("valid")).expect("an event");
    assert_eq!((&*event.name, event.args.len()), ("echo", 1));
    let reply = sio::Packet::new_event("/", "echo", &[r#""hello""#], None);
    let mut out = BytesMut::with_capacity(64);
    write_event(&reply, &mut out);
    assert_eq!(&out[2..], ECHO.as_bytes());

    let mut g = c.benchmark_group("ws_event");
    g.throughput(throughput(1, received.len()));
    g.bench_function("decode", |b| {
        b.iter(|| sio_event(Packet::decode_text(black_box(received.clone())).ok()?))
    });
    g.throughput(throughput(1, out.len()));
    g.bench_function("build+encode+frame", |b| {
        b.iter(|| {
            out.clear();
            let reply = sio::Packet::new_event("/", "echo", black_box(&[r#""hello""#]), None);
            write_event(&reply, &mut out);
            black_box(out.len())
        })
    });
    // The bench server's echo reply from raw arguments (`emit_raw`): the data `["echo",…]`
    // made apart and then copied behind the packet's head, as before, or written in one
    // string behind it (`to_text_with`); then the Engine.IO message and its frame.
    let raw_args = [ByteString::from_static(r#""hello""#)];
    let write_raw = |data: &mut String| {
        data.push_str(r#"["echo""#);
        for arg in &raw_args {
            data.push(',');
            data.push_str(arg);
        }
        data.push(']');
    };
    let head = sio::Packet { data: None, ..reply.clone() };
    let apart = || {
        let mut data = String::with_capacity(32);
        write_raw(&mut data);
        sio::Packet { data: Some(data.into()), ..head.clone() }.to_text()
    };
    let joined = || head.to_text_with(32, write_raw);
    assert_eq!(apart(), joined());
    assert_eq!(&*joined(), &ECHO[1..]);
    g.bench_function("raw_reply/apart", |b| b.iter(|| black_box(apart())));
    g.bench_function("raw_reply/one_string", |b| b.iter(|| black_box(joined())));
    // The reply's Engine.IO message framed for a connection, from the packet the session
    // queued: its `4` joined to the text in a string of its own, then framed, as before
    // (`Frame::Text`), or written in front of the text as it is framed (`Frame::Message`).
    let text = joined();
    let mut writer = ws_codec::WsWriter::new(None);
    let mut frame = |out: &mut BytesMut, prefixed: bool| {
        out.clear();
        let packet = Packet::message(black_box(text.clone()));
        match (prefixed, packet) {
            (false, packet) => match packet.to_frame(EioVersion::V4) {
                Frame::Text(t) => writer.text(&t, out),
                f => panic!("{f:?}"),
            },
            (true, packet) => match ws_message::encode(packet, EioVersion::V4, true) {
                Frame::Message(t) => writer.message(&t, out),
                f => panic!("{f:?}"),
            },
        }
        black_box(out.len())
    };
    let (mut joined_out, mut prefixed_out) = (BytesMut::new(), BytesMut::new());
    frame(&mut joined_out, false);
    frame(&mut prefixed_out, true);
    assert_eq!(joined_out, prefixed_out);
    assert_eq!(&prefixed_out[2..], ECHO.as_bytes());
    g.bench_function("reply_frame/joined", |b| b.iter(|| frame(&mut out, false)));
    g.bench_function("reply_frame/prefixed", |b| b.iter(|| frame(&mut out, true)));
    g.finish();
}

fn binary_event(c: &mut Criterion) {
    let text = ByteString::from(UPLOAD);
    let data = attachment();
    let mut decoder = Decoder::new(SioVersion::V5, DecodeOptions::default());
    let mut receive = |text: ByteString, data: Bytes| -> Option<Value> {
        let Data::Text(sio_text) = Packet::decode_text(text).ok()?.data else { return None };
        if decoder.push_text(sio_text).ok()?.is_some() {
            return None;
        }
        let Data::Binary(att) = Packet::decode_binary(data, EioVersion::V4).ok()?.data else { return None };
        let decoded = decoder.push_binary(att).ok()??;
        reconstruct(decoded.packet.data.as_deref()?, &decoded.attachments).ok()
    };
    let args = [Value::Binary(data.clone())];
    let expected = Value::Array(vec![Value::String("upload".into()), args[0].clone()]);
    assert_eq!(receive(text.clone(), data.clone()), Some(expected));

    let mut out = BytesMut::with_capacity(2048);
    send(&mut out, &args);
    assert_eq!(&out[2..2 + UPLOAD.len()], UPLOAD.as_bytes());
    assert_eq!(out.len(), 2 + UPLOAD.len() + 4 + data.len());

    let mut g = c.benchmark_group("binary_event");
    g.throughput(throughput(2, text.len() + data.len()));
    g.bench_function("decode+reassemble+reconstruct", |b| {
        b.iter(|| receive(black_box(text.clone()), black_box(data.clone())))
    });
    g.throughput(throughput(2, out.len()));
    g.bench_function("deconstruct+encode+frame", |b| {
        b.iter(|| {
            send(&mut out, black_box(&args));
            black_box(out.len())
        })
    });
    g.finish();
}

/// An outgoing event with binary arguments: a text frame, then one binary frame per buffer.
fn send(out: &mut BytesMut, args: &[Value]) {
    out.clear();
    let (packet, buffers) = sio::Packet::event_values("/", "upload", args, None);
    write_event(&packet, out);
    for buffer in buffers {
        if let Frame::Binary(b) = Packet::binary(buffer).to_frame(EioVersion::V4) {
            ws_codec::write_binary(&b, out);
        }
    }
}

/// A client frame (FIN set), masked as a browser masks it.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![0x80 | opcode];
    match u16::try_from(payload.len()) {
        Ok(n) if n < 126 => out.push(0x80 | n as u8),
        Ok(n) => {
            out.push(0x80 | 126);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Err(_) => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A Socket.IO event of exactly `len` bytes: `42["m","xxx…"]`.
fn event_text(len: usize) -> String {
    let mut s = String::from(r#"42["m",""#);
    s.extend(std::iter::repeat_n('x', len - s.len() - 2));
    s.push_str(r#""]"#);
    s
}

fn ws_frames(c: &mut Criterion) {
    let cases = [
        ("text_64B", 0x1, event_text(64).into_bytes()),
        ("text_4KiB", 0x1, event_text(4096).into_bytes()),
        ("binary_4KiB", 0x2, attachment().repeat(4)),
    ];
    let mut g = c.benchmark_group("ws_frame");
    for (name, opcode, payload) in cases {
        let frame = client_frame(opcode, &payload);
        let msg = WsDecoder::new(1 << 20).decode(&mut BytesMut::from(&frame[..])).expect("valid");
        let data = match msg {
            Some(WsMessage::Text(t)) => t.into_bytes(),
            Some(WsMessage::Binary(b)) => b,
            other => panic!("{other:?}"),
        };
        assert_eq!(data, payload);
        let mut decoder = WsDecoder::new(1 << 20);
        let mut buf = BytesMut::with_capacity(8192);
        g.throughput(throughput(1, frame.len()));
        // One read buffer for the connection, as the server keeps it; the copy in stands in for
        // the read, and lets the buffer reclaim its space once the last message is dropped.
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                buf.extend_from_slice(black_box(&frame));
                decoder.decode(&mut buf)
            })
        });
    }
    g.finish();
}

fn sid(c: &mut Criterion) {
    let mut g = c.benchmark_group("sid");
    g.throughput(throughput(1, tpcio::__private::protocol::sid::SID_LEN));
    g.bench_function("generate", |b| b.iter(|| Sid::generate(black_box(3), black_box(8))));
    let wire = *Sid::generate(3, 8).as_bytes();
    g.bench_function("parse+shard", |b| b.iter(|| Sid::parse(black_box(&wire)).map(|s| s.shard(8))));
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = polling, websocket_event, binary_event, ws_frames, sid
}
criterion_main!(benches);
