//! Incremental HTTP/1.x request parsing (RFC 9112 §2–§7) on `httparse`.
//!
//! [`parse`] takes the connection's read buffer and either leaves it alone (`Ok(None)`: not a
//! whole request yet) or splits one whole request, head and body, off its front and freezes it.
//! What follows (a pipelined request, or WebSocket frames after an upgrade) stays in the buffer.
//! Header names and values are kept as offsets into the frozen head: one small `Vec` per request,
//! no allocation per header. Node's limits apply: a head over 16 KiB is refused with 431.
//!
//! Until the whole request is there nothing is allocated: the head is re-parsed into a stack
//! array on each call, which for heads of a few hundred bytes costs less than keeping state.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use httparse::Status;

use super::chunked;
pub use super::framing::BodyLength;
use super::framing::{Facts, facts};

/// Upper bound of [`Limits::max_headers`]: the size of the stack array heads are parsed into.
pub const MAX_HEADERS_CAP: usize = 128;

/// What a request may weigh before it is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Request line plus header fields (Node: `--max-http-header-size`, 16 KiB) → 431.
    pub max_header_bytes: usize,
    /// Header fields, at most [`MAX_HEADERS_CAP`] → 431.
    pub max_headers: usize,
    /// Decoded body (Engine.IO: `maxHttpBufferSize`, 1e6) → 413.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_header_bytes: 16 * 1024, max_headers: 64, max_body_bytes: 1_000_000 }
    }
}

/// Why a request was refused. The connection cannot be trusted after any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The head is over [`Limits::max_header_bytes`] or has too many fields.
    #[error("request header fields too large")]
    HeaderTooLarge,
    /// Not HTTP/1.x, or framing that cannot be trusted.
    #[error("bad request: {0}")]
    BadRequest(Malformed),
    /// The body is over [`Limits::max_body_bytes`]. `content_length` is the declared length,
    /// known as soon as the head is, so 413 goes out before any of the body is buffered;
    /// `None` for a chunked body found too large while it arrived.
    #[error("payload too large")]
    PayloadTooLarge { content_length: Option<u64> },
}

/// What exactly was wrong with a [`HttpError::BadRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("invalid request line or header field")]
    Syntax,
    #[error("invalid or repeated Content-Length")]
    ContentLength,
    #[error("Transfer-Encoding other than chunked, or with Content-Length")]
    TransferEncoding,
    #[error("invalid chunked body")]
    Chunk,
}

impl HttpError {
    /// The status Node answers with.
    pub fn status(self) -> u16 {
        match self {
            HttpError::HeaderTooLarge => 431,
            HttpError::BadRequest(_) => 400,
            HttpError::PayloadTooLarge { .. } => 413,
        }
    }
}

/// The methods Engine.IO tells apart; anything else is [`Method::Other`] (see [`Request::raw_method`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `OPTIONS` (a CORS preflight).
    Options,
    /// Its response carries no body (RFC 9110 §9.3.2).
    Head,
    /// Any other method.
    Other,
}

/// The request's HTTP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after the response unless it asks for keep-alive.
    Http10,
    /// HTTP/1.1.
    Http11,
}

/// What the head alone says, before the body has arrived: see [`peek_head`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadInfo {
    pub head_len: usize,
    /// Where the request-target lies in the buffer that was peeked (see [`HeadInfo::target`]).
    target_start: usize,
    target_end: usize,
    pub body: BodyLength,
    /// `Expect: 100-continue`: Node answers `HTTP/1.1 100 Continue` before reading the body.
    pub expect_continue: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    name: Span,
    value: Span,
}

impl HeadInfo {
    /// The request-target (path and query) within the buffer given to [`peek_head`].
    pub fn target<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        buf.get(self.target_start..self.target_end).unwrap_or_default()
    }
}

