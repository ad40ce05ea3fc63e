//! What a request head's framing and connection-management fields say (RFC 9112 §6.3 message
//! body length, §9.3 persistence, §9.6 `Connection`; RFC 9110 §7.8 `Upgrade`, §10.1.1 `Expect`).
//!
//! Strict where ambiguity could desynchronise the connection: a `Transfer-Encoding` other than
//! a single `chunked`, one beside a `Content-Length`, or a repeated or non-numeric length is a
//! bad request, as it is to Node's llhttp.

use super::request::{HttpError, Malformed, Version};

/// How the body is framed (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    None,
    Length(u64),
    Chunked,
}

/// What the framing and connection-management fields say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    pub body: BodyLength,
    pub keep_alive: bool,
    pub upgrade: bool,
    pub expect_continue: bool,
}

pub(crate) fn facts(version: Version, fields: &[httparse::Header<'_>]) -> Result<Facts, HttpError> {
    let mut content_length = None;
    let (mut chunked, mut other_coding, mut te) = (0, false, false);
    let (mut close, mut keep_alive, mut upgrade_token, mut upgrade_field) = (false, false, false, false);
    let mut expect_continue = false;
    for field in fields {
        let name = field.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let len = decimal(field.value).ok_or(HttpError::BadRequest(Malformed::ContentLength))?;
            if content_length.replace(len).is_some() {
                return Err(HttpError::BadRequest(Malformed::ContentLength));
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te = true;
            for coding in tokens(field.value) {
                if coding.eq_ignore_ascii_case(b"chunked") {
                    chunked += 1;
                } else {
                    other_coding = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in tokens(field.value) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
                upgrade_token |= option.eq_ignore_ascii_case(b"upgrade");
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade_field = true;
        } else if name.eq_ignore_ascii_case(b"expect") {
            // Node honours it on HTTP/1.1 only.
            expect_continue |=
                version == Version::Http11 && field.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
    }
    // Only `chunked`, exactly once: we decode no other coding, and a length beside it is
    // the classic request-smuggling ambiguity (RFC 9112 §6.3).
    let body = match (te, content_length) {
        (true, Some(_)) => return Err(HttpError::BadRequest(Malformed::TransferEncoding)),
        (true, None) if chunked != 1 || other_coding => {
            return Err(HttpError::BadRequest(Malformed::TransferEncoding));
        }
        (true, None) => BodyLength::Chunked,
        (false, Some(len)) => BodyLength::Length(len),
        (false, None) => BodyLength::None,
    };
    let keep_alive = !close && (version == Version::Http11 || keep_alive);
    Ok(Facts { body, keep_alive, upgrade: upgrade_token && upgrade_field, expect_continue })
}

/// A `Content-Length` value: digits only, no sign, no list, no overflow.
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// The elements of a comma-separated field value (RFC 9110 §5.6.1), empty ones skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(version: Version, fields: &[(&str, &str)]) -> Result<Facts, HttpError> {
        let fields: Vec<httparse::Header<'_>> =
            fields.iter().map(|(name, value)| httparse::Header { name, value: value.as_bytes() }).collect();
        facts(version, &fields)
    }

    #[test]
    fn lengths() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"007"), Some(7));
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        for bad in [&b""[..], b"18446744073709551616", b"1 ", b"1,1", b"-1", b"+1", b"1e3", b"\xd9\xa1"] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bodies() {
        let v11 = Version::Http11;
        assert_eq!(read(v11, &[]).map(|f| f.body), Ok(BodyLength::None));
        assert_eq!(read(v11, &[("content-LENGTH", "12")]).map(|f| f.body), Ok(BodyLength::Length(12)));
        let chunked = read(v11, &[("Transfer-Encoding", ""), ("Transfer-Encoding", "CHUNKED")]);
        assert_eq!(chunked.map(|f| f.body), Ok(BodyLength::Chunked));
        let te = Err(HttpError::BadRequest(Malformed::TransferEncoding));
        assert_eq!(
            read(v11, &[("Transfer-Encoding", "chunked"), ("Content-Length", "1")]).map(|f| f.body),
            te
        );
        assert_eq!(read(v11, &[("Transfer-Encoding", "chunked, identity")]).map(|f| f.body), te);
    }

    #[test]
    fn expect_continue_is_http11_only() {
        let expect = [("Expect", " 100-CONTINUE ")];
        assert_eq!(read(Version::Http11, &expect).map(|f| f.expect_continue), Ok(true));
        assert_eq!(read(Version::Http10, &expect).map(|f| f.expect_continue), Ok(false));
        assert_eq!(read(Version::Http11, &[("Expect", "200-ok")]).map(|f| f.expect_continue), Ok(false));
    }
}
