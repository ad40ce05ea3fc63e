//! Scripted exchanges for the differential test: a script is a list of small steps (a request
//! on a numbered connection, a parked request read later, a WebSocket frame, the next message),
//! run the same way against any server. Each step waits for its answer before the next one
//! starts, so the order of events is the script's, not the scheduler's.
//!
//! Running a script yields a transcript: one entry per step, the answer rendered as readable
//! text with what legitimately differs between two servers masked (the `Date` value, session
//! ids). Session ids of the server's open packets are captured in order and substituted into
//! later steps as `{sid}` (the first) and `{sid2}` (the second); in answers they read `<sid>`
//! and `<sid2>`, and any other `"sid"` value (a Socket.IO socket id) reads `<socket id>`.
//! Nothing else is touched: lengths are compared as sent (both servers' ids are 20 characters).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use super::wire::{Got, Wire, client_frame};

/// The fixed key of every WebSocket handshake, so `Sec-WebSocket-Accept` is comparable.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// One scripted step on connection `conn` (opened on first use).
#[derive(Clone, Debug)]
pub enum Step {
    /// Write a request and read its response.
    Request { conn: usize, request: Request },
    /// Write a request without reading: a long-poll the server parks, read by [`Step::Read`].
    Park { conn: usize, request: Request },
    /// The response to a parked request.
    Read { conn: usize },
    /// The WebSocket handshake (`GET target` with the upgrade headers), then its answer.
    WsOpen { conn: usize, target: String },
    /// One masked text frame.
    WsText { conn: usize, text: String },
    /// One masked binary frame.
    WsBinary { conn: usize, data: Vec<u8> },
    /// A close frame with this status code.
    WsClose { conn: usize, code: u16 },
    /// An empty close frame: the client's half of a closing handshake the server started.
    WsCloseReply { conn: usize },
    /// The next WebSocket message or close frame.
    WsRecv { conn: usize },
    /// The server ends the connection (what, if anything, it sends first).
    End { conn: usize },
}

/// A request as its parts; `{sid}` and `{sid2}` in the target and body are substituted.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: &'static str,
    pub target: String,
    pub headers: &'static [(&'static str, &'static str)],
    pub body: Vec<u8>,
}

/// A named list of steps.
#[derive(Clone, Debug)]
pub struct Script {
    pub name: String,
    pub steps: Vec<Step>,
}

pub fn script(name: impl Into<String>, steps: Vec<Step>) -> Script {
    Script { name: name.into(), steps }
}

/// Any request.
pub fn request(
    conn: usize,
    method: &'static str,
    target: impl Into<String>,
    headers: &'static [(&'static str, &'static str)],
    body: &[u8],
) -> Step {
    Step::Request { conn, request: Request { method, target: target.into(), headers, body: body.to_vec() } }
}

pub fn get(conn: usize, target: impl Into<String>) -> Step {
    request(conn, "GET", target, &[], b"")
}

/// A text POST as browsers send it.
pub fn post(conn: usize, target: impl Into<String>, body: &[u8]) -> Step {
    request(conn, "POST", target, &[("Content-Type", "text/plain;charset=UTF-8")], body)
}

/// A binary (v3) POST.
pub fn post_binary(conn: usize, target: impl Into<String>, body: &[u8]) -> Step {
    request(conn, "POST", target, &[("Content-Type", "application/octet-stream")], body)
}

/// A GET the server parks until it has something to send.
pub fn park_get(conn: usize, target: impl Into<String>) -> Step {
    Step::Park {
        conn,
        request: Request { method: "GET", target: target.into(), headers: &[], body: Vec::new() },
    }
}

pub fn read(conn: usize) -> Step {
    Step::Read { conn }
}

pub fn ws_open(conn: usize, target: impl Into<String>) -> Step {
    Step::WsOpen { conn, target: target.into() }
}

pub fn ws_text(conn: usize, text: impl Into<String>) -> Step {
    Step::WsText { conn, text: text.into() }
}

pub fn ws_binary(conn: usize, data: &[u8]) -> Step {
    Step::WsBinary { conn, data: data.to_vec() }
}

pub fn ws_close(conn: usize, code: u16) -> Step {
    Step::WsClose { conn, code }
}

pub fn ws_close_reply(conn: usize) -> Step {
    Step::WsCloseReply { conn }
}

pub fn ws_recv(conn: usize) -> Step {
    Step::WsRecv { conn }
}

pub fn end(conn: usize) -> Step {
    Step::End { conn }
}

/// One step of a transcript: what was done and the masked answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub step: String,
    pub answer: String,
}

