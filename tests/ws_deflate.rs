//! WebSocket `permessage-deflate` (RFC 7692) end to end: the `ws` npm client (v8, in
//! tests/js/node_modules) against the conformance server, with the extension enabled
//! (`per_message_deflate = Some(1024)`, engine.io's `perMessageDeflate: true`) and disabled (the
//! default). `tests/js/deflate_echo.mjs` echoes a 10 KiB, a small and a 500-byte text message and checks the
//! 101's `Sec-WebSocket-Extensions` and which frames arrived compressed. Raw-socket tests check
//! the handshake bytes, including `ws`'s 400 for a malformed offer.
//! A missing `node` or `tests/js/node_modules` fails the tests: they never skip.

// The binary's conformance server, compiled here (it is not part of the library).
#[allow(dead_code)]
#[path = "../src/cli/mod.rs"]
mod cli;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use cli::conformance;
use tpcio::prelude::{CpuPlacement, RunningServer};

const NODE_TIMEOUT: Duration = Duration::from_secs(20);
const KEY_HEADERS: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

fn start(per_message_deflate: Option<usize>) -> RunningServer {
    let addr = "127.0.0.1:0".parse().expect("a literal socket address");
    let mut config = conformance::config(addr, Some(2), CpuPlacement::Unpinned);
    config.per_message_deflate = per_message_deflate;
    conformance::server(config).start().expect("the conformance server starts")
}

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("js")
}

/// Runs `node deflate_echo.mjs <port> <mode>` and checks its summary line.
fn node_echo(addr: SocketAddr, mode: &str) {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        other => panic!("Node.js is required for this test (`node --version`: {other:?})"),
    }
    let manifest = js_dir().join("node_modules").join("ws").join("package.json");
    assert!(manifest.is_file(), "{} is missing: run `npm ci` in tests/js", manifest.display());
    let mut child = Command::new("node")
        .args(["deflate_echo.mjs", &addr.port().to_string(), mode])
        .current_dir(js_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for node") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("deflate_echo.mjs {mode}: killed after {NODE_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let _ = child.stdout.take().map(|mut s| s.read_to_string(&mut stdout));
    let _ = child.stderr.take().map(|mut s| s.read_to_string(&mut stderr));
    let last = stdout.lines().last().unwrap_or_default();
    let summary: serde_json::Value = serde_json::from_str(last).unwrap_or_default();
    assert!(
        status.success() && summary["ok"] == true && summary["verified"] == format!("deflate {mode}"),
        "deflate_echo.mjs {mode}: {status}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    println!("deflate_echo.mjs {mode}: {last}");
}

/// Sends one upgrade request for a new session, with one `Sec-WebSocket-Extensions` field per
/// `|`-separated part of `extensions` (none if it is empty), and returns the response head (and body, for a refusal).
fn upgrade_head(addr: SocketAddr, extensions: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("a read timeout");
    let fields: String = match extensions {
        "" => String::new(),
        _ => extensions.split('|').map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n")).collect(),
    };
    let request = format!(
        "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\n{KEY_HEADERS}{fields}\r\n"
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("no complete response head ({other:?}): {:?}", String::from_utf8_lossy(&head)),
        }
    }
    // A refusal has a body: read it too.
    let mut rest = Vec::new();
    if !head.starts_with(b"HTTP/1.1 101") {
        let _ = stream.read_to_end(&mut rest);
    }
    String::from_utf8(head).expect("an ASCII head") + &String::from_utf8_lossy(&rest)
}

const ACCEPT_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

#[test]
fn ws_client_round_trips_compressed() {
    let running = start(Some(1024));
    node_echo(running.local_addr(), "on");
    node_echo(running.local_addr(), "no-context");
    node_echo(running.local_addr(), "narrow");
    node_echo(running.local_addr(), "bomb");
    running.shutdown().expect("every shard stops cleanly");
}

#[test]
fn ws_client_round_trips_with_deflate_off() {
    let running = start(None);
    node_echo(running.local_addr(), "off");
    running.shutdown().expect("every shard stops cleanly");
}

#[test]
fn handshake_bytes_match_ws() {
    let on = start(Some(1024));
    let head = upgrade_head(
        on.local_addr(),
        "permessage-deflate; client_max_window_bits=10; server_max_window_bits=12",
    );
    let accepted = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10; \
                    server_max_window_bits=12\r\n";
    // The conformance server's CORS header comes after, as engine.io adds it on `ws`'s `headers` event.
    let cors = "Access-Control-Allow-Origin: *\r\n\r\n";
    assert_eq!(head, format!("{ACCEPT_101}{accepted}{cors}"));
    // No offer, or an offer of another extension only: no extension, no error.
    assert_eq!(upgrade_head(on.local_addr(), ""), format!("{ACCEPT_101}{cors}"));
    assert_eq!(upgrade_head(on.local_addr(), "x-webkit-deflate-frame"), format!("{ACCEPT_101}{cors}"));
    // Node joins repeated fields with ", " (and trims each).
    let joined = upgrade_head(on.local_addr(), "foo|  permessage-deflate; server_no_context_takeover ");
    let no_context = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
    assert_eq!(joined, format!("{ACCEPT_101}{no_context}{cors}"));
    // `ws` refuses a malformed or unacceptable offer before the handshake.
    let refusal = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\n\
                   Content-Length: 55\r\n\r\nInvalid or unacceptable Sec-WebSocket-Extensions header";
    for bad in [
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate;",
        "permessage-deflate|",
    ] {
        assert_eq!(upgrade_head(on.local_addr(), bad), refusal, "{bad:?}");
    }
    on.shutdown().expect("every shard stops cleanly");
    // Disabled, the header is not even read.
    let off = start(None);
    for offer in ["permessage-deflate; client_max_window_bits", "permessage-deflate; foo"] {
        assert_eq!(upgrade_head(off.local_addr(), offer), format!("{ACCEPT_101}{cors}"), "{offer:?}");
    }
    off.shutdown().expect("every shard stops cleanly");
}
