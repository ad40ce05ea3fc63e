//! Responses as Node's `engine.io` 6.6 writes them (`lib/transports/polling.ts`, `lib/server.ts`),
//! header for header and in the same order:
//!
//! ```text
//! HTTP/1.1 200 OK
//! <CORS headers, when configured>        set by the `cors` middleware first
//! Content-Type: text/plain; charset=UTF-8
//! Content-Length: 96                      polling sets it itself, so it comes here
//! X-XSS-Protection: 0                     only for old Internet Explorer user agents
//! cache-control: no-store
//! <extra headers, e.g. Set-Cookie>        the `headers` / `initial_headers` events
//! Date: Sun, 06 Nov 1994 08:49:37 GMT     Node's server adds these three last
//! Connection: keep-alive
//! Keep-Alive: timeout=5
//! ```
//!
//! Where Node's `res.writeHead(..)` comes before `res.end(body)` (the error answers), the head is
//! already on its way when the body is known, so Node frames the body chunked: we write the same
//! `Transfer-Encoding: chunked` and chunks. Numbers go through `itoa`; nothing here allocates
//! beyond `out`.

use bytes::{BufMut, Bytes, BytesMut};

use super::cors::Cors;
use super::request::{Method, Request};

/// `text/plain; charset=UTF-8`: a text polling payload.
pub const TEXT_PLAIN_UTF8: &[u8] = b"text/plain; charset=UTF-8";
/// `application/octet-stream`: a binary (v3) polling payload.
pub const OCTET_STREAM: &[u8] = b"application/octet-stream";
/// `text/html`: the `ok` answering a POST (not `text/plain`, which some user agents offered
/// as a download, engine.io GH-43).
pub const TEXT_HTML: &[u8] = b"text/html";

/// What Node's HTTP server sends when `Expect: 100-continue` arrives with a request.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What a response needs from its request: small enough to keep while a long-poll waits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplyInfo {
    /// `Connection: keep-alive` rather than `close`.
    pub keep_alive: bool,
    /// A `HEAD` request: headers as usual, no body bytes.
    pub head_only: bool,
    /// The user agent is Internet Explorer (`;MSIE` or `Trident/`): add `X-XSS-Protection: 0`.
    pub legacy_ie: bool,
    /// The request's `Origin`, for CORS (a slice of the request head, not a copy).
    pub origin: Option<Bytes>,
}

impl ReplyInfo {
    pub fn from_request(req: &Request) -> Self {
        let legacy_ie = req.header("user-agent").is_some_and(|ua| {
            memchr::memmem::find(ua, b";MSIE").is_some() || memchr::memmem::find(ua, b"Trident/").is_some()
        });
        ReplyInfo {
            keep_alive: req.keep_alive(),
            head_only: req.method() == Method::Head,
            legacy_ie,
            origin: req.header_bytes("origin"),
        }
    }
}

/// The server-wide part of every response: CORS configuration and the trailing headers Node's
/// HTTP server adds. Cheap to build per write.
#[derive(Clone, Copy, Debug, Default)]
pub struct Responder<'a> {
    /// `None` sends no CORS header at all, as Node's `cors: false` default.
    pub cors: Option<&'a Cors>,
    /// The `Date` value ([`super::date::http_date`]); `None` leaves the header out.
    pub date: Option<&'a [u8]>,
    /// Seconds announced in `Keep-Alive: timeout=N` (Node: 5); `None` leaves the header out.
    pub keep_alive_timeout: Option<u32>,
}

