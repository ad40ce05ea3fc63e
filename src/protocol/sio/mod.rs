//! Socket.IO packets (socket.io-protocol v5, and v4 for Engine.IO v3 clients): one packet per
//! Engine.IO message, `<type>[<attachments>-][<nsp>,][<ack id>][<JSON>]`.
//!
//! Decoding follows socket.io-parser 4.2 (`Decoder.decodeString`, `isPayloadValid`), which Node's
//! socket.io 4.8 uses for both protocol versions; that includes its leniencies (the type, the
//! attachment count and the id are read with JS `Number()`, so `""` is a CONNECT and `2 ["a"]`
//! an EVENT with id 0). What protocol v4 changes is the server's side: a v2 client puts its
//! query in the namespace (`0/admin?token=abc,`, see [`v4`]), gets `0/admin,` as connect ack and
//! a bare string or the error's data as CONNECT_ERROR (see the constructors in `encode`).
//!
//! The namespace, the ack id and the JSON are slices of the received text; the JSON is
//! validated (serde_json's skipping parser: iterative, it accepts what `JSON.parse` accepts at
//! any depth) but not parsed into a tree. Binary attachments arrive as separate messages and are
//! collected by [`Decoder`] / [`BinaryAssembler`].

mod assembler;
mod decode;
mod encode;
pub mod msgpack;
mod payload;
pub mod v4;

#[cfg(test)]
mod tests;

use bytestring::ByteString;

pub use crate::protocol::value::from_json_args as deserialize_args;
pub use assembler::{BinaryAssembler, Decoded, Decoder};
pub use payload::EventRef;

/// The Socket.IO protocol revision: 5 with Engine.IO v4 clients, 4 with Engine.IO v3 clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SioVersion {
    V4 = 4,
    V5 = 5,
}

impl SioVersion {
    /// The revision a client of this Engine.IO revision speaks.
    pub fn for_eio(eio: crate::protocol::EioVersion) -> Self {
        match eio {
            crate::protocol::EioVersion::V3 => SioVersion::V4,
            crate::protocol::EioVersion::V4 => SioVersion::V5,
        }
    }
}

/// The seven packet types, with their wire digit. Type 4 is called ERROR in protocol v4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketKind {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

impl PacketKind {
    pub const ALL: [PacketKind; 7] = [
        PacketKind::Connect,
        PacketKind::Disconnect,
        PacketKind::Event,
        PacketKind::Ack,
        PacketKind::ConnectError,
        PacketKind::BinaryEvent,
        PacketKind::BinaryAck,
    ];

    pub fn from_u8(n: u8) -> Option<Self> {
        Self::ALL.get(usize::from(n)).copied()
    }

    /// The ASCII digit this type is written as.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }

    /// Whether binary attachments follow (`BINARY_EVENT`, `BINARY_ACK`).
    pub fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }
}

/// A Socket.IO packet. Decoded packets borrow every field from the received text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub kind: PacketKind,
    /// `/` when absent on the wire.
    pub nsp: ByteString,
    /// Protocol v4 only: what follows `?` in the namespace (`0/admin?token=abc,`), which Node
    /// reads as the auth payload of a CONNECT (see [`Packet::auth_json`]).
    pub query: Option<ByteString>,
    /// The ack id.
    pub id: Option<u64>,
    /// Binary kinds: how many binary messages follow (the `N-` count).
    pub attachments: usize,
    /// The JSON text, validated and trimmed of JSON whitespace; never re-serialized.
    pub data: Option<ByteString>,
}

/// Limits applied while decoding.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    /// Most attachments a binary packet may announce: socket.io-parser's `maxAttachments`,
    /// 10 by default (socket.io-parser 4.2.6).
    pub max_attachments: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { max_attachments: 10 }
    }
}

/// Why a Socket.IO packet (or its attachments) was refused. Node closes the whole connection
/// on any of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not produced by [`Packet::decode`]: Node reads an empty message as a CONNECT to `/`
    /// (`Number("") === 0`), and so do we. For callers that refuse empty messages earlier.
    #[error("empty packet")]
    Empty,
    /// The first byte does not name a packet type (`7`, `x`).
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    /// A binary packet whose attachment count is missing, not a number or has no `-`.
    #[error("Illegal attachments")]
    IllegalAttachments,
    /// More attachments announced than [`DecodeOptions::max_attachments`].
    #[error("too many attachments")]
    TooManyAttachments,
    /// An ack id that is not a 64-bit integer (Node would carry on with `NaN` or a rounded id).
    #[error("invalid ack id")]
    InvalidAckId,
    /// JSON that does not parse, or is not what the packet type requires.
    #[error("invalid payload")]
    InvalidPayload,
    /// An EVENT named `connect`, `connect_error`, `disconnect`, `disconnecting`, `newListener`
    /// or `removeListener` (Node's "invalid payload").
    #[error("invalid payload (reserved event name)")]
    ReservedEventName,
    /// A message handed over as bytes that are not UTF-8 ([`Packet::decode_bytes`]).
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A placeholder whose `num` does not name a received attachment.
    #[error("illegal attachments")]
    IllegalPlaceholder,
    /// A text message while attachments were still expected.
    #[error("got plaintext data when reconstructing a packet")]
    UnexpectedText,
    /// A binary message when no attachment was expected.
    #[error("got binary data when not reconstructing a packet")]
    UnexpectedBinary,
    /// With the msgpack parser: a message that is not one MessagePack value (a text message,
    /// truncated or trailing bytes, nesting deeper than 128), or not a map.
    #[error("invalid msgpack")]
    InvalidMsgpack,
    /// With the msgpack parser: a `type` that is not an integer from 0 to 4.
    #[error("invalid packet type")]
    InvalidPacketType,
    /// With the msgpack parser: a `nsp` that is not a string.
    #[error("invalid namespace")]
    InvalidNamespace,
}

/// The Socket.IO packet encoding a server speaks, for every client (Node's `parser` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Parser {
    /// socket.io-parser: text packets, buffers as attachments (the default).
    #[default]
    Json,
    /// `socket.io-msgpack-parser` 3: each packet one binary message, buffers inline
    /// (see [`msgpack`]).
    MsgPack,
}

impl std::str::FromStr for Parser {
    type Err = String;

    /// `json` or `msgpack`, as the command line spells them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" | "default" => Ok(Parser::Json),
            "msgpack" => Ok(Parser::MsgPack),
            other => Err(format!("unknown parser {other:?} (expected json or msgpack)")),
        }
    }
}
