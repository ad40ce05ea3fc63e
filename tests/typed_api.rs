//! The typed API (`Router`, `Serialize` emits, typed acks both ways) driven by the official
//! `socket.io-client` 4 and 2 (`tests/js/examples.mjs`, scenario `typed`) against a server
//! started here (2 shards, unpinned, on 127.0.0.1:0): arguments read as tuples, structs and
//! `Bytes`; arguments that do not fit dropped without harm and counted in `/metrics`; the
//! fallback; an ack the server awaits with a typed answer.

mod common;

use std::time::Duration;

use bytes::Bytes;
use tpcio::prelude::{Ack, Router};
use tpcio::prelude::{AckError, Event, Socket, SocketIo};
use tpcio::prelude::{CpuPlacement, RunningServer};

use common::http::Conn;
use common::node::NodeRun;

#[derive(serde::Deserialize, serde::Serialize)]
struct Msg {
    text: String,
    n: f64,
}

fn router() -> Router<()> {
    Router::new()
        .on("pair", async |socket: Socket<()>, (text, n): (String, u32)| {
            let _ = socket.emit("pair", &(n, text));
        })
        .on("struct", async |socket: Socket<()>, msg: Msg| {
            let _ = socket.emit("struct", &msg);
        })
        .on_ack("blob", async |_socket: Socket<()>, blob: Bytes, ack: Ack| {
            let reversed: Vec<u8> = blob.iter().rev().copied().collect();
            let _ = ack.send(&(blob.len(), Bytes::from(reversed)));
        })
        .on_ack("ask", async |socket: Socket<()>, (): (), ack: Ack| {
            let answer: Result<(String, u32), AckError> =
                socket.emit_with_ack("q", &("x", 1), Duration::from_secs(5)).await;
            let _ = match answer {
                Ok((s, n)) => ack.send(&(s, n)),
                Err(e) => ack.send(&e.to_string()),
            };
        })
        .fallback(async |socket: Socket<()>, event: Event| {
            let _ = socket.emit("unknown", event.name());
        })
}

fn start() -> RunningServer {
    SocketIo::new()
        .serve_client(false)
        .allow_eio3(true)
        .shards(2)
        .placement(CpuPlacement::Unpinned)
        .metrics("/metrics")
        .namespace("/", |_shard| router())
        .listen("127.0.0.1:0")
        .expect("the server starts")
}

fn rejected(running: &RunningServer) -> u64 {
    let mut conn = Conn::connect(running.local_addr());
    let page = conn.get("/metrics");
    let text = String::from_utf8_lossy(page.ok_body("text/plain; version=0.0.4; charset=utf-8")).into_owned();
    text.lines()
        .filter(|l| l.starts_with("tpcio_events_rejected_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn drive(eio: u8) {
    let running = start();
    assert_eq!(rejected(&running), 0);
    let packages = ["socket.io-client", "socket.io-client-v2"];
    NodeRun::start(
        "examples.mjs",
        running.local_addr().port(),
        eio,
        &["typed"],
        &packages,
        Duration::from_secs(60),
    )
    .finish("typed");
    // The script sent two events whose arguments do not fit; each was dropped and counted.
    assert_eq!(rejected(&running), 2);
    running.shutdown().expect("a clean shutdown");
}

#[test]
fn typed_handlers_with_client_v4() {
    drive(4);
}

#[test]
fn typed_handlers_with_client_v2() {
    drive(3);
}