impl Responder<'_> {
    /// `200 OK` with a body: a polling payload, or the `ok` of a POST ([`Responder::post_ok`]).
    /// `extra` headers follow `cache-control` (Node's `headers` event: `Set-Cookie`, …).
    pub fn ok(
        &self,
        out: &mut BytesMut,
        to: &ReplyInfo,
        content_type: &[u8],
        body: &[u8],
        extra: &[(&str, &[u8])],
    ) {
        self.ok_encoded(out, to, content_type, None, body, extra);
    }

    /// [`Responder::ok`] with a `Content-Encoding` (a compressed polling payload), in the place
    /// Node's polling transport puts it: between `Content-Type` and `Content-Length`.
    pub fn ok_encoded(
        &self,
        out: &mut BytesMut,
        to: &ReplyInfo,
        content_type: &[u8],
        content_encoding: Option<&[u8]>,
        body: &[u8],
        extra: &[(&str, &[u8])],
    ) {
        // The head is ~150 bytes without CORS: one reservation for head and body.
        out.reserve(256 + body.len());
        self.start(out, 200, to);
        header(out, b"Content-Type", content_type);
        if let Some(encoding) = content_encoding {
            header(out, b"Content-Encoding", encoding);
        }
        length(out, body.len());
        if to.legacy_ie {
            header(out, b"X-XSS-Protection", b"0");
        }
        header(out, b"cache-control", b"no-store");
        for (name, value) in extra {
            header(out, name.as_bytes(), value);
        }
        self.end(out, to);
        self.body(out, to, body);
    }

    /// `200 OK` with a polling payload: text (`text/plain; charset=UTF-8`) or v3 binary.
    pub fn payload(&self, out: &mut BytesMut, to: &ReplyInfo, body: &[u8], binary: bool) {
        self.ok(out, to, if binary { OCTET_STREAM } else { TEXT_PLAIN_UTF8 }, body, &[]);
    }

    /// `200 OK` `text/html` `ok`: the answer to a polling POST.
    pub fn post_ok(&self, out: &mut BytesMut, to: &ReplyInfo) {
        self.ok(out, to, TEXT_HTML, b"ok", &[]);
    }

    /// A status with no body and no header of its own: Node's `res.writeHead(code); res.end()`
    /// (404 outside the Engine.IO path, 413 over `maxHttpBufferSize`, 400 on an overlapping
    /// poll, 500 for a method polling does not know): an empty chunked body, except for the
    /// statuses that never have a body (204, 304), which Node sends with no framing at all.
    pub fn empty(&self, out: &mut BytesMut, to: &ReplyInfo, status: u16) {
        self.start(out, status, to);
        self.end(out, to);
        if matches!(status, 204 | 304) {
            out.put_slice(b"\r\n");
        } else {
            chunked(out, to, &[]);
        }
    }

    /// The `cors` package's answer to a preflight: `204 No Content` with the CORS headers.
    /// Returns `false`, writing nothing, when CORS is not configured: Node then treats the
    /// `OPTIONS` like any other request (a 400 handshake error, or 500 for a known session).
    pub fn preflight(&self, out: &mut BytesMut, req: &Request) -> bool {
        let Some(cors) = self.cors else { return false };
        let to = ReplyInfo::from_request(req);
        status_line(out, 204);
        cors.write_preflight(out, to.origin.as_deref(), req.header_values("access-control-request-headers"));
        header(out, b"Content-Length", b"0");
        self.end(out, &to);
        out.put_slice(b"\r\n");
        true
    }

    /// Status line, then the CORS headers the middleware sets before anything else.
    pub(crate) fn start(&self, out: &mut BytesMut, status: u16, to: &ReplyInfo) {
        status_line(out, status);
        if let Some(cors) = self.cors {
            cors.write_headers(out, to.origin.as_deref());
        }
    }

    /// `Date`, `Connection`, `Keep-Alive`: what Node's server appends to every response.
    /// Leaves the head open for a final `Content-Length`.
    pub(crate) fn end(&self, out: &mut BytesMut, to: &ReplyInfo) {
        if let Some(date) = self.date {
            header(out, b"Date", date);
        }
        if !to.keep_alive {
            header(out, b"Connection", b"close");
            return;
        }
        header(out, b"Connection", b"keep-alive");
        if let Some(timeout) = self.keep_alive_timeout {
            out.put_slice(b"Keep-Alive: timeout=");
            out.put_slice(itoa::Buffer::new().format(timeout).as_bytes());
            out.put_slice(b"\r\n");
        }
    }

    /// The blank line, then the body unless the request was `HEAD`.
    pub(crate) fn body(&self, out: &mut BytesMut, to: &ReplyInfo, body: &[u8]) {
        out.put_slice(b"\r\n");
        if !to.head_only {
            out.put_slice(body);
        }
    }
}

/// `HTTP/1.1 <code> <reason>\r\n`; responses are always HTTP/1.1, as Node's.
pub(crate) fn status_line(out: &mut BytesMut, status: u16) {
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(itoa::Buffer::new().format(status).as_bytes());
    out.put_u8(b' ');
    out.put_slice(reason(status).as_bytes());
    out.put_slice(b"\r\n");
}

pub(crate) fn header(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

/// Ends a head that Node wrote with `writeHead` before knowing the body: `Transfer-Encoding:
/// chunked`, the blank line, `parts` as one chunk (none when empty) and the last chunk. A `HEAD`
/// answer gets neither the header nor a body: Node knows no body follows.
pub(crate) fn chunked(out: &mut BytesMut, to: &ReplyInfo, parts: &[&[u8]]) {
    if to.head_only {
        out.put_slice(b"\r\n");
        return;
    }
    out.put_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    let len: usize = parts.iter().map(|part| part.len()).sum();
    if len > 0 {
        let mut size = [0u8; 16];
        let digits = hex(len, &mut size);
        out.reserve(digits.len() + len + 9);
        out.put_slice(digits);
        out.put_slice(b"\r\n");
        for part in parts {
            out.put_slice(part);
        }
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"0\r\n\r\n");
}

/// `len` in lower-case hexadecimal, as Node writes chunk sizes.
fn hex(mut len: usize, buf: &mut [u8; 16]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b"0123456789abcdef"[len % 16];
        len /= 16;
        if len == 0 {
            return &buf[at..];
        }
    }
}

