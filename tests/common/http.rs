//! A tiny blocking HTTP/1.1 client over `std::net::TcpStream`: requests are written as raw
//! bytes, responses parsed just enough to assert on them (status, headers, body framed by
//! `Content-Length` or chunked). Reads time out instead of hanging a test.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::TIMEOUT;

/// One parsed response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// The head, from the status line to the blank line included.
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// Asserts a `200` with a body of content type `content_type`; returns the body.
    pub fn ok_body(&self, content_type: &str) -> &[u8] {
        assert_eq!(self.status, 200, "expected 200, got {self:?}");
        assert_eq!(self.header("content-type"), Some(content_type), "{self:?}");
        &self.body
    }
}

/// How a read ended without a response.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// Nothing more arrived before the timeout.
    Timeout,
    /// The server closed the connection (FIN or reset).
    Closed,
}

/// One client connection.
pub struct Conn {
    pub stream: TcpStream,
    /// Received bytes not yet consumed by a parsed response.
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to the server");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream.set_read_timeout(Some(TIMEOUT)).expect("a read timeout");
        Conn { stream, buf: Vec::new() }
    }

    /// [`Conn::connect`] from another local address (any of 127.0.0.0/8 on Linux), so the
    /// server sees another client address.
    pub fn connect_from(addr: SocketAddr, local: std::net::IpAddr) -> Conn {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a TCP socket");
        socket.bind(&SocketAddr::new(local, 0).into()).expect("bind the local address");
        socket.connect(&addr.into()).expect("connect to the server");
        let stream = TcpStream::from(socket);
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream.set_read_timeout(Some(TIMEOUT)).expect("a read timeout");
        Conn { stream, buf: Vec::new() }
    }

    /// Writes `bytes` in one `write_all`.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the server");
    }

    /// Closes the sending side (the server reads end of stream).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Sends a request and reads its response.
    pub fn request(&mut self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.send(&request_bytes(method, target, headers, body));
        self.response()
    }

    pub fn get(&mut self, target: &str) -> Response {
        self.request("GET", target, &[], b"")
    }

    pub fn post(&mut self, target: &str, body: &[u8]) -> Response {
        self.request("POST", target, &[("Content-Type", "text/plain;charset=UTF-8")], body)
    }

    /// The next response; panics if none arrives within [`TIMEOUT`].
    pub fn response(&mut self) -> Response {
        match self.try_response(TIMEOUT) {
            Ok(response) => response,
            Err(end) => {
                panic!("no response ({end:?}); received so far: {:?}", String::from_utf8_lossy(&self.buf))
            }
        }
    }

    /// The next response, or why none came within `wait`.
    pub fn try_response(&mut self, wait: Duration) -> Result<Response, ReadEnd> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(response) = parse_response(&mut self.buf) {
                return Ok(response);
            }
            self.fill(deadline)?;
        }
    }

    /// Asserts that nothing arrives (and the connection stays open) for `wait`.
    pub fn expect_silence(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        match self.fill(deadline) {
            Err(ReadEnd::Timeout) => {}
            Err(ReadEnd::Closed) => panic!("the connection closed while it should have stayed idle"),
            Ok(()) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&self.buf)),
        }
    }

    /// Everything received until the server closes the connection; panics on timeout.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.fill(deadline) {
                Ok(()) => {}
                Err(ReadEnd::Closed) => return std::mem::take(&mut self.buf),
                Err(ReadEnd::Timeout) => panic!(
                    "the server did not close the connection; received: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Reads once more into the buffer, waiting until `deadline` at most.
    fn fill(&mut self, deadline: Instant) -> Result<(), ReadEnd> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadEnd::Timeout);
        }
        self.stream.set_read_timeout(Some(left)).expect("a read timeout");
        let mut chunk = [0u8; 16 * 1024];
        let read = self.stream.read(&mut chunk);
        let _ = self.stream.set_read_timeout(Some(TIMEOUT));
        match read {
            Ok(0) => Err(ReadEnd::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(ReadEnd::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            Err(_) => Err(ReadEnd::Closed),
        }
    }
}

/// A request as raw bytes: `Host` first, `Content-Length` when there is a body.
pub fn request_bytes(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Takes one whole response off the front of `buf`, if there is one.
pub fn parse_response(buf: &mut Vec<u8>) -> Option<Response> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("an ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap_or_else(|| panic!("bad header line {l:?}"));
            (name.to_string(), value.trim().to_string())
        })
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let (body, consumed) = if (100..200).contains(&status) || status == 204 || status == 304 {
        (Vec::new(), head_end)
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(&buf[head_end..]).map(|(body, used)| (body, head_end + used))?
    } else {
        let len: usize = find("content-length")
            .map(|v| v.parse().expect("a numeric Content-Length"))
            .unwrap_or_else(|| panic!("a response without a length: {head:?}"));
        if buf.len() < head_end + len {
            return None;
        }
        (buf[head_end..head_end + len].to_vec(), head_end + len)
    };
    buf.drain(..consumed);
    Some(Response { status, head, headers, body })
}

/// A whole chunked body and the bytes it used, if all of it is there.
fn dechunk(mut wire: &[u8]) -> Option<(Vec<u8>, usize)> {
    let total = wire.len();
    let mut body = Vec::new();
    loop {
        let line_end = wire.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&wire[..line_end]).expect("an ASCII chunk size");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hexadecimal chunk size");
        wire = &wire[line_end + 2..];
        if wire.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&wire[..size]);
        wire = &wire[size + 2..];
        if size == 0 {
            return Some((body, total - wire.len()));
        }
    }
}
