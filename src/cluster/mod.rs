//! Many nodes on one Redis: our process joins a `@socket.io/redis-adapter` 8.3 cluster
//! (classic pub/sub, or `createShardedAdapter` on Redis 7 sharded pub/sub) beside Node
//! `socket.io` nodes and `@socket.io/redis-emitter` publishers, byte for byte.
//!
//! - [`redis`]: a Redis client on glommio (RESP framing from `redis-protocol`), pipelined
//!   commands, pub/sub, reconnection; and a blocking connection for the [`emitter`].
//! - [`msgpack`]: notepack.io's MessagePack choices over `rmp`.
//! - [`wire`]: the adapter's messages (broadcasts, requests 0–9, responses) and conversions
//!   between them and this crate's packets.
//! - [`emitter`]: `@socket.io/redis-emitter` for Rust programs that run no server.
//! - [`wire::sharded`]: the sharded adapter's messages (`createShardedAdapter`, Redis 7).
//! - [`adapter`]: how one process of several shards is one server of the cluster.
//! - [`streams`]: `@socket.io/redis-streams-adapter` 0.3.1.

pub mod emitter;
pub use crate::protocol::msgpack;
pub mod redis;
pub mod streams;
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
    /// Which of the package's two protocols: `createAdapter` (default) or
    /// `createShardedAdapter` (`key` is then its `channelPrefix`), or
    /// `@socket.io/redis-streams-adapter`.
    pub kind: AdapterKind,
    /// The streams adapter's options (used with [`AdapterKind::Streams`]).
    pub streams: streams::StreamsOptions,
}

/// The protocol of `@socket.io/redis-adapter` the cluster speaks; the two cannot share a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdapterKind {
    /// `createAdapter(pub, sub, opts)`: PUBLISH, PSUBSCRIBE, `PUBSUB NUMSUB`.
    #[default]
    Classic,
    /// `createShardedAdapter(pub, sub, { channelPrefix, subscriptionMode })` (Redis 7):
    /// SPUBLISH, SSUBSCRIBE, `PUBSUB SHARDNUMSUB`.
    Sharded(SubscriptionMode),
    /// `@socket.io/redis-streams-adapter` 0.3's `createAdapter(client, opts)`: XADD/XREAD
    /// for persistent messages, PUBLISH for the others, `PUBSUB NUMSUB` (`key` is its
    /// `channelPrefix`; see [`streams`]).
    Streams,
}

/// The sharded adapter's `subscriptionMode`: which room channels a server subscribes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubscriptionMode {
    /// `"dynamic"` (default): one channel per public room (not a socket id).
    #[default]
    Dynamic,
    /// `"dynamic-private"`: one channel per room, socket ids included.
    DynamicPrivate,
    /// `"static"`: the namespace's channel only.
    Static,
}

impl SubscriptionMode {
    /// Node's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionMode::Dynamic => "dynamic",
            SubscriptionMode::DynamicPrivate => "dynamic-private",
            SubscriptionMode::Static => "static",
        }
    }
}

impl std::str::FromStr for SubscriptionMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dynamic" => Ok(SubscriptionMode::Dynamic),
            "dynamic-private" => Ok(SubscriptionMode::DynamicPrivate),
            "static" => Ok(SubscriptionMode::Static),
            other => Err(format!("unknown subscription mode {other:?} (dynamic, dynamic-private, static)")),
        }
    }
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
            kind: AdapterKind::Classic,
            streams: streams::StreamsOptions::default(),
        }
    }

    /// `@socket.io/redis-streams-adapter` with these options instead of `createAdapter`.
    pub fn streams(mut self, options: streams::StreamsOptions) -> Self {
        self.kind = AdapterKind::Streams;
        self.streams = options;
        self
    }

    /// `createShardedAdapter` with this `subscriptionMode` instead of `createAdapter`.
    pub fn sharded(mut self, mode: SubscriptionMode) -> Self {
        self.kind = AdapterKind::Sharded(mode);
        self
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

/// `randomBytes(8).toString("hex")`: a sharded adapter's uid (16 hex digits).
pub(crate) fn sharded_uid() -> String {
    use rand::Rng;
    let bytes: [u8; 8] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Node's `uid2(6)`: a server's id in the cluster, new at every start.
pub(crate) fn node_uid() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}
