//! The `permessage-deflate` WebSocket extension (RFC 7692): negotiation of the client's
//! `Sec-WebSocket-Extensions` offers as the `ws` package 8 does it for Node's engine.io (its
//! header grammar, its refusals, the first acceptable offer echoed back in offer order), and the
//! per-connection compressor and decompressor (§7.2: raw DEFLATE, sync flush, the trailing
//! `00 00 ff ff` stripped on send and put back on receipt).
//!
//! `ws` compresses every data message while the server keeps its context; only under
//! `server_no_context_takeover` does the threshold (engine.io's `{ threshold: 1024 }`) leave
//! smaller messages uncompressed. [`Deflater::wants`] follows that rule.

use std::borrow::Cow;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The name `ws` looks for, compared case-sensitively as it does.
const NAME: &[u8] = b"permessage-deflate";

/// The empty stored block a sync flush ends with (§7.2.1), absent on the wire.
pub const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The parameters of an accepted offer, and the response header value that accepts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: Option<u8>,
    pub client_max_window_bits: Option<u8>,
    response: String,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value of the `101`, formatted as `ws`'s `extension.format`.
    pub fn response(&self) -> &str {
        &self.response
    }
}

/// Why `ws` would answer `400 Invalid or unacceptable Sec-WebSocket-Extensions header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    #[error("malformed Sec-WebSocket-Extensions header")]
    Syntax,
    #[error("a permessage-deflate parameter is repeated")]
    Repeated,
    #[error("a permessage-deflate parameter has an invalid value")]
    InvalidValue,
    #[error("unknown permessage-deflate parameter")]
    Unknown,
}

/// Negotiates from every `Sec-WebSocket-Extensions` field of the request (Node joins repeated
/// fields with `", "`). `Ok(None)`: no `permessage-deflate` offer, so no extension.
pub fn negotiate<'v>(
    values: impl IntoIterator<Item = &'v [u8]>,
) -> Result<Option<DeflateParams>, ExtensionError> {
    let mut joined = Vec::new();
    for value in values {
        if !joined.is_empty() {
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(value.trim_ascii());
    }
    accept(&joined)
}

/// Negotiates from one header value, as `ws` sees it.
fn accept(header: &[u8]) -> Result<Option<DeflateParams>, ExtensionError> {
    let mut accepted = None;
    // `ws` validates every offer of the extension before it picks one.
    for offer in parse(header)?.into_iter().filter(|o| o.name == NAME) {
        let params = normalize(&offer.params)?;
        accepted.get_or_insert(params);
    }
    Ok(accepted)
}

#[derive(Debug, PartialEq, Eq)]
enum Value<'h> {
    /// A parameter without `=value`.
    Bare,
    Token(Cow<'h, [u8]>),
}

#[derive(Debug, PartialEq, Eq)]
struct Offer<'h> {
    name: &'h [u8],
    params: Vec<(&'h [u8], Value<'h>)>,
}

/// Which part of an offer the parser is in.
#[derive(Clone, Copy)]
enum Part {
    Name,
    ParamName,
    ParamValue,
}

