//! The official Socket.IO browser client served at `/socket.io/socket.io.js` (Node's
//! `serveClient`), end to end against the conformance server (CORS `*`): the files as they are
//! in `client/node_modules/socket.io-client/dist` (installed by `npm ci --prefix client`, which
//! `scripts/test.sh` runs), Node's headers and ETag, `304` on `If-None-Match`, the coding
//! `Accept-Encoding` picks, and a start refused when the files are missing.
//! A missing `client/node_modules` fails these tests: they never skip.

mod common;

use std::io::Read;
use std::path::PathBuf;

use common::cli::conformance;
use common::http::{Conn, Response};
use common::server::TestServer;
use tpcio::__private::server::bundle::ClientBundle;
use tpcio::prelude::{CpuPlacement, Server};

const JS: &str = "application/javascript; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

fn dist() -> PathBuf {
    ClientBundle::dir(None)
}

fn on_disk(name: &str) -> Vec<u8> {
    let path = dist().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; run `npm ci --prefix client` (scripts/setup.sh) first", path.display())
    })
}

/// `"<version>"` of the installed `socket.io-client`.
fn etag() -> String {
    let package = std::fs::read(dist().join("../package.json")).expect("socket.io-client's package.json");
    let package: serde_json::Value = serde_json::from_slice(&package).expect("JSON");
    format!("\"{}\"", package["version"].as_str().expect("a version"))
}

fn get(conn: &mut Conn, target: &str, headers: &[(&str, &str)]) -> Response {
    conn.request("GET", target, headers, b"")
}

#[test]
fn serves_each_file_as_node_does() {
    let server = TestServer::start();
    let mut conn = Conn::connect(server.addr);
    let origin = [("Origin", "http://example.com")];
    for (name, content_type) in [
        ("socket.io.js", JS),
        ("socket.io.min.js", JS),
        ("socket.io.esm.min.js", JS),
        ("socket.io.js.map", JSON),
        ("socket.io.min.js.map", JSON),
        ("socket.io.esm.min.js.map", JSON),
    ] {
        let res = get(&mut conn, &format!("/socket.io/{name}"), &origin);
        assert_eq!(res.body, on_disk(name), "{name}: {}", res.head);
        assert_eq!(res.ok_body(content_type).len(), on_disk(name).len());
        assert_eq!(res.header("etag"), Some(&etag()[..]), "{}", res.head);
        assert_eq!(res.header("cache-control"), Some("public, max-age=0"));
        assert_eq!(res.header("access-control-allow-origin"), Some("*"), "conformance CORS");
        assert_eq!(res.header("content-encoding"), None);
        assert_eq!(res.header("connection"), Some("keep-alive"));
    }
    // The `cors` package sends `*` with or without an `Origin`.
    let head = get(&mut conn, "/socket.io/socket.io.min.js?v=4", &[]).head;
    let date = head.lines().find(|l| l.starts_with("Date: ")).expect("a Date");
    let expected = format!(
        "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: public, max-age=0\r\nContent-Type: {JS}\r\nETag: {}\r\n{date}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: {}\r\n\r\n",
        etag(),
        on_disk("socket.io.min.js").len()
    );
    assert_eq!(head, expected);
}

#[test]
fn a_matching_etag_is_not_modified() {
    let server = TestServer::start();
    let mut conn = Conn::connect(server.addr);
    let tag = etag();
    let weak = format!("W/{tag}");
    for candidate in [&tag[..], &weak[..]] {
        let res = get(&mut conn, "/socket.io/socket.io.js", &[("If-None-Match", candidate)]);
        assert_eq!(res.status, 304, "{candidate}: {}", res.head);
        assert!(res.body.is_empty());
        assert_eq!(res.header("content-length"), None);
        assert_eq!(res.header("etag"), None, "Node's 304 carries no header of its own");
    }
    // Other tags, and lists, get the file.
    for other in ["\"0.0.0\"", &format!("{tag}, \"x\"")] {
        let res = get(&mut conn, "/socket.io/socket.io.js.map", &[("If-None-Match", other)]);
        assert_eq!(res.ok_body(JSON), &on_disk("socket.io.js.map")[..]);
    }
}

#[test]
fn compresses_as_the_client_accepts() {
    let server = TestServer::start();
    let mut conn = Conn::connect(server.addr);
    let file = on_disk("socket.io.js");

    let res = get(&mut conn, "/socket.io/socket.io.js", &[("Accept-Encoding", "gzip, deflate, br")]);
    assert_eq!(res.header("content-encoding"), Some("gzip"), "negotiator's pick: {}", res.head);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(res.ok_body(JS)).read_to_end(&mut plain).expect("gzip");
    assert_eq!(plain, file);

    let res = get(&mut conn, "/socket.io/socket.io.js", &[("Accept-Encoding", "deflate")]);
    assert_eq!(res.header("content-encoding"), Some("deflate"));
    plain.clear();
    flate2::read::ZlibDecoder::new(res.ok_body(JS)).read_to_end(&mut plain).expect("zlib");
    assert_eq!(plain, file);

    let res = get(&mut conn, "/socket.io/socket.io.esm.min.js", &[("Accept-Encoding", "br")]);
    assert_eq!(res.header("content-encoding"), Some("br"));
    plain.clear();
    brotli::Decompressor::new(res.ok_body(JS), 4096).read_to_end(&mut plain).expect("brotli");
    assert_eq!(plain, on_disk("socket.io.esm.min.js"));
}

#[test]
fn other_paths_are_left_to_the_router() {
    let server = TestServer::start();
    let mut conn = Conn::connect(server.addr);
    for target in ["/socket.io/socket.io.esm.js", "/socket.io/x/socket.io.js", "/engine.io/socket.io.js"] {
        assert_eq!(get(&mut conn, target, &[]).status, 404, "{target}");
    }
    // The Engine.IO endpoint itself is untouched.
    let open = get(&mut conn, "/socket.io/?EIO=4&transport=polling", &[]);
    assert!(open.text().starts_with("0{\"sid\":"), "{}", open.text());
}

#[test]
fn a_missing_bundle_refuses_the_start() {
    let addr = "127.0.0.1:0".parse().expect("a literal socket address");
    let config = conformance::config(addr, Some(2), CpuPlacement::Unpinned);
    let missing = std::env::temp_dir().join("tpcio-no-client-here/dist");
    let refused =
        conformance::socket_io().client_bundle_dir(&missing).attach(Server::new(config.clone())).start();
    let error = refused.err().expect("the start is refused");
    let message = error.to_string();
    assert!(message.contains("socket.io") && message.contains("npm ci --prefix client"), "{message}");
    assert!(message.contains(&missing.display().to_string()), "{message}");
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);

    // Without client serving, the same server starts, and the files are not found.
    let running = conformance::socket_io()
        .client_bundle_dir(&missing)
        .serve_client(false)
        .start(config)
        .expect("a server that serves no client starts without one");
    let mut conn = Conn::connect(running.local_addr());
    assert_eq!(get(&mut conn, "/socket.io/socket.io.js", &[]).status, 404);
    running.shutdown().expect("every shard stops cleanly");
}