/// One whole request. Everything but the body points into the frozen head.
#[derive(Clone, Debug)]
pub struct Request {
    head: Bytes,
    method: Method,
    version: Version,
    facts: Facts,
    raw_method: Span,
    target: Span,
    query_start: Option<u32>,
    /// Where each header field lies in the head. A head kept for a session's life
    /// ([`Request::to_owned_head`]) leaves them out and finds them again when first asked:
    /// most are never asked for.
    fields: OnceLock<Vec<Field>>,
    body: Bytes,
}

impl PartialEq for Request {
    fn eq(&self, other: &Self) -> bool {
        self.head == other.head
            && (self.method, self.version, self.facts) == (other.method, other.version, other.facts)
            && (self.raw_method, self.target, self.query_start)
                == (other.raw_method, other.target, other.query_start)
            && self.fields() == other.fields()
            && self.body == other.body
    }
}

impl Eq for Request {}

/// Splits one whole request off the front of `buf`, or returns `Ok(None)` if more bytes are needed.
pub fn parse(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Request>, HttpError> {
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS_CAP];
    let slots = &mut slots[..limits.max_headers.min(MAX_HEADERS_CAP)];
    let (layout, head_len, total, chunks) = {
        let bytes: &[u8] = buf;
        let Some((req, head_len)) = scan_head(bytes, limits, slots)? else { return Ok(None) };
        let version = if req.version == Some(0) { Version::Http10 } else { Version::Http11 };
        let facts = facts(version, req.headers)?;
        let (total, chunks) = match facts.body {
            BodyLength::None => (head_len, None),
            BodyLength::Length(len) => {
                let too_large = HttpError::PayloadTooLarge { content_length: Some(len) };
                let len = usize::try_from(len).ok().filter(|&n| n <= limits.max_body_bytes);
                let end = len.and_then(|n| n.checked_add(head_len)).ok_or(too_large)?;
                if bytes.len() < end {
                    return Ok(None);
                }
                (end, None)
            }
            BodyLength::Chunked => {
                let wire = &bytes[head_len..];
                let Some(scan) = chunked::scan(wire, limits.max_body_bytes, limits.max_header_bytes)? else {
                    return Ok(None);
                };
                (head_len + scan.wire_len, Some(scan))
            }
        };
        (Layout::new(bytes, &req, version, facts)?, head_len, total, chunks)
    };
    let whole = buf.split_to(total).freeze();
    let body = match chunks {
        Some(scan) => chunked::collect(&whole.slice(head_len..), &scan),
        None => whole.slice(head_len..),
    };
    Ok(Some(layout.into_request(whole.slice(..head_len), body)))
}

/// A head kept on its own (the bytes of [`Request::to_owned_head`]) read back as that request:
/// the same fields, no body. `None` if `head` is not one whole head.
pub fn parse_kept_head(head: Bytes) -> Option<Request> {
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS_CAP];
    // It was accepted once under the server's limits; these only keep the parser's own bounds.
    let limits =
        Limits { max_header_bytes: u32::MAX as usize, max_headers: MAX_HEADERS_CAP, max_body_bytes: 0 };
    let layout = {
        let (req, head_len) = scan_head(&head, &limits, &mut slots).ok()??;
        if head_len != head.len() {
            return None;
        }
        let version = if req.version == Some(0) { Version::Http10 } else { Version::Http11 };
        let facts = facts(version, req.headers).ok()?;
        Layout::new(&head, &req, version, facts).ok()?
    };
    Some(layout.into_request(head, Bytes::new()))
}

/// Parses only the head at the front of `buf`, without waiting for the body: lets the caller
/// answer `100 Continue`, or refuse a declared length, before the body arrives.
pub fn peek_head(buf: &[u8], limits: &Limits) -> Result<Option<HeadInfo>, HttpError> {
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS_CAP];
    let slots = &mut slots[..limits.max_headers.min(MAX_HEADERS_CAP)];
    let Some((req, head_len)) = scan_head(buf, limits, slots)? else { return Ok(None) };
    let version = if req.version == Some(0) { Version::Http10 } else { Version::Http11 };
    let facts = facts(version, req.headers)?;
    let target = req.path.unwrap_or_default();
    // httparse hands out slices of `buf`: their offset is their distance from its start.
    let target_start = target.as_ptr() as usize - buf.as_ptr() as usize;
    Ok(Some(HeadInfo {
        head_len,
        target_start,
        target_end: target_start + target.len(),
        body: facts.body,
        expect_continue: facts.expect_continue,
    }))
}

