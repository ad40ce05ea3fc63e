//! Many nodes on one Redis: our process joins a `@socket.io/redis-adapter` 8.3 cluster
//! (classic pub/sub) beside Node `socket.io` nodes and `@socket.io/redis-emitter` publishers,
//! byte for byte.
//!
//! - [`redis`]: a Redis client on glommio (RESP framing from `redis-protocol`), pipelined
//!   commands, pub/sub, reconnection; and a blocking connection for the [`emitter`].
//! - [`msgpack`]: notepack.io's MessagePack choices over `rmp`.
//! - [`wire`]: the adapter's messages (broadcasts, requests 0–9, responses) and conversions
//!   between them and this crate's packets.
//! - [`emitter`]: `@socket.io/redis-emitter` for Rust programs that run no server.

pub mod emitter;
pub mod msgpack;
pub mod redis;
pub mod wire;
