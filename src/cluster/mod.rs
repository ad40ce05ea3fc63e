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
//! - [`adapter`]: how one process of several shards is one server of the cluster.

pub mod emitter;
pub mod msgpack;
pub mod redis;
pub mod wire;

pub mod adapter;

use std::time::Duration;

pub use redis::{RedisError, RedisUrl};

/// `@socket.io/redis-adapter`'s `createAdapter(pub, sub, opts)`: where Redis is and the
/// adapter's options, with Node's names and defaults.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisAdapterConfig {
    /// The Redis server (`redis://[user:pass@]host:port[/db]`).
    pub url: RedisUrl,
    /// Node's `key`: the prefix of every channel (default `socket.io`).
    pub key: String,
    /// Node's `requestsTimeout`: how long `fetch_sockets`, `server_side_emit_with_ack` and
    /// the other requests wait for the other servers (default 5 s).
    pub requests_timeout: Duration,
    /// Node's `publishOnSpecificResponseChannel` (default `false`): answers go to the
    /// requester's own channel `{key}-response#{nsp}#{uid}#` instead of the shared one.
    pub publish_on_specific_response_channel: bool,
    /// Timeouts and reconnection backoff of the Redis connections.
    pub redis: redis::Options,
}

impl RedisAdapterConfig {
    /// Node's defaults for the Redis server at `url`.
    pub fn new(url: RedisUrl) -> Self {
        RedisAdapterConfig {
            url,
            key: "socket.io".to_owned(),
            requests_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            redis: redis::Options::default(),
        }
    }

    /// Node's `key`.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Node's `requestsTimeout`.
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Node's `publishOnSpecificResponseChannel`.
    pub fn publish_on_specific_response_channel(mut self, specific: bool) -> Self {
        self.publish_on_specific_response_channel = specific;
        self
    }
}

/// Node's `uid2(6)`: a server's id in the cluster, new at every start.
pub(crate) fn node_uid() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}
