//! The timing edges of the official protocol suites, against a real two-shard server with the
//! conformance heartbeat (pingInterval 300 ms, pingTimeout 200 ms): a session is closed by
//! `pingInterval + pingTimeout` after its handshake, and requests of one client that race each
//! other on different connections (so often on different shards) get the answers Node gives
//! in the order the client sent them.

mod common;

use std::time::{Duration, Instant};

use common::engine::{BOTH, Session, TEXT, assert_engine_error, assert_ok};
use common::http::{Conn, request_bytes};
use common::server::TestServer;
use common::ws::{Event, Ws};

/// How many times each race is run: the kernel spreads the connections over both shards.
const ROUNDS: usize = 20;

#[test]
fn a_silent_session_is_gone_by_ping_interval_plus_ping_timeout() {
    let server = TestServer::conformance();
    for eio in BOTH {
        for _ in 0..3 {
            let session = Session::handshake(server.addr, eio);
            // The client's clock starts once it has the open packet, after the server's.
            let opened = Instant::now();
            let due = opened + Duration::from_millis(300 + 200);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let response = session.get();
            // v4: the ping was sent and never answered; v3: the client never pinged.
            assert_engine_error(&response, 1);
        }
    }
}

#[test]
fn a_silent_websocket_is_closed_by_ping_interval_plus_ping_timeout() {
    let server = TestServer::conformance();
    // Taken before the request: the session cannot have started earlier.
    let opened = Instant::now();
    let mut ws = Ws::connect(server.addr, "EIO=4&transport=websocket");
    assert!(ws.text().starts_with("0{"));
    assert_eq!(ws.text(), "2");
    let (_, close) = ws.closed();
    assert!(close.is_some(), "the server closed with a close frame");
    // Not before its deadline (the upper bound is the suites' business: a loaded machine
    // delays the client as much as the server).
    assert!(opened.elapsed() >= Duration::from_millis(500), "closed after {:?}", opened.elapsed());
}

#[test]
fn a_get_sent_with_a_close_packet_gets_the_noop_whichever_shard_takes_it() {
    let server = TestServer::start();
    for eio in BOTH {
        for round in 0..ROUNDS {
            let session = Session::handshake(server.addr, eio);
            // The official suite's "forcefully closes the session": a GET, then at once a POST
            // with the close packet, each on its own connection.
            let mut get = Conn::connect(server.addr);
            let mut post = Conn::connect(server.addr);
            get.send(&request_bytes("GET", &session.target(), &[], b""));
            let close = eio.payload(&["1"]);
            post.send(&request_bytes("POST", &session.target(), &[], close.as_bytes()));
            assert_ok(&post.response());
            let response = get.response();
            assert_eq!(response.ok_body(TEXT), eio.payload(&["6"]).as_bytes(), "{eio:?} round {round}");
            assert_engine_error(&session.get(), 1);
        }
    }
}

#[test]
fn a_get_right_after_the_upgrade_is_refused_whichever_shard_takes_it() {
    let server = TestServer::start();
    for eio in BOTH {
        for round in 0..ROUNDS {
            let session = Session::handshake(server.addr, eio);
            let query = format!("{}&transport=websocket&sid={}", eio.query(), session.sid);
            let mut ws = Ws::connect(server.addr, &query);
            ws.send_text("2probe");
            assert_eq!(ws.text(), "3probe");
            ws.send_text("5");
            // The official v3 suite's "ignores HTTP requests with same sid after upgrade".
            let response = session.get();
            assert_engine_error(&response, 3);
            ws.send_text("4hello");
            assert_eq!(ws.next(), Event::Text("4hello".into()), "{eio:?} round {round}");
        }
    }
}
