//! Engine.IO over HTTP long-polling against a real two-shard server: handshakes, echo with
//! batching, v3 payload framing (UTF-16 lengths, binary payloads, `b64`), the body limit,
//! overlapping GETs, client close packets, sessions whose requests land on both shards, and
//! JSONP polling (`j=`).

mod common;

use std::time::Duration;

use common::engine::{
    BOTH, Eio, OCTETS, Session, TEXT, assert_engine_error, assert_ok, open_json, parked_packets, sid_of,
};
use common::http::{Conn, ReadEnd};
use common::server::TestServer;

#[test]
fn polling_handshake_sends_the_exact_open_packet() {
    let server = TestServer::conformance();
    for eio in BOTH {
        let target = format!("/engine.io/?{}&transport=polling", eio.query());
        let response = Conn::connect(server.addr).get(&target);
        let body = String::from_utf8(response.ok_body(TEXT).to_vec()).expect("UTF-8");
        let open = match eio {
            Eio::V4 => body.clone(),
            Eio::V3 => {
                let (len, open) = body.split_once(':').expect("a v3 length prefix");
                assert_eq!(len.parse::<usize>().ok(), Some(open.len()), "{body:?}");
                open.to_string()
            }
        };
        let sid = sid_of(&open);
        assert_eq!(open, format!("0{}", open_json(&sid, true, 300, 200, 1_000_000)), "{eio:?}");
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(response.header("content-length"), Some(body.len().to_string().as_str()));
    }
}

#[test]
fn polling_echoes_a_batch_in_one_body() {
    let server = TestServer::start();
    for (eio, expected) in
        [(Eio::V4, "4a\x1e4hello world\x1e4third"), (Eio::V3, "2:4a12:4hello world6:4third")]
    {
        let session = Session::handshake(server.addr, eio);
        // POST and GET on one keep-alive connection, whichever shard it first lands on.
        let mut conn = Conn::connect(server.addr);
        let body = eio.payload(&["4a", "4hello world", "4third"]);
        assert_ok(&conn.post(&session.target(), body.as_bytes()));
        let response = conn.get(&session.target());
        assert_eq!(response.ok_body(TEXT), expected.as_bytes(), "{eio:?}");
        // Nothing is left over: the next GET waits.
        let mut parked = session.park();
        session.send(&["4later"]);
        assert_eq!(parked_packets(&mut parked, eio), ["4later"]);
    }
}

#[test]
fn v3_lengths_count_utf16_units() {
    let server = TestServer::start();
    let session = Session::handshake(server.addr, Eio::V3);
    // é is one UTF-16 unit (two UTF-8 bytes), 😀 two units (four bytes).
    let body = "2:4é3:4😀13:4éééééééééé😀";
    assert_ok(&session.post(body.as_bytes()));
    let response = session.get();
    assert_eq!(response.ok_body(TEXT), body.as_bytes());
    assert_eq!(response.header("content-length"), Some(body.len().to_string().as_str()));

    let v4 = Session::handshake(server.addr, Eio::V4);
    v4.send(&["4é", "4😀"]);
    assert_eq!(v4.get().ok_body(TEXT), "4é\x1e4😀".as_bytes());
}

/// A v3 binary payload: text packets as `\x00<digits>\xff<UTF-8>`, binary ones as
/// `\x01<digits>\xff\x04<bytes>`, lengths in bytes as one byte per decimal digit.
fn v3_binary_body() -> (Vec<u8>, Vec<u8>) {
    let big: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
    let mut body = b"\x00\x03\xff4\xc3\xa9".to_vec();
    body.extend_from_slice(b"\x01\x04\xff\x04\x01\x02\x03");
    body.extend_from_slice(b"\x00\x05\xff4\xf0\x9f\x98\x80");
    body.extend_from_slice(b"\x01\x03\x00\x01\xff\x04");
    body.extend_from_slice(&big);
    (body, big)
}

#[test]
fn v3_binary_payloads() {
    let server = TestServer::start();
    let (body, big) = v3_binary_body();
    let octets = [("Content-Type", OCTETS)];

    // Without b64 the echoes come back as the same binary payload.
    let session = Session::handshake(server.addr, Eio::V3);
    let response = Conn::connect(server.addr).request("POST", &session.target(), &octets, &body);
    assert_ok(&response);
    assert_eq!(session.get().ok_body(OCTETS), &body[..]);

    // With b64=1 binary packets are base64 text (`b4…`) in a text payload.
    let session = Session::handshake_with(server.addr, Eio::V3, "&b64=1");
    let response = Conn::connect(server.addr).request("POST", &session.target(), &octets, &body);
    assert_ok(&response);
    let b64 = format!("b4{}", base64_encode(&big));
    let expected = format!("2:4é6:b4AQID3:4😀{}:{b64}", b64.len());
    assert_eq!(std::str::from_utf8(session.get().ok_body(TEXT)), Ok(expected.as_str()));

    // A text-only queue of a binary-capable session stays a text payload.
    let session = Session::handshake(server.addr, Eio::V3);
    session.send(&["4plain"]);
    assert_eq!(session.recv(), ["4plain"]);
}

