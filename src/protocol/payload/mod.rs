//! HTTP long-polling bodies: several Engine.IO packets in one request or response
//! (engine.io-protocol v4 "HTTP long-polling", and v3 "Payload").
//!
//! There are three body formats: [`PayloadFormat::V4`] (`\x1e`-separated text), and for v3 the
//! length-prefixed text format and the binary format that clients with XHR2 use when binary data
//! is involved. [`PayloadFormat`] picks one the way engine.io 6.6 does (`lib/transports/polling.ts`);
//! [`encode`] and [`decode`] dispatch to the per-format codecs (`v4.rs`, `v3.rs`).
//!
//! The per-format decoders are lazy iterators over slices of the received body that end after
//! the first error, having handed out the packets before it. engine.io processes those packets,
//! then closes the session with "parse error" (for a v3 binary body whose framing is broken it
//! processes none; [`decode`], all or nothing, is the simple way to get that).

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use super::{DecodeError, EioVersion, Packet};

mod v3;
mod v4;

pub use v3::{
    V3BinaryPackets, V3TextPackets, decode_v3_binary, decode_v3_text, encode_v3_binary, encode_v3_text,
};
pub use v4::{SEPARATOR, V4Packets, decode_v4, encode_v4};

/// Which body format a polling request/response uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadFormat {
    /// Packets joined by `\x1e`, binary as `b` + base64.
    V4,
    /// `<length>:<packet>` records, length in UTF-16 code units, binary as `b<type>` + base64.
    V3Text,
    /// `<0|1><length digits as bytes>0xFF<packet>` records, length in bytes.
    V3Binary,
}

impl PayloadFormat {
    /// Response format: V4 for v4; for v3, V3Binary only when the client supports binary (no `b64=1`)
    /// AND some packet has binary data, else V3Text.
    ///
    /// engine.io decides `supports_binary` as `!req._query.b64`: any non-empty `b64` value, even
    /// `b64=0`, turns binary off.
    pub fn for_response(version: EioVersion, supports_binary: bool, packets: &[Packet]) -> Self {
        match version {
            EioVersion::V4 => PayloadFormat::V4,
            EioVersion::V3 if supports_binary && packets.iter().any(|p| p.data.is_binary()) => {
                PayloadFormat::V3Binary
            }
            EioVersion::V3 => PayloadFormat::V3Text,
        }
    }

    /// Request format from the POST's Content-Type: v3 + `application/octet-stream` → V3Binary.
    ///
    /// engine.io compares the whole header value, case-sensitively, with `application/octet-stream`
    /// (Node's HTTP parser has already trimmed the surrounding whitespace). For v4 it answers such a
    /// request with a transport error ("invalid content"); that check is the caller's, this returns
    /// [`PayloadFormat::V4`].
    pub fn for_request(version: EioVersion, content_type: Option<&[u8]>) -> Self {
        let binary = content_type.is_some_and(|v| v.trim_ascii() == b"application/octet-stream");
        match version {
            EioVersion::V4 => PayloadFormat::V4,
            EioVersion::V3 if binary => PayloadFormat::V3Binary,
            EioVersion::V3 => PayloadFormat::V3Text,
        }
    }

    /// The Content-Type engine.io 6.6 sends for a response body in this format: a string body is
    /// `text/plain; charset=UTF-8`, a Buffer `application/octet-stream`.
    pub fn content_type(self) -> &'static str {
        match self {
            PayloadFormat::V4 | PayloadFormat::V3Text => "text/plain; charset=UTF-8",
            PayloadFormat::V3Binary => "application/octet-stream",
        }
    }
}

/// Appends the body carrying `packets` in `format`.
pub fn encode(format: PayloadFormat, packets: &[Packet], out: &mut BytesMut) {
    match format {
        PayloadFormat::V4 => encode_v4(packets, out),
        PayloadFormat::V3Text => encode_v3_text(packets, out),
        PayloadFormat::V3Binary => encode_v3_binary(packets, out),
    }
}

/// Decodes a whole POST body. Returns every packet or the first error.
///
/// Text bodies that are not UTF-8 are read the way Node's `req.setEncoding("utf8")` reads them,
/// each bad sequence becoming U+FFFD (one copy, only on that path); the v3 lengths then count the
/// replacement characters, as the reference does.
pub fn decode(format: PayloadFormat, body: Bytes) -> Result<Vec<Packet>, DecodeError> {
    match format {
        PayloadFormat::V4 => decode_v4(text_body(body)).collect(),
        PayloadFormat::V3Text => decode_v3_text(text_body(body)).collect(),
        PayloadFormat::V3Binary => decode_v3_binary(body).collect(),
    }
}

