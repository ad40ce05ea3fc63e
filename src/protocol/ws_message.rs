//! One Engine.IO packet per WebSocket message, as the reference parsers do it
//! (engine.io-parser `encodePacket`/`decodePacket`, and engine.io 6.6 `lib/parser-v3`),
//! including the base64 form for clients without binary support (`b64=1`):
//! v4 writes binary data as the text `b<base64>`, v3 as `b<type digit><base64>`.
//!
//! [`Packet::to_frame`] and [`Packet::decode_text`] cover the binary-capable case; this adds
//! the `b` prefix in both directions, and Node's leniency for v3 binary frames whose type byte
//! is unknown (ignored, not a parse error).

use bytes::{BufMut, BytesMut};
use bytestring::ByteString;

use super::base64::{base64_len, read_base64, write_base64};
use super::{Data, DecodeError, EioVersion, Frame, Packet, PacketType};

/// The WebSocket message for `packet` on a WebSocket whose client may not support binary.
pub fn encode(packet: Packet, version: EioVersion, supports_binary: bool) -> Frame {
    match &packet.data {
        Data::Binary(data) if !supports_binary => {
            let mut out = BytesMut::with_capacity(2 + base64_len(data.len()));
            out.put_u8(b'b');
            if version == EioVersion::V3 {
                out.put_u8(packet.kind.digit());
            }
            write_base64(data, &mut out);
            // `b`, a digit and base64 are ASCII.
            Frame::Text(ByteString::try_from(out.freeze()).expect("ASCII is UTF-8"))
        }
        _ => packet.into_frame(version),
    }
}

/// The packet in a WebSocket message. `Ok(None)`: a message Node silently ignores.
pub fn decode(frame: Frame, version: EioVersion) -> Result<Option<Packet>, DecodeError> {
    match frame {
        Frame::Text(text) if text.starts_with('b') => decode_base64(text, version),
        Frame::Text(text) => Packet::decode_text(text).map(Some),
        Frame::Binary(data) => match Packet::decode_binary(data, version) {
            Ok(packet) => Ok(Some(packet)),
            // v3 reads the type byte with no check: an unknown one makes a packet of no type.
            Err(_) if version == EioVersion::V3 => Ok(None),
            Err(e) => Err(e),
        },
        Frame::Message(text) => Ok(Some(Packet::message(text))),
        // Only the server writes these.
        Frame::Prebuilt(_) => Ok(None),
    }
}

fn decode_base64(text: ByteString, version: EioVersion) -> Result<Option<Packet>, DecodeError> {
    let text = text.as_bytes();
    let (kind, encoded) = match version {
        EioVersion::V4 => (Some(PacketType::Message), text.get(1..).unwrap_or_default()),
        EioVersion::V3 => match text.get(1) {
            Some(&digit) => (PacketType::from_digit(digit), text.get(2..).unwrap_or_default()),
            None => (None, &[][..]),
        },
    };
    let Some(kind) = kind else {
        return Ok(None);
    };
    Ok(Some(Packet::new(kind, Data::Binary(read_base64(encoded)?))))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use bytes::Bytes;

    use super::*;

    fn text(s: &'static str) -> Frame {
        Frame::Text(ByteString::from_static(s))
    }

    #[test]
    fn binary_without_binary_support() {
        let p = Packet::binary(&[1u8, 2, 3][..]);
        assert_eq!(encode(p.clone(), EioVersion::V4, false), text("bAQID"));
        assert_eq!(encode(p.clone(), EioVersion::V3, false), text("b4AQID"));
        assert_eq!(encode(p.clone(), EioVersion::V4, true), Frame::Binary(Bytes::from_static(&[1, 2, 3])));
        assert_eq!(encode(p.clone(), EioVersion::V3, true), Frame::Binary(Bytes::from_static(&[4, 1, 2, 3])));
        // A text message's `4` is written in front of its text as it is framed.
        let message = Frame::Message(ByteString::from_static("hé"));
        assert_eq!(encode(Packet::message("hé"), EioVersion::V4, false), message);
        assert_eq!(encode(Packet::message("hé"), EioVersion::V3, true), message);
        assert_eq!(encode(Packet::text(PacketType::Pong, "x"), EioVersion::V4, true), text("3x"));
    }

    #[test]
    fn decodes_like_the_reference() {
        let bin = Some(Packet::binary(&[1u8, 2, 3][..]));
        assert_eq!(decode(text("bAQID"), EioVersion::V4), Ok(bin.clone()));
        assert_eq!(decode(text("bAQI"), EioVersion::V4), Ok(Some(Packet::binary(&[1u8, 2][..]))));
        assert_eq!(decode(text("b4AQID"), EioVersion::V3), Ok(bin));
        assert_eq!(decode(text("b9AQID"), EioVersion::V3), Ok(None));
        assert_eq!(decode(text("2probe"), EioVersion::V4), Ok(Some(Packet::text(PacketType::Ping, "probe"))));
        assert_eq!(decode(text("9"), EioVersion::V4), Err(DecodeError::UnknownType(b'9')));
        assert_eq!(decode(text(""), EioVersion::V3), Err(DecodeError::Empty));
        assert_eq!(decode(Frame::Binary(Bytes::from_static(&[9, 1])), EioVersion::V3), Ok(None));
        assert_eq!(decode(Frame::Binary(Bytes::new()), EioVersion::V3), Ok(None));
        assert_eq!(
            decode(Frame::Binary(Bytes::new()), EioVersion::V4),
            Ok(Some(Packet::binary(Bytes::new())))
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>(), b in proptest::collection::vec(any::<u8>(), 0..64)) {
            for version in [EioVersion::V3, EioVersion::V4] {
                let _ = decode(Frame::Text(ByteString::from(s.clone())), version);
                let _ = decode(Frame::Binary(b.clone().into()), version);
            }
        }

        #[test]
        fn base64_round_trip(b in proptest::collection::vec(any::<u8>(), 0..64), v3 in any::<bool>()) {
            let version = if v3 { EioVersion::V3 } else { EioVersion::V4 };
            let packet = Packet::binary(b);
            prop_assert_eq!(decode(encode(packet.clone(), version, false), version), Ok(Some(packet.clone())));
            prop_assert_eq!(decode(encode(packet.clone(), version, true), version), Ok(Some(packet)));
        }
    }
}
