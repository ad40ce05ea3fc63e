//! The two v3 polling bodies (engine.io-protocol v3, "Payload"; engine.io-parser 2.x, which
//! engine.io 6.6 carries as `lib/parser-v3`).
//!
//! - Text: `<length>:<packet>` records. The length counts UTF-16 code units, JavaScript's
//!   `.length` (`2:4€`, `3:4😀`). Binary data is written `b<type digit><base64>`, the length
//!   counting that whole string. No packets encode as `0:`; zero-length records decode to nothing.
//! - Binary, for XHR2 clients when binary data is involved: per packet a flag byte (0 = string,
//!   anything else binary), the decimal length one digit per byte, `0xFF`, then either the type
//!   digit and the text as UTF-8 (the length counts bytes) or the type byte and the raw data.
//!
//! Where the reference is lenient with garbage we reject it with a typed error: lengths other
//! than plain decimal digits (JavaScript's `Number()` also takes ` 5`, `0x5`, `1e1`), binary
//! records whose data is cut short (the reference keeps the short data), and digit bytes above 9.

use std::iter::FusedIterator;

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::protocol::base64::{base64_len, read_base64, write_base64};
use crate::protocol::{Data, DecodeError, EioVersion, Packet, PacketType};

/// The longest length prefix the binary format accepts: the reference gives up past 310
/// characters ("char length of Number.MAX_VALUE"), after having read 311.
const MAX_BINARY_LEN_DIGITS: usize = 311;

/// Appends `packets` as a v3 text body.
pub fn encode_v3_text(packets: &[Packet], out: &mut BytesMut) {
    if packets.is_empty() {
        out.extend_from_slice(b"0:");
        return;
    }
    // An upper bound: UTF-16 lengths are never longer than UTF-8 ones, and a usize has 20 digits.
    let len: usize = packets.iter().map(|p| 21 + encoded_data_len(&p.data)).sum();
    out.reserve(len);
    let mut digits = itoa::Buffer::new();
    for p in packets {
        match &p.data {
            Data::Text(t) => {
                out.extend_from_slice(digits.format(1 + utf16_len(t)).as_bytes());
                out.put_u8(b':');
                Packet::write_text(p.kind, t, out);
            }
            Data::Binary(b) => {
                out.extend_from_slice(digits.format(2 + base64_len(b.len())).as_bytes());
                out.extend_from_slice(&[b':', b'b', p.kind.digit()]);
                write_base64(b, out);
            }
        }
    }
}

/// Appends `packets` as a v3 binary body. No packets make an empty body.
pub fn encode_v3_binary(packets: &[Packet], out: &mut BytesMut) {
    let len: usize = packets.iter().map(|p| 23 + p.data.len()).sum();
    out.reserve(len);
    let mut digits = itoa::Buffer::new();
    for p in packets {
        let (flag, head, data) = match &p.data {
            Data::Text(t) => (0, p.kind.digit(), t.as_bytes()),
            Data::Binary(b) => (1, p.kind as u8, b),
        };
        out.put_u8(flag);
        for d in digits.format(1 + data.len()).bytes() {
            out.put_u8(d - b'0');
        }
        out.extend_from_slice(&[0xFF, head]);
        out.extend_from_slice(data);
    }
}

fn encoded_data_len(data: &Data) -> usize {
    match data {
        Data::Text(t) => 1 + t.len(),
        Data::Binary(b) => 2 + base64_len(b.len()),
    }
}

/// JavaScript's `.length` of a string: one unit per character, two for those outside the BMP
/// (whose UTF-8 starts with a byte `>= 0xF0`).
fn utf16_len(s: &str) -> usize {
    // Most Socket.IO traffic is ASCII: one unit per byte, checked a word at a time.
    if s.is_ascii() {
        return s.len();
    }
    s.bytes().map(|b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0)).sum()
}

/// Decodes a v3 text body lazily. An empty body is an error ([`DecodeError::Empty`]), as in the
/// reference; `0:` is no packets.
pub fn decode_v3_text(body: ByteString) -> V3TextPackets {
    V3TextPackets { empty_body: body.is_empty(), rest: Some(body) }
}

