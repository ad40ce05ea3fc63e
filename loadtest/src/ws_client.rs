//! A lean WebSocket client (RFC 6455) for the Socket.IO scenarios, where the load generator
//! must stay cheaper per message than the server it measures: thousands of sockets each
//! receiving small text frames. Frames are parsed in place from one buffer per connection;
//! client frames are masked (section 5.3) and queued, then written with one `write`.
//!
//! The saving is in the read: tokio only clears a socket's readiness when a read says
//! `WouldBlock`, so the usual loop costs two `recv` calls per wake-up. A `recv` that fills
//! less than the free space has emptied the socket's queue, so we clear the readiness right
//! there through `try_io`, whose tick check keeps an event that arrives meanwhile. Only the
//! opening handshake (section 4.1) and unfragmented frames are supported: neither reference
//! server fragments messages this small.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::ops::Range;
use std::os::fd::AsRawFd;

use crate::tls::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::error::LoadError;
use crate::net::{self, Sources, Target};

/// The read buffer a connection starts with; it grows (up to [`MAX_FRAME`]) for larger frames.
const INITIAL_BUFFER: usize = 4 << 10;
/// The largest frame accepted, header included.
const MAX_FRAME: usize = 1 << 20;
/// The largest handshake response accepted.
const MAX_HEAD: usize = 16 << 10;

/// What a complete frame is; control frames are answered or refused by [`WsClient::frame`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    Text,
    Binary,
}

pub struct WsClient {
    stream: Stream,
    buf: Vec<u8>,
    /// `buf[start..end]` is received and not yet parsed.
    start: usize,
    end: usize,
    /// Frames queued for the next [`WsClient::flush`].
    out: Vec<u8>,
    mask: [u8; 4],
}

impl WsClient {
    /// Connects to `target`, path and `query` (e.g. `EIO=4&transport=websocket`), and
    /// completes the opening handshake.
    pub async fn connect(target: &Target, sources: &Sources, query: &str) -> Result<WsClient, LoadError> {
        let mut stream = net::connect_stream(target, sources).await?;
        let key = generate_key();
        let request = format!(
            "GET {}?{query} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            target.path, target.authority
        );
        stream.write_all(request.as_bytes()).await?;
        // Over TLS what the socket did not take waits in the session until a flush.
        stream.flush().await?;
        let mut buf = vec![0; INITIAL_BUFFER];
        let mut end = 0;
        let head_len = loop {
            if end == buf.len() {
                if buf.len() >= MAX_HEAD {
                    return Err(LoadError::ResponseTooLarge(buf.len()));
                }
                buf.resize(buf.len() * 2, 0);
            }
            match stream.read(&mut buf[end..]).await? {
                0 => return Err(LoadError::Closed("end of stream")),
                n => end += n,
            }
            if let Some(head_len) = check_upgrade(&buf[..end], &key)? {
                break head_len;
            }
        };
        // Whatever followed the head is the first frames.
        let seed = RandomState::new().hash_one(&key).to_le_bytes();
        let mask = [seed[0], seed[1], seed[2], seed[3] | 1];
        Ok(WsClient { stream, buf, start: head_len, end, out: Vec::new(), mask })
    }

    /// The next complete frame already received, if any: its opcode and where its payload
    /// is (see [`WsClient::payload`]). Pings are answered (queued), pongs skipped.
    pub fn frame(&mut self) -> Result<Option<(Opcode, Range<usize>)>, LoadError> {
        loop {
            let Some(header) = parse_header(&self.buf[self.start..self.end])? else { return Ok(None) };
            let payload = self.start + header.len..self.start + header.len + header.payload;
            self.start = payload.end;
            match header.opcode {
                0x1 => return Ok(Some((Opcode::Text, payload))),
                0x2 => return Ok(Some((Opcode::Binary, payload))),
                0x8 => return Err(close_frame(&self.buf[payload])),
                0x9 => {
                    let data = self.buf[payload].to_vec();
                    self.queue(0xA, &data);
                }
                _ => {}
            }
        }
    }

