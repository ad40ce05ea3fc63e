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
/// (It also skips characters outside the alphabet, which we reject.)
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

pub(crate) fn read_base64(text: &[u8]) -> Result<Bytes, DecodeError> {
    LENIENT.decode(text).map(Bytes::from).map_err(|_| DecodeError::InvalidBase64)
}
