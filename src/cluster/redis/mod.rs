//! A Redis client on the glommio executor of the shard that uses it, and a blocking one for
//! programs that run no executor ([`blocking`]).
//!
//! RESP framing (encoding commands, decoding replies and pushes, RESP2 or RESP3) comes from the
//! sans-IO `redis-protocol` crate; this module adds the connections around it.
//!
//! # Design
//!
//! - **One task per connection.** [`Client::connect`] and [`Subscriber::connect`] return at once
//!   and spawn (on the current executor) a task that owns the socket: it connects, runs the
//!   handshake (`AUTH [user] pass`, `HELLO 3` when [`Options::resp3`], `SELECT db`), then loops:
//!   write whatever is queued, read, decode every complete frame and hand it on. Handles talk to
//!   the task through shared state (`Rc<RefCell<..>>`, one thread), never across threads.
//! - **Pipelining.** [`Client::command`] encodes its command straight into the connection's write
//!   buffer and pushes a oneshot sender onto a FIFO; the task writes everything queued since its
//!   last write in one `write`, and each reply read completes the oldest sender. Any number of
//!   commands from any number of tasks share the connection, with one syscall per batch.
//! - **No queueing while down.** While the connection is not up, commands fail at once with
//!   [`RedisError::Disconnected`]: pub/sub is at-most-once, so a publish is never replayed late.
//! - **Timeouts.** One timer watches the oldest command in flight: if its reply is later than
//!   [`Options::command_timeout`], the FIFO can no longer be trusted, so the connection is dropped
//!   (the late callers get [`RedisError::Timeout`], the others `Disconnected`) and reopened.
//! - **Reconnection.** Any I/O error, protocol error (including a frame larger than
//!   [`Options::max_frame`]), failed handshake or timeout drops the connection: everything in
//!   flight fails, and the task reconnects after a backoff that starts at
//!   [`Options::backoff_min`], doubles per failed attempt up to [`Options::backoff_max`] (plus up
//!   to 20% jitter) and resets once a connection is up. The [`EventHook`] hears
//!   [`ConnEvent::Connected`] when a connection is up and [`ConnEvent::Disconnected`] once per
//!   outage (not once per failed attempt).
//! - **Resubscription.** A [`Subscriber`] remembers the set of channels, patterns and shard
//!   channels wanted, sends changes at once when connected, and re-sends the whole set after
//!   every reconnect. It counts the confirmations owed by each `(UN)SUBSCRIBE` it sent, so
//!   [`Subscriber::subscribed`] can tell when the server has them all. Messages (RESP2 arrays or
//!   RESP3 pushes) go to the [`MessageHook`] inline, their fields slices of the read buffer.
//! - **Keepalive.** A subscriber only reads, so a peer gone without a word would go unnoticed:
//!   every [`Options::keepalive`] (15 s) with nothing awaiting an answer it sends `PING`, whose
//!   `pong` is awaited like a confirmation; none within `command_timeout` reopens the
//!   connection.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

pub mod blocking;
mod client;
mod conn;
mod resp;
mod subscriber;
mod url;

#[cfg(test)]
mod tests;

pub use client::Client;
pub use subscriber::Subscriber;
pub use url::DEFAULT_PORT;

/// Where Redis is: `redis://[user:pass@]host:port[/db]`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// A host name or an IP address (IPv6 without its brackets).
    pub host: String,
    /// The TCP port (6379 when the URL names none).
    pub port: u16,
    /// The ACL user for `AUTH user pass`; `None` authenticates as the default user.
    pub username: Option<String>,
    /// `None`: no `AUTH` is sent.
    pub password: Option<String>,
    /// Selected with `SELECT` when not 0.
    pub db: u32,
}

impl RedisUrl {
    /// Parses `redis://[user:pass@]host[:port][/db]`: the port defaults to 6379 and the db to
    /// 0; user and password are percent-decoded (`redis://:p%40ss@host` has the password
    /// `p@ss`); IPv6 hosts go in brackets. Other schemes (`rediss://`, `unix://`) and query
    /// parameters are refused with [`RedisError::Url`].
    pub fn parse(url: &str) -> Result<RedisUrl, RedisError> {
        url::parse(url)
    }
}

