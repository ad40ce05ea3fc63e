//! Engine.IO over WebSocket against a real two-shard server: the WebSocket handshake, echo
//! of text and binary, the upgrade of a polling session (probe, noop, upgrade, then
//! polling refused), refused second WebSockets, and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::engine::{BOTH, Eio, Session, assert_engine_error, open_json, parked_packets, sid_of};
use common::server::TestServer;
use common::ws::{Event, Ws, masked_frame};

fn ws_query(eio: Eio, sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("{}&transport=websocket&sid={sid}", eio.query()),
        None => format!("{}&transport=websocket", eio.query()),
    }
}

#[test]
fn websocket_handshake_sends_the_exact_open_packet() {
    let server = TestServer::conformance();
    for eio in BOTH {
        let mut ws = Ws::connect(server.addr, &ws_query(eio, None));
        let open = ws.text();
        let sid = sid_of(&open);
        assert_eq!(open, format!("0{}", open_json(&sid, false, 300, 200, 1_000_000)), "{eio:?}");
        for message in ["4hello", "4é😀", "4"] {
            ws.send_text(message);
            assert_eq!(ws.text(), message, "{eio:?}");
        }
    }
}

#[test]
fn websocket_echoes_binary() {
    let server = TestServer::start();
    // v4: binary frames are the bare message; `b…` text is base64 binary and echoes as binary.
    let mut ws = Ws::connect(server.addr, &ws_query(Eio::V4, None));
    sid_of(&ws.text());
    ws.send_binary(&[1, 2, 3]);
    assert_eq!(ws.next(), Event::Binary(vec![1, 2, 3]));
    ws.send_text("bAQID");
    assert_eq!(ws.next(), Event::Binary(vec![1, 2, 3]));
    // v3: a binary frame starts with the packet type byte.
    let mut ws = Ws::connect(server.addr, &ws_query(Eio::V3, None));
    sid_of(&ws.text());
    ws.send_binary(&[4, 1, 2, 3]);
    assert_eq!(ws.next(), Event::Binary(vec![4, 1, 2, 3]));
}

#[test]
fn polling_session_upgrades_to_websocket() {
    let server = TestServer::start();
    for eio in BOTH {
        let session = Session::handshake(server.addr, eio);
        assert!(session.open.contains(r#""upgrades":["websocket"]"#), "{}", session.open);
        let mut parked = session.park();
        let mut ws = Ws::connect(server.addr, &ws_query(eio, Some(&session.sid)));
        ws.send_text("2probe");
        assert_eq!(ws.text(), "3probe", "{eio:?}");
        // The parked GET is released with a noop so the client can pause polling.
        assert_eq!(parked_packets(&mut parked, eio), ["6"], "{eio:?}");
        // While upgrading, another WebSocket for the session is accepted, then closed at once.
        let mut intruder = Ws::connect(server.addr, &ws_query(eio, Some(&session.sid)));
        assert_eq!(intruder.next(), Event::Close(None), "{eio:?}");

        ws.send_text("5");
        ws.send_text("4over websocket");
        assert_eq!(ws.text(), "4over websocket", "{eio:?}");
        // Polling is over for this session.
        assert_engine_error(&session.get(), 3);
        assert_engine_error(&session.post(eio.payload(&["4x"]).as_bytes()), 3);
        // A second WebSocket for an upgraded session: 101, then a close frame without a code.
        let mut second = Ws::connect(server.addr, &ws_query(eio, Some(&session.sid)));
        assert_eq!(second.next(), Event::Close(None), "{eio:?}");
        assert!(matches!(second.next(), Event::Eof), "{eio:?}");
        // The upgraded WebSocket is untouched.
        ws.send_text("4still");
        assert_eq!(ws.text(), "4still", "{eio:?}");
    }
}

#[test]
fn probe_and_upgrade_in_one_tcp_write() {
    let server = TestServer::start();
    for eio in BOTH {
        let session = Session::handshake(server.addr, eio);
        // Queued before the upgrade: still delivered, over polling or after the upgrade.
        session.send(&["4queued"]);
        let mut ws = Ws::connect(server.addr, &ws_query(eio, Some(&session.sid)));
        let mut bytes = masked_frame(0x1, b"2probe");
        bytes.extend(masked_frame(0x1, b"5"));
        bytes.extend(masked_frame(0x1, b"4right after"));
        ws.send_raw(&bytes);
        assert_eq!(ws.text(), "3probe", "{eio:?}");
        assert_eq!(ws.text(), "4queued", "{eio:?}");
        assert_eq!(ws.text(), "4right after", "{eio:?}");
        assert_engine_error(&session.get(), 3);
    }
}

#[test]
fn a_close_packet_over_websocket_is_ignored_as_in_node() {
    // engine.io 6.6 handles a close packet only on polling; on a WebSocket the client closes
    // the WebSocket itself.
    let server = TestServer::start();
    for eio in BOTH {
        let mut ws = Ws::connect(server.addr, &ws_query(eio, None));
        let sid = sid_of(&ws.text());
        ws.send_text("1");
        ws.send_text("4after");
        assert_eq!(ws.text(), "4after", "{eio:?}");
        // A close frame ends the session.
        ws.socket.close(None).expect("send a close frame");
        let (before, close) = ws.closed();
        assert!(before.is_empty(), "{before:?}");
        assert!(close.is_some(), "the server answers the close handshake");
        let polling = Session { addr: server.addr, eio, sid, open: String::new(), extra: String::new() };
        assert_engine_error(&polling.get(), 1);
    }
}

#[test]
fn shutdown_closes_open_sessions_promptly() {
    let server = TestServer::start();
    let mut ws = Ws::connect(server.addr, &ws_query(Eio::V4, None));
    sid_of(&ws.text());
    let session = Session::handshake(server.addr, Eio::V4);
    let mut parked = session.park();

    let running = server.take();
    let started = Instant::now();
    let stopping = std::thread::spawn(move || {
        running.shutdown().expect("every shard stops cleanly");
        started.elapsed()
    });
    // Node closes a WebSocket transport with a bare `ws.close()`; an engine close packet
    // before it is tolerated.
    let (before, close) = ws.closed();
    assert!(before.iter().all(|e| *e == Event::Text("1".into())), "{before:?}");
    assert_eq!(close, Some(None), "a close frame without a status code");
    assert_eq!(parked_packets(&mut parked, Eio::V4), ["1"]);
    let took = stopping.join().expect("shutdown does not panic");
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
}
