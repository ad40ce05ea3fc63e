//! Node's error answers, in one place: the Engine.IO handshake/request error table
//! (`Server.errors` / `Server.errorMessages` in engine.io `lib/server.ts`) with its two
//! renderings, and what Node's HTTP server itself answers to a request it cannot parse.
//!
//! - A polling request (`abortRequest`): status 400 (403 for `Forbidden`), CORS headers if
//!   configured, `Content-Type: application/json`, body `{"code":1,"message":"Session ID unknown"}`.
//! - A WebSocket upgrade (`abortUpgrade`): always `400 Bad Request`, a fixed raw head
//!   (`Content-type` with a lower-case `t`, as Node writes it), the bare message as body, and
//!   then the connection is closed.

use bytes::{BufMut, BytesMut};

use super::request::HttpError;
use super::response::{ReplyInfo, Responder, chunked, header, length, status_line};

/// Engine.IO's handshake and request errors, with Node's numeric codes.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EngineError {
    #[error("Transport unknown")]
    UnknownTransport = 0,
    #[error("Session ID unknown")]
    UnknownSid = 1,
    #[error("Bad handshake method")]
    BadHandshakeMethod = 2,
    #[error("Bad request")]
    BadRequest = 3,
    #[error("Forbidden")]
    Forbidden = 4,
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion = 5,
}

impl EngineError {
    pub const ALL: [EngineError; 6] = [
        EngineError::UnknownTransport,
        EngineError::UnknownSid,
        EngineError::BadHandshakeMethod,
        EngineError::BadRequest,
        EngineError::Forbidden,
        EngineError::UnsupportedProtocolVersion,
    ];

    /// The number in the JSON body and in the `connection_error` event.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The HTTP status of the polling answer (`abortRequest`).
    pub fn status(self) -> u16 {
        match self {
            EngineError::Forbidden => 403,
            _ => 400,
        }
    }

    /// Node's `Server.errorMessages[code]`.
    pub fn message(self) -> &'static str {
        match self {
            EngineError::UnknownTransport => "Transport unknown",
            EngineError::UnknownSid => "Session ID unknown",
            EngineError::BadHandshakeMethod => "Bad handshake method",
            EngineError::BadRequest => "Bad request",
            EngineError::Forbidden => "Forbidden",
            EngineError::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }
}

