//! The WebSocket opening handshake (RFC 6455 §4.2) as the `ws` package 8, which Node's
//! engine.io delegates to, performs it: its checks in its order, its refusals byte for byte,
//! its `101 Switching Protocols` head. Engine.IO's own refusals of an upgrade are
//! [`super::error::write_upgrade_error`]; `ws` only runs once those have passed.
//!
//! `permessage-deflate`, when the server enables it (engine.io's `perMessageDeflate`, off by
//! default), is negotiated by `crate::transport::deflate` after these checks, as `ws` orders
//! them; its refusal is [`WsRejection::Extensions`], its acceptance a header of the `101`.

use bytes::{BufMut, BytesMut};

use super::cors::Cors;
use super::request::{Method, Request};
use super::response::{header, length, status_line};

/// Why `ws` refuses an upgrade request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WsRejection {
    #[error("Invalid HTTP method")]
    Method,
    #[error("Invalid Upgrade header")]
    Upgrade,
    #[error("Missing or invalid Sec-WebSocket-Key header")]
    Key,
    #[error("Missing or invalid Sec-WebSocket-Version header")]
    Version,
    #[error("Invalid Sec-WebSocket-Protocol header")]
    Protocol,
    #[error("Invalid or unacceptable Sec-WebSocket-Extensions header")]
    Extensions,
}

impl WsRejection {
    pub fn status(self) -> u16 {
        match self {
            WsRejection::Method => 405,
            _ => 400,
        }
    }
}

/// An upgrade request `ws` would accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accept<'r> {
    /// `Sec-WebSocket-Key`.
    pub key: &'r [u8],
    /// The first offered subprotocol, which `ws` selects when no `handleProtocols` is set.
    pub protocol: Option<&'r [u8]>,
}

/// Runs `ws`'s `handleUpgrade` checks, in its order.
pub fn check(req: &Request) -> Result<Accept<'_>, WsRejection> {
    if req.method() != Method::Get {
        return Err(WsRejection::Method);
    }
    // Node joins repeated fields with ", ", which then fails each of these comparisons.
    let upgrade = single(req, "upgrade").ok_or(WsRejection::Upgrade)?;
    if !upgrade.eq_ignore_ascii_case(b"websocket") {
        return Err(WsRejection::Upgrade);
    }
    let key = single(req, "sec-websocket-key").filter(|k| valid_key(k)).ok_or(WsRejection::Key)?;
    let version = single(req, "sec-websocket-version").ok_or(WsRejection::Version)?;
    if !matches!(decimal(version), Some(13 | 8)) {
        return Err(WsRejection::Version);
    }
    let protocol = first_protocol(req)?;
    Ok(Accept { key, protocol })
}

/// `ws`'s `abortHandshake`: the refusal, after which the connection is closed.
pub fn write_rejection(out: &mut BytesMut, rejection: WsRejection) {
    let message = rejection.to_string();
    status_line(out, rejection.status());
    out.put_slice(b"Connection: close\r\nContent-Type: text/html\r\n");
    length(out, message.len());
    if rejection == WsRejection::Version {
        header(out, b"Sec-WebSocket-Version", b"13, 8");
    }
    out.put_slice(b"\r\n");
    out.put_slice(message.as_bytes());
}

/// `101 Switching Protocols` with the negotiated `extensions` (`Sec-WebSocket-Extensions`), then
/// the headers the middlewares set (CORS, when configured, with the request's `Origin`) and any
/// `extra` ones (the `headers` event), as engine.io appends them.
pub fn write_switching_protocols(
    out: &mut BytesMut,
    accept: &Accept<'_>,
    extensions: Option<&str>,
    cors: Option<&Cors>,
    origin: Option<&[u8]>,
    extra: &[(&str, &[u8])],
) {
    status_line(out, 101);
    out.put_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
    header(out, b"Sec-WebSocket-Accept", tungstenite::handshake::derive_accept_key(accept.key).as_bytes());
    if let Some(protocol) = accept.protocol {
        header(out, b"Sec-WebSocket-Protocol", protocol);
    }
    if let Some(extensions) = extensions {
        header(out, b"Sec-WebSocket-Extensions", extensions.as_bytes());
    }
    if let Some(cors) = cors {
        cors.write_headers(out, origin);
    }
    for (name, value) in extra {
        header(out, name.as_bytes(), value);
    }
    out.put_slice(b"\r\n");
}