/// Runs `script` against the server at `addr`.
pub fn run(script: &Script, addr: SocketAddr) -> Vec<Entry> {
    let mut conns: BTreeMap<usize, Wire> = BTreeMap::new();
    let mut sids: Vec<String> = Vec::new();
    let mut entries = Vec::with_capacity(script.steps.len());
    for step in &script.steps {
        let conn = match step {
            Step::Request { conn, .. }
            | Step::Park { conn, .. }
            | Step::Read { conn }
            | Step::WsOpen { conn, .. }
            | Step::WsText { conn, .. }
            | Step::WsBinary { conn, .. }
            | Step::WsClose { conn, .. }
            | Step::WsCloseReply { conn }
            | Step::WsRecv { conn }
            | Step::End { conn } => *conn,
        };
        let wire = conns.entry(conn).or_insert_with(|| Wire::connect(addr));
        let got = match step {
            Step::Request { request, .. } => {
                wire.send(&request_bytes(request, &sids));
                Some(if request.method == "HEAD" { wire.head_response() } else { wire.response() })
            }
            Step::Park { request, .. } => {
                wire.send(&request_bytes(request, &sids));
                None
            }
            Step::Read { .. } => Some(wire.response()),
            Step::WsOpen { target, .. } => {
                let target = substitute(target.as_bytes(), &sids);
                let mut head = b"GET ".to_vec();
                head.extend_from_slice(&target);
                head.extend_from_slice(
                    format!(
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {WS_KEY}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                wire.send(&head);
                Some(wire.response())
            }
            Step::WsText { text, .. } => {
                wire.send(&client_frame(0x1, &substitute(text.as_bytes(), &sids)));
                None
            }
            Step::WsBinary { data, .. } => {
                wire.send(&client_frame(0x2, data));
                None
            }
            Step::WsClose { code, .. } => {
                wire.send(&client_frame(0x8, &code.to_be_bytes()));
                None
            }
            Step::WsCloseReply { .. } => {
                wire.send(&client_frame(0x8, b""));
                None
            }
            Step::WsRecv { .. } => Some(wire.ws_message()),
            Step::End { .. } => Some(wire.end(super::TIMEOUT)),
        };
        if let Some(got) = &got {
            capture_sids(got, &mut sids);
        }
        let answer = got.map_or_else(|| "(sent)".to_string(), |got| render(&got, &sids));
        entries.push(Entry { step: describe(step), answer });
    }
    entries
}

/// The request exactly as written: `Host` first, the script's headers, `Content-Length` for a
/// body or any POST.
fn request_bytes(request: &Request, sids: &[String]) -> Vec<u8> {
    let mut out = request.method.as_bytes().to_vec();
    out.push(b' ');
    out.extend_from_slice(&substitute(request.target.as_bytes(), sids));
    out.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in request.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let body = substitute(&request.body, sids);
    if !body.is_empty() || request.method == "POST" {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

/// `{sid}` and `{sid2}` replaced by the captured ids (left as is until captured).
fn substitute(text: &[u8], sids: &[String]) -> Vec<u8> {
    let mut out = text.to_vec();
    for (i, sid) in sids.iter().enumerate().rev() {
        let token = if i == 0 { "{sid}".to_string() } else { format!("{{sid{}}}", i + 1) };
        out = replace(&out, token.as_bytes(), sid.as_bytes());
    }
    out
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Engine.IO session ids from open packets (`{"sid":"…","upgrades":…`), in order; also inside
/// a JSONP answer's string, where the quotes are escaped.
fn capture_sids(got: &Got, sids: &mut Vec<String>) {
    let bytes = match got {
        Got::Response(bytes) | Got::Text(bytes) => bytes,
        _ => return,
    };
    let text = String::from_utf8_lossy(bytes).replace(r#"\""#, r#"""#);
    let mut rest = text.as_str();
    while let Some(at) = rest.find(r#"{"sid":""#) {
        rest = &rest[at + 8..];
        let Some(end) = rest.find('"') else { break };
        let sid = &rest[..end];
        if rest[end..].starts_with(r#"","upgrades":"#) && !sids.iter().any(|s| s == sid) {
            sids.push(sid.to_string());
        }
    }
}

/// The step as the script wrote it (ids not substituted).
fn describe(step: &Step) -> String {
    match step {
        Step::Request { conn, request } => format!("[c{conn}] {}", describe_request(request)),
        Step::Park { conn, request } => format!("[c{conn}] {} (parked)", describe_request(request)),
        Step::Read { conn } => format!("[c{conn}] the parked request's response"),
        Step::WsOpen { conn, target } => format!("[c{conn}] WebSocket handshake GET {target}"),
        Step::WsText { conn, text } => format!("[c{conn}] WebSocket text {}", escape(text.as_bytes())),
        Step::WsBinary { conn, data } => format!("[c{conn}] WebSocket binary {}", hex(data)),
        Step::WsClose { conn, code } => format!("[c{conn}] WebSocket close {code}"),
        Step::WsCloseReply { conn } => format!("[c{conn}] WebSocket close (empty), answering the server's"),
        Step::WsRecv { conn } => format!("[c{conn}] next WebSocket message"),
        Step::End { conn } => format!("[c{conn}] the server ends the connection"),
    }
}

fn describe_request(request: &Request) -> String {
    let mut out = format!("{} {}", request.method, request.target);
    for (name, value) in request.headers {
        let _ = write!(out, " | {name}: {value}");
    }
    if request.body.len() > 200 {
        let _ = write!(out, " | body: {} bytes", request.body.len());
    } else if !request.body.is_empty() {
        let _ = write!(out, " | body: {}", escape(&request.body));
    }
    out
}

/// An answer as text: a response's head line by line (`Date` masked) and its body escaped;
/// WebSocket messages as `text …`, `binary <hex>`, `close <code> <reason>`.
fn render(got: &Got, sids: &[String]) -> String {
    match got {
        Got::Response(bytes) => {
            let bytes = mask(bytes, sids);
            let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").map_or(bytes.len(), |at| at + 4);
            let mut out = String::new();
            for line in String::from_utf8_lossy(&bytes[..head_end]).split("\r\n").filter(|l| !l.is_empty()) {
                match line.split_once(':') {
                    Some((name, _)) if name.eq_ignore_ascii_case("date") => {
                        let _ = writeln!(out, "{name}: <date>");
                    }
                    _ => {
                        let _ = writeln!(out, "{line}");
                    }
                }
            }
            if head_end < bytes.len() {
                let _ = writeln!(out, "body: {}", escape(&bytes[head_end..]));
            }
            out
        }
        Got::Text(text) => format!("text {}", escape(&mask(text, sids))),
        Got::Binary(data) => format!("binary {}", hex(data)),
        Got::Close(payload) if payload.len() >= 2 => {
            format!("close {} {}", u16::from_be_bytes([payload[0], payload[1]]), escape(&payload[2..]))
        }
        Got::Close(payload) => format!("close (no code) {}", hex(payload)),
        Got::Eof(rest) if rest.is_empty() => "connection closed".to_string(),
        Got::Eof(rest) => format!("connection closed after {}", escape(&mask(rest, sids))),
        Got::Timeout(rest) if rest.is_empty() => "nothing (timeout)".to_string(),
        Got::Timeout(rest) => format!("an incomplete answer (timeout): {}", escape(&mask(rest, sids))),
    }
}

/// Captured sids as `<sid>`, `<sid2>`…; other `"sid":"…"` values as `<socket id>`.
fn mask(bytes: &[u8], sids: &[String]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (i, sid) in sids.iter().enumerate() {
        let placeholder = if i == 0 { "<sid>".to_string() } else { format!("<sid{}>", i + 1) };
        out = replace(&out, sid.as_bytes(), placeholder.as_bytes());
    }
    let key = br#""sid":""#;
    let mut masked = Vec::with_capacity(out.len());
    let mut rest = &out[..];
    while let Some(at) = rest.windows(key.len()).position(|w| w == key) {
        masked.extend_from_slice(&rest[..at + key.len()]);
        rest = &rest[at + key.len()..];
        let end = rest.iter().position(|&b| b == b'"').unwrap_or(rest.len());
        if rest[..end].starts_with(b"<sid") {
            masked.extend_from_slice(&rest[..end]);
        } else {
            masked.extend_from_slice(b"<socket id>");
        }
        rest = &rest[end..];
    }
    masked.extend_from_slice(rest);
    masked
}

/// Printable ASCII as is, `\r`, `\n` and the record separator named, other bytes as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + 2);
    out.push('<');
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out.push('>');
    out
}

/// The first difference of a script between two transcripts, as a readable report: the step,
/// then Node's answer and ours line by line, lines only Node sent marked `-`, lines only we
/// sent `+`.
pub fn differences(script: &Script, node: &[Entry], ours: &[Entry]) -> Option<String> {
    let at = node.iter().zip(ours).position(|(n, o)| n != o)?;
    let mut out = format!("script {:?}, step {}: {}\n", script.name, at + 1, node[at].step);
    let node_lines: Vec<&str> = node[at].answer.lines().collect();
    let our_lines: Vec<&str> = ours[at].answer.lines().collect();
    for (mark, line) in line_diff(&node_lines, &our_lines) {
        let _ = writeln!(out, "  {mark} {line}");
    }
    let later = node.iter().zip(ours).skip(at + 1).filter(|(n, o)| n != o).count();
    if later > 0 {
        let _ = writeln!(out, "  (and {later} later step(s) of this script differ too)");
    }
    Some(out)
}

/// A longest-common-subsequence diff of two short lists of lines.
fn line_diff<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(char, &'a str)> {
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] =
                if a[i] == b[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push((' ', a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j == b.len() || (i < a.len() && common[i + 1][j] >= common[i][j + 1]) {
            out.push(('-', a[i]));
            i += 1;
        } else {
            out.push(('+', b[j]));
            j += 1;
        }
    }
    out
}
