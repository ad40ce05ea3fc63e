//! Byte movement for one session's transports: WebSocket framing and its
//! `permessage-deflate` extension now; the polling and WebSocket connection
//! loops join it with the server runtime.

pub mod deflate;
pub mod jsonp;
pub mod ws_codec;
