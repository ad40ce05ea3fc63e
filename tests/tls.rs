//! HTTPS and `wss://` served directly (`ServerConfig::tls`, `--tls-cert`/`--tls-key`), with a
//! certificate authority and certificates made by each test (`rcgen`, [`common::tls`]):
//! Engine.IO polling over HTTPS on 2 shards, requests of one session landing on both (the
//! connection moves to the owner with its TLS session); ALPN `http/1.1`; the payload limit; a
//! plain HTTP client on the TLS port; a handshake that never completes; `socket.io-client`
//! over `https://` and `wss://`; and the binary reloading its certificate on `SIGHUP`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use common::TIMEOUT;
use common::browser::DemoServer;
use common::node::NodeRun;
use common::server::TestServer;
use common::tls::{TestCa, TlsConn, read_until_closed};
use tpcio::prelude::Parser;

fn tls_server(ca: &TestCa, configure: impl FnOnce(&mut tpcio::prelude::ServerConfig)) -> TestServer {
    let files = ca.server_config();
    TestServer::start_with(move |config| {
        config.tls = Some(files);
        configure(config);
    })
}

/// The sid of an Engine.IO v4 polling handshake's body (`0{"sid":"…",…}`).
fn sid_of(body: &[u8]) -> String {
    let text = std::str::from_utf8(body).expect("a UTF-8 handshake");
    let open: serde_json::Value =
        serde_json::from_str(text.strip_prefix('0').expect("an open packet")).expect("JSON");
    open["sid"].as_str().expect("a sid").to_owned()
}

#[test]
fn polling_over_https_with_requests_landing_on_both_shards() {
    let ca = TestCa::new("polling");
    let server = tls_server(&ca, |_| {});
    let client = ca.client_config();
    let mut first = TlsConn::connect(server.addr, &client);
    assert_eq!(first.alpn().as_deref(), Some(&b"http/1.1"[..]), "the server speaks HTTP/1.1 only");
    let open = first.get("/engine.io/?EIO=4&transport=polling");
    let sid = sid_of(open.ok_body("text/plain; charset=UTF-8"));
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    // Each round on a new connection, which the kernel gives either shard; one that lands on
    // the other shard moves to the owner with its TLS session, and serves the next request
    // there. 24 rounds all on the owner's shard would be a 1 in 16 million chance.
    for round in 0..24 {
        let mut conn = TlsConn::connect(server.addr, &client);
        let message = format!("4round {round} é");
        assert_eq!(conn.post(&target, message.as_bytes()).text(), "ok", "round {round}");
        let echoed = conn.get(&target);
        assert_eq!(echoed.ok_body("text/plain; charset=UTF-8"), message.as_bytes(), "round {round}");
    }
    assert!(server.handoffs() > 0, "no request landed on the shard that does not own the session");
    // The first connection, still open, carries on too.
    assert_eq!(first.post(&target, b"4last").text(), "ok");
    assert_eq!(first.get(&target).body, b"4last");
}

#[test]
fn the_payload_limit_holds_over_tls() {
    let ca = TestCa::new("limits");
    let server = tls_server(&ca, |config| config.engine.max_payload = 1000);
    let mut conn = TlsConn::connect(server.addr, &ca.client_config());
    let sid = sid_of(&conn.get("/engine.io/?EIO=4&transport=polling").body);
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    let mut conn = TlsConn::connect(server.addr, &ca.client_config());
    let too_big = vec![b'x'; 2000];
    assert_eq!(conn.post(&target, &too_big).status, 413);
}

#[test]
fn connections_past_max_connections_are_closed_before_their_handshake() {
    let ca = TestCa::new("max-connections");
    // One connection per shard.
    let server = tls_server(&ca, |config| config.max_connections = Some(2));
    let client = ca.client_config();
    let mut open = Vec::new();
    let mut refused = 0;
    // Three connections on two shards of one place each: one at least lands on a full shard.
    for _ in 0..3 {
        let mut tcp = TcpStream::connect(server.addr).expect("connect");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("a read timeout");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
        let mut tls = rustls::ClientConnection::new(client.clone(), name).expect("a TLS client");
        match tls.complete_io(&mut tcp) {
            Ok(_) if !tls.is_handshaking() => open.push((tcp, tls)),
            // Closed without a word (no 503 a TLS client could not read), as Node does.
            _ => refused += 1,
        }
    }
    assert!(refused >= 1, "three connections fit in two places");
    assert!(!open.is_empty(), "the first connection is served");
}

#[test]
fn a_plain_http_client_on_the_tls_port_is_closed_without_an_answer() {
    let ca = TestCa::new("plain");
    let server = tls_server(&ca, |_| {});
    let mut plain = TcpStream::connect(server.addr).expect("connect");
    plain.write_all(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let (got, _) = read_until_closed(&mut plain, TIMEOUT);
    // As Node's https server (OpenSSL): no HTTP answer, not even a TLS alert.
    assert!(got.is_empty(), "{got:?}");
    // The server is unharmed.
    let mut conn = TlsConn::connect(server.addr, &ca.client_config());
    assert_eq!(conn.get("/engine.io/?EIO=4&transport=polling").status, 200);
}

#[test]
fn a_stalled_handshake_is_closed_at_the_header_timeout() {
    let ca = TestCa::new("stalled");
    let limit = Duration::from_millis(800);
    let server = tls_server(&ca, |config| config.header_timeout = limit);
    // One client sends nothing; one starts a ClientHello record and stops.
    let start = std::time::Instant::now();
    let mut silent = TcpStream::connect(server.addr).expect("connect");
    let mut partial = TcpStream::connect(server.addr).expect("connect");
    partial.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).expect("write");
    for (what, stream) in [("silent", &mut silent), ("partial", &mut partial)] {
        let (got, _) = read_until_closed(stream, limit + TIMEOUT);
        let after = start.elapsed();
        assert!(got.is_empty(), "{what}: {got:?}");
        assert!(after >= limit.mul_f32(0.75), "{what}: closed after {after:?}, before the limit");
    }
    // A client that completes its handshake meanwhile is served.
    let mut conn = TlsConn::connect(server.addr, &ca.client_config());
    assert_eq!(conn.get("/engine.io/?EIO=4&transport=polling").status, 200);
}