    pub fn payload(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Waits for the socket and reads what it has, with one `recv` when that empties it.
    pub async fn read_more(&mut self) -> Result<(), LoadError> {
        self.make_room()?;
        let stream = match &mut self.stream {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => match tls.read(&mut self.buf[self.end..]).await? {
                0 => return Err(LoadError::Closed("end of stream")),
                n => {
                    self.end += n;
                    return Ok(());
                }
            },
        };
        let fd = stream.as_raw_fd();
        loop {
            stream.readable().await?;
            let free = &mut self.buf[self.end..];
            let (ptr, cap) = (free.as_mut_ptr(), free.len());
            let mut received = 0;
            let outcome = stream.try_io(Interest::READABLE, || {
                // SAFETY: `ptr..ptr + cap` is the writable tail of `self.buf`, which nothing
                // else touches during the call; `fd` is the open socket of `self.stream`.
                let n = unsafe { libc::recv(fd, ptr.cast(), cap, 0) };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                received = n as usize;
                // A short read emptied the socket: report "would block" so tokio clears the
                // readiness now (unless a newer event came in) instead of after another recv.
                if received > 0 && received < cap { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(()) }
            });
            match outcome {
                Ok(()) if received == 0 => return Err(LoadError::Closed("end of stream")),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e.into()),
                _ if received > 0 => {
                    self.end += received;
                    return Ok(());
                }
                _ => continue,
            }
        }
    }

