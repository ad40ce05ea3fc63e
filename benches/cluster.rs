//! The cluster adapter's codec cost per message, on the two paths a broadcast takes through
//! Redis: publishing (our encoded packet → notepack `[uid, packet, opts]`) and receiving (the
//! notepack message → the packet written to our sockets, once per shard). A chat event and a
//! binary event with a 1 KiB attachment, each checked to round-trip before it is timed.
//! Run with `cargo bench --bench cluster`; `cargo test --benches` runs each case once.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tpcio::__private::adapter::{BroadcastOptions, EncodedPacket};
use tpcio::__private::cluster::wire::{BroadcastMsg, WirePacket};
use tpcio::prelude::Value;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn chat() -> EncodedPacket {
    let message = Value::Object(vec![
        ("user".into(), Value::from("alice")),
        ("text".into(), Value::from("hello world")),
        ("ts".into(), Value::from(1_700_000_000_000u64)),
    ]);
    EncodedPacket::event("/", "chat message", &[message], None)
}

fn upload() -> EncodedPacket {
    let data: Bytes = (0..1024u32).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>().into();
    EncodedPacket::event("/", "upload", &[Value::from("file.bin"), Value::Binary(data)], None)
}

fn published(packet: &EncodedPacket, opts: &BroadcastOptions) -> Vec<u8> {
    let packet = WirePacket::from_encoded(packet).expect("our packet decodes");
    BroadcastMsg { uid: "AbCdEf".into(), packet, opts: opts.clone() }.encode()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("cluster");
    group.measurement_time(Duration::from_secs(3));
    let opts = BroadcastOptions::new().to("room1").except("AAAAAAAAAAAAAAAAAAAA");
    for (name, packet) in [("chat", chat()), ("binary_1k", upload())] {
        let wire = published(&packet, &opts);
        let back =
            BroadcastMsg::decode(&wire).expect("it decodes").packet.to_encoded(None).expect("an event");
        assert_eq!(back.text(), packet.text(), "{name} round-trips");
        assert_eq!(back.attachments(), packet.attachments());
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("publish_{name}"), |b| {
            b.iter(|| black_box(published(black_box(&packet), &opts)))
        });
        group.bench_function(format!("receive_{name}"), |b| {
            b.iter(|| {
                let msg = BroadcastMsg::decode(black_box(&wire)).expect("it decodes");
                black_box(msg.packet.to_encoded(None).expect("an event"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
