//! Typed dispatch and serde emit against the raw relay, per message: a received `echo` event
//! (decoded from its text) answered with the same arguments, its reply packet encoded.
//!
//! - `raw_relay`: `Event::raw_args` and the reply built from the received JSON slices (what
//!   the bench mode's `echo` and `emit_raw` do): no parse, no re-encode.
//! - `typed_value`: the arguments read into a `serde_json::Value` (simd-json, as a `Router`
//!   handler reads them) and the reply written from it by the `Serialize` emit path (what the
//!   bench mode's `echo-typed` does).
//! - `typed_struct`: the first argument read into a struct and emitted back as one.
//!
//! Both sides start from the same decoded packet and end with the reply's bytes, so the
//! difference is what reading and writing the arguments cost. Run with
//! `taskset -c 1 cargo bench --bench typed`; `cargo test --benches` runs each case once.

use std::hint::black_box;

use bytes::BytesMut;
use bytestring::ByteString;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tpcio::__private::protocol::sio::{DecodeOptions, Packet, SioVersion};
use tpcio::__private::socket::typed::{args, encode};
use tpcio::prelude::Event;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MESSAGE: &str =
    r#"2["echo",{"user":"alice","text":"hello world","ts":1700000000000,"tags":["a","b"],"score":0.75}]"#;

#[derive(serde::Deserialize, serde::Serialize)]
struct Chat {
    user: String,
    text: String,
    ts: u64,
    tags: Vec<String>,
    score: f64,
}

fn event() -> Event {
    let packet = Packet::decode(ByteString::from_static(MESSAGE), SioVersion::V5, &DecodeOptions::default())
        .expect("a valid packet");
    Event::from_packet(packet, Vec::new()).expect("an event")
}

fn bench(c: &mut Criterion) {
    let nsp = ByteString::from_static("/");
    let mut group = c.benchmark_group("echo");
    group.throughput(Throughput::Elements(1));
    let mut out = BytesMut::with_capacity(4096);

    group.bench_function("raw_relay", |b| {
        b.iter_batched_ref(
            event,
            |event| {
                let reply = encode::raw_event_packet(nsp.clone(), "echo", &event.raw_args());
                out.clear();
                reply.encode(&mut out);
                black_box(out.len())
            },
            criterion::BatchSize::SmallInput,
        )
    });

    let shape = args::Shape::of::<serde_json::Value>();
    group.bench_function("typed_value", |b| {
        b.iter_batched_ref(
            event,
            |event| {
                let value: serde_json::Value = args::decode(event, shape).expect("fits");
                let (reply, _) = encode::event_packet(nsp.clone(), "echo", &value, None).expect("serializes");
                out.clear();
                reply.encode(&mut out);
                black_box(out.len())
            },
            criterion::BatchSize::SmallInput,
        )
    });

    let shape = args::Shape::of::<Chat>();
    group.bench_function("typed_struct", |b| {
        b.iter_batched_ref(
            event,
            |event| {
                let chat: Chat = args::decode(event, shape).expect("fits");
                let (reply, _) = encode::event_packet(nsp.clone(), "echo", &chat, None).expect("serializes");
                out.clear();
                reply.encode(&mut out);
                black_box(out.len())
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();

    // The replies are the same bytes whichever way they were made.
    let raw = encode::raw_event_packet(nsp.clone(), "echo", &event().raw_args()).to_text();
    let value: serde_json::Value =
        args::decode(&event(), args::Shape::of::<serde_json::Value>()).expect("fits");
    let typed = encode::event_packet(nsp.clone(), "echo", &value, None).expect("serializes").0.to_text();
    assert_eq!(raw, typed);
}

criterion_group!(benches, bench);
criterion_main!(benches);
