//! Reading one packet's text, as socket.io-parser's `decodeString` reads it.
//!
//! The header is read left to right with the reference's own rules: the type is `Number()` of
//! the first character (so a leading space or an empty message means CONNECT); binary kinds
//! then take everything up to the first `-` as the attachment count; a `/` starts a namespace
//! that runs to the first `,` (or the end); a digit or a space starts the ack id, which runs
//! while digits and spaces follow; whatever remains is JSON.

use bytes::Bytes;
use bytestring::ByteString;

use super::{DecodeOptions, Packet, PacketKind, ParseError, SioVersion, payload, v4};
use crate::protocol::value::number::{self, is_js_space};

impl Packet {
    /// Decodes the text of one Engine.IO message (its `4` already stripped).
    pub fn decode(text: ByteString, version: SioVersion, opts: &DecodeOptions) -> Result<Packet, ParseError> {
        let s: &str = &text;
        let (kind, mut cur) = read_type(s)?;

        let mut attachments = 0;
        if kind.is_binary() {
            let (n, next) = read_attachments(s, cur, opts.max_attachments)?;
            attachments = n;
            cur = next;
        }

        let mut nsp = ByteString::from_static("/");
        if s.as_bytes().get(cur) == Some(&b'/') {
            let end = memchr::memchr(b',', &s.as_bytes()[cur..]).map_or(s.len(), |i| cur + i);
            nsp = text.slice_ref(&s[cur..end]);
            cur = (end + 1).min(s.len());
        }

        let mut id = None;
        let rest = &s[cur..];
        if rest.chars().next().is_some_and(is_id_char) {
            let run_len = rest.find(|c| !is_id_char(c)).unwrap_or(rest.len());
            id = Some(read_id(&rest[..run_len])?);
            cur += run_len;
        }

        let data = match &s[cur..] {
            "" => None,
            json => Some(text.slice_ref(payload::validate(kind, json)?)),
        };

        let mut query = None;
        if version == SioVersion::V4 {
            let (path, q) = v4::split_namespace(&nsp);
            query = q.map(|q| nsp.slice_ref(q));
            nsp = nsp.slice_ref(path);
        }
        Ok(Packet { kind, nsp, query, id, attachments, data })
    }

    /// [`Packet::decode`] for a message held as bytes: refuses non-UTF-8 first.
    pub fn decode_bytes(
        bytes: Bytes,
        version: SioVersion,
        opts: &DecodeOptions,
    ) -> Result<Packet, ParseError> {
        let text = ByteString::try_from(bytes).map_err(|_| ParseError::InvalidUtf8)?;
        Self::decode(text, version, opts)
    }
}

/// `Number(str.charAt(0))` must name a type; returns it and where the header continues.
fn read_type(s: &str) -> Result<(PacketKind, usize), ParseError> {
    let Some(c) = s.chars().next() else {
        return Ok((PacketKind::Connect, 0));
    };
    let n = match c.to_digit(10) {
        Some(d) => d as u8,
        None if is_js_space(c) => 0,
        None => return Err(ParseError::UnknownType(s.as_bytes()[0])),
    };
    match PacketKind::from_u8(n) {
        Some(kind) => Ok((kind, c.len_utf8())),
        None => Err(ParseError::UnknownType(s.as_bytes()[0])),
    }
}

/// The `N-` of binary kinds: `Number()` of the text before the first `-`, which must be an
/// integer from 1 to `max` (socket.io-parser 4.2.7: `!isInteger(n) || n < 1`).
fn read_attachments(s: &str, from: usize, max: usize) -> Result<(usize, usize), ParseError> {
    let dash = memchr::memchr(b'-', &s.as_bytes()[from..]).ok_or(ParseError::IllegalAttachments)?;
    let n = number::parse(&s[from..from + dash]).ok_or(ParseError::IllegalAttachments)?;
    if !(n.is_finite() && n.fract() == 0.0 && n >= 1.0) {
        return Err(ParseError::IllegalAttachments);
    }
    if n > max as f64 {
        return Err(ParseError::TooManyAttachments);
    }
    Ok((n as usize, from + dash + 1))
}

/// Characters for which `Number(c) == c` holds in JS: digits, and spaces (which read as 0).
fn is_id_char(c: char) -> bool {
    c.is_ascii_digit() || is_js_space(c)
}

/// `Number()` of the id run: spaces around it are ignored, spaces alone mean 0, spaces inside
/// mean NaN. Ids beyond `u64` (which Node would round) are refused rather than truncated.
fn read_id(run: &str) -> Result<u64, ParseError> {
    let digits = run.trim_matches(is_js_space);
    if digits.is_empty() {
        return Ok(0);
    }
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::InvalidAckId);
    }
    digits.parse().map_err(|_| ParseError::InvalidAckId)
}
