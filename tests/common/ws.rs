//! A WebSocket client on `tungstenite` over a blocking `TcpStream` with read timeouts, plus
//! hand-made frames for what a well-behaved client never sends (unmasked frames, several
//! frames in one TCP write).

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

use super::TIMEOUT;

/// What the server sent, as a test asserts on it.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Text(String),
    Binary(Vec<u8>),
    /// A close frame: its status code and reason, if it had a code.
    Close(Option<(u16, String)>),
    /// The TCP connection ended without a close frame.
    Eof,
    /// Nothing arrived in time.
    Timeout,
}

pub struct Ws {
    pub socket: WebSocket<TcpStream>,
}

impl Ws {
    /// Opens `/engine.io/?{query}` and completes the WebSocket handshake (101).
    pub fn connect(addr: SocketAddr, query: &str) -> Ws {
        let stream = TcpStream::connect(addr).expect("connect to the server");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream.set_read_timeout(Some(TIMEOUT)).expect("a read timeout");
        let url = format!("ws://{addr}/engine.io/?{query}");
        let (socket, response) = tungstenite::client(url, stream).expect("the WebSocket handshake");
        assert_eq!(response.status(), 101);
        Ws { socket }
    }

    pub fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).expect("send a text frame");
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.socket.send(Message::binary(data.to_vec())).expect("send a binary frame");
    }

    /// Writes raw bytes (whole frames) straight to the TCP stream, in one write.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.socket.get_mut().write_all(bytes).expect("write to the server");
    }

    /// The next message or close, waiting [`TIMEOUT`] at most. Pings are answered by tungstenite.
    pub fn next(&mut self) -> Event {
        self.next_within(TIMEOUT)
    }

    pub fn next_within(&mut self, wait: Duration) -> Event {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Event::Timeout;
            }
            self.socket.get_mut().set_read_timeout(Some(left)).expect("a read timeout");
            match self.socket.read() {
                Ok(Message::Text(text)) => return Event::Text(text.to_string()),
                Ok(Message::Binary(data)) => return Event::Binary(data.to_vec()),
                Ok(Message::Close(frame)) => {
                    return Event::Close(
                        frame.map(|f: CloseFrame| (u16::from(f.code), f.reason.to_string())),
                    );
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Event::Timeout;
                }
                Err(_) => return Event::Eof,
            }
        }
    }

    /// The next text message; panics on anything else.
    pub fn text(&mut self) -> String {
        match self.next() {
            Event::Text(text) => text,
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// Asserts that the server closes the WebSocket (a close frame, or end of stream alone)
    /// and returns what came before it, and the close frame's code and reason (`None` for
    /// end of stream without a close frame).
    pub fn closed(&mut self) -> (Vec<Event>, Option<Option<(u16, String)>>) {
        let mut before = Vec::new();
        loop {
            match self.next() {
                Event::Close(code) => return (before, Some(code)),
                Event::Eof => return (before, None),
                Event::Timeout => panic!("the server did not close the WebSocket; got {before:?}"),
                other => before.push(other),
            }
        }
    }
}

/// One masked client frame (FIN set) with opcode `op`.
pub fn masked_frame(op: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | op];
    push_len(&mut frame, 0x80, payload.len());
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// One frame (FIN set) without the mask clients must apply.
pub fn unmasked_frame(op: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | op];
    push_len(&mut frame, 0, payload.len());
    frame.extend_from_slice(payload);
    frame
}

fn push_len(frame: &mut Vec<u8>, mask_bit: u8, len: usize) {
    if len < 126 {
        frame.push(mask_bit | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        frame.push(mask_bit | 126);
        frame.extend_from_slice(&len.to_be_bytes());
    } else {
        frame.push(mask_bit | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
}
