//! A client that keeps the exact bytes: one HTTP/1.1 response as it came off the wire (head
//! and body framing included, chunk sizes and all), and after a `101` the server's WebSocket
//! frames decoded one message at a time. The differential test compares these bytes between
//! two servers, so nothing here normalises anything. Every read has a deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::TIMEOUT;

/// What one read produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    /// A whole HTTP response: head and body exactly as received.
    Response(Vec<u8>),
    /// A WebSocket text message.
    Text(Vec<u8>),
    /// A WebSocket binary message.
    Binary(Vec<u8>),
    /// A WebSocket close frame's payload (status code and reason, or empty).
    Close(Vec<u8>),
    /// The server closed the connection; what it sent first that made no whole answer.
    Eof(Vec<u8>),
    /// Nothing (more) arrived before the deadline; what arrived that made no whole answer.
    Timeout(Vec<u8>),
}

/// One connection to a server under test.
pub struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl Wire {
    pub fn connect(addr: SocketAddr) -> Wire {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Wire { stream, buf: Vec::new(), closed: false }
    }

    /// Writes `bytes` in one `write_all`; a peer that already closed is not an error here (the
    /// next read says what happened).
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// The next HTTP response, whole.
    pub fn response(&mut self) -> Got {
        self.read_until(TIMEOUT, response_len).map_or_else(|end| end, Got::Response)
    }

    /// The next response to a `HEAD` request: its head alone, whatever length it announces.
    pub fn head_response(&mut self) -> Got {
        let head = |buf: &[u8]| buf.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4);
        self.read_until(TIMEOUT, head).map_or_else(|end| end, Got::Response)
    }

    /// The next WebSocket message or close frame; pings and pongs are skipped (never sent by
    /// either server under test).
    pub fn ws_message(&mut self) -> Got {
        loop {
            let frame = match self.read_until(TIMEOUT, frame_len) {
                Ok(frame) => frame,
                Err(end) => return end,
            };
            let (opcode, payload) = frame_payload(&frame);
            match opcode {
                0x1 => return Got::Text(payload.to_vec()),
                0x2 => return Got::Binary(payload.to_vec()),
                0x8 => return Got::Close(payload.to_vec()),
                0x9 | 0xA => continue,
                other => panic!("an unexpected WebSocket frame (opcode {other:#x}): {frame:?}"),
            }
        }
    }

    /// Waits for the server to close the connection (within `wait`), ignoring nothing: bytes
    /// that arrive first are returned in the `Eof`.
    pub fn end(&mut self, wait: Duration) -> Got {
        match self.read_until(wait, |_| None) {
            Ok(_) => unreachable!("a frame that never completes"),
            Err(end) => end,
        }
    }

    /// Reads until `complete` finds a whole unit at the front of the buffer, and takes it off.
    fn read_until(
        &mut self,
        wait: Duration,
        complete: impl Fn(&[u8]) -> Option<usize>,
    ) -> Result<Vec<u8>, Got> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(len) = complete(&self.buf) {
                return Ok(self.buf.drain(..len).collect());
            }
            if self.closed {
                return Err(Got::Eof(std::mem::take(&mut self.buf)));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Got::Timeout(std::mem::take(&mut self.buf)));
            }
            self.stream.set_read_timeout(Some(left)).expect("a read timeout");
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A reset ends the connection like a FIN, as far as a comparison goes.
                Err(_) => self.closed = true,
            }
        }
    }
}

/// The length of the whole response at the front of `buf`, once all of it is there.
fn response_len(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.get(9..12).unwrap_or("");
    if matches!(status, "101" | "204" | "304") || status.starts_with('1') {
        return Some(head_end);
    }
    let header = |name: &str| {
        head.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            (n.trim() == name).then(|| v.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v == "chunked") {
        return chunked_len(&buf[head_end..]).map(|len| head_end + len);
    }
    // Without a length the body runs to the end of the connection: never whole.
    let len: usize = header("content-length")?.parse().ok()?;
    (buf.len() >= head_end + len).then_some(head_end + len)
}

/// The wire length of a whole chunked body (with an empty trailer) at the front of `wire`.
fn chunked_len(wire: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let line_end = at + wire[at..].windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&wire[at..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            return (wire.len() >= at + 2 && &wire[at..at + 2] == b"\r\n").then_some(at + 2);
        }
        if wire.len() < at + size + 2 {
            return None;
        }
        at += size + 2;
    }
}

/// The length of the whole (unmasked, server-sent) frame at the front of `buf`.
fn frame_len(buf: &[u8]) -> Option<usize> {
    let (header, len) = frame_header(buf)?;
    (buf.len() >= header + len).then_some(header + len)
}

fn frame_header(buf: &[u8]) -> Option<(usize, usize)> {
    let b1 = *buf.get(1)?;
    let masked = if b1 & 0x80 != 0 { 4 } else { 0 };
    match b1 & 0x7f {
        126 => Some((4 + masked, usize::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)))),
        127 => Some((10 + masked, u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize)),
        len => Some((2 + masked, usize::from(len))),
    }
}

/// The opcode and payload of one whole frame; a masked frame (which no server may send) is
/// reported as is, not unmasked.
fn frame_payload(frame: &[u8]) -> (u8, &[u8]) {
    assert_eq!(frame[0] & 0x80, 0x80, "a fragmented frame from the server: {frame:?}");
    let (header, _) = frame_header(frame).expect("a whole frame");
    (frame[0] & 0x0f, &frame[header..])
}

/// One masked client frame (FIN set), as every client must send.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    super::ws::masked_frame(opcode, payload)
}
