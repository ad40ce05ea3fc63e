//! WebSocket framing (RFC 6455 §5) over the connection's own buffers.
//!
//! Headers are parsed and written by `tungstenite`'s [`FrameHeader`]; what it
//! does not expose without its stream wrapper — unmasking, reassembling
//! fragmented messages, answering control frames — is done here, in place, so a
//! read costs no zero-filled scratch buffer and a message is handed on as a
//! slice of the bytes received.
//!
//! With `permessage-deflate` negotiated (RFC 7692 §6), RSV1 on the first frame of a data message
//! marks it compressed: the whole message is inflated once complete. [`WsWriter`] compresses
//! outgoing data messages by the same agreement.

use std::io::Cursor;

use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data as DataOp, OpCode};

use super::deflate::{Deflater, InflateError, Inflater};

/// One complete message or control frame received from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsMessage {
    Text(ByteString),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    /// The close frame's payload: empty, or a valid status code and a UTF-8 reason. The
    /// server echoes it back, as `ws` does.
    Close(Bytes),
}

/// Why the client's frames cannot be read; each maps to a close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    #[error("protocol error")]
    Protocol,
    #[error("message too big")]
    TooBig,
    #[error("invalid UTF-8 in a text message")]
    InvalidUtf8,
    /// A compressed message that does not inflate (`ws` closes with 1007 too).
    #[error("invalid compressed data")]
    BadCompression,
}

impl WsError {
    /// The close code sent to the client before the connection is dropped.
    pub fn close_code(self) -> u16 {
        match self {
            WsError::Protocol => CloseCode::Protocol.into(),
            WsError::TooBig => CloseCode::Size.into(),
            WsError::InvalidUtf8 | WsError::BadCompression => CloseCode::Invalid.into(),
        }
    }
}

/// Incremental decoder of client frames.
#[derive(Debug)]
pub struct WsDecoder {
    /// The limit on a message's payload, compressed and (`ws` checks both) inflated.
    max_message: usize,
    /// Boxed, as the inflater: rarely there, and an idle connection keeps its decoder.
    partial: Option<Box<Partial>>,
    /// Present when `permessage-deflate` was negotiated.
    inflater: Option<Box<Inflater>>,
}

/// A fragmented message being reassembled.
#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    data: BytesMut,
}

impl WsDecoder {
    pub fn new(max_message: usize) -> Self {
        WsDecoder { max_message, partial: None, inflater: None }
    }

    /// A decoder for a connection that negotiated `permessage-deflate`.
    pub fn with_deflate(max_message: usize, inflater: Inflater) -> Self {
        WsDecoder { max_message, partial: None, inflater: Some(Box::new(inflater)) }
    }

