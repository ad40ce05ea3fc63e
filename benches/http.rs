//! HTTP request parsing on the paths a connection takes per Engine.IO request: a polling GET with
//! its query, a polling POST with a body, and a WebSocket upgrade with a browser's headers, each
//! through `http::parse` (`http::request`) into one reused read buffer, as a connection keeps it.
//!
//! Per request, three levels: `parse` (the request alone), `parse+route` (plus what the router
//! reads: path, upgrade check, `EngineQuery`, transport, sid and its owner shard; for the upgrade
//! also `ws`'s handshake checks), and `query` (`EngineQuery::parse` alone on the request's query).
//! Throughput is one element (request) and its wire bytes.
//! Run with `taskset -c 1 cargo bench --bench http`; `cargo test --benches` runs each case once.

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tpcio::__private::http::{self, EngineQuery, Limits, Method, Request};
use tpcio::prelude::Sid;

// The server binary's allocator, so allocation costs are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SHARDS: usize = 8;
const BROWSER: &str = "Host: localhost:3000\r\n\
    User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
    Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\
    Origin: http://localhost:3000\r\nConnection: keep-alive\r\nReferer: http://localhost:3000/\r\n\
    Sec-Fetch-Dest: empty\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Site: same-origin\r\n";
const BODY: &str = r#"42["chat message",{"user":"alice","text":"hello world","ts":1700000000000}]"#;

fn requests(sid: &str) -> [(&'static str, String); 3] {
    let get =
        format!("GET /socket.io/?EIO=4&transport=polling&t=PZ3hT8w&sid={sid} HTTP/1.1\r\n{BROWSER}\r\n");
    let post = format!(
        "POST /socket.io/?EIO=4&transport=polling&t=PZ3hTA1&sid={sid} HTTP/1.1\r\n{BROWSER}\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let upgrade = format!(
        "GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: localhost:3000\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
         Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\
         Sec-WebSocket-Version: 13\r\nOrigin: http://localhost:3000\r\n\
         Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Connection: keep-alive, Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\
         Upgrade: websocket\r\n\r\n"
    );
    [("polling_get", get), ("polling_post", post), ("ws_upgrade", upgrade)]
}

/// One request off the front of the connection's buffer; the copy in stands in for the read.
fn read(buf: &mut BytesMut, wire: &[u8]) -> Option<Request> {
    buf.extend_from_slice(wire);
    http::parse(buf, &Limits::default()).ok()?
}

/// What `server::conn` reads of a request before it reaches a session. Returns the owner shard.
fn route(req: &Request) -> Option<usize> {
    if req.path() != b"/socket.io/" {
        return None;
    }
    let upgrade = req.is_websocket_upgrade();
    let query = EngineQuery::parse(req.query());
    let _ = (query.transport()?, query.protocol(), query.supports_binary());
    if upgrade {
        http::websocket::check(req).ok()?;
    } else if req.method() == Method::Post {
        let _ = req.header("content-type")?;
    }
    Some(Sid::parse(query.sid()?.as_bytes())?.shard(SHARDS))
}

fn parse(c: &mut Criterion) {
    let sid = Sid::generate(3, SHARDS);
    let mut g = c.benchmark_group("http");
    for (name, wire) in requests(sid.as_str()) {
        let wire = wire.into_bytes();
        let mut buf = BytesMut::with_capacity(4096);
        let req = read(&mut buf, &wire).expect("a whole request");
        assert!(buf.is_empty());
        assert_eq!(route(&req), Some(3), "{name}");
        assert_eq!(req.body().len(), if name == "polling_post" { BODY.len() } else { 0 });
        g.throughput(Throughput::ElementsAndBytes { elements: 1, bytes: wire.len() as u64 });
        g.bench_function(format!("{name}/parse"), |b| b.iter(|| read(&mut buf, black_box(&wire))));
        g.bench_function(format!("{name}/parse+route"), |b| {
            b.iter(|| read(&mut buf, black_box(&wire)).as_ref().and_then(route))
        });
        let query = req.query().to_vec();
        g.bench_function(format!("{name}/query"), |b| {
            b.iter(|| {
                let q = EngineQuery::parse(black_box(&query));
                (q.transport().map(str::len), q.sid().map(str::len), q.protocol())
            })
        });
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
    targets = parse
}
criterion_main!(benches);