impl Responder<'_> {
    /// Node's `abortRequest`: the JSON error answering a polling request.
    pub fn engine_error(&self, out: &mut BytesMut, to: &ReplyInfo, error: EngineError) {
        // No escaping needed for the fixed messages: they are plain ASCII words.
        self.error_answer(out, to, error, [b"\"", error.message().as_bytes(), b"\""]);
    }

    /// `abortRequest` with the context's `message` (what `allowRequest` refused with) in place
    /// of the fixed one; an empty message falls back to it, as `||` does in Node.
    pub fn engine_error_with_message(
        &self,
        out: &mut BytesMut,
        to: &ReplyInfo,
        error: EngineError,
        message: &str,
    ) {
        if message.is_empty() {
            return self.engine_error(out, to, error);
        }
        // serde_json escapes exactly as JSON.stringify does for a Rust (well-formed) string.
        let Ok(quoted) = serde_json::to_string(message) else { return self.engine_error(out, to, error) };
        self.error_answer(out, to, error, [quoted.as_bytes(), b"", b""]);
    }

    /// Status, `Content-Type: application/json`, then `{"code":N,"message":<message>}` as the
    /// chunked body Node's `writeHead` + `end(JSON.stringify(..))` sends; `message` is the JSON
    /// string in pieces, quotes included.
    fn error_answer(&self, out: &mut BytesMut, to: &ReplyInfo, error: EngineError, message: [&[u8]; 3]) {
        self.start(out, error.status(), to);
        header(out, b"Content-Type", b"application/json");
        self.end(out, to);
        let code = [b'0' + error.code()];
        let [m0, m1, m2] = message;
        chunked(out, to, &[br#"{"code":"#, &code, br#","message":"#, m0, m1, m2, b"}"]);
    }
}

/// Node's `abortUpgrade`: the raw answer to a WebSocket upgrade refused by Engine.IO. Close the
/// connection after writing it.
pub fn write_upgrade_error(out: &mut BytesMut, error: EngineError) {
    write_upgrade_error_message(out, error, "");
}

/// `abortUpgrade` with the context's `message` (e.g. from `allowRequest`) in place of the
/// fixed one; an empty message falls back to it. The status stays 400 even for `Forbidden`.
pub fn write_upgrade_error_message(out: &mut BytesMut, error: EngineError, message: &str) {
    let message = if message.is_empty() { error.message() } else { message };
    out.put_slice(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\n");
    length(out, message.len());
    out.put_slice(b"\r\n");
    out.put_slice(message.as_bytes());
}

/// What Node's HTTP server writes before destroying a connection whose request it could not
/// parse (`socketOnError`): `400`, or `431` for an oversized head, `Connection: close`, no body.
/// A body over the limit is Engine.IO's business: answer it with [`Responder::empty`] `413`
/// (CORS headers included) and close.
pub fn write_http_error(out: &mut BytesMut, error: HttpError) {
    status_line(out, error.status());
    out.put_slice(b"Connection: close\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::cors::Cors;
    use crate::http::response::tests::{node, request};

    const D: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

    #[test]
    fn table() {
        let expected = [
            (0, 400, "Transport unknown"),
            (1, 400, "Session ID unknown"),
            (2, 400, "Bad handshake method"),
            (3, 400, "Bad request"),
            (4, 403, "Forbidden"),
            (5, 400, "Unsupported protocol version"),
        ];
        for (error, (code, status, message)) in EngineError::ALL.into_iter().zip(expected) {
            assert_eq!((error.code(), error.status(), error.message()), (code, status, message));
            assert_eq!(error.to_string(), message);
            assert_eq!(EngineError::from_code(code), Some(error));
        }
        assert_eq!(EngineError::from_code(6), None);
    }

    /// Each error's answer to a polling request, as captured from Node (chunked there).
    #[test]
    fn polling_errors_match_node() {
        let get = request("GET /engine.io/?EIO=4&transport=polling&sid=nope HTTP/1.1\r\nHost: x\r\n\r\n");
        let to = crate::http::ReplyInfo::from_request(&get);
        let head = |status: &str| {
            format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
        };
        let captured = [
            (
                EngineError::UnknownTransport,
                format!(
                    "{}28\r\n{{\"code\":0,\"message\":\"Transport unknown\"}}\r\n0\r\n\r\n",
                    head("400 Bad Request")
                ),
            ),
            (
                EngineError::UnknownSid,
                format!(
                    "{}29\r\n{{\"code\":1,\"message\":\"Session ID unknown\"}}\r\n0\r\n\r\n",
                    head("400 Bad Request")
                ),
            ),
            (
                EngineError::BadHandshakeMethod,
                format!(
                    "{}2b\r\n{{\"code\":2,\"message\":\"Bad handshake method\"}}\r\n0\r\n\r\n",
                    head("400 Bad Request")
                ),
            ),
            (
                EngineError::BadRequest,
                format!(
                    "{}22\r\n{{\"code\":3,\"message\":\"Bad request\"}}\r\n0\r\n\r\n",
                    head("400 Bad Request")
                ),
            ),
            (
                EngineError::Forbidden,
                format!(
                    "{}20\r\n{{\"code\":4,\"message\":\"Forbidden\"}}\r\n0\r\n\r\n",
                    head("403 Forbidden")
                ),
            ),
            (
                EngineError::UnsupportedProtocolVersion,
                format!(
                    "{}33\r\n{{\"code\":5,\"message\":\"Unsupported protocol version\"}}\r\n0\r\n\r\n",
                    head("400 Bad Request")
                ),
            ),
        ];
        for (error, node_bytes) in captured {
            let mut out = BytesMut::new();
            node(None).engine_error(&mut out, &to, error);
            assert_eq!(std::str::from_utf8(&out).ok(), Some(node_bytes.as_str()), "{error:?}");
        }
    }

    #[test]
    fn custom_message_and_cors_match_node() {
        let get = request(
            "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://a.com\r\n\r\n",
        );
        let to = crate::http::ReplyInfo::from_request(&get);
        let mut out = BytesMut::new();
        node(None).engine_error_with_message(&mut out, &to, EngineError::Forbidden, "no \"way\"\n");
        let captured = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n23\r\n{{\"code\":4,\"message\":\"no \\\"way\\\"\\n\"}}\r\n0\r\n\r\n"
        );
        assert_eq!(std::str::from_utf8(&out).ok(), Some(captured.as_str()));

        out.clear();
        node(None).engine_error_with_message(&mut out, &to, EngineError::Forbidden, "");
        assert!(out.ends_with(b"20\r\n{\"code\":4,\"message\":\"Forbidden\"}\r\n0\r\n\r\n"));

        out.clear();
        node(Some(&Cors::default())).engine_error(&mut out, &to, EngineError::UnknownSid);
        let captured = format!(
            "HTTP/1.1 400 Bad Request\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n29\r\n{{\"code\":1,\"message\":\"Session ID unknown\"}}\r\n0\r\n\r\n"
        );
        assert_eq!(std::str::from_utf8(&out).ok(), Some(captured.as_str()));

        out.clear();
        let head = crate::http::ReplyInfo { head_only: true, ..to };
        node(None).engine_error_with_message(&mut out, &head, EngineError::Forbidden, "no");
        assert!(out.ends_with(b"Keep-Alive: timeout=5\r\n\r\n"), "no framing and no body for HEAD");
    }

    #[test]
    fn upgrade_errors_match_node() {
        let mut out = BytesMut::new();
        write_upgrade_error(&mut out, EngineError::UnknownSid);
        assert_eq!(
            &out[..],
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: 18\r\n\r\nSession ID unknown"
        );
        out.clear();
        write_upgrade_error_message(&mut out, EngineError::Forbidden, "no \"way\"\n");
        assert_eq!(
            &out[..],
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: 9\r\n\r\nno \"way\"\n"
        );
        out.clear();
        write_upgrade_error_message(&mut out, EngineError::UnsupportedProtocolVersion, "");
        assert!(out.ends_with(b"Content-Length: 28\r\n\r\nUnsupported protocol version"));
    }

    #[test]
    fn http_errors_match_node() {
        let cases: [(HttpError, &[u8]); 3] = [
            (
                HttpError::BadRequest(crate::http::request::Malformed::Syntax),
                b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
            ),
            (
                HttpError::HeaderTooLarge,
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n",
            ),
            (
                HttpError::PayloadTooLarge { content_length: None },
                b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n",
            ),
        ];
        for (error, bytes) in cases {
            let mut out = BytesMut::new();
            write_http_error(&mut out, error);
            assert_eq!(&out[..], bytes);
        }
    }
}
