//! `@socket.io/redis-streams-adapter` 0.3.1 (`--redis-adapter streams`): the cluster adapter
//! whose persistent messages live in a Redis stream, so that connection state recovery works
//! across nodes and restarts.
//!
//! - `wire`: the stream entries, the PUB/SUB messages (`@msgpack/msgpack`) and the sessions.
//! - `reader`: the `XREAD` loop.
//! - [`session`]: offsets, sessions kept in Redis while sockets live, restores.
//!
//! # How a process takes part
//!
//! The machinery is the sharded adapter's (`ClusterAdapter` semantics, see
//! [`super::adapter`]): one uid (16 hex digits) for the process; joins, leaves, disconnects and
//! broadcasts are applied here and published, and a message with our own uid is dropped.
//!
//! - **Persistent messages** (broadcasts without acks, joins, leaves, disconnects) are
//!   `XADD`ed by the shard that makes them, on its pipelined command connection.
//! - **Each shard reads the stream for itself**, on its own connection (an `XREAD … BLOCK`
//!   holds the connection for up to `blockTime`, so never the pipelined one), and applies
//!   each entry to its own sockets only: a broadcast is delivered, a join or a disconnect run,
//!   on this shard. This is the classic adapter's per-shard `PSUBSCRIBE` trade: every shard
//!   pulls every entry from Redis (egress × shards, one blocked connection per shard and
//!   stream) but no entry crosses the shard mesh, a busy shard 0 delays no other shard, and
//!   each shard sees the entries in stream order with their ids, which are the recovery
//!   offsets (no offset needs carrying between shards). Only shard 0 runs a server-side emit
//!   found in the stream (the streams emitter puts them there), once for the process.
//! - **Ephemeral messages** (broadcasts with acks, server-side emits, fetches) are PUBLISHed to
//!   `{prefix}#{nsp}#`; only shard 0 subscribes to it (so `PUBSUB NUMSUB`, Node's
//!   `serverCount`, counts the process once) and serves them for every shard through the
//!   mesh. Answers go to `{prefix}#{nsp}#{uid}#`, to which every shard subscribes, keeping the
//!   answers to its own request ids.
//!
//! # Offsets and sessions
//!
//! See [`session`].

pub(crate) mod reader;
pub mod session;
pub(crate) mod wire;

use std::time::Duration;

/// `@socket.io/redis-streams-adapter`'s options, with its names and defaults; its
/// `channelPrefix` is [`super::RedisAdapterConfig::key`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamsOptions {
    /// `streamName` (default `socket.io`): the stream, or the prefix of the streams.
    pub stream_name: String,
    /// `streamCount` (default 1): with more, namespace `nsp` goes to stream
    /// `{stream_name}-{hashCode(nsp) % stream_count}`.
    pub stream_count: u32,
    /// `maxLen` (default 10 000): `XADD … MAXLEN ~ max_len`.
    pub max_len: u64,
    /// `readCount` (default 100): `XREAD COUNT`.
    pub read_count: u32,
    /// `blockTimeInMs` (default 5 s): `XREAD BLOCK`.
    pub block_time: Duration,
    /// `sessionKeyPrefix` (default `sio:session:`).
    pub session_key_prefix: String,
    /// `onlyPlaintext` (default `false`): stream entries are always JSON.
    pub only_plaintext: bool,
    /// Not a Node option: how often the sessions of live sockets are refreshed in Redis
    /// (default 20 s). Each refresh runs when a session has less than
    /// `max_disconnection_duration − session_refresh` left, so it never expires while the
    /// socket lives as long as `session_refresh` is below the duration.
    pub session_refresh: Duration,
}

impl Default for StreamsOptions {
    fn default() -> Self {
        StreamsOptions {
            stream_name: "socket.io".to_owned(),
            stream_count: 1,
            max_len: 10_000,
            read_count: 100,
            block_time: Duration::from_secs(5),
            session_key_prefix: "sio:session:".to_owned(),
            only_plaintext: false,
            session_refresh: Duration::from_secs(20),
        }
    }
}

impl StreamsOptions {
    /// Sets [`StreamsOptions::stream_name`](#structfield.stream_name).
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.stream_name = name.into();
        self
    }

    /// Sets [`StreamsOptions::stream_count`](#structfield.stream_count).
    pub fn stream_count(mut self, count: u32) -> Self {
        self.stream_count = count.max(1);
        self
    }

    /// Sets [`StreamsOptions::max_len`](#structfield.max_len).
    pub fn max_len(mut self, max_len: u64) -> Self {
        self.max_len = max_len;
        self
    }

    /// Sets [`StreamsOptions::read_count`](#structfield.read_count).
    pub fn read_count(mut self, count: u32) -> Self {
        self.read_count = count.max(1);
        self
    }

    /// Sets [`StreamsOptions::block_time`](#structfield.block_time).
    pub fn block_time(mut self, block: Duration) -> Self {
        self.block_time = block;
        self
    }

    /// Sets [`StreamsOptions::session_key_prefix`](#structfield.session_key_prefix).
    pub fn session_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.session_key_prefix = prefix.into();
        self
    }

    /// Sets [`StreamsOptions::only_plaintext`](#structfield.only_plaintext).
    pub fn only_plaintext(mut self, only: bool) -> Self {
        self.only_plaintext = only;
        self
    }

    /// Sets [`StreamsOptions::session_refresh`](#structfield.session_refresh).
    pub fn session_refresh(mut self, every: Duration) -> Self {
        self.session_refresh = every;
        self
    }
}
