//! Refusals against a real two-shard server: every Engine.IO error code with Node's exact
//! JSON and status (polling) or raw `400` (WebSocket upgrade), and `allow_request`.

mod common;

use tpcio::prelude::allow_request;

use common::engine::{BOTH, Session, TEXT, assert_engine_error, assert_healthy, assert_ok, sid_of};
use common::http::{Conn, request_bytes};
use common::server::TestServer;

/// A sid of the right shape that no session has.
const UNKNOWN_SID: &str = "AAAAAAAAAAAAAAAAAAAA";

fn get(server: &TestServer, target: &str) -> common::http::Response {
    Conn::connect(server.addr).get(target)
}

#[test]
fn every_polling_error_has_nodes_status_and_json() {
    let server = TestServer::start();
    for eio in BOTH {
        let v = eio.query();
        // 0: the transport is missing or unknown.
        assert_engine_error(&get(&server, &format!("/engine.io/?{v}&transport=flash")), 0);
        assert_engine_error(&get(&server, &format!("/engine.io/?{v}")), 0);
        // 1: the sid names no session (or is not a sid at all).
        assert_engine_error(
            &get(&server, &format!("/engine.io/?{v}&transport=polling&sid={UNKNOWN_SID}")),
            1,
        );
        assert_engine_error(&get(&server, &format!("/engine.io/?{v}&transport=polling&sid=nope")), 1);
        let post =
            Conn::connect(server.addr).post(&format!("/engine.io/?{v}&transport=polling&sid=x"), b"1:6");
        assert_engine_error(&post, 1);
        // 2: a handshake must be a GET.
        let post = Conn::connect(server.addr).post(&format!("/engine.io/?{v}&transport=polling"), b"");
        assert_engine_error(&post, 2);
        // 3: a WebSocket handshake without the upgrade headers.
        assert_engine_error(&get(&server, &format!("/engine.io/?{v}&transport=websocket")), 3);
    }
    // No 5 (unsupported protocol version): with EIO=3 allowed, as here, engine.io 6.6 takes
    // every revision but exactly `4` for 3, a missing one included.
    for query in [
        "transport=polling",
        "EIO=5&transport=polling",
        "EIO=abc&transport=polling",
        "EIO=&transport=polling",
    ] {
        let response = get(&server, &format!("/engine.io/?{query}"));
        let body = std::str::from_utf8(response.ok_body(TEXT)).expect("UTF-8");
        let (_, open) = body.split_once(':').expect("a v3 length prefix");
        sid_of(open);
    }
    // The error answers keep the connection usable.
    let mut conn = Conn::connect(server.addr);
    assert_engine_error(&conn.get("/engine.io/?EIO=4&transport=flash"), 0);
    let response = conn.get("/engine.io/?EIO=4&transport=polling");
    sid_of(std::str::from_utf8(response.ok_body(TEXT)).expect("UTF-8"));
}