#[test]
fn v4_binary_travels_as_base64_over_polling() {
    let server = TestServer::start();
    let session = Session::handshake(server.addr, Eio::V4);
    session.send(&["bAQID", "4text", "b"]);
    assert_eq!(session.recv(), ["bAQID", "4text", "b"]);
}

#[test]
fn a_body_over_max_payload_gets_413() {
    let server = TestServer::start_with(|c| c.engine.max_payload = 100);
    for eio in BOTH {
        let session = Session::handshake(server.addr, eio);
        assert!(session.open.ends_with(r#""maxPayload":100}"#), "{}", session.open);
        // Exactly 100 bytes: accepted.
        let fits = match eio {
            Eio::V4 => format!("4{}", "x".repeat(99)),
            Eio::V3 => format!("97:4{}", "x".repeat(96)),
        };
        assert_eq!(fits.len(), 100);
        assert_ok(&session.post(fits.as_bytes()));
        // 101 bytes: 413, answered before the body is read, so the connection closes.
        let over = match eio {
            Eio::V4 => format!("4{}", "y".repeat(100)),
            Eio::V3 => format!("98:4{}", "y".repeat(97)),
        };
        let mut conn = Conn::connect(server.addr);
        let response = conn.post(&session.target(), over.as_bytes());
        assert_eq!(response.status, 413, "{eio:?} {response:?}");
        assert!(response.body.is_empty());
        assert_eq!(conn.try_response(Duration::from_secs(2)).err(), Some(ReadEnd::Closed));
        // Deliberately unlike Node (which keeps the session until the client gives up), the
        // server closes the session: what was queued before may still come, then a close
        // packet (or, once the session is gone, `Session ID unknown`).
        let echo = fits[fits.find('4').unwrap_or(0)..].to_string();
        let mut received = Vec::new();
        loop {
            let response = session.get();
            if response.status == 400 {
                assert_engine_error(&response, 1);
                break;
            }
            let packets = eio.decode(std::str::from_utf8(response.ok_body(TEXT)).expect("UTF-8"));
            let closed = packets.last().is_some_and(|p| p == "1");
            received.extend(packets.into_iter().filter(|p| p != "6" && p != "1"));
            assert!(received.len() <= 1, "{eio:?} {received:?}");
            if closed {
                break;
            }
        }
        assert!(received.is_empty() || received == [echo], "{eio:?} {received:?}");
        assert_engine_error(&session.get(), 1);
    }
}

#[test]
fn a_second_get_is_400_and_the_parked_one_gets_a_close_packet() {
    let server = TestServer::start();
    for eio in BOTH {
        let session = Session::handshake(server.addr, eio);
        let mut first = session.park();
        let second = session.get();
        assert_eq!(second.status, 400, "{eio:?} {second:?}");
        assert!(second.body.is_empty(), "{second:?}");
        assert_eq!(parked_packets(&mut first, eio), ["1"], "{eio:?}");
        assert_engine_error(&session.get(), 1);
    }
}

#[test]
fn a_close_packet_from_the_client_ends_the_session() {
    let server = TestServer::start();
    for eio in BOTH {
        // Messages before the close are delivered; the session is gone after it, but for
        // the GET the client may have sent with its close packet (the reorder window): that
        // one gets the noop a parked GET would have had.
        let session = Session::handshake(server.addr, eio);
        session.send(&["4bye", "1", "4ignored"]);
        assert_engine_error(&session.post(eio.payload(&["4late"]).as_bytes()), 1);
        assert_eq!(session.recv(), ["6"], "{eio:?}");
        assert_engine_error(&session.get(), 1);

        // A parked GET is released with a noop.
        let session = Session::handshake(server.addr, eio);
        let mut parked = session.park();
        session.send(&["1"]);
        assert_eq!(parked_packets(&mut parked, eio), ["6"], "{eio:?}");
        assert_engine_error(&session.get(), 1);
    }
}

#[test]
fn requests_for_one_session_are_served_whichever_shard_accepts_them() {
    let server = TestServer::start();
    let before = server.handoffs();
    for eio in BOTH {
        let session = Session::handshake(server.addr, eio);
        for i in 0..16 {
            // Each request on a fresh connection: the kernel spreads them over both shards.
            let message = format!("4m{i}é");
            session.send(&[&message]);
            assert_eq!(session.recv(), [message], "{eio:?} round {i}");
        }
        // A long-poll moved to the owner still gets its answer.
        let mut parked = session.park();
        session.send(&["4parked"]);
        assert_eq!(parked_packets(&mut parked, eio), ["4parked"]);
    }
    assert!(server.handoffs() > before, "64 fresh connections never landed on a non-owner shard");
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// What a JSONP GET answers: the script around the payload, as Node writes it.
fn jsonp_script(response: &common::http::Response, index: &str) -> String {
    let body = std::str::from_utf8(response.ok_body(TEXT)).expect("a UTF-8 script");
    let json = body
        .strip_prefix(&format!("___eio[{index}]("))
        .and_then(|rest| rest.strip_suffix(");"))
        .unwrap_or_else(|| panic!("not a JSONP script for {index}: {body:?}"));
    serde_json::from_str::<String>(json).expect("one JSON string")
}

/// engine.io 6.6 `polling-jsonp.ts`, bytes checked against Node: the handshake's `j` makes the
/// session JSONP; every answer is `___eio[<digits of j>]("<payload as JSON>");`, POSTs carry
/// the payload form-encoded in `d` with `\n` escapes for newlines, and a POST without `d`
/// is ignored. Each request on a fresh connection, so some land on the other shard.
#[test]
fn jsonp_polling_wraps_answers_and_reads_form_encoded_posts() {
    let server = TestServer::start();
    for eio in BOTH {
        let v = eio.query();
        let handshake = Conn::connect(server.addr).get(&format!("/engine.io/?{v}&transport=polling&j=x7"));
        let open = eio.decode(&jsonp_script(&handshake, "7")).remove(0);
        let sid = sid_of(&open);
        let target = format!("/engine.io/?{v}&transport=polling&j=7&sid={sid}");
        let packets = ["4a\nb\u{2028}", "4c\\n"];
        let form = jsonp_form(&eio.payload(&packets));
        assert_ok(&Conn::connect(server.addr).post(&target, form.as_bytes()));
        let echoed = jsonp_script(&Conn::connect(server.addr).get(&target), "7");
        assert_eq!(eio.decode(&echoed), packets, "{eio:?}");
        // A body without `d` is answered and ignored.
        assert_ok(&Conn::connect(server.addr).post(&target, b"e=1"));
        // XHR requests of the same session still get JSONP: the handshake decided.
        let plain = format!("/engine.io/?{v}&transport=polling&sid={sid}");
        assert_ok(&Conn::connect(server.addr).post(&plain, jsonp_form(&eio.payload(&["4xhr"])).as_bytes()));
        assert_eq!(eio.decode(&jsonp_script(&Conn::connect(server.addr).get(&plain), "7")), ["4xhr"]);
    }
}

#[test]
fn jsonp_escapes_line_separators_for_javascript() {
    let server = TestServer::start();
    let handshake = Conn::connect(server.addr).get("/engine.io/?EIO=4&transport=polling&j=0");
    let body = std::str::from_utf8(handshake.ok_body(TEXT)).expect("UTF-8").to_string();
    let sid = sid_of(&eio_open(&body));
    let target = format!("/engine.io/?EIO=4&transport=polling&j=0&sid={sid}");
    assert_ok(&Conn::connect(server.addr).post(&target, jsonp_form("4\u{2028}\u{2029}").as_bytes()));
    let response = Conn::connect(server.addr).get(&target);
    assert_eq!(response.ok_body(TEXT), br#"___eio[0]("4\u2028\u2029");"#);
}

/// A JSONP POST body as engine.io-client writes it: newlines escaped as `\n` (and a `\n`
/// already there as `\\n`), then form-encoded as `d`.
fn jsonp_form(payload: &str) -> String {
    let escaped = payload.replace("\\n", "\\\n").replace('\n', "\\n");
    format!("d={}", form_urlencoded::byte_serialize(escaped.as_bytes()).collect::<String>())
}

/// The open packet inside a v4 JSONP handshake script.
fn eio_open(script: &str) -> String {
    let json = script.strip_prefix("___eio[0](").and_then(|s| s.strip_suffix(");")).expect("a script");
    serde_json::from_str(json).expect("a JSON string")
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    // As Node's HTTP server: `100 Continue` once the head is in, so a client that waits for it
    // (curl does) sends its body; then the request's own answer.
    let server = TestServer::start();
    for eio in BOTH {
        let session = Session::handshake(server.addr, eio);
        let body = eio.payload(&["4after continue"]);
        let mut conn = Conn::connect(server.addr);
        let len = body.len().to_string();
        let head = common::http::request_bytes(
            "POST",
            &session.target(),
            &[("Expect", "100-continue"), ("Content-Length", &len)],
            b"",
        );
        // `request_bytes` adds its own Content-Length for a POST: keep the one given here.
        let head = String::from_utf8(head).expect("ASCII").replace("Content-Length: 0\r\n", "");
        conn.send(head.as_bytes());
        let continued = conn.response();
        assert_eq!((continued.status, continued.head.as_str()), (100, "HTTP/1.1 100 Continue\r\n\r\n"));
        conn.send(body.as_bytes());
        assert_ok(&conn.response());
        assert_eq!(session.recv(), ["4after continue"], "{eio:?}");
    }
}
