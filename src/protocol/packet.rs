//! One Engine.IO packet: its type, its data, and its encoding as a single
//! WebSocket frame (engine.io-protocol, "Packet encoding", v3 and v4).
//!
//! Text data is a [`ByteString`] (a `Bytes` known to be UTF-8), binary data a
//! [`Bytes`]: decoding slices the received buffer, it never copies the data.

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::{DecodeError, EioVersion};

/// The seven Engine.IO packet types, with their wire digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: the handshake, from the server.
    Open = 0,
    /// `1`: the transport closes.
    Close = 1,
    /// `2`: a heartbeat ping.
    Ping = 2,
    /// `3`: the answer to a ping.
    Pong = 3,
    /// `4`: a message.
    Message = 4,
    /// `5`: the upgrade to WebSocket is complete.
    Upgrade = 5,
    /// `6`: no operation (ends a polling request during an upgrade).
    Noop = 6,
}

impl PacketType {
    /// Every packet type, in the order of their codes.
    pub const ALL: [PacketType; 7] = [
        PacketType::Open,
        PacketType::Close,
        PacketType::Ping,
        PacketType::Pong,
        PacketType::Message,
        PacketType::Upgrade,
        PacketType::Noop,
    ];

    /// The type for a numeric value `0..=6` (the v3 binary type byte).
    pub fn from_u8(n: u8) -> Option<Self> {
        Self::ALL.get(usize::from(n)).copied()
    }

    /// The type for its ASCII digit `'0'..='6'` (text encodings).
    pub fn from_digit(c: u8) -> Option<Self> {
        c.checked_sub(b'0').and_then(Self::from_u8)
    }

    /// The ASCII digit this type is written as.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// A packet's data: text (possibly empty, meaning "no data") or binary.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Data {
    /// Text, sent as a WebSocket text frame or in a text payload.
    Text(ByteString),
    /// Bytes, sent as a WebSocket binary frame or base64 (`b…`) in a text payload.
    Binary(Bytes),
}

impl Data {
    /// Whether the data is binary.
    pub fn is_binary(&self) -> bool {
        matches!(self, Data::Binary(_))
    }

    /// Length in bytes of the data (UTF-8 bytes for text).
    pub fn len(&self) -> usize {
        match self {
            Data::Text(s) => s.len(),
            Data::Binary(b) => b.len(),
        }
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An Engine.IO packet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    /// The packet's type.
    pub kind: PacketType,
    /// Its data (empty for most types but messages).
    pub data: Data,
    /// The whole WebSocket frame of a text message, built once for every recipient of a
    /// broadcast ([`Packet::prebuilt_message`]).
    frame: Option<Bytes>,
}

/// A packet encoded as one WebSocket frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Text.
    Text(ByteString),
    /// Bytes.
    Binary(Bytes),
    /// The text message packet `4` + this text, as one text frame: the writer puts the `4`
    /// in front of the text as it frames it, so the two are never joined in a string of their
    /// own. Only ever sent, never received.
    Message(ByteString),
    /// A complete text frame, header included (unmasked, uncompressed), shared by every
    /// connection it goes to. Only ever sent, never received.
    Prebuilt(Bytes),
}

impl Frame {
    /// The length of the frame's payload, in bytes (a prebuilt frame's header included).
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
            Frame::Message(t) => 1 + t.len(),
            Frame::Prebuilt(f) => f.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Packet {
    /// A packet of `kind` carrying `data`.
    pub fn new(kind: PacketType, data: Data) -> Self {
        Packet { kind, data, frame: None }
    }

    /// A packet with no data (`2`, `3`, `5`, `6`, `1`).
    pub fn empty(kind: PacketType) -> Self {
        Self::text(kind, ByteString::new())
    }

    /// A packet of `kind` carrying `text`.
    pub fn text(kind: PacketType, text: impl Into<ByteString>) -> Self {
        Self::new(kind, Data::Text(text.into()))
    }

    /// A text message whose WebSocket frame is already written: `frame` must be the unmasked,
    /// uncompressed text frame of `4` + `text` (what `adapter::EncodedPacket::ws_frame` holds).
    /// A WebSocket connection copies it as it is; polling and compressed connections use `text`.
    pub fn prebuilt_message(text: ByteString, frame: Bytes) -> Self {
        Packet { kind: PacketType::Message, data: Data::Text(text), frame: Some(frame) }
    }

    /// A text message packet (`4...`).
    pub fn message(text: impl Into<ByteString>) -> Self {
        Self::text(PacketType::Message, text)
    }

    /// A binary message packet.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::new(PacketType::Message, Data::Binary(data.into()))
    }

    /// Decodes a text packet: a type digit followed by UTF-8 text
    /// (a WebSocket text frame, or one element of a polling payload).
    pub fn decode_text(text: ByteString) -> Result<Packet, DecodeError> {
        let kind = text
            .as_bytes()
            .first()
            .ok_or(DecodeError::Empty)
            .and_then(|&c| PacketType::from_digit(c).ok_or(DecodeError::UnknownType(c)))?;
        // The first byte is an ASCII digit, so the rest starts on a character boundary.
        let data = text.slice_ref(&text[1..]);
        Ok(Packet::new(kind, Data::Text(data)))
    }

    /// Decodes a binary WebSocket frame. A v4 frame is the raw data of a
    /// message packet; a v3 frame starts with the packet type as a byte (`0x04`).
    pub fn decode_binary(frame: Bytes, version: EioVersion) -> Result<Packet, DecodeError> {
        match version {
            EioVersion::V4 => Ok(Packet::binary(frame)),
            EioVersion::V3 => {
                let &t = frame.first().ok_or(DecodeError::Empty)?;
                let kind = PacketType::from_u8(t).ok_or(DecodeError::UnknownType(t))?;
                Ok(Packet::new(kind, Data::Binary(frame.slice(1..))))
            }
        }
    }