#[test]
fn without_allow_eio3_every_v3_handshake_is_refused_with_code_5() {
    let server = TestServer::start_with(|c| c.engine.allow_eio3 = false);
    for query in [
        "EIO=3&transport=polling",
        "transport=polling",
        "EIO=5&transport=polling",
        "EIO=abc&transport=polling",
        "EIO=&transport=polling",
        "EIO=4&EIO=4&transport=polling",
    ] {
        let refused = get(&server, &format!("/engine.io/?{query}"));
        assert_eq!(refused.status, 400, "{query}: {refused:?}");
        assert_eq!(refused.text(), r#"{"code":5,"message":"Unsupported protocol version"}"#, "{query}");
    }
    let response = get(&server, "/engine.io/?EIO=4&transport=polling");
    sid_of(std::str::from_utf8(response.ok_body(TEXT)).expect("UTF-8"));
}

#[test]
fn allow_request_refuses_with_403_and_its_message() {
    let server = TestServer::start_with(|c| {
        c.allow_request = Some(allow_request(|req, _peer| match req.header("x-deny") {
            Some(why) => Err(String::from_utf8_lossy(why).into_owned()),
            None => Ok(()),
        }))
    });
    for eio in BOTH {
        let target = format!("/engine.io/?{}&transport=polling", eio.query());
        let mut conn = Conn::connect(server.addr);
        let refused = conn.request("GET", &target, &[("X-Deny", "not today")], b"");
        assert_eq!(refused.status, 403, "{refused:?}");
        assert_eq!(refused.header("content-type"), Some("application/json"));
        assert_eq!(refused.text(), r#"{"code":4,"message":"not today"}"#);
        // The message is JSON-escaped as JSON.stringify does.
        let refused = conn.request("GET", &target, &[("X-Deny", r#"say "no" \ é"#)], b"");
        assert_eq!(refused.status, 403);
        assert_eq!(refused.text(), r#"{"code":4,"message":"say \"no\" \\ é"}"#);
        // An empty message falls back to Node's `Forbidden`.
        let refused = conn.request("GET", &target, &[("X-Deny", "")], b"");
        assert_engine_error(&refused, 4);
        // Allowed handshakes go through; requests of an open session are not asked about.
        let session = Session::handshake(server.addr, eio);
        let mut conn = Conn::connect(server.addr);
        let body = eio.payload(&["4hi"]);
        let post = conn.request("POST", &session.target(), &[("X-Deny", "too late")], body.as_bytes());
        assert_ok(&post);
        assert_eq!(session.recv(), ["4hi"]);
    }
    // A refused WebSocket handshake gets Node's raw `abortUpgrade` answer (400, not 403).
    let mut conn = Conn::connect(server.addr);
    conn.send(&upgrade_request("EIO=4&transport=websocket", &[("X-Deny", "no sockets")]));
    assert_eq!(
        String::from_utf8_lossy(&conn.read_to_close()),
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\n\
         Content-Length: 10\r\n\r\nno sockets"
    );
}

/// A WebSocket upgrade request for `/engine.io/?{query}`.
fn upgrade_request(query: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut headers = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    headers.extend_from_slice(extra);
    request_bytes("GET", &format!("/engine.io/?{query}"), &headers, b"")
}

#[test]
fn refused_websocket_upgrades_get_a_raw_400_and_close() {
    let server = TestServer::start_with(|c| c.engine.allow_eio3 = false);
    for (query, message) in [
        (format!("EIO=4&transport=websocket&sid={UNKNOWN_SID}"), "Session ID unknown"),
        (format!("EIO=3&transport=websocket&sid={UNKNOWN_SID}"), "Session ID unknown"),
        ("EIO=4&transport=flash".to_string(), "Transport unknown"),
        ("transport=websocket".to_string(), "Unsupported protocol version"),
        ("EIO=3&transport=websocket".to_string(), "Unsupported protocol version"),
        ("EIO=4".to_string(), "Transport unknown"),
    ] {
        let mut conn = Conn::connect(server.addr);
        conn.send(&upgrade_request(&query, &[]));
        let expected = format!(
            "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\n\
             Content-Length: {}\r\n\r\n{message}",
            message.len()
        );
        assert_eq!(String::from_utf8_lossy(&conn.read_to_close()), expected, "{query}");
    }
    assert_healthy(server.addr);
}

#[test]
fn allow_request_is_asked_before_the_protocol_version_as_in_node() {
    // engine.io 6.6 `Server.verify` (transport, sid, method, allowRequest) runs before
    // `handshake`, which is where an unsupported `EIO` is refused.
    let server =
        TestServer::start_with(|c| c.allow_request = Some(allow_request(|_, _| Err("closed".into()))));
    let refused = get(&server, "/engine.io/?EIO=5&transport=polling");
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.text(), r#"{"code":4,"message":"closed"}"#);
}