/// Heads up to this size are handed to httparse on every call.
const EAGER_PARSE: usize = 4 * 1024;

/// Whether `head` has the empty line that ends a head (`\n\n` or `\n\r\n`; httparse takes both).
fn has_blank_line(head: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', head)
        .any(|i| matches!(head.get(i + 1..), Some([b'\n', ..] | [b'\r', b'\n', ..])))
}

fn scan_head<'h, 'b>(
    buf: &'b [u8],
    limits: &Limits,
    slots: &'h mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<(httparse::Request<'h, 'b>, usize)>, HttpError> {
    if buf.is_empty() {
        return Ok(None);
    }
    // Offsets are stored as u32; a larger head limit would be meaningless anyway.
    let max = limits.max_header_bytes.min(u32::MAX as usize);
    let window = &buf[..buf.len().min(max)];
    // A head trickling in byte by byte would be re-parsed on every read: past the first few
    // KiB (where garbage such as a TLS hello is still refused at once), wait for its blank line.
    if window.len() > EAGER_PARSE && !has_blank_line(window) {
        return if buf.len() >= max { Err(HttpError::HeaderTooLarge) } else { Ok(None) };
    }
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(window, slots) {
        Ok(Status::Complete(head_len)) => Ok(Some((req, head_len))),
        Ok(Status::Partial) if buf.len() >= max => Err(HttpError::HeaderTooLarge),
        Ok(Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::HeaderTooLarge),
        Err(_) => Err(HttpError::BadRequest(Malformed::Syntax)),
    }
}

/// Offsets gathered while the read buffer is still borrowed.
struct Layout {
    method: Method,
    version: Version,
    facts: Facts,
    raw_method: Span,
    target: Span,
    query_start: Option<u32>,
    fields: Vec<Field>,
}

impl Layout {
    fn new(
        buf: &[u8],
        req: &httparse::Request<'_, '_>,
        version: Version,
        facts: Facts,
    ) -> Result<Self, HttpError> {
        let syntax = HttpError::BadRequest(Malformed::Syntax);
        let (raw_method, target) = (req.method.ok_or(syntax)?, req.path.ok_or(syntax)?);
        let method = match raw_method {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "OPTIONS" => Method::Options,
            "HEAD" => Method::Head,
            _ => Method::Other,
        };
        let target_span = span(buf, target.as_bytes());
        // Like Node's `url.parse(..).query`: after the first `?`, up to a `#`.
        let query_start = target.find('?').map(|i| target_span.start + i as u32 + 1);
        let fields = req
            .headers
            .iter()
            .map(|f| Field { name: span(buf, f.name.as_bytes()), value: span(buf, f.value) })
            .collect();
        Ok(Layout {
            method,
            version,
            facts,
            raw_method: span(buf, raw_method.as_bytes()),
            target: target_span,
            query_start,
            fields,
        })
    }

    fn into_request(self, head: Bytes, body: Bytes) -> Request {
        let Layout { method, version, facts, raw_method, target, query_start, fields } = self;
        let fields = OnceLock::from(fields);
        Request { head, method, version, facts, raw_method, target, query_start, fields, body }
    }
}

/// The header fields of `head`, a head that parsed before: parsed again.
fn fields_of(head: &[u8]) -> Vec<Field> {
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS_CAP];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, &mut slots) {
        Ok(Status::Complete(_)) => req
            .headers
            .iter()
            .map(|f| Field { name: span(head, f.name.as_bytes()), value: span(head, f.value) })
            .collect(),
        _ => Vec::new(),
    }
}