    /// Takes the next complete message off the front of `buf`; `Ok(None)` when more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<WsMessage>, WsError> {
        loop {
            let mut cursor = Cursor::new(&buf[..]);
            let Some((header, len)) = FrameHeader::parse(&mut cursor).map_err(|_| WsError::Protocol)? else {
                return Ok(None);
            };
            let head_len = usize::try_from(cursor.position()).map_err(|_| WsError::Protocol)?;
            // `ws`'s order: reserved bits, then the mask clients must set (RFC 6455 §5.1), then size.
            // RSV1 means "compressed", on the first frame of a data message only (RFC 7692 §6).
            let first_data = matches!(header.opcode, OpCode::Data(DataOp::Text | DataOp::Binary));
            if header.rsv2 || header.rsv3 || (header.rsv1 && (self.inflater.is_none() || !first_data)) {
                return Err(WsError::Protocol);
            }
            let mask = header.mask.ok_or(WsError::Protocol)?;
            let len = usize::try_from(len).map_err(|_| WsError::TooBig)?;
            if len > self.max_message {
                return Err(WsError::TooBig);
            }
            if buf.len() < head_len + len {
                buf.reserve(head_len + len - buf.len());
                return Ok(None);
            }
            buf.advance(head_len);
            let mut payload = buf.split_to(len);
            unmask(&mut payload, mask);
            if let Some(msg) = self.on_frame(header.is_final, header.rsv1, header.opcode, payload)? {
                return Ok(Some(msg));
            }
        }
    }

    fn on_frame(
        &mut self,
        fin: bool,
        compressed: bool,
        op: OpCode,
        payload: BytesMut,
    ) -> Result<Option<WsMessage>, WsError> {
        match op {
            OpCode::Control(c) => {
                // Control frames are never fragmented and carry at most 125 bytes (§5.5).
                if !fin || payload.len() > 125 {
                    return Err(WsError::Protocol);
                }
                match c {
                    Control::Ping => Ok(Some(WsMessage::Ping(payload.freeze()))),
                    Control::Pong => Ok(Some(WsMessage::Pong(payload.freeze()))),
                    Control::Close => check_close(payload.freeze()).map(|p| Some(WsMessage::Close(p))),
                    Control::Reserved(_) => Err(WsError::Protocol),
                }
            }
            OpCode::Data(DataOp::Continue) => {
                let mut partial = self.partial.take().ok_or(WsError::Protocol)?;
                if partial.data.len() + payload.len() > self.max_message {
                    return Err(WsError::TooBig);
                }
                partial.data.extend_from_slice(&payload);
                if fin {
                    self.complete(*partial).map(Some)
                } else {
                    self.partial = Some(partial);
                    Ok(None)
                }
            }
            OpCode::Data(DataOp::Text | DataOp::Binary) if self.partial.is_some() => Err(WsError::Protocol),
            OpCode::Data(data @ (DataOp::Text | DataOp::Binary)) => {
                let partial = Partial { text: data == DataOp::Text, compressed, data: payload };
                if fin {
                    self.complete(partial).map(Some)
                } else {
                    self.partial = Some(Box::new(partial));
                    Ok(None)
                }
            }
            OpCode::Data(DataOp::Reserved(_)) => Err(WsError::Protocol),
        }
    }

    fn complete(&mut self, partial: Partial) -> Result<WsMessage, WsError> {
        let Partial { text, compressed, data } = partial;
        match (&mut self.inflater, compressed) {
            (Some(inflater), true) => match inflater.inflate(&data, self.max_message) {
                Ok(inflated) => complete(text, Bytes::from(inflated)),
                Err(InflateError::TooBig) => Err(WsError::TooBig),
                Err(InflateError::Corrupt) => Err(WsError::BadCompression),
            },
            _ => complete(text, data.freeze()),
        }
    }
}

/// RFC 6455 §5.5.1 and §7.4, as `ws` checks them: no payload, or a code a peer may send and a
/// UTF-8 reason.
fn check_close(payload: Bytes) -> Result<Bytes, WsError> {
    let Some(code) = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]])) else {
        return if payload.is_empty() { Ok(payload) } else { Err(WsError::Protocol) };
    };
    let sendable = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
    if !sendable {
        return Err(WsError::Protocol);
    }
    std::str::from_utf8(&payload[2..]).map_err(|_| WsError::InvalidUtf8)?;
    Ok(payload)
}

fn complete(is_text: bool, data: Bytes) -> Result<WsMessage, WsError> {
    if is_text {
        ByteString::try_from(data).map(WsMessage::Text).map_err(|_| WsError::InvalidUtf8)
    } else {
        Ok(WsMessage::Binary(data))
    }
}

/// XORs the client's mask out of the payload, eight bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("chunks of 8")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

/// Appends one unmasked, final server frame.
pub fn write_frame(opcode: OpCode, payload: &[u8], out: &mut BytesMut) {
    write_frame_rsv1(opcode, false, payload, out);
}

/// Appends one unmasked, final server frame, RSV1 set for a compressed payload.
fn write_frame_rsv1(opcode: OpCode, rsv1: bool, payload: &[u8], out: &mut BytesMut) {
    write_frame_parts(opcode, rsv1, &[], payload, out);
}

/// Appends one unmasked, final server frame whose payload is `prefix` then `payload`.
fn write_frame_parts(opcode: OpCode, rsv1: bool, prefix: &[u8], payload: &[u8], out: &mut BytesMut) {
    let header = FrameHeader { is_final: true, rsv1, opcode, ..FrameHeader::default() };
    let len = prefix.len() + payload.len();
    out.reserve(header.len(len as u64) + len);
    let mut w = BytesMutWriter(out);
    header.format(len as u64, &mut w).expect("writing to memory cannot fail");
    out.extend_from_slice(prefix);
    out.extend_from_slice(payload);
}

