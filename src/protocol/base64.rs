//! Binary data inside text encodings, written as Node writes it (`buffer.toString("base64")`:
//! standard alphabet, padded) and read as Node reads it (`Buffer.from(s, "base64")`: padding
//! optional, stray low bits allowed). Used by the polling payloads (`b…` packets) and by the
//! WebSocket messages of clients without binary support (`b64=1`).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use bytes::{Bytes, BytesMut};

use super::DecodeError;

/// Node's `Buffer.from(s, "base64")` accepts missing padding and stray low bits; so do we.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Length of the padded standard base64 of `n` bytes.
pub(crate) fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Appends padded standard base64, as Node's `buffer.toString("base64")` writes it.
pub(crate) fn write_base64(data: &[u8], out: &mut BytesMut) {
    let start = out.len();
    out.resize(start + base64_len(data.len()), 0);
    let written = STANDARD
        .encode_slice(data, &mut out[start..])
        .expect("the buffer was sized with base64_len, the exact padded length");
    out.truncate(start + written);
}

/// Decodes as Node's `Buffer.from(s, "base64")`, which never fails: well-formed input the fast
/// way; otherwise Node's slow path, which skips characters outside both alphabets (standard and
/// URL-safe), stops at the first `=` and drops a last lone character.
pub(crate) fn read_base64(text: &[u8]) -> Result<Bytes, DecodeError> {
    if let Ok(data) = LENIENT.decode(text) {
        return Ok(Bytes::from(data));
    }
    let mut clean: Vec<u8> = text
        .iter()
        .take_while(|&&c| c != b'=')
        .filter_map(|&c| match c {
            b'-' => Some(b'+'),
            b'_' => Some(b'/'),
            c if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' => Some(c),
            _ => None,
        })
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    LENIENT.decode(&clean).map(Bytes::from).map_err(|_| DecodeError::InvalidBase64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_node_reads() {
        // Inputs and `Buffer.from(s, "base64")` of Node 20.
        let table: [(&str, &[u8]); 11] = [
            ("AQID", &[1, 2, 3]),
            ("AQI", &[1, 2]),
            ("!!!", &[]),
            ("AQ==AQID", &[1]),
            ("A", &[]),
            ("AQ-_", &[1, 0x0f, 0xbf]),
            ("A Q I D", &[1, 2, 3]),
            ("AQID!", &[1, 2, 3]),
            ("=AQID", &[]),
            ("AQIDB", &[1, 2, 3]),
            ("AQ=ID", &[1]),
        ];
        for (text, data) in table {
            assert_eq!(read_base64(text.as_bytes()).as_deref(), Ok(data), "{text:?}");
        }
    }
}
