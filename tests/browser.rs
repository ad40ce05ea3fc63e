//! The demo chat (`src/cli/demo.rs`) in a real browser: Debian's chromium, driven by
//! playwright-core from `node tests/js/browser/<scenario>.mjs <port> 4 <screenshot dir>`,
//! against the demo server started in-process (2 shards on 127.0.0.1:0, unpinned). The
//! scenarios assert with `node:assert`, bound every wait, and end with one JSON line
//! `{"ok":true,"verified":"..."}`, which this file checks with the exit code. Screenshots go
//! to `target/browser-test/<scenario>/` (printed; `--nocapture` shows it). A missing
//! chromium, `node` or `node_modules` fails the tests, never skips them.
//!
//! The page's routes themselves (ETag, 304, 404) are checked over raw HTTP here too.

mod common;

use std::time::Duration;

use common::browser::{DemoServer, require_chromium, screenshot_dir};
use common::http::Conn;
use common::node::NodeRun;
use tpcio::prelude::Parser;

/// How long one scenario may run (each bounds itself at 110 s, chromium's start included).
const NODE_TIMEOUT: Duration = Duration::from_secs(130);
/// The npm packages the scenarios load.
const PACKAGES: &[&str] = &["playwright-core"];

fn scenario(script: &str, verified: &str) -> serde_json::Value {
    scenario_with(script, verified, Parser::Json)
}

fn scenario_with(script: &str, verified: &str, parser: Parser) -> serde_json::Value {
    require_chromium();
    let server = DemoServer::start_with(parser, |_| {});
    let name = script.trim_end_matches(".mjs");
    // Its own directory per parser: the tests run at once.
    let shots = match parser {
        Parser::MsgPack => screenshot_dir(&format!("{name}-msgpack")),
        _ => screenshot_dir(name),
    };
    let shots = shots.to_str().expect("a UTF-8 target path");
    let run =
        NodeRun::start(&format!("browser/{script}"), server.port(), 4, &[shots], PACKAGES, NODE_TIMEOUT);
    run.finish(verified)
}

#[test]
fn two_tabs_chat_across_shards_and_rooms_over_websocket() {
    let summary = scenario("chat.mjs", "two tabs chat across shards and rooms over websocket");
    assert_ne!(summary["shards"][0], summary["shards"][1], "{summary}");
}

/// `--parser msgpack`: the page loads `socket.io.msgpack.min.js`, whose client speaks
/// `socket.io-msgpack-parser` (a JSON client could not even connect).
#[test]
fn two_tabs_chat_with_the_msgpack_parser() {
    let verified = "two tabs chat across shards and rooms over websocket";
    let summary = scenario_with("chat.mjs", verified, Parser::MsgPack);
    assert_ne!(summary["shards"][0], summary["shards"][1], "{summary}");
}

#[test]
fn tabs_without_websocket_chat_over_polling() {
    let summary = scenario("polling.mjs", "polling-only tabs chat");
    assert!(summary["refused_websockets"].as_u64().is_some_and(|n| n > 0), "{summary}");
}

#[test]
fn the_page_is_served_with_an_etag_and_304() {
    let server = DemoServer::start();
    let mut conn = Conn::connect(server.addr);
    let page = conn.get("/");
    let body = page.ok_body("text/html; charset=utf-8");
    assert!(String::from_utf8_lossy(body).contains("/socket.io/socket.io.js"), "{page:?}");
    let etag = page.header("etag").expect("an ETag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 18, "{etag}");

    let again = conn.request("GET", "/", &[("If-None-Match", &etag)], b"");
    assert_eq!(again.status, 304, "{again:?}");
    assert!(again.body.is_empty());
    let weak = conn.request("GET", "/", &[("If-None-Match", &format!("\"x\", W/{etag}"))], b"");
    assert_eq!(weak.status, 304, "{weak:?}");
    let stale = conn.request("GET", "/", &[("If-None-Match", "\"stale\"")], b"");
    assert_eq!(stale.status, 200, "{stale:?}");

    let mut conn = Conn::connect(server.addr);
    conn.send(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let head = String::from_utf8_lossy(&conn.read_to_close()).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains(&format!("etag: {etag}\r\n")), "{head}");

    for (path, content_type) in
        [("/chat.js", "text/javascript; charset=utf-8"), ("/chat.css", "text/css; charset=utf-8")]
    {
        let mut conn = Conn::connect(server.addr);
        assert!(!conn.get(path).ok_body(content_type).is_empty(), "{path}");
    }
    let mut conn = Conn::connect(server.addr);
    assert_eq!(conn.post("/", b"x").status, 404);
    let mut conn = Conn::connect(server.addr);
    assert_eq!(conn.get("/index.html").status, 404);
    let mut conn = Conn::connect(server.addr);
    let bundle = conn.get("/socket.io/socket.io.js");
    assert_eq!(bundle.status, 200, "the official client is served next to the page");
}
