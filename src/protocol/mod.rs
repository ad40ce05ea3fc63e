//! Pure codecs for both protocol layers: no I/O, no runtime, no clock.
//!
//! - [`packet`]: one Engine.IO packet and its WebSocket frame (engine.io-protocol v3 and v4).
//! - [`payload`]: HTTP long-polling bodies, several packets in one (v4 `\x1e`-separated;
//!   v3 length-prefixed text and v3 binary).
//! - [`sio`]: Socket.IO packets (socket.io-protocol v5 and v4), namespaces, ack ids.
//! - [`msgpack`]: MessagePack as notepack.io writes and reads it (the msgpack parser, and the
//!   Redis adapter's messages).
//! - [`value`]: JSON values with binary leaves, and the attachment placeholders of binary events.
//! - [`ws_message`]: one packet per WebSocket message, including the base64 form (`b64=1`).
//! - [`sid`]: session ids that name their owning shard.
//! - [`handshake`]: the open packet's JSON.
//!
//! Decoders take `Bytes`/`ByteString` and hand back slices of them. A truncated
//! input reports [`DecodeError::Incomplete`]; anything malformed another typed error.

mod base64;
pub(crate) mod date;
pub mod handshake;
pub mod msgpack;
pub mod packet;
pub mod payload;
pub mod sid;
pub mod sio;
pub mod value;
pub mod ws_message;

pub use packet::{Data, Frame, Packet, PacketType};

/// The Engine.IO protocol revision a client speaks (`EIO=3` or `EIO=4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EioVersion {
    /// Engine.IO v3 (`EIO=3`, socket.io-client 2.x).
    V3 = 3,
    /// Engine.IO v4 (`EIO=4`, socket.io-client 3.x and 4.x).
    V4 = 4,
}

impl EioVersion {
    /// The revision a request's `EIO` query value asks for, as engine.io 6.6 decides it
    /// (`req._query.EIO === "4" ? 4 : 3`): exactly `4` is v4, anything else, missing included,
    /// is v3, which this server always accepts (Node's `allowEIO3: true`).
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("4") => EioVersion::V4,
            _ => EioVersion::V3,
        }
    }
}

/// Why an Engine.IO packet or payload could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends in the middle of a packet.
    #[error("incomplete input")]
    Incomplete,
    /// A packet with no type byte at all.
    #[error("empty packet")]
    Empty,
    /// A packet type outside `0..=6`.
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    /// Text that is not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A `b`-prefixed packet whose data is not base64.
    #[error("invalid base64")]
    InvalidBase64,
    /// A v3 length prefix that is not a number, or that does not fall on a character boundary.
    #[error("invalid length prefix")]
    InvalidLength,
}

impl DecodeError {
    /// Whether the input was cut short, as opposed to invalid.
    pub fn is_incomplete(self) -> bool {
        self == DecodeError::Incomplete
    }
}