pub(crate) fn length(out: &mut BytesMut, len: usize) {
    out.put_slice(b"Content-Length: ");
    out.put_slice(itoa::Buffer::new().format(len).as_bytes());
    out.put_slice(b"\r\n");
}

/// Node's `http.STATUS_CODES` for the statuses this server can send.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "unknown",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::http::cors::Origins;
    use crate::http::request::{Limits, parse};

    pub(crate) const DATE: &[u8] = b"Thu, 01 Jan 1970 00:00:00 GMT";

    pub(crate) fn request(wire: &str) -> Request {
        let parsed = parse(&mut BytesMut::from(wire.as_bytes()), &Limits::default());
        parsed.ok().flatten().unwrap_or_else(|| panic!("not a request: {wire:?}"))
    }

    /// Node's defaults: `Date` and `Keep-Alive: timeout=5`.
    pub(crate) fn node(cors: Option<&Cors>) -> Responder<'_> {
        Responder { cors, date: Some(DATE), keep_alive_timeout: Some(5) }
    }

    pub(crate) fn reflect_credentials() -> Cors {
        Cors { origins: Origins::Reflect, credentials: true, ..Cors::default() }
    }

    fn text(out: &BytesMut) -> &str {
        std::str::from_utf8(out).unwrap_or("<not UTF-8>")
    }

    const OPEN: &str = r#"0{"sid":"csbKyPQceRUGitw1AAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    const D: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

    /// Responses captured from Node 20 + engine.io 6.6 (`Date` replaced by `D`), and the request
    /// and writer call that reproduce each.
    #[test]
    fn polling_responses_match_node() {
        let any = Cors::default();
        let reflect = reflect_credentials();
        let list = Cors {
            origins: Origins::List(vec!["http://a.com".into(), "http://b.com".into()]),
            ..Cors::default()
        };
        let get = "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n";
        let cases: &[(Option<&Cors>, String, String)] = &[
            (
                None,
                format!("{get}\r\n"),
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 118\r\ncache-control: no-store\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n{OPEN}"
                ),
            ),
            (
                None,
                "GET /engine.io/?EIO=4&transport=polling HTTP/1.0\r\nHost: x\r\n\r\n".to_owned(),
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 118\r\ncache-control: no-store\r\nDate: {D}\r\nConnection: close\r\n\r\n{OPEN}"
                ),
            ),
            (
                None,
                format!("{get}User-Agent: Mozilla/5.0 (Windows NT 6.1; Trident/7.0)\r\n\r\n"),
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 118\r\nX-XSS-Protection: 0\r\ncache-control: no-store\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n{OPEN}"
                ),
            ),
            (
                Some(&any),
                format!("{get}Origin: http://a.com\r\n\r\n"),
                format!(
                    "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 118\r\ncache-control: no-store\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n{OPEN}"
                ),
            ),
            (
                Some(&reflect),
                format!("{get}Origin: http://a.com\r\n\r\n"),
                format!(
                    "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: http://a.com\r\nVary: Origin\r\nAccess-Control-Allow-Credentials: true\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 118\r\ncache-control: no-store\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n{OPEN}"
                ),
            ),
            (
                Some(&list),
                format!("{get}Origin: http://b.com\r\n\r\n"),
                format!(
                    "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: http://b.com\r\nVary: Origin\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 118\r\ncache-control: no-store\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n{OPEN}"
                ),
            ),
            (
                Some(&list),
                format!("{get}Origin: http://c.com\r\n\r\n"),
                format!(
                    "HTTP/1.1 200 OK\r\nVary: Origin\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 118\r\ncache-control: no-store\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n{OPEN}"
                ),
            ),
        ];
        for (cors, wire, expected) in cases {
            let mut out = BytesMut::new();
            node(*cors).payload(&mut out, &ReplyInfo::from_request(&request(wire)), OPEN.as_bytes(), false);
            assert_eq!(text(&out), expected, "{wire:?}");
        }
    }

    #[test]
    fn post_ok_and_empty_statuses_match_node() {
        let reflect = reflect_credentials();
        let to = ReplyInfo::from_request(&request(
            "POST /engine.io/?EIO=4&transport=polling&sid=s HTTP/1.1\r\nHost: x\r\nOrigin: http://a.com\r\nContent-Length: 0\r\n\r\n",
        ));
        let mut out = BytesMut::new();
        node(Some(&reflect)).post_ok(&mut out, &to);
        assert_eq!(
            text(&out),
            format!(
                "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: http://a.com\r\nVary: Origin\r\nAccess-Control-Allow-Credentials: true\r\nContent-Type: text/html\r\nContent-Length: 2\r\ncache-control: no-store\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nok"
            )
        );
        out.clear();
        node(Some(&reflect)).empty(&mut out, &to, 413);
        let captured = format!(
            "HTTP/1.1 413 Payload Too Large\r\nAccess-Control-Allow-Origin: http://a.com\r\nVary: Origin\r\nAccess-Control-Allow-Credentials: true\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        );
        assert_eq!(text(&out), captured);
        out.clear();
        node(None).empty(
            &mut out,
            &ReplyInfo::from_request(&request("GET /other HTTP/1.1\r\nHost: x\r\n\r\n")),
            404,
        );
        let captured = format!(
            "HTTP/1.1 404 Not Found\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        );
        assert_eq!(text(&out), captured);
        out.clear();
        let get = ReplyInfo::from_request(&request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        node(None).empty(&mut out, &get, 304);
        let captured = format!(
            "HTTP/1.1 304 Not Modified\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
        );
        assert_eq!(text(&out), captured, "no body, so no framing");
    }

    #[test]
    fn preflights_match_node() {
        let any = Cors::default();
        let reflect = reflect_credentials();
        let options = "OPTIONS /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n";
        let cases: &[(&Cors, String, String)] = &[
            (
                &any,
                format!(
                    "{options}Origin: http://a.com\r\nAccess-Control-Request-Headers: x-foo\r\nAccess-Control-Request-Method: POST\r\n\r\n"
                ),
                format!(
                    "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\nVary: Access-Control-Request-Headers\r\nAccess-Control-Allow-Headers: x-foo\r\nContent-Length: 0\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
                ),
            ),
            (
                &reflect,
                format!(
                    "{options}Origin: http://a.com\r\nAccess-Control-Request-Headers: x-foo\r\nAccess-Control-Request-Headers: x-bar\r\n\r\n"
                ),
                format!(
                    "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: http://a.com\r\nVary: Origin, Access-Control-Request-Headers\r\nAccess-Control-Allow-Credentials: true\r\nAccess-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\nAccess-Control-Allow-Headers: x-foo, x-bar\r\nContent-Length: 0\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
                ),
            ),
            (
                &reflect,
                format!("{options}\r\n"),
                format!(
                    "HTTP/1.1 204 No Content\r\nVary: Origin, Access-Control-Request-Headers\r\nAccess-Control-Allow-Credentials: true\r\nAccess-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\nContent-Length: 0\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
                ),
            ),
        ];
        for (cors, wire, expected) in cases {
            let mut out = BytesMut::new();
            assert!(node(Some(cors)).preflight(&mut out, &request(wire)));
            assert_eq!(text(&out), expected);
        }
        let mut out = BytesMut::new();
        assert!(!node(None).preflight(&mut out, &request(&format!("{options}\r\n"))));
        assert!(out.is_empty());
    }

    #[test]
    fn extras_head_and_bare_responder() {
        let to = ReplyInfo { keep_alive: true, ..ReplyInfo::default() };
        let mut out = BytesMut::new();
        let cookie: &[(&str, &[u8])] = &[("Set-Cookie", b"io=abc; Path=/; HttpOnly; SameSite=Lax")];
        Responder::default().ok(&mut out, &to, TEXT_PLAIN_UTF8, b"6", cookie);
        assert_eq!(
            text(&out),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 1\r\ncache-control: no-store\r\nSet-Cookie: io=abc; Path=/; HttpOnly; SameSite=Lax\r\nConnection: keep-alive\r\n\r\n6"
        );
        out.clear();
        let head = ReplyInfo { head_only: true, ..to };
        Responder::default().payload(&mut out, &head, b"\x01\x02", true);
        assert!(text(&out).ends_with("Content-Type: application/octet-stream\r\nContent-Length: 2\r\ncache-control: no-store\r\nConnection: keep-alive\r\n\r\n"));
        assert_eq!(reason(431), "Request Header Fields Too Large");
        assert_eq!(reason(299), "unknown");
    }

    #[test]
    fn legacy_ie_detection() {
        for (ua, legacy) in [
            ("Mozilla/4.0 (compatible;MSIE 7.0)", true),
            ("Trident/7.0", true),
            ("Mozilla/5.0 (MSIE 9)", false),
        ] {
            let req = request(&format!("GET / HTTP/1.1\r\nUser-Agent: {ua}\r\n\r\n"));
            assert_eq!(ReplyInfo::from_request(&req).legacy_ie, legacy, "{ua}");
        }
    }
}