pub fn write_text(text: &str, out: &mut BytesMut) {
    write_frame(OpCode::Data(DataOp::Text), text.as_bytes(), out);
}

pub fn write_binary(data: &[u8], out: &mut BytesMut) {
    write_frame(OpCode::Data(DataOp::Binary), data, out);
}

pub fn write_pong(data: &[u8], out: &mut BytesMut) {
    write_frame(OpCode::Control(Control::Pong), data, out);
}

/// A close frame with a payload as received (the close handshake's echo).
pub fn write_close_payload(payload: &[u8], out: &mut BytesMut) {
    write_frame(OpCode::Control(Control::Close), payload, out);
}

/// A close frame without a status code, as Node's `ws.close()` sends.
pub fn write_close_empty(out: &mut BytesMut) {
    write_frame(OpCode::Control(Control::Close), &[], out);
}

/// A close frame with a status code and a short reason.
pub fn write_close(code: u16, reason: &str, out: &mut BytesMut) {
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..reason.len().min(123)]);
    write_frame(OpCode::Control(Control::Close), &payload, out);
}

/// Writes a connection's data messages, compressing them as `permessage-deflate` was agreed.
#[derive(Debug, Default)]
pub struct WsWriter {
    /// Boxed: most connections never negotiate it, and every connection keeps its writer.
    deflater: Option<Box<Deflater>>,
}

impl WsWriter {
    /// `None`: no extension, every frame as [`write_text`] and [`write_binary`] write it.
    pub fn new(deflater: Option<Deflater>) -> Self {
        WsWriter { deflater: deflater.map(Box::new) }
    }

    pub fn text(&mut self, text: &str, out: &mut BytesMut) {
        self.data(DataOp::Text, text.as_bytes(), out);
    }

    pub fn binary(&mut self, data: &[u8], out: &mut BytesMut) {
        self.data(DataOp::Binary, data, out);
    }

    /// The Engine.IO message packet `4` + `text` as one text frame, the `4` written in front
    /// of the text as it is framed (compressed together when this connection compresses).
    pub fn message(&mut self, text: &str, out: &mut BytesMut) {
        let len = 1 + text.len();
        if self.deflater.as_ref().is_some_and(|d| d.wants(len)) {
            let mut joined = Vec::with_capacity(len);
            joined.push(b'4');
            joined.extend_from_slice(text.as_bytes());
            return self.data(DataOp::Text, &joined, out);
        }
        write_frame_parts(OpCode::Data(DataOp::Text), false, b"4", text.as_bytes(), out);
    }

    /// A whole unmasked text frame written once for many connections: copied as it is, unless
    /// this connection compresses a payload of its size, which is then framed anew.
    pub fn prebuilt_text(&mut self, frame: &[u8], out: &mut BytesMut) {
        let payload = server_frame_payload(frame);
        match &self.deflater {
            Some(d) if d.wants(payload.len()) => self.data(DataOp::Text, payload, out),
            _ => out.extend_from_slice(frame),
        }
    }

    fn data(&mut self, op: DataOp, payload: &[u8], out: &mut BytesMut) {
        let opcode = OpCode::Data(op);
        match self.deflater.as_mut().filter(|d| d.wants(payload.len())).and_then(|d| d.compress(payload)) {
            Some(compressed) => write_frame_rsv1(opcode, true, compressed, out),
            None => write_frame(opcode, payload, out),
        }
    }
}

/// The payload of a whole unmasked server frame: its header is 2 bytes, or 4 with a 16-bit
/// length (7-bit length 126), or 10 with a 64-bit one (127) — RFC 6455 §5.2.
pub fn server_frame_payload(frame: &[u8]) -> &[u8] {
    let header = match frame.get(1).map(|b| b & 0x7f) {
        Some(126) => 4,
        Some(127) => 10,
        _ => 2,
    };
    frame.get(header..).unwrap_or_default()
}

struct BytesMutWriter<'a>(&'a mut BytesMut);

impl std::io::Write for BytesMutWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
