//! The heartbeat against a real two-shard server with short intervals: v4 servers ping and
//! wait for pongs, v3 clients ping and get pongs; a silent peer is closed within
//! `ping_interval + ping_timeout`, plus one 10 ms tick of the shard's timer wheel, plus slack
//! for a loaded machine — and never before.

mod common;

use std::time::{Duration, Instant};

use common::engine::{BOTH, Eio, Session, TEXT, assert_engine_error, parked_packets, sid_of};
use common::http::{Conn, request_bytes};
use common::server::TestServer;
use common::ws::{Event, Ws};

const INTERVAL: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_millis(300);
/// The timer wheel's resolution: a deadline fires at most this late.
const TICK: Duration = Duration::from_millis(10);
/// Scheduling delays on a busy machine.
const SLACK: Duration = Duration::from_millis(1500);

fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.engine.ping_interval = INTERVAL;
        c.engine.ping_timeout = TIMEOUT;
    })
}

/// Asserts that a peer silent since `since` was closed in `[INTERVAL + TIMEOUT, … + TICK + SLACK]`.
fn assert_closed_in_time(since: Instant) {
    let took = since.elapsed();
    assert!(took >= INTERVAL + TIMEOUT, "closed after {took:?}, before its deadline");
    assert!(took <= INTERVAL + TIMEOUT + TICK + SLACK, "closed only after {took:?}");
}

#[test]
fn v4_polling_pongs_keep_the_session_and_silence_ends_it() {
    let server = server();
    let opened = Instant::now();
    let session = Session::handshake(server.addr, Eio::V4);
    assert!(session.open.ends_with(r#""pingInterval":200,"pingTimeout":300,"maxPayload":1000000}"#));
    let mut since = opened;
    for round in 0..3 {
        // The next ping comes `INTERVAL` after the open packet, then after each pong.
        assert_eq!(session.recv(), ["2"], "round {round}");
        assert!(since.elapsed() >= INTERVAL, "round {round}: pinged after {:?}", since.elapsed());
        since = Instant::now();
        session.send(&["3"]);
    }
    assert!(opened.elapsed() > INTERVAL + TIMEOUT, "alive past a first ping deadline");
    // No pong this time: the GET parked after the ping carries the close packet.
    assert_eq!(session.recv(), ["2"]);
    let response = Conn::connect(server.addr).get(&session.target());
    assert_eq!(response.ok_body(TEXT), b"1");
    assert_closed_in_time(since);
    assert_engine_error(&session.get(), 1);
}

#[test]
fn v4_websocket_pongs_keep_the_session_and_silence_ends_it() {
    let server = server();
    let opened = Instant::now();
    let mut ws = Ws::connect(server.addr, "EIO=4&transport=websocket");
    let sid = sid_of(&ws.text());
    let mut since = opened;
    for round in 0..3 {
        assert_eq!(ws.text(), "2", "round {round}");
        assert!(since.elapsed() >= INTERVAL, "round {round}: pinged after {:?}", since.elapsed());
        since = Instant::now();
        ws.send_text("3");
        // Messages flow meanwhile.
        ws.send_text("4tick");
        assert_eq!(ws.text(), "4tick");
    }
    assert!(opened.elapsed() > INTERVAL + TIMEOUT, "alive past a first ping deadline");
    assert_eq!(ws.text(), "2");
    // Node's `ws.close()`: a close frame without a status code.
    assert_eq!(ws.closed(), (vec![], Some(None)));
    assert_closed_in_time(since);
    let polling = Session { addr: server.addr, eio: Eio::V4, sid, open: String::new(), extra: String::new() };
    assert_engine_error(&polling.get(), 1);
}

#[test]
fn v3_polling_client_pings_keep_the_session_and_silence_ends_it() {
    let server = server();
    let opened = Instant::now();
    let session = Session::handshake(server.addr, Eio::V3);
    let mut since = opened;
    for round in 0..4 {
        // A v3 server never pings: a GET stays parked until the client's ping is answered.
        let mut parked = Conn::connect(server.addr);
        parked.send(&request_bytes("GET", &session.target(), &[], b""));
        parked.expect_silence(INTERVAL);
        since = Instant::now();
        session.send(&["2"]);
        assert_eq!(parked_packets(&mut parked, Eio::V3), ["3"], "round {round}");
    }
    assert!(opened.elapsed() > INTERVAL + TIMEOUT, "alive past a first ping deadline");
    // No more pings: the parked GET gets the close packet.
    let response = Conn::connect(server.addr).get(&session.target());
    assert_eq!(response.ok_body(TEXT), b"1:1");
    assert_closed_in_time(since);
    assert_engine_error(&session.get(), 1);
}

#[test]
fn v3_websocket_client_pings_keep_the_session_and_silence_ends_it() {
    let server = server();
    let opened = Instant::now();
    let mut ws = Ws::connect(server.addr, "EIO=3&transport=websocket");
    sid_of(&ws.text());
    for round in 0..4 {
        assert_eq!(ws.next_within(INTERVAL), Event::Timeout, "round {round}: a v3 server never pings");
        ws.send_text("2");
        assert_eq!(ws.text(), "3", "round {round}");
    }
    // Outside an upgrade a probe ping is an ordinary ping: the pong carries no data.
    let since = Instant::now();
    ws.send_text("2probe");
    assert_eq!(ws.text(), "3");
    assert!(opened.elapsed() > INTERVAL + TIMEOUT, "alive past a first ping deadline");
    assert_eq!(ws.closed(), (vec![], Some(None)));
    assert_closed_in_time(since);
}

#[test]
fn a_heartbeat_in_the_wrong_direction_is_a_transport_error() {
    let server = TestServer::start();
    for eio in BOTH {
        // v4 clients must not ping, v3 clients must not pong.
        let wrong = match eio {
            Eio::V4 => "2",
            Eio::V3 => "3",
        };
        let session = Session::handshake(server.addr, eio);
        session.send(&[wrong]);
        assert_engine_error(&session.get(), 1);

        let mut ws = Ws::connect(server.addr, &format!("{}&transport=websocket", eio.query()));
        sid_of(&ws.text());
        ws.send_text(wrong);
        assert_eq!(ws.closed(), (vec![], Some(None)), "{eio:?}");
    }
}
