//! The v4 polling body (engine.io-protocol v4, "HTTP long-polling"; engine.io-parser 5
//! `encodePayload`/`decodePayload`): packets joined by the record separator `\x1e`.
//!
//! A text packet is written as in a WebSocket frame (`4hello`). Binary data has no type of its own
//! in v4: it is `b` + padded base64 and always decodes as a message. Nothing is escaped, so a text
//! containing `\x1e` cannot be carried (the reference has the same limit; Socket.IO never sends
//! one, JSON escapes it).

use std::iter::FusedIterator;

use bytes::{BufMut, BytesMut};
use bytestring::ByteString;

use crate::protocol::base64::{base64_len, read_base64, write_base64};
use crate::protocol::{Data, DecodeError, Packet};

/// The byte between two packets (ASCII "record separator").
pub const SEPARATOR: u8 = 0x1e;

/// Appends `packets` as a v4 body. No packets make an empty body, as the reference's `join`.
pub fn encode_v4(packets: &[Packet], out: &mut BytesMut) {
    let len: usize = packets
        .iter()
        .map(|p| match &p.data {
            Data::Text(t) => 2 + t.len(),
            Data::Binary(b) => 2 + base64_len(b.len()),
        })
        .sum();
    out.reserve(len);
    for (i, p) in packets.iter().enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        match &p.data {
            Data::Text(t) => Packet::write_text(p.kind, t, out),
            Data::Binary(b) => {
                out.put_u8(b'b');
                write_base64(b, out);
            }
        }
    }
}

/// Decodes a v4 body lazily, one packet per `\x1e`-separated record.
///
/// Every record must be a packet: an empty body, an empty record (`4a\x1e\x1e4b`) or a trailing
/// separator is an error ([`DecodeError::Empty`]), as the reference turns `""` into its error packet.
pub fn decode_v4(body: ByteString) -> V4Packets {
    V4Packets { rest: Some(body) }
}

/// The packets of a v4 body; see [`decode_v4`]. Ends after the first error.
#[derive(Clone, Debug)]
pub struct V4Packets {
    /// What follows the last separator read; `None` once the last record is out.
    rest: Option<ByteString>,
}

impl Iterator for V4Packets {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.take()?;
        let record = match rest.split_once(char::from(SEPARATOR)) {
            Some((record, tail)) => {
                self.rest = Some(rest.slice_ref(tail));
                rest.slice_ref(record)
            }
            None => rest,
        };
        let packet = decode_record(record);
        if packet.is_err() {
            self.rest = None;
        }
        Some(packet)
    }
}

impl FusedIterator for V4Packets {}

