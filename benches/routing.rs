//! Routing one incoming packet to its session in a shard's `SessionTable` of 10 000 sessions,
//! and collecting what the session sends back, per packet:
//!
//! - `lookup`: a request's query → `EngineQuery` → `Sid` → owner shard → `SessionTable::get_mut`.
//! - `ws_frame`: a WebSocket text frame from a connection that already knows its sid (table
//!   lookup, `Session::on_ws_frame`, the message event), the echo queued with `Session::send`,
//!   then the writer's side: `Session::poll_ws` and the frame written by `WsWriter` into the
//!   connection's `BytesMut`.
//! - `polling_post`: `lookup`, then `Session::on_post` with a one-message body, the echo queued,
//!   and the next polling GET answered with it (`Session::on_poll_get`).
//!
//! Successive packets go to sessions spread over the whole table, not to one hot session.
//! `now` is fixed, so no heartbeat falls due while measuring.
//! Run with `taskset -c 1 cargo bench --bench routing`; `cargo test --benches` runs each case once.

use std::hint::black_box;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tpcio::__private::engine::{EngineConfig, EngineEvent, PollGet, PostReply, Session, SessionTable, WsId};
use tpcio::__private::http::EngineQuery;
use tpcio::__private::protocol::{Data, EioVersion, Frame, Packet};
use tpcio::__private::transport::ws_codec::WsWriter;
use tpcio::prelude::Sid;

// The server binary's allocator, so allocation costs are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SESSIONS: usize = 10_000;
const SHARDS: usize = 4;
const SHARD: usize = 1;
/// Coprime with `SESSIONS`: consecutive packets visit every session before repeating.
const STRIDE: usize = 7919;
const MESSAGE: &str = r#"42["chat message",{"user":"alice","text":"hello world","ts":1700000000000}]"#;
const CONTENT_TYPE: &[u8] = b"text/plain;charset=UTF-8";

struct Shard {
    table: SessionTable<Sid>,
    /// Each session's sid, its WebSocket (if any) and the query its polling requests carry.
    sessions: Vec<(Sid, Option<WsId>, Vec<u8>)>,
    now: Instant,
    next: usize,
}

impl Shard {
    fn new(websocket: bool) -> Shard {
        let now = Instant::now();
        let config = Rc::new(EngineConfig::default());
        let mut table = SessionTable::new(now);
        let mut sessions = Vec::with_capacity(SESSIONS);
        while sessions.len() < SESSIONS {
            let sid = Sid::generate(SHARD, SHARDS);
            let open = ByteString::from(format!(r#"{{"sid":"{}"}}"#, sid.as_str()));
            let (mut session, ws) = if websocket {
                let (s, ws) = Session::websocket(config.clone(), EioVersion::V4, true, open, now);
                (s, Some(ws))
            } else {
                (Session::polling(config.clone(), EioVersion::V4, true, open, now), None)
            };
            // The open packet leaves first, as on the handshake.
            match ws {
                Some(ws) => drop(session.drain_ws(ws, &mut Vec::new())),
                None => assert!(matches!(session.on_poll_get(now), PollGet::Respond(_))),
            }
            if table.insert(sid, session).is_ok() {
                let query = format!("EIO=4&transport=polling&t=PZ3hTA1&sid={}", sid.as_str());
                sessions.push((sid, ws, query.into_bytes()));
            }
        }
        Shard { table, sessions, now, next: 0 }
    }

    /// The next session to get a packet.
    fn pick(&mut self) -> usize {
        self.next = (self.next + STRIDE) % SESSIONS;
        self.next
    }
}

/// The session a request's query names, if this shard owns it.
fn lookup<'t>(
    table: &'t mut SessionTable<Sid>,
    query: &[u8],
) -> Option<tpcio::__private::engine::SessionRef<'t, Sid>> {
    let sid = Sid::parse(EngineQuery::parse(query).sid()?.as_bytes())?;
    if sid.shard(SHARDS) != SHARD {
        return None;
    }
    table.get_mut(&sid)
}

/// The conformance server's echo: every message goes back as it came.
fn echo(session: &mut Session) -> usize {
    let mut echoed = 0;
    while let Some(event) = session.poll_event() {
        if let EngineEvent::Message(Data::Text(text)) = event {
            echoed += usize::from(session.send(Packet::message(text)).is_ok());
        }
    }
    echoed
}

fn routing(c: &mut Criterion) {
    let mut g = c.benchmark_group("routing");
    g.throughput(Throughput::Elements(1));

    let mut shard = Shard::new(false);
    for _ in 0..SESSIONS {
        let i = shard.pick();
        assert!(lookup(&mut shard.table, &shard.sessions[i].2).is_some());
    }
    g.bench_function("lookup", |b| {
        b.iter(|| {
            let i = shard.pick();
            lookup(&mut shard.table, black_box(&shard.sessions[i].2)).map(|s| s.queued())
        })
    });

    let body = Bytes::from_static(MESSAGE.as_bytes());
    let post = |shard: &mut Shard| -> Option<Bytes> {
        let (i, now) = (shard.pick(), shard.now);
        let mut session = lookup(&mut shard.table, &shard.sessions[i].2)?;
        if session.on_post(Some(CONTENT_TYPE), body.clone(), now) != PostReply::Ok || echo(&mut session) != 1
        {
            return None;
        }
        match session.on_poll_get(now) {
            PollGet::Respond(answer) => Some(answer.body),
            _ => None,
        }
    };
    for _ in 0..SESSIONS {
        assert_eq!(post(&mut shard).as_deref(), Some(MESSAGE.as_bytes()));
    }
    g.bench_function("polling_post", |b| b.iter(|| post(&mut shard)));
    drop(shard);

    let mut shard = Shard::new(true);
    let frame = Frame::Text(ByteString::from_static(MESSAGE));
    let mut writer = WsWriter::new(None);
    let mut out = BytesMut::with_capacity(4096);
    let mut frames = Vec::new();
    let mut ws_frame = |shard: &mut Shard| -> Option<usize> {
        let (i, now) = (shard.pick(), shard.now);
        let (sid, ws) = (shard.sessions[i].0, shard.sessions[i].1?);
        let mut session = shard.table.get_mut(&sid)?;
        session.on_ws_frame(ws, frame.clone(), now);
        echo(&mut session);
        // The writer task, woken by the send: everything queued, then one write.
        let Poll::Ready(_) = session.poll_ws(ws, Waker::noop(), &mut frames) else { return None };
        out.clear();
        for frame in frames.drain(..) {
            match frame {
                Frame::Text(text) => writer.text(&text, &mut out),
                Frame::Binary(data) => writer.binary(&data, &mut out),
                Frame::Message(text) => writer.message(&text, &mut out),
                Frame::Prebuilt(frame) => writer.prebuilt_text(&frame, &mut out),
            }
        }
        Some(out.len())
    };
    for _ in 0..SESSIONS {
        assert_eq!(ws_frame(&mut shard), Some(2 + MESSAGE.len()));
    }
    g.bench_function("ws_frame", |b| b.iter(|| ws_frame(&mut shard)));
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
    targets = routing
}
criterion_main!(benches);
