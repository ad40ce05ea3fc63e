//! Bad input against a real two-shard server: garbage instead of HTTP, oversized heads,
//! truncated bodies, silent connections, malformed engine payloads, invalid WebSocket
//! frames. After each one a separate session must still echo: one peer's garbage never
//! hurts another, and never panics a shard.

mod common;

use std::time::{Duration, Instant};

use common::engine::{BOTH, Eio, OCTETS, Session, assert_engine_error, assert_healthy, assert_ok, sid_of};
use common::http::{Conn, request_bytes};
use common::server::TestServer;
use common::ws::{Event, Ws, masked_frame, unmasked_frame};

#[test]
fn a_binary_post_to_a_v4_session_is_400_and_closes_it() {
    let server = TestServer::start();
    let session = Session::handshake(server.addr, Eio::V4);
    let response = Conn::connect(server.addr).request(
        "POST",
        &session.target(),
        &[("Content-Type", OCTETS)],
        b"\x04\x01",
    );
    assert_eq!(response.status, 400, "{response:?}");
    assert!(response.body.is_empty(), "{response:?}");
    assert_engine_error(&session.get(), 1);
    assert_healthy(server.addr);
}

#[test]
fn garbage_instead_of_http_gets_400_and_close() {
    let server = TestServer::start();
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"[..],
        b"HELLO THERE\r\n\r\n",
        b"GET /engine.io/?EIO=4&transport=polling HTTP/9.9\r\n\r\n",
        b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nbad header line\r\n\r\n",
    ] {
        let mut conn = Conn::connect(server.addr);
        conn.send(garbage);
        assert_eq!(
            String::from_utf8_lossy(&conn.read_to_close()),
            "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
            "{:?}",
            String::from_utf8_lossy(garbage)
        );
        assert_healthy(server.addr);
    }
}

#[test]
fn an_oversized_head_gets_431_and_close() {
    let server = TestServer::start();
    let mut head = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".to_vec();
    // Exactly the 16 KiB limit with no end of head in sight: all of it is read before the
    // answer, so the close is a clean FIN.
    head.resize(16 * 1024, b'a');
    let mut conn = Conn::connect(server.addr);
    conn.send(&head);
    assert_eq!(
        String::from_utf8_lossy(&conn.read_to_close()),
        "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"
    );
    assert_healthy(server.addr);
}

#[test]
fn a_truncated_body_then_close_hurts_no_one() {
    let server = TestServer::start();
    for eio in BOTH {
        let session = Session::handshake(server.addr, eio);
        let mut conn = Conn::connect(server.addr);
        let mut request = request_bytes("POST", &session.target(), &[], b"");
        let head_len = request.len() - "Content-Length: 0\r\n\r\n".len();
        request.truncate(head_len);
        request.extend_from_slice(b"Content-Length: 50\r\n\r\n4only part of it");
        conn.send(&request);
        conn.shutdown_write();
        // The server gives up on the request and closes without an answer.
        assert!(conn.read_to_close().is_empty());
        assert_healthy(server.addr);
    }
}

#[test]
fn a_truncated_post_closes_its_session_as_in_node() {
    // engine.io 6.6 `polling.ts` `onDataRequest`: the request's `close` before `end` is
    // "data request connection closed prematurely", a transport error that closes the session.
    let server = TestServer::start();
    for eio in BOTH {
        let session = Session::handshake(server.addr, eio);
        let mut conn = Conn::connect(server.addr);
        let target = session.target();
        conn.send(
            format!("POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n4only part").as_bytes(),
        );
        conn.shutdown_write();
        assert!(conn.read_to_close().is_empty());
        assert_engine_error(&session.post(eio.payload(&["4next"]).as_bytes()), 1);
    }
}