/// Never shows the password.
impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("redis://")?;
        match (&self.username, &self.password) {
            (Some(user), Some(_)) => write!(f, "{user}:***@")?,
            (Some(user), None) => write!(f, "{user}@")?,
            (None, Some(_)) => f.write_str(":***@")?,
            (None, None) => {}
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}/{}", self.host, self.port, self.db)
        } else {
            write!(f, "{}:{}/{}", self.host, self.port, self.db)
        }
    }
}

/// What went wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL could not be parsed.
    #[error("invalid Redis URL: {0}")]
    Url(String),
    /// The socket failed (connect, read, write), or the server closed the connection.
    #[error("Redis I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent what is not RESP, or not what was due.
    #[error("Redis protocol error: {0}")]
    Protocol(String),
    /// An error reply (`-ERR ...`, `-WRONGPASS ...`), its text as sent.
    #[error("Redis error reply: {0}")]
    Server(String),
    /// Not connected now (or the connection was lost while the command was in flight).
    #[error("not connected to Redis")]
    Disconnected,
    /// No reply within the command timeout (or no handshake within it).
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

impl RedisError {
    /// The same error again, for every caller a lost connection fails.
    fn duplicate(&self) -> RedisError {
        match self {
            RedisError::Url(s) => RedisError::Url(s.clone()),
            RedisError::Io(e) => RedisError::Io(std::io::Error::new(e.kind(), e.to_string())),
            RedisError::Protocol(s) => RedisError::Protocol(s.clone()),
            RedisError::Server(s) => RedisError::Server(s.clone()),
            RedisError::Disconnected => RedisError::Disconnected,
            RedisError::Timeout(d) => RedisError::Timeout(*d),
        }
    }
}

/// A reply, RESP2 and RESP3 alike. Error replies are not replies but
/// [`RedisError::Server`].
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// RESP2 null bulk string or array; RESP3 null.
    Nil,
    /// A simple string (`+OK`).
    Simple(String),
    Int(i64),
    /// RESP3 only.
    Double(f64),
    /// RESP3 only.
    Bool(bool),
    /// A bulk string (also RESP3 verbatim strings and big numbers, as their text).
    Bulk(Bytes),
    /// An array (also RESP3 sets).
    Array(Vec<Reply>),
    /// RESP3 only: a map's pairs (in no particular order).
    Map(Vec<(Reply, Reply)>),
}

/// Connection options.
#[derive(Clone, Debug)]
pub struct Options {
    /// For the TCP connect.
    pub connect_timeout: Duration,
    /// For each reply, and for the whole handshake.
    pub command_timeout: Duration,
    /// The first pause before reconnecting; doubled per failed attempt.
    pub backoff_min: Duration,
    /// The longest pause between attempts.
    pub backoff_max: Duration,
    /// Speak RESP3 (`HELLO 3`) rather than RESP2.
    pub resp3: bool,
    /// A reply larger than this many bytes is a protocol error (the connection is dropped).
    pub max_frame: usize,
    /// How often an idle subscriber sends `PING`, so that a peer gone without a word (a
    /// network partition, a host that died) is noticed within this plus `command_timeout`
    /// rather than at the next (un)subscription; zero sends none.
    pub keepalive: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            resp3: false,
            max_frame: 512 * 1024 * 1024,
            keepalive: Duration::from_secs(15),
        }
    }
}

/// A connection's state changes, reported once per transition.
#[derive(Debug)]
pub enum ConnEvent {
    /// A connection is up: connected, and its handshake (`AUTH`, `HELLO`, `SELECT`) succeeded.
    Connected,
    /// The connection was lost, or the first attempt to open it failed; reported once per
    /// outage, not for every failed retry. Not reported for `close()`.
    Disconnected(RedisError),
}

/// Hears a connection's [`ConnEvent`]s, called from its task.
pub type EventHook = Rc<dyn Fn(ConnEvent)>;

/// What a subscription names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubKind {
    /// A channel: `SUBSCRIBE`, messages `message`.
    Channel,
    /// A glob pattern: `PSUBSCRIBE`, messages `pmessage`.
    Pattern,
    /// A shard channel (Redis 7): `SSUBSCRIBE`, messages `smessage`.
    Shard,
}

/// A published message.
#[derive(Clone, Debug)]
pub struct Message {
    pub kind: SubKind,
    /// The pattern that matched, for [`SubKind::Pattern`].
    pub pattern: Option<Bytes>,
    pub channel: Bytes,
    pub payload: Bytes,
}

/// Receives a [`Subscriber`]'s messages, inline from its reading task.
pub type MessageHook = Rc<dyn Fn(Message)>;
