//! Engine.IO over HTTP long-polling, as a client sees it: handshakes, the payload framing of
//! both protocol revisions (v4: packets joined by `\x1e`; v3: `<UTF-16 length>:<packet>`),
//! the error bodies of Node's `abortRequest`, and a health check used after bad input.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::http::{Conn, Response};

/// `Content-Type` of a text polling payload.
pub const TEXT: &str = "text/plain; charset=UTF-8";
/// `Content-Type` of a v3 binary polling payload.
pub const OCTETS: &str = "application/octet-stream";

/// Where the test servers serve their metrics: [`Session::park`] watches the parked-GET gauge.
pub const METRICS_PATH: &str = "/metrics";

/// A protocol revision, as the `EIO` query parameter names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eio {
    V3,
    V4,
}

pub const BOTH: [Eio; 2] = [Eio::V3, Eio::V4];

impl Eio {
    pub fn query(self) -> &'static str {
        match self {
            Eio::V3 => "EIO=3",
            Eio::V4 => "EIO=4",
        }
    }

    /// Text packets framed as one polling payload.
    pub fn payload(self, packets: &[&str]) -> String {
        match self {
            Eio::V4 => packets.join("\x1e"),
            Eio::V3 => packets.iter().map(|p| format!("{}:{p}", p.encode_utf16().count())).collect(),
        }
    }

    /// The packets of a text polling payload.
    pub fn decode(self, body: &str) -> Vec<String> {
        match self {
            Eio::V4 => body.split('\x1e').map(str::to_string).collect(),
            Eio::V3 => decode_v3(body),
        }
    }
}

/// Splits a v3 text payload, counting lengths in UTF-16 units as JavaScript does.
fn decode_v3(body: &str) -> Vec<String> {
    let mut packets = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(':').unwrap_or_else(|| panic!("no length in {rest:?}"));
        let len: usize = len.parse().unwrap_or_else(|_| panic!("bad length {len:?} in {body:?}"));
        let mut units = 0;
        let end = tail
            .char_indices()
            .find_map(|(i, c)| {
                let at = (units == len).then_some(i);
                units += c.len_utf16();
                at
            })
            .unwrap_or(tail.len());
        assert_eq!(tail[..end].encode_utf16().count(), len, "length {len} does not fit {body:?}");
        packets.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    packets
}