#[test]
fn socket_io_client_over_https_and_wss() {
    let ca = TestCa::new("sio");
    let server = tls_server(&ca, |_| {});
    let ca_path = ca.ca_path.to_str().expect("a UTF-8 path");
    let packages = &["socket.io-client"];
    let run =
        NodeRun::start("sio_tls.mjs", server.addr.port(), 4, &[ca_path], packages, Duration::from_secs(90));
    let summary = run.finish("socket.io-client over https and wss");
    assert_eq!(summary["transports"]["upgrade"][0], "websocket", "{summary}");
    // Later connections of the sessions (polls, the upgrades) landed on the other shard too.
    assert!(server.handoffs() > 0, "no connection moved between shards");
}

#[test]
fn chromium_chats_on_the_demo_page_over_https() {
    common::browser::require_chromium();
    let ca = TestCa::new("browser");
    // The leaf chromium pins by its public key.
    let leaf = ca.issue(7, &["localhost", "127.0.0.1"]);
    ca.install(&leaf);
    let files = ca.server_config();
    let server = DemoServer::start_with(Parser::Json, move |config| config.tls = Some(files));
    let shots = common::browser::screenshot_dir("tls_chat");
    let args = [shots.to_str().expect("a UTF-8 path"), leaf.spki_sha256.as_str()];
    let run = NodeRun::start(
        "browser/tls_chat.mjs",
        server.port(),
        4,
        &args,
        &["playwright-core"],
        Duration::from_secs(130),
    );
    run.finish("the demo chat over https and wss");
}

/// The binary, run in conformance mode with TLS on 127.0.0.1 and an ephemeral port; its log
/// lines arrive on a channel.
struct Binary {
    child: Child,
    lines: Receiver<String>,
    addr: SocketAddr,
}

impl Binary {
    fn start(ca: &TestCa) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tpcio"))
            .args(["conformance", "--host", "127.0.0.1", "--port", "0", "--shards", "2", "--no-pin"])
            .args(["--keep-alive-timeout", "0", "--log", "info"])
            .arg("--tls-cert")
            .arg(&ca.cert_path)
            .env("TPCIO_TLS_KEY", &ca.key_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the tpcio binary");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut binary = Binary { child, lines, addr: "127.0.0.1:1".parse().expect("an address") };
        let line = binary.expect_line("listening on https://127.0.0.1:");
        let port = line.split("https://127.0.0.1:").nth(1).and_then(|rest| rest.split('/').next());
        binary
            .addr
            .set_port(port.and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no port in {line:?}")));
        binary
    }

    /// Waits for a log line containing `what`.
    fn expect_line(&mut self, what: &str) -> String {
        loop {
            match self.lines.recv_timeout(TIMEOUT) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(e) => panic!("no log line with {what:?} ({e})"),
            }
        }
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: a signal to our own child process.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, signal) }, 0);
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.signal(libc::SIGTERM);
        let _ = self.child.wait();
    }
}

#[test]
fn sighup_reloads_the_certificate_for_new_connections_only() {
    let ca = TestCa::new("reload");
    let first_cert = std::fs::read(&ca.cert_path).expect("cert.pem");
    let mut binary = Binary::start(&ca);
    let client = ca.client_config();
    let handshake = "/engine.io/?EIO=4&transport=polling";
    let mut old = TlsConn::connect(binary.addr, &client);
    assert_eq!(old.get(handshake).status, 200);
    let first = old.server_certificate();

    let second = ca.issue(2, &["localhost", "127.0.0.1", "reloaded.test"]);
    ca.install(&second);
    binary.signal(libc::SIGHUP);
    binary.expect_line("TLS certificate reloaded");
    // Every shard presents the new certificate: a few connections, spread by the kernel.
    for _ in 0..6 {
        let mut new = TlsConn::connect(binary.addr, &client);
        assert_eq!(new.server_certificate(), second.der, "a new connection gets the new certificate");
        assert_eq!(new.get(handshake).status, 200);
    }
    // The connection opened before keeps its session and works.
    assert_eq!(old.get(handshake).status, 200);
    assert_eq!(old.server_certificate(), first);
    assert_ne!(first, second.der);

    // Files that do not make a certificate: logged, and the last good one stays.
    std::fs::write(&ca.cert_path, b"not a certificate").expect("write cert.pem");
    binary.signal(libc::SIGHUP);
    binary.expect_line("TLS certificate not reloaded");
    let mut after = TlsConn::connect(binary.addr, &client);
    assert_eq!(after.server_certificate(), second.der);
    assert_eq!(after.get(handshake).status, 200);
    // A key that does not belong to the certificate is refused too.
    std::fs::write(&ca.cert_path, &first_cert).expect("write cert.pem");
    binary.signal(libc::SIGHUP);
    binary.expect_line("TLS certificate not reloaded");
    let after = TlsConn::connect(binary.addr, &client);
    assert_eq!(after.server_certificate(), second.der);
}