/// `ws`'s `extension.parse`: offers separated by `,`, parameters by `;`, values tokens or quoted
/// tokens (RFC 6455 §9.1), whitespace only around separators, nothing but ASCII.
fn parse(header: &[u8]) -> Result<Vec<Offer<'_>>, ExtensionError> {
    use ExtensionError::Syntax;
    let mut offers = Vec::new();
    let mut params = Vec::new();
    let mut part = Part::Name;
    let (mut name, mut param): (&[u8], &[u8]) = (b"", b"");
    let (mut start, mut end): (Option<usize>, Option<usize>) = (None, None);
    let (mut quoted, mut escaping, mut unescape) = (false, false, false);
    for (i, &c) in header.iter().enumerate() {
        let separator = c == b';' || c == b',';
        match part {
            Part::Name | Part::ParamName if end.is_none() && is_tchar(c) => {
                start.get_or_insert(i);
            }
            // Leading whitespace (none after Node trims the field) is refused.
            Part::Name | Part::ParamName if is_space(c) && i != 0 => {
                if start.is_some() {
                    end.get_or_insert(i);
                }
            }
            Part::Name | Part::ParamName if separator => {
                let token = &header[start.ok_or(Syntax)?..end.unwrap_or(i)];
                match (part, c) {
                    (Part::Name, b',') => {
                        offers.push(Offer { name: token, params: std::mem::take(&mut params) })
                    }
                    (Part::Name, _) => (name, part) = (token, Part::ParamName),
                    (_, b',') => {
                        params.push((token, Value::Bare));
                        offers.push(Offer { name, params: std::mem::take(&mut params) });
                        part = Part::Name;
                    }
                    _ => params.push((token, Value::Bare)),
                }
                (start, end) = (None, None);
            }
            Part::ParamName if c == b'=' && end.is_none() => {
                param = &header[start.ok_or(Syntax)?..i];
                (start, end, part) = (None, None, Part::ParamValue);
            }
            Part::Name | Part::ParamName => return Err(Syntax),
            Part::ParamValue if escaping => {
                if !is_tchar(c) {
                    return Err(Syntax);
                }
                // An escape opening the value drops out of the slice; later ones stay in it.
                if start.is_some() {
                    unescape = true;
                }
                start.get_or_insert(i);
                escaping = false;
            }
            Part::ParamValue if quoted => match c {
                _ if is_tchar(c) => {
                    start.get_or_insert(i);
                }
                b'"' if start.is_some() => (quoted, end) = (false, Some(i)),
                b'\\' => escaping = true,
                _ => return Err(Syntax),
            },
            Part::ParamValue if c == b'"' && i > 0 && header[i - 1] == b'=' => quoted = true,
            Part::ParamValue if end.is_none() && is_tchar(c) => {
                start.get_or_insert(i);
            }
            Part::ParamValue if start.is_some() && is_space(c) => {
                end.get_or_insert(i);
            }
            Part::ParamValue if separator => {
                let token = &header[start.ok_or(Syntax)?..end.unwrap_or(i)];
                params.push((param, Value::Token(unescaped(token, unescape))));
                unescape = false;
                part = Part::ParamName;
                if c == b',' {
                    offers.push(Offer { name, params: std::mem::take(&mut params) });
                    part = Part::Name;
                }
                (start, end) = (None, None);
            }
            Part::ParamValue => return Err(Syntax),
        }
    }
    let (Some(s), Some(&last)) = (start, header.last()) else {
        return Err(Syntax);
    };
    if quoted || is_space(last) {
        return Err(Syntax);
    }
    let token = &header[s..end.unwrap_or(header.len())];
    match part {
        Part::Name => offers.push(Offer { name: token, params }),
        Part::ParamName => {
            params.push((token, Value::Bare));
            offers.push(Offer { name, params });
        }
        Part::ParamValue => {
            params.push((param, Value::Token(unescaped(token, unescape))));
            offers.push(Offer { name, params });
        }
    }
    Ok(offers)
}

fn unescaped(token: &[u8], unescape: bool) -> Cow<'_, [u8]> {
    if unescape {
        Cow::Owned(token.iter().copied().filter(|&b| b != b'\\').collect())
    } else {
        Cow::Borrowed(token)
    }
}