/// The JSON of an open packet, exactly as Node's engine.io 6.6 writes it.
pub fn open_json(
    sid: &str,
    websocket_upgrade: bool,
    ping_interval: u64,
    ping_timeout: u64,
    max: u64,
) -> String {
    let upgrades = if websocket_upgrade { r#"["websocket"]"# } else { "[]" };
    format!(
        r#"{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{ping_interval},"pingTimeout":{ping_timeout},"maxPayload":{max}}}"#
    )
}

/// Takes the sid out of an open packet (`0{"sid":"…",…`), checking its shape.
pub fn sid_of(open_packet: &str) -> String {
    let rest = open_packet
        .strip_prefix(r#"0{"sid":""#)
        .unwrap_or_else(|| panic!("not an open packet: {open_packet:?}"));
    let sid = &rest[..rest.find('"').expect("a closing quote")];
    assert_eq!(sid.len(), 20, "a 20-character sid: {sid:?}");
    assert!(
        sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "base64url sid {sid:?}"
    );
    sid.to_string()
}

/// Node's `abortRequest` body.
pub fn error_json(code: u8) -> String {
    let message = match code {
        0 => "Transport unknown",
        1 => "Session ID unknown",
        2 => "Bad handshake method",
        3 => "Bad request",
        4 => "Forbidden",
        5 => "Unsupported protocol version",
        _ => panic!("no engine error {code}"),
    };
    format!(r#"{{"code":{code},"message":"{message}"}}"#)
}

/// Asserts Node's JSON error answer for `code` (403 for `Forbidden`, else 400).
pub fn assert_engine_error(response: &Response, code: u8) {
    let status = if code == 4 { 403 } else { 400 };
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"), "{response:?}");
    assert_eq!(response.text(), error_json(code), "{response:?}");
}

/// A polling session opened by a handshake GET.
#[derive(Clone, Debug)]
pub struct Session {
    pub addr: SocketAddr,
    pub eio: Eio,
    pub sid: String,
    /// The open packet's JSON.
    pub open: String,
    /// Query parameters of the handshake besides `EIO` and `transport` (e.g. `b64=1`).
    pub extra: String,
}

impl Session {
    pub fn handshake(addr: SocketAddr, eio: Eio) -> Session {
        Self::handshake_with(addr, eio, "")
    }

    /// A handshake with `extra` (e.g. `&b64=1`) appended to its query.
    pub fn handshake_with(addr: SocketAddr, eio: Eio, extra: &str) -> Session {
        let target = format!("/engine.io/?{}&transport=polling{extra}", eio.query());
        let response = Conn::connect(addr).get(&target);
        let body = std::str::from_utf8(response.ok_body(TEXT)).expect("a UTF-8 open packet").to_string();
        let packets = eio.decode(&body);
        assert_eq!(packets.len(), 1, "the handshake carries the open packet alone: {body:?}");
        let sid = sid_of(&packets[0]);
        let open = packets[0][1..].to_string();
        Session { addr, eio, sid, open, extra: extra.to_string() }
    }

    /// The polling URL of this session.
    pub fn target(&self) -> String {
        format!("/engine.io/?{}&transport=polling{}&sid={}", self.eio.query(), self.extra, self.sid)
    }

    /// A GET on a fresh connection.
    pub fn get(&self) -> Response {
        Conn::connect(self.addr).get(&self.target())
    }

    /// A POST of `body` on a fresh connection.
    pub fn post(&self, body: &[u8]) -> Response {
        Conn::connect(self.addr).post(&self.target(), body)
    }

    /// POSTs `packets` as one payload and asserts Node's `200 text/html ok`.
    pub fn send(&self, packets: &[&str]) {
        let response = self.post(self.eio.payload(packets).as_bytes());
        assert_ok(&response);
    }

    /// GETs the next text payload (which may wait for it) and splits it into packets.
    pub fn recv(&self) -> Vec<String> {
        let response = self.get();
        self.eio.decode(std::str::from_utf8(response.ok_body(TEXT)).expect("a UTF-8 payload"))
    }

    /// Sends a GET on a fresh connection and returns once the server has parked it (its
    /// parked-GET gauge went up; the request may have been handed to the other shard first),
    /// failing if the GET is answered instead.
    pub fn park(&self) -> Conn {
        let before = parked_gets(self.addr);
        let mut conn = Conn::connect(self.addr);
        conn.send(&super::http::request_bytes("GET", &self.target(), &[], b""));
        let deadline = Instant::now() + super::TIMEOUT;
        while parked_gets(self.addr) <= before {
            assert!(Instant::now() < deadline, "the GET was not parked within {:?}", super::TIMEOUT);
            conn.expect_silence(Duration::from_millis(2));
        }
        conn
    }
}

/// Polling GETs parked on every shard of the server at `addr`, from its metrics.
pub fn parked_gets(addr: SocketAddr) -> u64 {
    let response = Conn::connect(addr).get(METRICS_PATH);
    assert_eq!(response.status, 200, "the test server serves no metrics at {METRICS_PATH}");
    let text = String::from_utf8_lossy(&response.body);
    let samples = text.lines().filter(|l| l.starts_with("tpcio_polling_parked_gets{"));
    samples.map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<u64>().ok()).expect("a gauge value")).sum()
}

/// Node's answer to a polling POST: `200`, `text/html`, `ok`.
pub fn assert_ok(response: &Response) {
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("content-type"), Some("text/html"), "{response:?}");
    assert_eq!(response.body, b"ok", "{response:?}");
}

/// A payload body of the parked GET `conn`, split into packets.
pub fn parked_packets(conn: &mut Conn, eio: Eio) -> Vec<String> {
    let response = conn.response();
    eio.decode(std::str::from_utf8(response.ok_body(TEXT)).expect("a UTF-8 payload"))
}

/// A fresh v4 session still echoes over polling: bad input from one peer hurt no other.
pub fn assert_healthy(addr: SocketAddr) {
    let session = Session::handshake(addr, Eio::V4);
    session.send(&["4still here", "4and here"]);
    assert_eq!(session.recv(), ["4still here", "4and here"]);
}