    /// Length of the text encoding of a text packet, in bytes.
    pub fn text_len(&self) -> usize {
        1 + self.data.len()
    }

    /// Appends the text encoding of a packet with text data: `4hello`.
    ///
    /// Binary data has no text encoding of its own: each transport writes it
    /// its own way (see [`Packet::to_frame`] and the payload codecs).
    pub fn write_text(kind: PacketType, text: &str, out: &mut BytesMut) {
        out.reserve(1 + text.len());
        out.put_u8(kind.digit());
        out.put_slice(text.as_bytes());
    }

    /// [`Packet::to_frame`] for a packet that is done with: a prebuilt frame or binary data
    /// moves into the frame instead of being shared once more, and a text message becomes a
    /// [`Frame::Message`] (its text is not copied behind the `4`).
    pub fn into_frame(self, version: EioVersion) -> Frame {
        match (self.frame, self.data, version) {
            (Some(frame), _, _) => Frame::Prebuilt(frame),
            (None, Data::Binary(b), EioVersion::V4) => Frame::Binary(b),
            (None, Data::Text(t), _) if self.kind == PacketType::Message => Frame::Message(t),
            (None, data, _) => Packet::new(self.kind, data).to_frame(version),
        }
    }

    /// The WebSocket frame that carries this packet.
    pub fn to_frame(&self, version: EioVersion) -> Frame {
        if let Some(frame) = &self.frame {
            return Frame::Prebuilt(frame.clone());
        }
        match (&self.data, version) {
            (Data::Text(t), _) => {
                let mut out = BytesMut::with_capacity(1 + t.len());
                Self::write_text(self.kind, t, &mut out);
                // The type digit is ASCII and `t` is UTF-8.
                Frame::Text(ByteString::try_from(out.freeze()).expect("digit + UTF-8 is UTF-8"))
            }
            (Data::Binary(b), EioVersion::V4) => Frame::Binary(b.clone()),
            (Data::Binary(b), EioVersion::V3) => {
                let mut out = BytesMut::with_capacity(1 + b.len());
                out.put_u8(self.kind as u8);
                out.put_slice(b);
                Frame::Binary(out.freeze())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(s: &'static str) -> ByteString {
        ByteString::from_static(s)
    }

    #[test]
    fn prebuilt_message_keeps_its_frame() {
        let frame = Bytes::from_static(b"\x81\x0842[\"a\"]");
        let p = Packet::prebuilt_message(ByteString::from_static("2[\"a\"]"), frame.clone());
        assert_eq!(p.kind, PacketType::Message);
        for version in [EioVersion::V3, EioVersion::V4] {
            for f in [p.to_frame(version), p.clone().into_frame(version)] {
                match f {
                    Frame::Prebuilt(f) => assert_eq!(f.as_ptr(), frame.as_ptr(), "shared, not copied"),
                    f => panic!("{f:?}"),
                }
            }
        }
        let binary = Packet::binary(Bytes::from_static(&[1, 2]));
        for version in [EioVersion::V3, EioVersion::V4] {
            assert_eq!(binary.clone().into_frame(version), binary.to_frame(version));
        }
    }

    #[test]
    fn decodes_every_text_type() {
        let table = [
            ("0{\"sid\":\"x\"}", PacketType::Open, "{\"sid\":\"x\"}"),
            ("1", PacketType::Close, ""),
            ("2", PacketType::Ping, ""),
            ("2probe", PacketType::Ping, "probe"),
            ("3probe", PacketType::Pong, "probe"),
            ("4hello", PacketType::Message, "hello"),
            ("4héllo €", PacketType::Message, "héllo €"),
            ("5", PacketType::Upgrade, ""),
            ("6", PacketType::Noop, ""),
        ];
        for (wire, kind, data) in table {
            let p = Packet::decode_text(txt(wire)).unwrap();
            assert_eq!(p, Packet::text(kind, data), "{wire}");
            match p.to_frame(EioVersion::V4) {
                Frame::Text(t) => assert_eq!(&t[..], wire),
                f => panic!("{f:?}"),
            }
        }
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(Packet::decode_text(txt("")), Err(DecodeError::Empty));
        assert_eq!(Packet::decode_text(txt("7")), Err(DecodeError::UnknownType(b'7')));
        assert_eq!(Packet::decode_text(txt("x4")), Err(DecodeError::UnknownType(b'x')));
    }

    #[test]
    fn binary_frames_per_version() {
        let v4 = Packet::decode_binary(Bytes::from_static(&[1, 2, 3]), EioVersion::V4).unwrap();
        assert_eq!(v4, Packet::binary(&[1u8, 2, 3][..]));
        assert_eq!(v4.to_frame(EioVersion::V4), Frame::Binary(Bytes::from_static(&[1, 2, 3])));

        let v3 = Packet::decode_binary(Bytes::from_static(&[4, 1, 2, 3]), EioVersion::V3).unwrap();
        assert_eq!(v3, Packet::binary(&[1u8, 2, 3][..]));
        assert_eq!(v3.to_frame(EioVersion::V3), Frame::Binary(Bytes::from_static(&[4, 1, 2, 3])));

        assert_eq!(Packet::decode_binary(Bytes::new(), EioVersion::V3), Err(DecodeError::Empty));
        assert_eq!(
            Packet::decode_binary(Bytes::from_static(&[9]), EioVersion::V3),
            Err(DecodeError::UnknownType(9))
        );
        // v4 carries no type byte: an empty binary frame is an empty message.
        assert_eq!(Packet::decode_binary(Bytes::new(), EioVersion::V4), Ok(Packet::binary(Bytes::new())));
    }
}