/// `ws`'s `normalizeParams` and `acceptAsServer` with engine.io's options (none but the
/// threshold): every known parameter is accepted once; a bare `client_max_window_bits` is dropped
/// from the response; the rest is echoed in offer order.
fn normalize(params: &[(&[u8], Value<'_>)]) -> Result<DeflateParams, ExtensionError> {
    use std::fmt::Write;
    if params.iter().enumerate().any(|(i, (key, _))| params[..i].iter().any(|(k, _)| k == key)) {
        return Err(ExtensionError::Repeated);
    }
    let mut accepted = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: None,
        client_max_window_bits: None,
        response: String::from("permessage-deflate"),
    };
    let response = &mut accepted.response;
    for (key, value) in params {
        // `+true` is 1: a bare window size is out of range, except the client's, an announcement.
        let bits = || match value {
            Value::Token(t) => window_bits(t).ok_or(ExtensionError::InvalidValue),
            Value::Bare => Err(ExtensionError::InvalidValue),
        };
        match (*key, value) {
            (b"client_max_window_bits", Value::Bare) => {}
            (b"client_max_window_bits", _) => {
                let bits = bits()?;
                accepted.client_max_window_bits = Some(bits);
                let _ = write!(response, "; client_max_window_bits={bits}");
            }
            (b"server_max_window_bits", _) => {
                let bits = bits()?;
                accepted.server_max_window_bits = Some(bits);
                let _ = write!(response, "; server_max_window_bits={bits}");
            }
            (b"client_no_context_takeover", Value::Bare) => {
                accepted.client_no_context_takeover = true;
                response.push_str("; client_no_context_takeover");
            }
            (b"server_no_context_takeover", Value::Bare) => {
                accepted.server_no_context_takeover = true;
                response.push_str("; server_no_context_takeover");
            }
            (b"client_no_context_takeover" | b"server_no_context_takeover", _) => {
                return Err(ExtensionError::InvalidValue);
            }
            _ => return Err(ExtensionError::Unknown),
        }
    }
    Ok(accepted)
}

/// `+value` in 8..=15, as JavaScript's `Number` reads a token: decimal with fraction and
/// exponent, or `0x`/`0o`/`0b` integers.
fn window_bits(value: &[u8]) -> Option<u8> {
    let radix = match value.get(..2) {
        Some(b"0x" | b"0X") => Some(16),
        Some(b"0o" | b"0O") => Some(8),
        Some(b"0b" | b"0B") => Some(2),
        _ => None,
    };
    let number = match radix {
        Some(radix) => {
            let digits = std::str::from_utf8(value.get(2..)?).ok()?;
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            // Past 15 the exact value does not matter.
            u64::from_str_radix(digits, radix).unwrap_or(u64::MAX) as f64
        }
        None => {
            // Rust also reads `inf` and `nan`, which JavaScript does not; neither is in range.
            std::str::from_utf8(value).ok()?.parse::<f64>().ok()?
        }
    };
    (number.fract() == 0.0 && (8.0..=15.0).contains(&number)).then_some(number as u8)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Why a compressed message cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// Inflated past the size limit: a message too big, or a zip bomb.
    #[error("inflated message too big")]
    TooBig,
    #[error("invalid DEFLATE data")]
    Corrupt,
}

/// The server's compressor for one connection.
pub struct Deflater {
    /// Created on the first compressed message, as `ws` does: most sockets never need one.
    compress: Option<Compress>,
    /// Forget the context after each message (`server_no_context_takeover`, or a window we
    /// cannot honour otherwise).
    reset: bool,
    /// Below this many bytes a message goes out uncompressed.
    threshold: usize,
    /// Above this many bytes a message goes out uncompressed: a negotiated window smaller than
    /// the compressor's 32 KiB is honoured by compressing only messages that fit in it, each
    /// with a fresh context, so no back-reference reaches past the window.
    limit: usize,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("reset", &self.reset)
            .field("threshold", &self.threshold)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// `threshold` is engine.io's (1024 by default); `ws` applies it only when the server keeps
    /// no context, and otherwise compresses every data message.
    pub fn new(params: &DeflateParams, threshold: usize) -> Self {
        let narrow = params.server_max_window_bits.filter(|&bits| bits < 15);
        Deflater {
            compress: None,
            reset: params.server_no_context_takeover || narrow.is_some(),
            threshold: if params.server_no_context_takeover { threshold } else { 0 },
            limit: narrow.map_or(usize::MAX, |bits| 1 << bits),
            scratch: Vec::new(),
        }
    }

    /// Whether a message of `len` bytes is sent compressed.
    pub fn wants(&self, len: usize) -> bool {
        len >= self.threshold && len <= self.limit
    }

    /// The message compressed and its trailer stripped (§7.2.1); `None` if the compressor
    /// failed, and the message must go out uncompressed.
    pub fn compress(&mut self, data: &[u8]) -> Option<&[u8]> {
        let compress =
            self.compress.get_or_insert_with(|| Compress::new(Compression::default(), false));
        self.scratch.clear();
        let start = compress.total_in();
        let ok = loop {
            let consumed = usize::try_from(compress.total_in() - start).unwrap_or(usize::MAX);
            let Some(rest) = data.get(consumed..) else { break false };
            self.scratch.reserve(rest.len() / 2 + 64);
            let (before_in, before_out) = (compress.total_in(), compress.total_out());
            if compress.compress_vec(rest, &mut self.scratch, FlushCompress::Sync).is_err() {
                break false;
            }
            // Done once all input is in and the flush did not run out of room.
            let consumed = usize::try_from(compress.total_in() - start).unwrap_or(usize::MAX);
            if consumed == data.len() && self.scratch.len() < self.scratch.capacity() {
                break self.scratch.ends_with(&TRAILER);
            }
            if (compress.total_in(), compress.total_out()) == (before_in, before_out) {
                break false;
            }
        };
        if self.reset || !ok {
            compress.reset();
        }
        ok.then(|| &self.scratch[..self.scratch.len() - TRAILER.len()])
    }
}

/// The server's decompressor for one connection.
pub struct Inflater {
    decompress: Option<Decompress>,
    /// The client forgets its context after each message (`client_no_context_takeover`).
    reset: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater").field("reset", &self.reset).finish_non_exhaustive()
    }
}

