//! What a broadcast costs between shards: building the message a peer shard gets, and carrying
//! messages over a glommio channel mesh between two executors (unpinned, as `CpuPlacement::Unpinned`).
//!
//! - `build/broadcast`: one broadcast's message for one peer, as `adapter::peer` builds it: a
//!   `BroadcastRequest` (namespace, room selector, the shared `Arc<EncodedPacket>`) as an
//!   `AdapterMsg`, boxed into a `ShardMsg::Peer`, then dropped (as the receiver does).
//! - `build/batch16`: sixteen broadcasts in one `ShardMsg::Peer`, as `adapter::outbox` sends a
//!   burst (per broadcast).
//! - `round_trip`: one broadcast message to the other executor and one back, per round trip.
//! - `stream/send` and `stream/batch16`: N broadcasts one way, then one answer, per broadcast;
//!   `batch16` sends them sixteen to a message, as `adapter::outbox` does when broadcasts come
//!   faster than the peer takes them.
//!
//! The mesh cases run in `iter_custom`: each sample starts two executors and a mesh of the
//! server's capacity (1024), and only the exchange is timed. With both executors on one CPU each
//! hand-over is a thread switch; give the bench two CPUs to see the cross-core cost.
//! Run with `taskset -c 0,1 cargo bench --bench mesh` (or `taskset -c 1 …` for one CPU).

use std::any::Any;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use glommio::channels::channel_mesh::{MeshBuilder, Receivers, Senders};
use glommio::{LocalExecutorBuilder, Placement};
use tpcio::__private::adapter::{
    AdapterMsg, AdapterRequest, BroadcastOptions, BroadcastRequest, EncodedPacket,
};
use tpcio::__private::shard::ShardMsg;
use tpcio::prelude::Value;

// The server binary's allocator, so allocation costs are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MESH_CAPACITY: usize = 1024;
const BATCH: usize = 16;

/// `socket.to("news").broadcast.emit("news", {...})`: the sender's own room excluded.
fn broadcast() -> (BroadcastOptions, Arc<EncodedPacket>) {
    let opts = BroadcastOptions::new().to("news").except("Uq3mN8bKx1sHd0Ye2fTq");
    let args = [Value::Object(vec![
        ("user".into(), "alice".into()),
        ("text".into(), "hello world".into()),
        ("ts".into(), 1_700_000_000_000u64.into()),
    ])];
    (opts, Arc::new(EncodedPacket::event("/", "news", &args, None)))
}

fn request(opts: &BroadcastOptions, packet: &Arc<EncodedPacket>) -> AdapterMsg {
    AdapterRequest::Broadcast(BroadcastRequest::new("/", opts.clone(), packet.clone())).into()
}

/// A message for the peer; `endpoint` tells it after how many messages to answer (see [`peer`]).
fn message(answer_after: usize, msg: Box<dyn Any + Send>) -> ShardMsg {
    ShardMsg::Peer { endpoint: answer_after, from: 0, msg }
}

fn build(c: &mut Criterion) {
    let (opts, packet) = broadcast();
    let mut g = c.benchmark_group("mesh/build");
    g.throughput(Throughput::Elements(1));
    g.bench_function("broadcast", |b| b.iter(|| message(0, Box::new(request(black_box(&opts), &packet)))));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("batch16", |b| {
        b.iter(|| {
            let batch: Vec<AdapterMsg> = (0..BATCH).map(|_| request(black_box(&opts), &packet)).collect();
            message(0, Box::new(batch))
        })
    });
    g.finish();
}

#[derive(Clone, Copy)]
enum Mode {
    RoundTrip,
    Stream,
    BatchStream,
}

/// The far shard: counts what arrives and sends a message back once it has the number the
/// message's `endpoint` asks for. Stops when the driver's senders close.
async fn peer(senders: Senders<ShardMsg>, receivers: Receivers<ShardMsg>, driver: usize) {
    let mut count = 0;
    while let Ok(Some(msg)) = receivers.recv_from(driver).await {
        let ShardMsg::Peer { endpoint, msg, .. } = msg else { continue };
        // What the receiving layer does first: find out what it was sent.
        count += match msg.downcast_ref::<Vec<AdapterMsg>>() {
            Some(batch) => batch.len(),
            None => usize::from(msg.is::<AdapterMsg>()),
        };
        if count >= endpoint {
            count = 0;
            let _ = senders.send_to(driver, message(0, msg)).await;
        }
    }
}

/// `iters` exchanges from the first executor to join; returns the time they took.
async fn drive(
    senders: Senders<ShardMsg>,
    receivers: Receivers<ShardMsg>,
    far: usize,
    mode: Mode,
    iters: u64,
) -> Duration {
    let (opts, packet) = broadcast();
    let new = |answer_after: usize| message(answer_after, Box::new(request(&opts, &packet)));
    // Both executors are up and the channels warm before the clock starts.
    let _ = senders.send_to(far, new(1)).await;
    let _ = receivers.recv_from(far).await;
    let n = usize::try_from(iters).unwrap_or(usize::MAX);
    let senders = Rc::new(senders);
    let start = Instant::now();
    match mode {
        Mode::RoundTrip => {
            for _ in 0..n {
                let _ = senders.send_to(far, new(1)).await;
                let _ = receivers.recv_from(far).await;
            }
        }
        Mode::Stream => {
            for _ in 0..n {
                let _ = senders.send_to(far, new(n)).await;
            }
            let _ = receivers.recv_from(far).await;
        }
        Mode::BatchStream => {
            let mut left = n;
            while left > 0 {
                let take = left.min(BATCH);
                let batch: Vec<AdapterMsg> = (0..take).map(|_| request(&opts, &packet)).collect();
                let _ = senders.send_to(far, message(n, Box::new(batch))).await;
                left -= take;
            }
            let _ = receivers.recv_from(far).await;
        }
    }
    let elapsed = start.elapsed();
    senders.close();
    elapsed
}

/// One sample: two fresh executors joined by a mesh, `iters` exchanges timed.
fn run(mode: Mode, iters: u64) -> Duration {
    let mesh = MeshBuilder::<ShardMsg, _>::full(2, MESH_CAPACITY);
    let spawn = |name: &str| {
        let mesh = mesh.clone();
        LocalExecutorBuilder::new(Placement::Unbound)
            .name(name)
            .spawn(move || async move {
                let (senders, receivers) = mesh.join().await.ok()?;
                // Peers are numbered in the order they join.
                match senders.peer_id() {
                    0 => Some(drive(senders, receivers, 1, mode, iters).await),
                    _ => {
                        peer(senders, receivers, 0).await;
                        None
                    }
                }
            })
            .expect("an executor")
    };
    let (a, b) = (spawn("mesh-a"), spawn("mesh-b"));
    let (a, b) = (a.join().ok().flatten(), b.join().ok().flatten());
    a.or(b).expect("the driver finished")
}

fn channel(c: &mut Criterion) {
    let mut g = c.benchmark_group("mesh");
    g.throughput(Throughput::Elements(1));
    g.bench_function("round_trip", |b| b.iter_custom(|iters| run(Mode::RoundTrip, iters)));
    g.bench_function("stream/send", |b| b.iter_custom(|iters| run(Mode::Stream, iters)));
    g.bench_function("stream/batch16", |b| b.iter_custom(|iters| run(Mode::BatchStream, iters)));
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
    targets = build, channel
}
criterion_main!(benches);
