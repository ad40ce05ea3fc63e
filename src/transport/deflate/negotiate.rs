//! Negotiation of `permessage-deflate` (RFC 7692 §5, §7.1) as the `ws` package 8 does it for
//! Node's engine.io: `ws`'s `Sec-WebSocket-Extensions` grammar and its refusals (each a `400`),
//! then the first offer of the extension, validated with all the others, echoed back in offer
//! order with a bare `client_max_window_bits` dropped.

use std::borrow::Cow;

/// The name `ws` looks for, compared case-sensitively as it does.
const NAME: &[u8] = b"permessage-deflate";

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
/// fields with `", "`). `Ok(None)`: no field, or no `permessage-deflate` offer in them.
pub fn negotiate<'v>(
    values: impl IntoIterator<Item = &'v [u8]>,
) -> Result<Option<DeflateParams>, ExtensionError> {
    let mut joined: Option<Vec<u8>> = None;
    for value in values {
        let joined = match &mut joined {
            Some(joined) => {
                joined.extend_from_slice(b", ");
                joined
            }
            None => joined.insert(Vec::new()),
        };
        joined.extend_from_slice(value.trim_ascii());
    }
    joined.map_or(Ok(None), |header| accept(&header))
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
        assert_eq!(negotiate([&b""[..], b"permessage-deflate"]), Err(Syntax));
        assert_eq!(negotiate([&b""[..]]), Err(Syntax));
        // No field at all: `ws` does not negotiate.
        assert_eq!(negotiate(std::iter::empty::<&[u8]>()), Ok(None));
    }

    proptest! {
        #[test]
        fn arbitrary_headers_never_panic(header in "[ -~\t]{0,80}") {
            let _ = negotiate([header.as_bytes()]);
        }
    }
}
