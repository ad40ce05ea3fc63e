//! A broadcast to 1 000 and 10 000 local WebSocket sockets, with in-memory sinks: the event is
//! encoded once (`adapter::EncodedPacket`), its recipients selected from the room index
//! (`adapter::Rooms::select_into`, one room holding every socket), the packet queued on each
//! session through the shard's `SessionTable` (`Session::send`), then each connection's writer
//! drains its session (`Session::poll_ws`, twice: the frames, then re-arming its waker) and
//! writes the frames with `WsWriter` into that connection's own `BytesMut`.
//!
//! Two queueing forms: `prebuilt` is what the Socket.IO layer sends (`Packet::prebuilt_message`:
//! every connection copies the one frame built for all); `per_socket` queues a plain
//! `Packet::message`, which each connection frames anew. `select` is the encode and the
//! selection alone. `keyed` is `prebuilt` reaching each session from the slot its handle
//! remembers (`SessionTable::get_mut_at`, as `EngineSocket` does) instead of hashing its sid;
//! `burst` is the busy case: 32 broadcasts queued before the writers run once, each session's
//! queue refilled after its last drain. Times are per delivery (`Throughput::Elements` =
//! recipients).
//! Run with `taskset -c 1 cargo bench --bench fanout`; `cargo test --benches` runs each case once.

use std::hint::black_box;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use bytestring::ByteString;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tpcio::__private::adapter::{BroadcastOptions, EncodedPacket, Rooms};
use tpcio::__private::engine::{EngineConfig, Session, SessionTable, WsId};
use tpcio::__private::protocol::{EioVersion, Frame, Packet};
use tpcio::__private::transport::ws_codec::WsWriter;
use tpcio::prelude::Sid;
use tpcio::prelude::Value;

// The server binary's allocator, so allocation costs are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROOM: &str = "news";
/// Broadcasts queued before the writers run, in the `burst` case.
const BURST: usize = 32;
const WIRE: &str = r#"42["news",{"user":"alice","text":"hello world","ts":1700000000000}]"#;

struct Conn {
    sid: Sid,
    /// Where the table keeps the session.
    key: usize,
    ws: WsId,
    out: BytesMut,
}

struct Shard {
    table: SessionTable<Sid>,
    rooms: Rooms<Sid>,
    conns: Vec<Conn>,
    recipients: Vec<Sid>,
    frames: Vec<Frame>,
    writer: WsWriter,
    opts: BroadcastOptions,
    args: [Value; 1],
}