/// Output grows by at most this much per step, so a lie costs little memory before it is caught.
const INFLATE_STEP: usize = 64 * 1024;

impl Inflater {
    pub fn new(params: &DeflateParams) -> Self {
        Inflater { decompress: None, reset: params.client_no_context_takeover }
    }

    /// Inflates one whole message (its fragments' payloads joined), never holding more than
    /// `max + 1` bytes of output: past `max` is [`InflateError::TooBig`].
    pub fn inflate(&mut self, data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
        let decompress = self.decompress.get_or_insert_with(|| Decompress::new(false));
        let mut out = Vec::with_capacity(data.len().saturating_mul(2).clamp(64, INFLATE_STEP).min(max + 1));
        let result = feed(decompress, data, &mut out, max).and_then(|ended| match ended {
            true => Ok(true),
            false => feed(decompress, &TRAILER, &mut out, max),
        });
        // A final block ends the client's stream (`ws` then starts a new one); an error leaves
        // the stream unusable; without context takeover each message starts afresh.
        if !matches!(result, Ok(false)) || self.reset {
            decompress.reset(false);
        }
        result.map(|_| out)
    }
}

/// Feeds `input` through; `Ok(true)` when the DEFLATE stream ended (a block with BFINAL set).
fn feed(d: &mut Decompress, mut input: &[u8], out: &mut Vec<u8>, max: usize) -> Result<bool, InflateError> {
    loop {
        if out.len() == out.capacity() {
            if out.len() > max {
                return Err(InflateError::TooBig);
            }
            out.reserve_exact(out.len().clamp(64, INFLATE_STEP).min(max + 1 - out.len()));
        }
        let (before_in, before_out) = (d.total_in(), d.total_out());
        let status =
            d.decompress_vec(input, out, FlushDecompress::Sync).map_err(|_| InflateError::Corrupt)?;
        if out.len() > max {
            return Err(InflateError::TooBig);
        }
        let consumed = usize::try_from(d.total_in() - before_in).map_err(|_| InflateError::Corrupt)?;
        input = input.get(consumed..).ok_or(InflateError::Corrupt)?;
        match status {
            Status::StreamEnd => return Ok(true),
            _ if out.len() < out.capacity() && input.is_empty() => return Ok(false),
            // Room and input, yet no progress: the stream cannot go on.
            _ if out.len() < out.capacity() && d.total_out() == before_out && consumed == 0 => {
                return Err(InflateError::Corrupt);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ExtensionError::*;
    use super::*;
    use proptest::prelude::*;

    fn offer(header: &str) -> Result<Option<String>, ExtensionError> {
        accept(header.as_bytes()).map(|p| p.map(|p| p.response().to_owned()))
    }

    /// Each row's expectation is what `ws` 8.23 (`extension.parse`, then `PerMessageDeflate`
    /// `accept` and `extension.format` with engine.io's `{ threshold: 1024 }`) gives, run under Node.
    #[test]
    fn negotiates_as_ws() {
        type Row = (&'static str, Result<Option<&'static str>, ExtensionError>);
        let table: &[Row] = &[
            ("permessage-deflate", Ok(Some("permessage-deflate"))),
            ("permessage-deflate; client_max_window_bits", Ok(Some("permessage-deflate"))),
            (
                "permessage-deflate; client_max_window_bits=10",
                Ok(Some("permessage-deflate; client_max_window_bits=10")),
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                Ok(Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")),
            ),
            (
                "permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits",
                Ok(Some("permessage-deflate; client_no_context_takeover; server_no_context_takeover")),
            ),
            (
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
                Ok(Some("permessage-deflate; server_max_window_bits=10")),
            ),
            (
                "permessage-deflate; client_max_window_bits=\"10\"",
                Ok(Some("permessage-deflate; client_max_window_bits=10")),
            ),
            (
                "permessage-deflate; client_max_window_bits=0x0a",
                Ok(Some("permessage-deflate; client_max_window_bits=10")),
            ),
            (
                "permessage-deflate; client_max_window_bits=010",
                Ok(Some("permessage-deflate; client_max_window_bits=10")),
            ),
            (
                "permessage-deflate; client_max_window_bits=1e1",
                Ok(Some("permessage-deflate; client_max_window_bits=10")),
            ),
            (
                "permessage-deflate; client_max_window_bits=10.0",
                Ok(Some("permessage-deflate; client_max_window_bits=10")),
            ),
            (
                "permessage-deflate; client_max_window_bits=+9",
                Ok(Some("permessage-deflate; client_max_window_bits=9")),
            ),
            (
                "permessage-deflate; client_max_window_bits=0b1000",
                Ok(Some("permessage-deflate; client_max_window_bits=8")),
            ),
            (
                "permessage-deflate; client_max_window_bits=0o17",
                Ok(Some("permessage-deflate; client_max_window_bits=15")),
            ),
            (
                "permessage-deflate; client_max_window_bits=.9e1",
                Ok(Some("permessage-deflate; client_max_window_bits=9")),
            ),
            ("permessage-deflate; client_max_window_bits=9.5", Err(InvalidValue)),
            ("permessage-deflate; client_max_window_bits=Infinity", Err(InvalidValue)),
            (
                "permessage-deflate; client_max_window_bits=\"1\\0\"",
                Ok(Some("permessage-deflate; client_max_window_bits=10")),
            ),
            (
                "permessage-deflate; client_max_window_bits=\"\\10\"",
                Ok(Some("permessage-deflate; client_max_window_bits=10")),
            ),
            (
                "x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover",
                Ok(Some("permessage-deflate; server_no_context_takeover")),
            ),
            (
                "permessage-deflate; server_max_window_bits=8, permessage-deflate",
                Ok(Some("permessage-deflate; server_max_window_bits=8")),
            ),
            (
                "permessage-deflate ; server_no_context_takeover ;client_max_window_bits , foo",
                Ok(Some("permessage-deflate; server_no_context_takeover")),
            ),
            (
                "permessage-deflate;server_no_context_takeover\t;\tclient_no_context_takeover",
                Ok(Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")),
            ),
            ("foo", Ok(None)),
            ("foo; bar=baz", Ok(None)),
            ("foo; bar=\"baz\", bar", Ok(None)),
            ("", Err(Syntax)),
            ("permessage-deflate;", Err(Syntax)),
            ("permessage-deflate; foo", Err(Unknown)),
            ("permessage-deflate; foo=1", Err(Unknown)),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", Err(Repeated)),
            ("permessage-deflate; client_max_window_bits; client_max_window_bits=10", Err(Repeated)),
            ("permessage-deflate; client_max_window_bits=16", Err(InvalidValue)),
            ("permessage-deflate; client_max_window_bits=7", Err(InvalidValue)),
            ("permessage-deflate; server_max_window_bits", Err(InvalidValue)),
            (
                "permessage-deflate; server_max_window_bits=15",
                Ok(Some("permessage-deflate; server_max_window_bits=15")),
            ),
            ("permessage-deflate; server_no_context_takeover=1", Err(InvalidValue)),
            ("permessage-deflate; server_no_context_takeover=true", Err(InvalidValue)),
            ("permessage-deflate, permessage-deflate; foo=1", Err(Unknown)),
            ("permessage-deflate; a b", Err(Syntax)),
            ("permessage-deflate;; x", Err(Syntax)),
            (",permessage-deflate", Err(Syntax)),
            ("permessage-deflate,", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=\"\"", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=\"10", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits= 10", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits =10", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=10 ", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=1 0", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=\"10\"x", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=\"10\" ", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=\"1 0\"", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=1\"0", Err(Syntax)),
            ("permessage-deflate x", Err(Syntax)),
            ("per message-deflate", Err(Syntax)),
            ("permessage-deflate; =10", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits==10", Err(Syntax)),
            ("Permessage-Deflate", Ok(None)),
            ("permessage-deflate; Server_No_Context_Takeover", Err(Unknown)),
            ("permessage-deflate, , foo", Err(Syntax)),
            ("permessage-deflate,foo", Ok(Some("permessage-deflate"))),
            (
                "permessage-deflate; server_max_window_bits=\"\\1\\0\"",
                Ok(Some("permessage-deflate; server_max_window_bits=10")),
            ),
            ("permessage-deflate; server_max_window_bits=1_0", Err(InvalidValue)),
            ("permessage-deflate; client_max_window_bits=0x", Err(InvalidValue)),
            (
                "permessage-deflate; client_max_window_bits=0X0F",
                Ok(Some("permessage-deflate; client_max_window_bits=15")),
            ),
            ("permessage-deflate; client_max_window_bits=-10", Err(InvalidValue)),
            (
                "permessage-deflate; client_max_window_bits=10e0",
                Ok(Some("permessage-deflate; client_max_window_bits=10")),
            ),
            (
                "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12; server_no_context_takeover",
                Ok(Some(
                    "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12; server_no_context_takeover",
                )),
            ),
            ("permessage-deflate; client_max_window_bits=\"a\\\"\"", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=\"\\", Err(Syntax)),
            ("permessage-deflate; x=\"\\a\"", Err(Unknown)),
            ("foo; x=\"\\a\", permessage-deflate", Ok(Some("permessage-deflate"))),
            ("foo; x=\"a\\\"", Err(Syntax)),
            ("café", Err(Syntax)),
            ("permessage-deflate; client_max_window_bits=1e", Err(InvalidValue)),
            (
                "permessage-deflate; client_max_window_bits=0x00000000000000000000000f",
                Ok(Some("permessage-deflate; client_max_window_bits=15")),
            ),
            ("permessage-deflate; client_max_window_bits=15.000000000000001", Err(InvalidValue)),
            (
                "permessage-deflate; client_max_window_bits=8.0000000000000001",
                Ok(Some("permessage-deflate; client_max_window_bits=8")),
            ),
        ];
        for (header, expected) in table {
            assert_eq!(offer(header), expected.map(|r| r.map(str::to_owned)), "{header:?}");
        }
    }

    #[test]
    fn accepted_params_and_repeated_fields() {
        let params =
            negotiate([&b"permessage-deflate; server_max_window_bits=9; client_no_context_takeover"[..]])
                .unwrap()
                .unwrap();
        assert!(params.client_no_context_takeover && !params.server_no_context_takeover);
        assert_eq!((params.server_max_window_bits, params.client_max_window_bits), (Some(9), None));
        // Node joins repeated fields with ", ".
        let two = negotiate([&b"foo"[..], b" permessage-deflate; client_max_window_bits "]).unwrap();
        assert_eq!(two.map(|p| p.response), Some("permessage-deflate".to_owned()));
        assert_eq!(negotiate([&b"permessage-deflate"[..], b""]), Err(Syntax));
        assert_eq!(negotiate(std::iter::empty::<&[u8]>()), Err(Syntax));
    }

    fn params(header: &str) -> DeflateParams {
        negotiate([header.as_bytes()]).unwrap().unwrap()
    }

    /// RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello", then "Hello" again against the shared window.
    #[test]
    fn rfc7692_examples_inflate() {
        let mut inflater = Inflater::new(&params("permessage-deflate"));
        assert_eq!(inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100).unwrap(), b"Hello");
        assert_eq!(inflater.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap(), b"Hello");
        // §7.2.3.3 a stored block; §7.2.3.4 BFINAL set; §7.2.3.5 two blocks.
        let others: [&[u8]; 3] = [
            &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00],
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00],
        ];
        for data in others {
            assert_eq!(inflater.inflate(data, 100).unwrap(), b"Hello", "{data:02x?}");
        }
        // An empty message (§7.2.3.6).
        assert_eq!(inflater.inflate(&[0x00], 100).unwrap(), b"");
    }

    #[test]
    fn hello_compresses_as_rfc7692() {
        let mut deflater = Deflater::new(&params("permessage-deflate; server_no_context_takeover"), 0);
        assert_eq!(deflater.compress(b"Hello").unwrap(), [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        // Without context takeover the second message is compressed alone, to the same bytes.
        assert_eq!(deflater.compress(b"Hello").unwrap(), [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    }

    #[test]
    fn context_takeover_across_messages() {
        let agreed = params("permessage-deflate");
        let (mut deflater, mut inflater) = (Deflater::new(&agreed, 1024), Inflater::new(&agreed));
        let message = b"a message long enough to be worth a back-reference, twice over".repeat(2);
        let first = deflater.compress(&message).unwrap().to_vec();
        let second = deflater.compress(&message).unwrap().to_vec();
        assert!(second.len() < first.len() / 2, "{} vs {}", second.len(), first.len());
        assert_eq!(inflater.inflate(&first, 1000).unwrap(), message);
        assert_eq!(inflater.inflate(&second, 1000).unwrap(), message);
        // A fresh inflater lacks the window the second message refers to.
        assert_ne!(Inflater::new(&agreed).inflate(&second, 1000).unwrap(), message);
    }

    #[test]
    fn client_no_context_takeover_resets_the_inflater() {
        let mut inflater = Inflater::new(&params("permessage-deflate; client_no_context_takeover"));
        assert_eq!(inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100).unwrap(), b"Hello");
        // The window is gone: the back-reference reads the zeroed dictionary (zlib would refuse it).
        assert_eq!(inflater.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap(), b"H\0\0\0\0");
    }

    /// `ws`'s rule: everything is compressed while the server keeps its context; the threshold
    /// applies only under `server_no_context_takeover`.
    #[test]
    fn threshold_and_window() {
        let keep = Deflater::new(&params("permessage-deflate"), 1024);
        assert!(keep.wants(1) && keep.wants(1 << 20));
        let forget = Deflater::new(&params("permessage-deflate; server_no_context_takeover"), 1024);
        assert!(!forget.wants(1023) && forget.wants(1024));
        let narrow = Deflater::new(&params("permessage-deflate; server_max_window_bits=10"), 1024);
        assert!(narrow.wants(1) && narrow.wants(1024) && !narrow.wants(1025));
        assert!(Deflater::new(&params("permessage-deflate; server_max_window_bits=15"), 1024).wants(1 << 20));
    }

    #[test]
    fn zip_bomb_is_bounded() {
        let agreed = params("permessage-deflate");
        let mut deflater = Deflater::new(&agreed, 0);
        let bomb = deflater.compress(&vec![0u8; 8 << 20]).unwrap().to_vec();
        assert!(bomb.len() < 64 << 10);
        let mut inflater = Inflater::new(&agreed);
        assert_eq!(inflater.inflate(&bomb, 1_000_000), Err(InflateError::TooBig));
        // Exactly the limit passes, one byte over does not.
        let mut deflater = Deflater::new(&params("permessage-deflate; server_no_context_takeover"), 0);
        let exact = deflater.compress(&[7u8; 1000]).unwrap().to_vec();
        assert_eq!(Inflater::new(&agreed).inflate(&exact, 1000).map(|m| m.len()), Ok(1000));
        assert_eq!(Inflater::new(&agreed).inflate(&exact, 999), Err(InflateError::TooBig));
    }

    #[test]
    fn corrupt_data_is_an_error_and_the_next_message_starts_afresh() {
        let mut inflater = Inflater::new(&params("permessage-deflate"));
        assert_eq!(inflater.inflate(&[0xff, 0xff, 0xff], 100), Err(InflateError::Corrupt));
        assert_eq!(inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100).unwrap(), b"Hello");
    }

    proptest! {
        #[test]
        fn round_trip(
            messages in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..5000), 1..6),
            header in prop_oneof![
                Just("permessage-deflate"),
                Just("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
                Just("permessage-deflate; server_max_window_bits=9"),
            ],
        ) {
            let agreed = params(header);
            let (mut deflater, mut inflater) = (Deflater::new(&agreed, 0), Inflater::new(&agreed));
            for message in messages {
                if !deflater.wants(message.len()) {
                    continue;
                }
                let compressed = deflater.compress(&message).unwrap().to_vec();
                prop_assert_eq!(inflater.inflate(&compressed, 1 << 20).unwrap(), message);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), max in 0usize..4096) {
            let mut inflater = Inflater::new(&params("permessage-deflate"));
            let _ = inflater.inflate(&bytes, max);
            let _ = inflater.inflate(&bytes, max);
        }

        #[test]
        fn arbitrary_headers_never_panic(header in "[ -~\t]{0,80}") {
            let _ = negotiate([header.as_bytes()]);
        }
    }
}