/// The field's value if it appears exactly once.
fn single<'r>(req: &'r Request, name: &'static str) -> Option<&'r [u8]> {
    let mut values = req.header_values(name);
    let value = values.next()?;
    values.next().is_none().then_some(value)
}

/// `/^[+/0-9A-Za-z]{22}==$/`: sixteen bytes in base64.
fn valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// `+value` for the values a client sends: decimal digits (JavaScript's `Number` would also
/// take `0xd` or `1.3e1`; no client sends those).
fn decimal(value: &[u8]) -> Option<u32> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 9 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0, |n, &b| n * 10 + u32::from(b - b'0')))
}

/// `ws`'s `subprotocol.parse`: a comma-separated list of distinct tokens (RFC 9110 §5.6.2), with
/// spaces allowed only around the commas. Returns the first one.
fn first_protocol(req: &Request) -> Result<Option<&[u8]>, WsRejection> {
    let mut offered: Vec<&[u8]> = Vec::new();
    for value in req.header_values("sec-websocket-protocol") {
        let value = value.trim_ascii();
        if value.is_empty() || value.starts_with(b",") || value.ends_with(b",") {
            return Err(WsRejection::Protocol);
        }
        let elements = value.split(|&b| b == b',').map(<[u8]>::trim_ascii);
        for protocol in elements {
            if protocol.is_empty() || !protocol.iter().all(|&b| is_tchar(b)) {
                return Err(WsRejection::Protocol);
            }
            offered.push(protocol);
        }
    }
    let first = offered.first().copied();
    offered.sort_unstable();
    if offered.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(WsRejection::Protocol);
    }
    Ok(first)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::tests::{reflect_credentials, request};

    const UPGRADE: &str = "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
        Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    fn checked(extra: &str) -> Result<(Option<Vec<u8>>, Vec<u8>), WsRejection> {
        let req = request(&format!("{UPGRADE}{extra}\r\n"));
        check(&req).map(|a| (a.protocol.map(<[u8]>::to_vec), a.key.to_vec()))
    }

    #[test]
    fn switching_protocols_matches_node() {
        let req =
            request(&format!("{UPGRADE}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\n\r\n"));
        let accept = check(&req).unwrap();
        let mut out = BytesMut::new();
        write_switching_protocols(&mut out, &accept, None, None, None, &[]);
        assert_eq!(
            &out[..],
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: a\r\n\r\n"
        );
        let req = request(&format!("{UPGRADE}Sec-WebSocket-Version: 13\r\nOrigin: http://a.com\r\n\r\n"));
        let accept = check(&req).unwrap();
        out.clear();
        write_switching_protocols(
            &mut out,
            &accept,
            None,
            Some(&reflect_credentials()),
            req.header("origin"),
            &[],
        );
        assert_eq!(
            &out[..],
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nAccess-Control-Allow-Origin: http://a.com\r\n\
              Vary: Origin\r\nAccess-Control-Allow-Credentials: true\r\n\r\n"
        );
        // `ws` puts the extension after the subprotocol, before engine.io's headers.
        let req = request(&format!(
            "{UPGRADE}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a\r\nOrigin: http://a.com\r\n\r\n"
        ));
        let accept = check(&req).unwrap();
        out.clear();
        let cors = reflect_credentials();
        write_switching_protocols(
            &mut out,
            &accept,
            Some("permessage-deflate"),
            Some(&cors),
            req.header("origin"),
            &[],
        );
        assert_eq!(
            &out[..],
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: a\r\n\
              Sec-WebSocket-Extensions: permessage-deflate\r\nAccess-Control-Allow-Origin: http://a.com\r\n\
              Vary: Origin\r\nAccess-Control-Allow-Credentials: true\r\n\r\n"
        );
    }

    #[test]
    fn rejections_match_ws() {
        let cases: [(WsRejection, &[u8]); 4] = [
            (
                WsRejection::Key,
                b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 43\r\n\r\n\
                  Missing or invalid Sec-WebSocket-Key header",
            ),
            (
                WsRejection::Version,
                b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 47\r\n\
                  Sec-WebSocket-Version: 13, 8\r\n\r\nMissing or invalid Sec-WebSocket-Version header",
            ),
            (
                WsRejection::Extensions,
                b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 55\r\n\r\n\
                  Invalid or unacceptable Sec-WebSocket-Extensions header",
            ),
            (
                WsRejection::Method,
                b"HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 19\r\n\r\n\
                  Invalid HTTP method",
            ),
        ];
        for (rejection, bytes) in cases {
            let mut out = BytesMut::new();
            write_rejection(&mut out, rejection);
            assert_eq!(&out[..], bytes, "{rejection:?}");
        }
    }

    #[test]
    fn checks_in_ws_order() {
        let key = b"dGhlIHNhbXBsZSBub25jZQ==".to_vec();
        assert_eq!(checked("Sec-WebSocket-Version: 13\r\n"), Ok((None, key.clone())));
        assert_eq!(checked("Sec-WebSocket-Version: 8\r\n"), Ok((None, key.clone())));
        assert_eq!(checked("Sec-WebSocket-Version: 12\r\n"), Err(WsRejection::Version));
        assert_eq!(
            checked("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n"),
            Err(WsRejection::Version)
        );
        assert_eq!(checked(""), Err(WsRejection::Version));
        assert_eq!(checked("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), Err(WsRejection::Key));
        assert_eq!(checked("Upgrade: websocket\r\n"), Err(WsRejection::Upgrade));
        type Case = (&'static str, Result<Option<&'static [u8]>, WsRejection>);
        let protocols: &[Case] = &[
            ("a", Ok(Some(b"a"))),
            ("chat, superchat", Ok(Some(b"chat"))),
            ("b ,a", Ok(Some(b"b"))),
            ("a\r\nSec-WebSocket-Protocol: b", Ok(Some(b"a"))),
            ("a, a", Err(WsRejection::Protocol)),
            ("a\r\nSec-WebSocket-Protocol: a", Err(WsRejection::Protocol)),
            ("a,,b", Err(WsRejection::Protocol)),
            (",a", Err(WsRejection::Protocol)),
            ("a,", Err(WsRejection::Protocol)),
            ("a b", Err(WsRejection::Protocol)),
            ("a/b", Err(WsRejection::Protocol)),
            ("", Err(WsRejection::Protocol)),
        ];
        for (value, expected) in protocols {
            let got = checked(&format!("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {value}\r\n"));
            let expected = expected.map(|p| (p.map(<[u8]>::to_vec), key.clone()));
            assert_eq!(got, expected, "{value:?}");
        }
        let post = request("POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
        assert_eq!(check(&post), Err(WsRejection::Method));
        let bad_upgrade = request("GET / HTTP/1.1\r\nUpgrade: websocket, h2c\r\nConnection: upgrade\r\n\r\n");
        assert_eq!(check(&bad_upgrade), Err(WsRejection::Upgrade));
    }

    #[test]
    fn key_shape() {
        assert!(valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(valid_key(b"++++++++++//////////AA=="));
        for bad in
            [&b"dGhlIHNhbXBsZSBub25jZQ="[..], b"dGhlIHNhbXBsZSBub25jZQ=A", b"dGhlIHNhbXBsZSBub25jZ-==", b""]
        {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }
}