impl Shard {
    /// `sockets` sessions on their WebSocket, each in its own room and in [`ROOM`], writers
    /// parked (waker registered) as they are between broadcasts.
    fn new(sockets: usize) -> Shard {
        let now = Instant::now();
        let config = Rc::new(EngineConfig::default());
        let mut table = SessionTable::new(now);
        let mut rooms = Rooms::new();
        let mut conns = Vec::with_capacity(sockets);
        while conns.len() < sockets {
            let sid = Sid::generate(0, 1);
            let open = ByteString::from(format!(r#"{{"sid":"{}"}}"#, sid.as_str()));
            let (session, ws) = Session::websocket(config.clone(), EioVersion::V4, true, open, now);
            if let Ok(key) = table.insert(sid, session).map(|s| s.key()) {
                rooms.add_all(sid, [ByteString::from(sid.as_str()), ByteString::from_static(ROOM)]);
                conns.push(Conn { sid, key, ws, out: BytesMut::with_capacity(256) });
            }
        }
        let message = Value::Object(vec![
            ("user".into(), "alice".into()),
            ("text".into(), "hello world".into()),
            ("ts".into(), 1_700_000_000_000u64.into()),
        ]);
        let mut shard = Shard {
            table,
            rooms,
            conns,
            recipients: Vec::with_capacity(sockets),
            frames: Vec::new(),
            writer: WsWriter::new(None),
            opts: BroadcastOptions::new().to(ROOM),
            args: [message],
        };
        shard.write_all();
        shard
    }

    /// The broadcast, encoded once, and the sockets it goes to.
    fn select(&mut self) -> EncodedPacket {
        let packet = EncodedPacket::event("/", "news", &self.args, None);
        self.recipients.clear();
        self.rooms.select_into(&self.opts, &[], &mut self.recipients);
        packet
    }

    fn queue(&mut self, packet: &EncodedPacket, prebuilt: bool) {
        for sid in &self.recipients {
            let Some(mut session) = self.table.get_mut(sid) else { continue };
            let p = match prebuilt {
                true => Packet::prebuilt_message(packet.text().clone(), packet.ws_frame().clone()),
                false => Packet::message(packet.text().clone()),
            };
            let _ = session.send(p);
        }
    }

    /// [`Shard::queue`] (prebuilt) from each connection's remembered slot.
    fn queue_keyed(&mut self, packet: &EncodedPacket) {
        for conn in &self.conns {
            let Some(mut session) = self.table.get_mut_at(&conn.sid, conn.key) else { continue };
            let _ = session.send(Packet::prebuilt_message(packet.text().clone(), packet.ws_frame().clone()));
        }
    }

    /// Every connection's writer, woken: its frames into its buffer, then parked again.
    /// Returns the bytes written.
    fn write_all(&mut self) -> usize {
        let mut written = 0;
        for conn in &mut self.conns {
            let Some(mut session) = self.table.get_mut(&conn.sid) else { continue };
            conn.out.clear();
            // As the connection's loop does: woken with the first packet queued to an idle
            // writer, it takes what was queued since before it writes.
            let _ = session.poll_ws(conn.ws, Waker::noop(), &mut self.frames);
            let _ = session.drain_ws(conn.ws, &mut self.frames);
            for frame in self.frames.drain(..) {
                match frame {
                    Frame::Text(text) => self.writer.text(&text, &mut conn.out),
                    Frame::Binary(data) => self.writer.binary(&data, &mut conn.out),
                    Frame::Message(text) => self.writer.message(&text, &mut conn.out),
                    Frame::Prebuilt(frame) => self.writer.prebuilt_text(&frame, &mut conn.out),
                }
            }
            // Written and flushed: the writer waits for the next output (nothing is queued).
            let parked = session.poll_ws(conn.ws, Waker::noop(), &mut self.frames).is_pending();
            debug_assert!(parked);
            written += conn.out.len();
        }
        written
    }

    fn broadcast(&mut self, prebuilt: bool) -> usize {
        let packet = self.select();
        self.queue(&packet, prebuilt);
        self.write_all()
    }

    fn broadcast_keyed(&mut self) -> usize {
        let packet = self.select();
        self.queue_keyed(&packet);
        self.write_all()
    }

    /// `n` broadcasts, then one write pass (each frame is written as in [`Shard::write_all`]).
    fn burst(&mut self, n: usize) -> usize {
        for _ in 0..n {
            let packet = self.select();
            self.queue_keyed(&packet);
        }
        self.write_all()
    }
}

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout");
    for sockets in [1_000, 10_000] {
        let mut shard = Shard::new(sockets);
        for prebuilt in [true, false] {
            assert_eq!(shard.broadcast(prebuilt), sockets * (2 + WIRE.len()));
            assert!(shard.conns.iter().all(|c| &c.out[2..] == WIRE.as_bytes()));
        }
        g.throughput(Throughput::Elements(sockets as u64));
        g.bench_function(BenchmarkId::new("select", sockets), |b| {
            b.iter(|| black_box(shard.select()).text().len() + shard.recipients.len())
        });
        g.bench_function(BenchmarkId::new("prebuilt", sockets), |b| b.iter(|| shard.broadcast(true)));
        g.bench_function(BenchmarkId::new("per_socket", sockets), |b| b.iter(|| shard.broadcast(false)));
        assert_eq!(shard.broadcast_keyed(), sockets * (2 + WIRE.len()));
        g.bench_function(BenchmarkId::new("keyed", sockets), |b| b.iter(|| shard.broadcast_keyed()));
        assert_eq!(shard.burst(BURST), BURST * sockets * (2 + WIRE.len()));
        g.throughput(Throughput::Elements((BURST * sockets) as u64));
        g.bench_function(BenchmarkId::new("burst", sockets), |b| b.iter(|| shard.burst(BURST)));
    }
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
    targets = fanout
}
criterion_main!(benches);