fn decode_record(record: ByteString) -> Result<Packet, DecodeError> {
    match record.strip_prefix('b') {
        Some(base64) => read_base64(base64.as_bytes()).map(Packet::binary),
        None => Packet::decode_text(record),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::PacketType;

    fn encode(packets: &[Packet]) -> BytesMut {
        let mut out = BytesMut::new();
        encode_v4(packets, &mut out);
        out
    }

    fn decode(body: &'static str) -> Result<Vec<Packet>, DecodeError> {
        decode_v4(ByteString::from_static(body)).collect()
    }

    #[test]
    fn every_packet_type_both_ways() {
        let table = [
            (Packet::text(PacketType::Open, r#"{"sid":"x"}"#), r#"0{"sid":"x"}"#),
            (Packet::empty(PacketType::Close), "1"),
            (Packet::empty(PacketType::Ping), "2"),
            (Packet::text(PacketType::Ping, "probe"), "2probe"),
            (Packet::text(PacketType::Pong, "probe"), "3probe"),
            (Packet::message("hello"), "4hello"),
            (Packet::message("é€😀"), "4é€😀"),
            (Packet::message(""), "4"),
            (Packet::empty(PacketType::Upgrade), "5"),
            (Packet::empty(PacketType::Noop), "6"),
            (Packet::binary(&[1u8, 2, 3][..]), "bAQID"),
            (Packet::binary(&[1u8, 2, 3, 4][..]), "bAQIDBA=="),
            (Packet::binary(Bytes::new()), "b"),
        ];
        for (packet, wire) in table {
            assert_eq!(&encode(std::slice::from_ref(&packet))[..], wire.as_bytes(), "{wire}");
            assert_eq!(decode(wire), Ok(vec![packet]), "{wire}");
        }
    }

    #[test]
    fn payloads_from_the_reference_tests() {
        let packets = vec![
            Packet::empty(PacketType::Open),
            Packet::empty(PacketType::Close),
            Packet::text(PacketType::Ping, "probe"),
            Packet::text(PacketType::Pong, "probe"),
            Packet::message("test"),
        ];
        let wire = "0\x1e1\x1e2probe\x1e3probe\x1e4test";
        assert_eq!(&encode(&packets)[..], wire.as_bytes());
        assert_eq!(decode(wire), Ok(packets));

        let mixed = vec![Packet::message("test"), Packet::binary(&[1u8, 2, 3, 4][..])];
        assert_eq!(&encode(&mixed)[..], b"4test\x1ebAQIDBA==");
        assert_eq!(decode("4test\x1ebAQIDBA=="), Ok(mixed));
    }

    #[test]
    fn binary_of_any_type_is_written_as_a_message() {
        let open = Packet::new(PacketType::Open, Data::Binary(Bytes::from_static(&[1, 2, 3])));
        assert_eq!(&encode(&[open])[..], b"bAQID");
        assert_eq!(&encode(&[])[..], b"");
    }

    #[test]
    fn decoding_is_zero_copy() {
        let body = ByteString::from("4hello\x1e2probe");
        let packets: Vec<_> = decode_v4(body.clone()).collect::<Result<_, _>>().unwrap();
        let Data::Text(hello) = &packets[0].data else { panic!() };
        assert_eq!(hello.as_ptr(), body[1..].as_ptr());
    }

    #[test]
    fn errors() {
        assert_eq!(decode(""), Err(DecodeError::Empty));
        assert_eq!(decode("4a\x1e"), Err(DecodeError::Empty));
        assert_eq!(decode("4a\x1e\x1e4b"), Err(DecodeError::Empty));
        assert_eq!(decode("{"), Err(DecodeError::UnknownType(b'{')));
        assert_eq!(decode("[\"a123\", \"a456\"]"), Err(DecodeError::UnknownType(b'[')));
        assert_eq!(decode("4a\x1e7"), Err(DecodeError::UnknownType(b'7')));
        // The packets before an error come out first, then nothing.
        let mut it = decode_v4(ByteString::from_static("4a\x1ex\x1e4b"));
        assert_eq!(it.next(), Some(Ok(Packet::message("a"))));
        assert_eq!(it.next(), Some(Err(DecodeError::UnknownType(b'x'))));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn lenient_base64_like_node() {
        assert_eq!(decode("bAQIDBA"), Ok(vec![Packet::binary(&[1u8, 2, 3, 4][..])]));
        // Buffer.from(s, "base64") never fails: what is not base64 is skipped.
        assert_eq!(decode("b!!!"), Ok(vec![Packet::binary(&b""[..])]));
        assert_eq!(decode("bAQIDBB=="), Ok(vec![Packet::binary(&[1u8, 2, 3, 4][..])]));
    }

    /// Any packet v4 can carry: binary data only in messages, no `\x1e` in text.
    fn v4_packet() -> impl Strategy<Value = Packet> {
        let text = (0..7u8, "[^\x1e]{0,40}")
            .prop_map(|(t, s)| Packet::text(PacketType::from_u8(t).expect("0..7 is a packet type"), s));
        let binary = proptest::collection::vec(any::<u8>(), 0..40).prop_map(Packet::binary);
        prop_oneof![text, binary]
    }

    proptest! {
        #[test]
        fn round_trip(packets in proptest::collection::vec(v4_packet(), 1..8)) {
            let body = encode(&packets).freeze();
            let body = ByteString::try_from(body).expect("v4 bodies are UTF-8");
            let decoded: Result<Vec<_>, _> = decode_v4(body).collect();
            prop_assert_eq!(decoded, Ok(packets));
        }

        #[test]
        fn arbitrary_text_never_panics(s in any::<String>()) {
            let _ = decode_v4(ByteString::from(s)).count();
        }

        #[test]
        fn near_miss_text_never_panics(s in "[0-9b\x1eA-Za-z+/=é😀]{0,30}") {
            let _ = decode_v4(ByteString::from(s)).count();
        }
    }
}
