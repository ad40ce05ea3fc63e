//! The demo page's files, built into the binary, and the plain HTTP routes serving them:
//! `GET`/`HEAD` only, with a strong `ETag` computed at compile time and `304 Not Modified`
//! when `If-None-Match` names it (RFC 9110 §13.1.2).

use tpcio::prelude::{Method, PlainHttp};

/// One file of the page.
#[derive(Debug)]
pub struct Asset {
    /// The exact request path it answers.
    pub path: &'static str,
    pub content_type: &'static [u8],
    pub body: &'static [u8],
    /// `"<16 hex digits>"`, quotes included: FNV-1a 64 of the body.
    pub etag: [u8; 18],
}

impl Asset {
    const fn new(path: &'static str, content_type: &'static [u8], body: &'static [u8]) -> Self {
        Asset { path, content_type, body, etag: etag_of(body) }
    }
}

/// The page, its script and its style.
pub static ASSETS: [Asset; 3] = [
    Asset::new("/", b"text/html; charset=utf-8", include_bytes!("index.html")),
    Asset::new("/chat.js", b"text/javascript; charset=utf-8", include_bytes!("chat.js")),
    Asset::new("/chat.css", b"text/css; charset=utf-8", include_bytes!("chat.css")),
];

/// The page for clients of the msgpack parser: the same HTML, loading the official client's
/// msgpack build (`/socket.io/socket.io.msgpack.min.js`, whose `io()` speaks
/// `socket.io-msgpack-parser`) instead of `socket.io.js`. Built once, on first use.
pub fn msgpack_page() -> &'static Asset {
    static PAGE: std::sync::OnceLock<Asset> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        let html = std::str::from_utf8(ASSETS[0].body).unwrap_or_default();
        let html = html.replace("/socket.io/socket.io.js", "/socket.io/socket.io.msgpack.min.js");
        let body: &'static [u8] = Box::leak(html.into_bytes().into_boxed_slice());
        Asset { path: ASSETS[0].path, content_type: ASSETS[0].content_type, body, etag: etag_of(body) }
    })
}

/// Answers a request for `asset`; `false` (a 404) for methods other than `GET` and `HEAD`.
pub fn serve(asset: &Asset, http: &mut PlainHttp<'_>) -> bool {
    if !matches!(http.request.method(), Method::Get | Method::Head) {
        return false;
    }
    if http.request.header_values("if-none-match").any(|value| etag_matches(value, &asset.etag)) {
        http.responder.empty(http.out, http.reply, 304);
    } else {
        let extra: [(&str, &[u8]); 1] = [("ETag", &asset.etag)];
        http.responder.ok(http.out, http.reply, asset.content_type, asset.body, &extra);
    }
    true
}

/// Whether an `If-None-Match` value (a comma-separated list, or `*`) names `etag`. The
/// comparison is weak, as the RFC asks for this header: `W/"x"` matches `"x"`.
pub fn etag_matches(header: &[u8], etag: &[u8]) -> bool {
    header.split(|&b| b == b',').map(<[u8]>::trim_ascii).any(|tag| {
        let tag = tag.strip_prefix(b"W/").unwrap_or(tag);
        tag == b"*" || tag == etag
    })
}

/// FNV-1a 64, in a `const fn` so that every tag is made by the compiler.
pub(crate) const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

pub(crate) const fn etag_of(body: &[u8]) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = fnv1a(body);
    let mut tag = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        tag[1 + i] = HEX[((hash >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    tag
}