fn text_body(body: Bytes) -> ByteString {
    ByteString::try_from(body.clone())
        .unwrap_or_else(|_| ByteString::from(String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::{Data, PacketType};

    #[test]
    fn formats_follow_engine_io() {
        let text = [Packet::message("a")];
        let mixed = [Packet::message("a"), Packet::binary(&[1u8][..])];
        use EioVersion::*;
        use PayloadFormat as F;
        assert_eq!(F::for_response(V4, true, &mixed), F::V4);
        assert_eq!(F::for_response(V3, true, &text), F::V3Text);
        assert_eq!(F::for_response(V3, true, &[]), F::V3Text);
        assert_eq!(F::for_response(V3, true, &mixed), F::V3Binary);
        assert_eq!(F::for_response(V3, false, &mixed), F::V3Text);

        let octets = Some(&b"application/octet-stream"[..]);
        assert_eq!(F::for_request(V3, octets), F::V3Binary);
        assert_eq!(F::for_request(V3, Some(b" application/octet-stream ")), F::V3Binary);
        assert_eq!(F::for_request(V3, Some(b"Application/Octet-Stream")), F::V3Text);
        assert_eq!(F::for_request(V3, Some(b"application/octet-stream; x=y")), F::V3Text);
        assert_eq!(F::for_request(V3, Some(b"text/plain;charset=UTF-8")), F::V3Text);
        assert_eq!(F::for_request(V3, None), F::V3Text);
        assert_eq!(F::for_request(V4, octets), F::V4);

        assert_eq!(F::V4.content_type(), "text/plain; charset=UTF-8");
        assert_eq!(F::V3Text.content_type(), "text/plain; charset=UTF-8");
        assert_eq!(F::V3Binary.content_type(), "application/octet-stream");
    }

    #[test]
    fn socket_io_docs_example() {
        let json = r#"{"sid":"hLOEJXN07AE0GQCNAAAB","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}"#;
        let wire = format!("96:0{json}2:40");
        let packets = vec![Packet::text(PacketType::Open, json), Packet::message("0")];
        assert_eq!(decode(PayloadFormat::V3Text, wire.clone().into()), Ok(packets.clone()));
        let mut out = BytesMut::new();
        encode(PayloadFormat::V3Text, &packets, &mut out);
        assert_eq!(out, wire.as_bytes());

        for (format, wire) in [(PayloadFormat::V4, "2probe"), (PayloadFormat::V3Text, "6:2probe")] {
            let ping = Packet::text(PacketType::Ping, "probe");
            assert_eq!(decode(format, Bytes::from_static(wire.as_bytes())), Ok(vec![ping]));
        }
        assert_eq!(
            decode(PayloadFormat::V4, "3probe".into()),
            Ok(vec![Packet::text(PacketType::Pong, "probe")])
        );
    }

    #[test]
    fn dispatch_by_format() {
        let packets = [Packet::message("é"), Packet::binary(&[1u8, 2, 3][..])];
        let table: [(PayloadFormat, &[u8]); 3] = [
            (PayloadFormat::V4, "4é\x1ebAQID".as_bytes()),
            (PayloadFormat::V3Text, "2:4é6:b4AQID".as_bytes()),
            (PayloadFormat::V3Binary, b"\x00\x03\xff4\xc3\xa9\x01\x04\xff\x04\x01\x02\x03"),
        ];
        for (format, wire) in table {
            let mut out = BytesMut::new();
            encode(format, &packets, &mut out);
            assert_eq!(&out[..], wire, "{format:?}");
            assert_eq!(decode(format, Bytes::from_static(wire)), Ok(packets.to_vec()), "{format:?}");
        }
        assert_eq!(decode(PayloadFormat::V4, Bytes::new()), Err(DecodeError::Empty));
        assert_eq!(decode(PayloadFormat::V3Text, Bytes::new()), Err(DecodeError::Empty));
        assert_eq!(decode(PayloadFormat::V3Binary, Bytes::new()), Ok(vec![]));
    }

    #[test]
    fn text_bodies_that_are_not_utf8_read_like_node() {
        let replaced = Packet::message("a\u{FFFD}");
        let v3 = decode(PayloadFormat::V3Text, Bytes::from_static(b"3:4a\xff"));
        assert_eq!(v3, Ok(vec![replaced.clone()]));
        assert_eq!(decode(PayloadFormat::V4, Bytes::from_static(b"4a\xff")), Ok(vec![replaced]));
        // The binary format's strings are strict, as the reference's utf8.decode.
        let strict = decode(PayloadFormat::V3Binary, Bytes::from_static(b"\x00\x03\xff4a\xff"));
        assert_eq!(strict, Err(DecodeError::InvalidUtf8));
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..300)
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in bytes()) {
            for format in [PayloadFormat::V4, PayloadFormat::V3Text, PayloadFormat::V3Binary] {
                let _ = decode(format, b.clone().into());
            }
        }

        #[test]
        fn packet_decoders_never_panic(s in any::<String>(), b in bytes()) {
            let _ = Packet::decode_text(ByteString::from(s));
            let _ = Packet::decode_binary(b.clone().into(), EioVersion::V3);
            let _ = Packet::decode_binary(b.into(), EioVersion::V4);
        }

        #[test]
        fn packet_text_round_trip(t in 0..7u8, s in any::<String>()) {
            let packet = Packet::text(PacketType::from_u8(t).expect("0..7 is a packet type"), s);
            let crate::protocol::Frame::Text(frame) = packet.to_frame(EioVersion::V4) else {
                return Err(TestCaseError::fail("text packets make text frames"));
            };
            prop_assert_eq!(Packet::decode_text(frame), Ok(packet));
        }

        #[test]
        fn packet_binary_round_trip(t in 0..7u8, b in bytes()) {
            let kind = PacketType::from_u8(t).expect("0..7 is a packet type");
            let packet = Packet::new(kind, Data::Binary(b.into()));
            let crate::protocol::Frame::Binary(frame) = packet.to_frame(EioVersion::V3) else {
                return Err(TestCaseError::fail("binary packets make binary frames"));
            };
            prop_assert_eq!(Packet::decode_binary(frame, EioVersion::V3), Ok(packet.clone()));
            if kind == PacketType::Message {
                let crate::protocol::Frame::Binary(frame) = packet.to_frame(EioVersion::V4) else {
                    return Err(TestCaseError::fail("binary packets make binary frames"));
                };
                prop_assert_eq!(Packet::decode_binary(frame, EioVersion::V4), Ok(packet));
            }
        }
    }
}
