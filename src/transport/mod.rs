//! Byte movement for one session's transports: WebSocket framing now; the
//! polling and WebSocket connection loops join it with the server runtime.

pub mod ws_codec;