/// The packets of a v3 text body; see [`decode_v3_text`]. Ends after the first error.
#[derive(Clone, Debug)]
pub struct V3TextPackets {
    /// The records not read yet; `None` after an error.
    rest: Option<ByteString>,
    empty_body: bool,
}

impl Iterator for V3TextPackets {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut rest = self.rest.take()?;
        if std::mem::take(&mut self.empty_body) {
            return Some(Err(DecodeError::Empty));
        }
        while !rest.is_empty() {
            let (record, tail) = match split_text_record(&rest) {
                Ok((record, tail)) => (rest.slice_ref(record), rest.slice_ref(tail)),
                Err(e) => return Some(Err(e)),
            };
            rest = tail;
            if !record.is_empty() {
                let packet = decode_string_packet(record);
                if packet.is_ok() {
                    self.rest = Some(rest);
                }
                return Some(packet);
            }
        }
        None
    }
}

impl FusedIterator for V3TextPackets {}

/// Splits `<length>:<record><tail>`.
fn split_text_record(rest: &str) -> Result<(&str, &str), DecodeError> {
    let Some((len, tail)) = rest.split_once(':') else {
        let digits = rest.bytes().all(|b| b.is_ascii_digit());
        return Err(if digits { DecodeError::Incomplete } else { DecodeError::InvalidLength });
    };
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::InvalidLength);
    }
    // Saturating: a length past usize::MAX overruns any body.
    let units = len.bytes().fold(0usize, |n, d| n.saturating_mul(10).saturating_add(usize::from(d - b'0')));
    let at = utf16_offset(tail, units)?;
    tail.split_at_checked(at).ok_or(DecodeError::InvalidLength)
}

/// The byte offset in `s` after `units` UTF-16 code units.
fn utf16_offset(s: &str, units: usize) -> Result<usize, DecodeError> {
    if s.as_bytes().get(..units).is_some_and(<[u8]>::is_ascii) {
        return Ok(units);
    }
    let mut seen = 0;
    for (at, c) in s.char_indices() {
        if seen == units {
            return Ok(at);
        }
        seen += c.len_utf16();
    }
    match seen.cmp(&units) {
        std::cmp::Ordering::Equal => Ok(s.len()),
        std::cmp::Ordering::Less => Err(DecodeError::Incomplete),
        // The length ends between the two halves of a surrogate pair.
        std::cmp::Ordering::Greater => Err(DecodeError::InvalidLength),
    }
}

/// Decodes a v3 binary body lazily. An empty body is no packets, as in the reference.
pub fn decode_v3_binary(body: Bytes) -> V3BinaryPackets {
    V3BinaryPackets { rest: body }
}

/// The packets of a v3 binary body; see [`decode_v3_binary`]. Ends after the first error.
#[derive(Clone, Debug)]
pub struct V3BinaryPackets {
    /// The records not read yet; emptied by an error.
    rest: Bytes,
}

impl Iterator for V3BinaryPackets {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let packet = self.next_record();
        if packet.is_err() {
            self.rest = Bytes::new();
        }
        Some(packet)
    }
}

impl FusedIterator for V3BinaryPackets {}

impl V3BinaryPackets {
    fn next_record(&mut self) -> Result<Packet, DecodeError> {
        let (&flag, after_flag) = self.rest.split_first().ok_or(DecodeError::Incomplete)?;
        let window = &after_flag[..after_flag.len().min(MAX_BINARY_LEN_DIGITS + 1)];
        let digits = match window.iter().position(|&b| b > 9) {
            Some(i) if i > 0 && window[i] == 0xFF => i,
            Some(_) => return Err(DecodeError::InvalidLength),
            None if window.len() > MAX_BINARY_LEN_DIGITS => return Err(DecodeError::InvalidLength),
            None => return Err(DecodeError::Incomplete),
        };
        let len =
            window[..digits].iter().fold(0usize, |n, &d| n.saturating_mul(10).saturating_add(usize::from(d)));
        let start = 1 + digits + 1;
        // A length past the end takes what is there, as Node's `bufferTail.slice(1, len + 1)`
        // does (the body is whole: a polling POST is read to its end before decoding).
        let end = start.saturating_add(len).min(self.rest.len());
        let record = self.rest.slice(start..end);
        self.rest = self.rest.slice(end..);
        if flag == 0 {
            let text = ByteString::try_from(record).map_err(|_| DecodeError::InvalidUtf8)?;
            decode_string_packet(text)
        } else {
            Packet::decode_binary(record, EioVersion::V3)
        }
    }
}