    /// Moves unparsed bytes to the front, and grows the buffer when a frame needs it.
    fn make_room(&mut self) -> Result<(), LoadError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_FRAME {
                return Err(LoadError::ResponseTooLarge(self.buf.len()));
            }
            self.buf.resize(self.buf.len() * 2, 0);
        }
        Ok(())
    }

    /// Queues a text frame for the next flush.
    pub fn queue_text(&mut self, payload: &[u8]) {
        self.queue(0x1, payload);
    }

    fn queue(&mut self, opcode: u8, payload: &[u8]) {
        self.out.push(0x80 | opcode);
        let len = payload.len();
        if len < 126 {
            self.out.push(0x80 | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            self.out.push(0x80 | 126);
            self.out.extend_from_slice(&len.to_be_bytes());
        } else {
            self.out.push(0x80 | 127);
            self.out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        self.out.extend_from_slice(&self.mask);
        let mask = self.mask;
        self.out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    }

    pub fn has_queued(&self) -> bool {
        !self.out.is_empty()
    }

    /// Writes every queued frame.
    pub async fn flush(&mut self) -> Result<(), LoadError> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Closes like a browser client (RFC 6455 section 7.1.2): a close frame (1000, normal),
    /// then reading until the server ends the TCP connection, so the server closes first and
    /// the TIME_WAIT state stays on its side rather than holding one of our ports. Frames that
    /// arrive meanwhile, the server's close frame included, are dropped.
    pub async fn close(mut self) -> Result<(), LoadError> {
        self.queue(0x8, &1000u16.to_be_bytes());
        self.flush().await?;
        loop {
            loop {
                match self.frame() {
                    Ok(Some(_)) | Err(LoadError::CloseFrame(..)) => {}
                    Ok(None) => break,
                    Err(e) => return Err(e),
                }
            }
            match self.read_more().await {
                Ok(()) => {}
                Err(LoadError::Closed(_)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next text frame, reading as needed; a binary frame is an error.
    pub async fn next_text(&mut self) -> Result<Range<usize>, LoadError> {
        loop {
            match self.frame()? {
                Some((Opcode::Text, range)) => return Ok(range),
                Some((Opcode::Binary, _)) => return Err(LoadError::UnexpectedPacket("binary frame".into())),
                None => {
                    self.flush().await?;
                    self.read_more().await?;
                }
            }
        }
    }
}

/// The error for a close frame: its status code (1005, "no status", when absent) and reason.
fn close_frame(payload: &[u8]) -> LoadError {
    match payload {
        [a, b, reason @ ..] => {
            LoadError::CloseFrame(u16::from_be_bytes([*a, *b]), String::from_utf8_lossy(reason).into_owned())
        }
        _ => LoadError::CloseFrame(1005, String::new()),
    }
}

/// The length of a complete `101 Switching Protocols` head answering `key`, `None` while
/// the head is incomplete.
fn check_upgrade(received: &[u8], key: &str) -> Result<Option<usize>, LoadError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = response.parse(received)? else { return Ok(None) };
    match response.code {
        Some(101) => {}
        Some(status) => return Err(LoadError::Status(status)),
        None => return Err(LoadError::Http(httparse::Error::Status)),
    }
    let accept = response.headers.iter().find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"));
    if accept.map(|h| h.value) != Some(derive_accept_key(key.as_bytes()).as_bytes()) {
        return Err(LoadError::UnexpectedPacket("bad Sec-WebSocket-Accept".into()));
    }
    Ok(Some(head_len))
}

#[derive(Debug, PartialEq, Eq)]
struct Header {
    opcode: u8,
    /// Header bytes.
    len: usize,
    payload: usize,
}

/// The header of the server frame at the start of `buf`, once the whole frame is there.
fn parse_header(buf: &[u8]) -> Result<Option<Header>, LoadError> {
    let [b0, b1, rest @ ..] = buf else { return Ok(None) };
    let unsupported = |what: &str| Err(LoadError::UnexpectedPacket(format!("{what} frame")));
    if b0 & 0x80 == 0 || b0 & 0x0f == 0 {
        return unsupported("fragmented");
    }
    if b1 & 0x80 != 0 {
        return unsupported("masked server");
    }
    let (len, payload) = match b1 & 0x7f {
        126 => match rest {
            [a, b, ..] => (4, usize::from(u16::from_be_bytes([*a, *b]))),
            _ => return Ok(None),
        },
        127 => match rest.first_chunk::<8>() {
            Some(bytes) => (10, usize::try_from(u64::from_be_bytes(*bytes)).unwrap_or(usize::MAX)),
            None => return Ok(None),
        },
        short => (2, usize::from(short)),
    };
    if payload > MAX_FRAME - len {
        return Err(LoadError::ResponseTooLarge(payload));
    }
    if buf.len() < len + payload {
        return Ok(None);
    }
    Ok(Some(Header { opcode: b0 & 0x0f, len, payload }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frame_headers() {
        let header = |opcode, len, payload| Some(Header { opcode, len, payload });
        assert_eq!(parse_header(b"\x81\x022x").ok(), Some(header(1, 2, 2)));
        assert_eq!(parse_header(b"\x81\x03ab").ok(), Some(None));
        assert_eq!(parse_header(b"\x81").ok(), Some(None));
        let mut long = vec![0x82, 126, 0x01, 0x00];
        long.resize(4 + 256, b'x');
        assert_eq!(parse_header(&long).ok(), Some(header(2, 4, 256)));
        assert_eq!(parse_header(&long[..100]).ok(), Some(None));
        assert_eq!(parse_header(&[0x81, 127, 0, 0, 0, 0, 0, 0, 0]).ok(), Some(None));
        assert!(parse_header(&[0x81, 127, 0xff, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(parse_header(b"\x01\x00").is_err(), "fragment");
        assert!(parse_header(b"\x80\x00").is_err(), "continuation");
        assert!(parse_header(b"\x81\x80abcd").is_err(), "masked");
    }

    #[test]
    fn checks_the_upgrade() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x010";
        assert_eq!(check_upgrade(ok, key).ok(), Some(Some(ok.len() - 3)));
        assert_eq!(check_upgrade(&ok[..40], key).ok(), Some(None));
        assert!(check_upgrade(b"HTTP/1.1 400 Bad Request\r\n\r\n", key).is_err());
        let wrong = b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: x\r\n\r\n";
        assert!(check_upgrade(wrong, key).is_err());
    }

    #[tokio::test]
    async fn exchanges_frames_with_a_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/socket.io/", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
            use futures_util::{SinkExt, StreamExt};
            ws.send(tokio_tungstenite::tungstenite::Message::text("0{}")).await.expect("send");
            let got = ws.next().await.expect("frame").expect("ok");
            ws.send(got).await.expect("echo");
            let long = "x".repeat(70_000);
            ws.send(tokio_tungstenite::tungstenite::Message::text(long)).await.expect("long");
        });
        let target = Target::parse(&url).expect("url");
        let mut ws = WsClient::connect(&target, &Sources::default(), "EIO=4").await.expect("connect");
        let range = ws.next_text().await.expect("open");
        assert_eq!(ws.payload(range), b"0{}");
        ws.queue_text(b"40");
        let range = ws.next_text().await.expect("echo");
        assert_eq!(ws.payload(range), b"40");
        let range = ws.next_text().await.expect("long");
        assert_eq!(ws.payload(range).len(), 70_000);
        server.await.expect("server");
    }
}