#[test]
fn a_silent_connection_blocks_no_one_and_times_out() {
    let server = TestServer::start_with(|c| c.header_timeout = Duration::from_millis(400));
    let started = Instant::now();
    let mut idle = Conn::connect(server.addr);
    let mut partial = Conn::connect(server.addr);
    partial.send(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    // Both shards still serve everyone else.
    for _ in 0..4 {
        assert_healthy(server.addr);
    }
    for conn in [&mut idle, &mut partial] {
        // As Node, for a new connection as for a head that never completes.
        let rest = conn.read_to_close();
        assert_eq!(
            String::from_utf8_lossy(&rest),
            "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
        );
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(390), "closed after {took:?}, before the header timeout");
    assert!(took < Duration::from_millis(400) + Duration::from_secs(3), "closed only after {took:?}");
    assert_healthy(server.addr);
}

#[test]
fn garbage_engine_packets_in_a_post_close_the_session() {
    let server = TestServer::start();
    for (eio, body) in [
        (Eio::V4, &b"9"[..]),
        (Eio::V4, b"4fine\x1e9oops\x1e4never"),
        (Eio::V4, b""),
        (Eio::V3, b"abc"),
        (Eio::V3, b"2:4a9:4"),
        (Eio::V3, b"1:9"),
    ] {
        let session = Session::handshake(server.addr, eio);
        // Node answers `ok` and then closes the session with "parse error".
        assert_ok(&session.post(body));
        assert_engine_error(&session.get(), 1);
        assert_healthy(server.addr);
    }
}

#[test]
fn invalid_websocket_frames_close_the_connection() {
    let server = TestServer::start_with(|c| c.engine.max_payload = 1000);
    let cases: [(&str, Vec<u8>, u16); 7] = [
        ("unmasked text frame", unmasked_frame(0x1, b"4hello"), 1002),
        ("reserved opcode", masked_frame(0x3, b"4hello"), 1002),
        (
            "RSV1 without an extension",
            {
                let mut frame = masked_frame(0x1, b"4hello");
                frame[0] |= 0x40;
                frame
            },
            1002,
        ),
        ("continuation without a start", masked_frame(0x0, b"4hello"), 1002),
        ("control frame over 125 bytes", masked_frame(0x9, &[b'p'; 126]), 1002),
        ("invalid UTF-8 in a text frame", masked_frame(0x1, b"4\xff\xfe"), 1007),
        ("message over maxPayload", masked_frame(0x1, &[b'4'; 1001]), 1009),
    ];
    for (what, bytes, code) in cases {
        let mut ws = Ws::connect(server.addr, "EIO=4&transport=websocket");
        sid_of(&ws.text());
        ws.send_raw(&bytes);
        let (before, close) = ws.closed();
        assert!(before.is_empty(), "{what}: {before:?}");
        assert_eq!(close.flatten().map(|(c, _)| c), Some(code), "{what}");
        assert_eq!(ws.next(), Event::Eof, "{what}");
        assert_healthy(server.addr);
    }
}

#[test]
fn an_engine_parse_error_over_websocket_closes_it() {
    let server = TestServer::start();
    for eio in BOTH {
        let mut ws = Ws::connect(server.addr, &format!("{}&transport=websocket", eio.query()));
        sid_of(&ws.text());
        ws.send_text("9");
        // Node's `ws.close()`: a close frame without a status code.
        assert_eq!(ws.closed(), (vec![], Some(None)), "{eio:?}");
        assert_healthy(server.addr);
    }
}

#[test]
fn the_close_handshake_echoes_the_clients_frame_as_ws_does() {
    use tungstenite::protocol::CloseFrame;
    use tungstenite::protocol::frame::coding::CloseCode;
    let server = TestServer::start();
    let mut ws = Ws::connect(server.addr, "EIO=4&transport=websocket");
    sid_of(&ws.text());
    let frame = CloseFrame { code: CloseCode::Away, reason: "bye".into() };
    ws.socket.close(Some(frame)).expect("send a close frame");
    assert_eq!(ws.closed(), (vec![], Some(Some((1001, "bye".to_string())))));

    let mut ws = Ws::connect(server.addr, "EIO=4&transport=websocket");
    sid_of(&ws.text());
    ws.send_raw(&masked_frame(0x8, b""));
    assert_eq!(ws.closed(), (vec![], Some(None)), "an empty close frame is answered with an empty one");
}

#[test]
fn a_parked_get_whose_client_vanishes_ends_its_session() {
    // Node: "poll connection closed prematurely", a transport error.
    let server = TestServer::start();
    let session = Session::handshake(server.addr, Eio::V4);
    drop(session.park());
    // A GET racing the server's notice of the drop overlaps it (a bare 400, which also
    // closes the session) or parks until the close; in the end the sid is unknown.
    for attempt in 0.. {
        let response = session.get();
        if response.status == 400 && !response.body.is_empty() {
            assert_engine_error(&response, 1);
            break;
        }
        assert!(response.status == 400 || response.body == b"1", "{response:?}");
        assert!(attempt < 3, "the session outlived its dropped GET");
    }
    assert_healthy(server.addr);
}