/// One packet written as a string, in either body: `b<type digit><base64>` or `<type digit><text>`.
fn decode_string_packet(s: ByteString) -> Result<Packet, DecodeError> {
    let Some(encoded) = s.strip_prefix('b') else {
        return Packet::decode_text(s);
    };
    let (&t, base64) = encoded.as_bytes().split_first().ok_or(DecodeError::Empty)?;
    let kind = PacketType::from_digit(t).ok_or(DecodeError::UnknownType(t))?;
    Ok(Packet::new(kind, Data::Binary(read_base64(base64)?)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn text(packets: &[Packet]) -> BytesMut {
        let mut out = BytesMut::new();
        encode_v3_text(packets, &mut out);
        out
    }

    fn binary(packets: &[Packet]) -> BytesMut {
        let mut out = BytesMut::new();
        encode_v3_binary(packets, &mut out);
        out
    }

    fn decode_text(body: &'static str) -> Result<Vec<Packet>, DecodeError> {
        decode_v3_text(ByteString::from_static(body)).collect()
    }

    fn decode_binary(body: &'static [u8]) -> Result<Vec<Packet>, DecodeError> {
        decode_v3_binary(Bytes::from_static(body)).collect()
    }

    fn bin(kind: PacketType, data: &'static [u8]) -> Packet {
        Packet::new(kind, Data::Binary(Bytes::from_static(data)))
    }

    #[test]
    fn text_every_packet_type_both_ways() {
        let table = [
            (Packet::text(PacketType::Open, r#"{"sid":"x"}"#), r#"12:0{"sid":"x"}"#),
            (Packet::empty(PacketType::Close), "1:1"),
            (Packet::empty(PacketType::Ping), "1:2"),
            (Packet::text(PacketType::Ping, "probe"), "6:2probe"),
            (Packet::text(PacketType::Pong, "probe"), "6:3probe"),
            (Packet::message("hello"), "6:4hello"),
            (Packet::message("é"), "2:4é"),
            (Packet::message("€"), "2:4€"),
            (Packet::message("😀"), "3:4😀"),
            (Packet::message("é€😀x"), "6:4é€😀x"),
            (Packet::empty(PacketType::Upgrade), "1:5"),
            (Packet::empty(PacketType::Noop), "1:6"),
            (Packet::binary(&[1u8, 2, 3][..]), "6:b4AQID"),
            (Packet::binary(&[1u8, 2, 3, 4][..]), "10:b4AQIDBA=="),
            (Packet::binary(Bytes::new()), "2:b4"),
            (bin(PacketType::Open, &[1, 2, 3]), "6:b0AQID"),
            (bin(PacketType::Noop, &[255]), "6:b6/w=="),
        ];
        for (packet, wire) in table {
            assert_eq!(&text(std::slice::from_ref(&packet))[..], wire.as_bytes(), "{wire}");
            assert_eq!(decode_text(wire), Ok(vec![packet]), "{wire}");
        }
    }

    #[test]
    fn text_payloads() {
        let euros = vec![Packet::message("€€€"), Packet::message("α")];
        assert_eq!(&text(&euros)[..], "4:4€€€2:4α".as_bytes());
        assert_eq!(decode_text("4:4€€€2:4α"), Ok(euros));

        let mixed = vec![
            Packet::binary(&[0u8, 1, 2, 3, 4][..]),
            Packet::message("hello 亜"),
            Packet::empty(PacketType::Close),
        ];
        let wire = "10:b4AAECAwQ=8:4hello 亜1:1";
        assert_eq!(&text(&mixed)[..], wire.as_bytes());
        assert_eq!(decode_text(wire), Ok(mixed));

        assert_eq!(&text(&[])[..], b"0:");
        assert_eq!(decode_text("0:"), Ok(vec![]));
        assert_eq!(decode_text("0:1:20:"), Ok(vec![Packet::empty(PacketType::Ping)]));
        assert_eq!(decode_text("02:4a"), Ok(vec![Packet::message("a")]));
    }

    #[test]
    fn text_errors() {
        use DecodeError::*;
        let table = [
            ("", Empty),
            ("1:", Incomplete),
            ("3:4é", Incomplete),
            ("2:4012", Incomplete),
            ("99999999999999999999999999:4", Incomplete),
            ("2:4😀", InvalidLength),
            ("1!", InvalidLength),
            ("))", InvalidLength),
            (":4a", InvalidLength),
            ("x:4a", InvalidLength),
            (" 2:4a", InvalidLength),
            ("0x2:4a", InvalidLength),
            ("3:99:", UnknownType(b'9')),
            ("1:aa", UnknownType(b'a')),
            ("1:a2:b", UnknownType(b'a')),
            ("1:b", Empty),
            ("3:b9A", UnknownType(b'9')),
        ];
        for (wire, err) in table {
            assert_eq!(decode_text(wire), Err(err), "{wire:?}");
        }
        let mut it = decode_v3_text(ByteString::from_static("2:4a2:4b1!"));
        assert_eq!(it.next(), Some(Ok(Packet::message("a"))));
        assert_eq!(it.next(), Some(Ok(Packet::message("b"))));
        assert_eq!(it.next(), Some(Err(DecodeError::InvalidLength)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn binary_every_packet_type_both_ways() {
        let table: [(Packet, &[u8]); 14] = [
            (Packet::text(PacketType::Open, r#"{"sid":"x"}"#), b"\x00\x01\x02\xff0{\"sid\":\"x\"}"),
            (Packet::empty(PacketType::Close), b"\x00\x01\xff1"),
            (Packet::empty(PacketType::Ping), b"\x00\x01\xff2"),
            (Packet::text(PacketType::Pong, "probe"), b"\x00\x06\xff3probe"),
            (Packet::message("€"), b"\x00\x04\xff4\xe2\x82\xac"),
            (Packet::message("😀"), b"\x00\x05\xff4\xf0\x9f\x98\x80"),
            (Packet::empty(PacketType::Upgrade), b"\x00\x01\xff5"),
            (Packet::empty(PacketType::Noop), b"\x00\x01\xff6"),
            (Packet::binary(&[1u8, 2, 3, 4][..]), b"\x01\x05\xff\x04\x01\x02\x03\x04"),
            (Packet::binary(Bytes::new()), b"\x01\x01\xff\x04"),
            (bin(PacketType::Open, &[7]), b"\x01\x02\xff\x00\x07"),
            (bin(PacketType::Ping, &[7]), b"\x01\x02\xff\x02\x07"),
            (bin(PacketType::Noop, &[7]), b"\x01\x02\xff\x06\x07"),
            (Packet::binary(vec![9u8; 10]), b"\x01\x01\x01\xff\x04\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09"),
        ];
        for (packet, wire) in table {
            assert_eq!(&binary(std::slice::from_ref(&packet))[..], wire, "{packet:?}");
            assert_eq!(decode_binary(wire), Ok(vec![packet]), "{wire:?}");
        }
    }

    #[test]
    fn binary_payloads() {
        // The example of engine.io-protocol v3, "Payload".
        let packets = vec![Packet::message("€"), Packet::binary(&[1u8, 2, 3, 4][..])];
        let wire = b"\x00\x04\xff\x34\xe2\x82\xac\x01\x05\xff\x04\x01\x02\x03\x04";
        assert_eq!(&binary(&packets)[..], wire);
        assert_eq!(decode_binary(wire), Ok(packets));

        assert_eq!(&binary(&[])[..], b"");
        assert_eq!(decode_binary(b""), Ok(vec![]));
        // A string record may carry base64 binary, any non-zero flag means binary, and the length
        // may have leading zeros (up to 311 digits in all).
        assert_eq!(decode_binary(b"\x00\x06\xffb4AQID"), Ok(vec![Packet::binary(&[1u8, 2, 3][..])]));
        assert_eq!(decode_binary(b"\x07\x01\xff\x02"), Ok(vec![bin(PacketType::Ping, b"")]));
        // A length past the end takes what is there, and base64 skips what it cannot read, as
        // Node's parser does.
        assert_eq!(decode_binary(b"\x00\x02\xff4"), Ok(vec![Packet::message("")]));
        assert_eq!(decode_binary(b"\x01\x04\xff\x04\x01"), Ok(vec![Packet::binary(&[1u8][..])]));
        assert_eq!(decode_text("4:b4!!"), Ok(vec![Packet::binary(&b""[..])]));
        let mut long = vec![0u8; 311];
        long[310] = 1;
        let body = [&[0u8][..], &long, b"\xff2"].concat();
        assert_eq!(
            decode_v3_binary(body.into()).collect::<Result<Vec<_>, _>>(),
            Ok(vec![Packet::empty(PacketType::Ping)])
        );
    }

    #[test]
    fn binary_errors() {
        use DecodeError::*;
        let table: [(&[u8], DecodeError); 10] = [
            (b"\x00", Incomplete),
            (b"\x00\x01", Incomplete),
            (b"\x40", Incomplete),
            (b"\x00\xff", InvalidLength),
            (b"\x00\x0c\xff4", InvalidLength),
            (b"\x00\x01\xff9", UnknownType(b'9')),
            (b"\x01\x01\xff\x09", UnknownType(9)),
            (b"\x01\x00\xff", Empty),
            (b"\x00\x00\xff", Empty),
            (b"\x00\x02\xff4\xff", InvalidUtf8),
        ];
        for (wire, err) in table {
            assert_eq!(decode_binary(wire), Err(err), "{wire:?}");
        }
        let too_long = [&[0u8][..], &[0; 312], b"\xff2"].concat();
        assert_eq!(decode_v3_binary(too_long.into()).collect::<Result<Vec<_>, _>>(), Err(InvalidLength));
        let endless = [&[0u8][..], &[1; 400]].concat();
        assert_eq!(decode_v3_binary(endless.into()).collect::<Result<Vec<_>, _>>(), Err(InvalidLength));
    }

    #[test]
    fn decoding_is_zero_copy() {
        let body = Bytes::from_static(b"\x00\x06\xff4hello\x01\x04\xff\x04abc");
        let packets: Vec<_> = decode_v3_binary(body.clone()).collect::<Result<_, _>>().unwrap();
        let (Data::Text(t), Data::Binary(b)) = (&packets[0].data, &packets[1].data) else { panic!() };
        assert_eq!(t.as_ptr(), body[4..].as_ptr());
        assert_eq!(b.as_ptr(), body[13..].as_ptr());
    }

    /// Any packet: every type with text or binary data.
    fn any_packet() -> impl Strategy<Value = Packet> {
        let kind = (0..7u8).prop_map(|t| PacketType::from_u8(t).expect("0..7 is a packet type"));
        let data = prop_oneof![
            any::<String>().prop_map(|s| Data::Text(s.into())),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Data::Binary(b.into())),
        ];
        (kind, data).prop_map(|(kind, data)| Packet::new(kind, data))
    }

    proptest! {
        #[test]
        fn text_round_trip(packets in proptest::collection::vec(any_packet(), 0..8)) {
            let body = ByteString::try_from(text(&packets).freeze()).expect("v3 text bodies are UTF-8");
            prop_assert_eq!(decode_v3_text(body).collect::<Result<Vec<_>, _>>(), Ok(packets));
        }

        #[test]
        fn binary_round_trip(packets in proptest::collection::vec(any_packet(), 0..8)) {
            let body = binary(&packets).freeze();
            prop_assert_eq!(decode_v3_binary(body).collect::<Result<Vec<_>, _>>(), Ok(packets));
        }

        #[test]
        fn text_lengths_are_javascript_lengths(s in any::<String>()) {
            prop_assert_eq!(utf16_len(&s), s.encode_utf16().count());
        }

        #[test]
        fn arbitrary_text_never_panics(s in any::<String>()) {
            let _ = decode_v3_text(ByteString::from(s)).count();
        }

        #[test]
        fn near_miss_text_never_panics(s in "[0-9:b4A+/=é€😀]{0,30}") {
            let _ = decode_v3_text(ByteString::from(s)).count();
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_v3_binary(b.into()).count();
        }

        #[test]
        fn near_miss_bytes_never_panic(
            b in proptest::collection::vec(prop::sample::select(&[0u8, 1, 2, 4, 9, 10, 0xff, b'4', b'b', 0xe2][..]), 0..60)
        ) {
            let _ = decode_v3_binary(b.into()).count();
        }
    }
}