/// Where `part`, a sub-slice handed out by httparse, lies in `buf` (the head, under u32 long).
fn span(buf: &[u8], part: &[u8]) -> Span {
    let start = (part.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= buf.len() => Span { start: start as u32, end: end as u32 },
        // An empty slice httparse did not take from `buf`: nothing to point at.
        _ => Span { start: 0, end: 0 },
    }
}

impl Request {
    /// The request method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The method as sent, for [`Method::Other`].
    pub fn raw_method(&self) -> &[u8] {
        self.slice(self.raw_method)
    }

    /// The request's HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether the connection stays open after the response (HTTP/1.1 unless `close`,
    /// HTTP/1.0 only with `keep-alive`).
    pub fn keep_alive(&self) -> bool {
        self.facts.keep_alive
    }

    /// Whether the request carries `Expect: 100-continue`.
    pub fn expects_continue(&self) -> bool {
        self.facts.expect_continue
    }

    /// The request-target as sent (`/engine.io/?EIO=4&transport=polling`).
    pub fn target(&self) -> &[u8] {
        self.slice(self.target)
    }

    /// The target up to `?`.
    pub fn path(&self) -> &[u8] {
        let end = self.query_start.map_or(self.target.end, |q| q - 1);
        self.slice(Span { start: self.target.start, end })
    }

    /// The target after `?` and before `#`; empty when there is none.
    pub fn query(&self) -> &[u8] {
        let Some(start) = self.query_start else { return &[] };
        let query = self.slice(Span { start, end: self.target.end });
        query.split(|&b| b == b'#').next().unwrap_or(query)
    }

    /// Whether the target has a `?` at all (Node builds no query object without one).
    pub fn has_query(&self) -> bool {
        self.query_start.is_some()
    }

    /// The first field named `name` (ASCII case-insensitive), as Node keeps for `Origin`,
    /// `User-Agent` and `Content-Type`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.header_values(name).next()
    }

    /// The first field named `name`, as a slice of the head that can outlive the request.
    pub fn header_bytes(&self, name: &str) -> Option<Bytes> {
        self.header(name).map(|value| self.head.slice_ref(value))
    }

    /// Every field named `name`, in order.
    pub fn header_values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s [u8]> {
        self.headers().filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// All fields, in order, names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields().iter().map(|f| (self.slice(f.name), self.slice(f.value)))
    }

    /// `Connection: upgrade` with an `Upgrade` field: what Node routes to its `upgrade` event.
    pub fn is_upgrade(&self) -> bool {
        self.facts.upgrade
    }

    /// An upgrade to `websocket` (compared as the `ws` package does: whole value, any case).
    pub fn is_websocket_upgrade(&self) -> bool {
        self.is_upgrade()
            && self.header_values("upgrade").any(|v| v.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    }

    /// This request without its body, its head copied out of the read buffer: worth keeping
    /// for a session's lifetime without pinning the connection's buffer.
    pub fn to_owned_head(&self) -> Request {
        let Request { method, version, facts, raw_method, target, query_start, .. } = *self;
        Request {
            head: Bytes::copy_from_slice(&self.head),
            method,
            version,
            facts,
            raw_method,
            target,
            query_start,
            fields: OnceLock::new(),
            body: Bytes::new(),
        }
    }

    fn fields(&self) -> &[Field] {
        self.fields.get_or_init(|| fields_of(&self.head))
    }

    /// The request line and header fields, terminating blank line included.
    pub fn head(&self) -> &Bytes {
        &self.head
    }

    /// The decoded body (chunks joined); empty when there was none.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The request body, whole (a chunked body is already decoded).
    pub fn into_body(self) -> Bytes {
        self.body
    }

    fn slice(&self, span: Span) -> &[u8] {
        // Spans were taken from this very head when it was parsed.
        &self.head[span.start as usize..span.end as usize]
    }
}

#[cfg(test)]
mod tests;
