//! The HTTP/1.1 that Engine.IO needs, and nothing more: pure functions from bytes to
//! requests and from decisions to response bytes. No I/O, no runtime, no clock (the caller
//! hands in the formatted `Date`).
//!
//! - [`request`]: incremental request parsing on `httparse` (RFC 9112 §2–§7), bodies by
//!   `Content-Length` or `chunked`, with the limits Node applies.
//! - [`query`]: the Engine.IO query (`EIO`, `transport`, `sid`, `b64`, `j`), decoded the way
//!   Node's `querystring.parse` does.
//! - [`response`]: the responses Node's `engine.io` 6.6 writes for polling, in its header order.
//! - [`error`]: Node's handshake error table (`Server.errors`) and its two renderings
//!   (`abortRequest` JSON, `abortUpgrade` raw bytes).
//! - [`compression`]: gzip/deflate of large polling responses, as Node's `httpCompression`.
//! - [`cors`]: the npm `cors` package's headers, applied only when configured.
//! - [`websocket`]: the `ws` package's upgrade checks and its `101 Switching Protocols`.
//! - [`date`]: the IMF-fixdate of the `Date` header.
//!
//! Where Node frames a body with `Transfer-Encoding: chunked` (every `res.writeHead(..)` followed
//! by `res.end(..)`: the JSON errors, 404, 413) we send the same headers and body with a
//! `Content-Length` in the place Node puts `Transfer-Encoding`: what a client reads is identical.

pub mod compression;
pub mod cors;
pub mod date;
pub mod error;
pub mod query;
pub mod request;
pub mod response;
pub mod websocket;

mod chunked;
mod framing;

pub use cors::{Cors, Origins};
pub use error::EngineError;
pub use query::EngineQuery;
pub use request::{HttpError, Limits, Method, Request, Version, parse, parse_kept_head};
pub use response::{ReplyInfo, Responder};
