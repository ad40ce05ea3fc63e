//! A Redis client on the glommio executor of the shard that uses it (stub: to be written).

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

pub mod blocking;

/// Where Redis is: `redis://[user:pass@]host:port[/db]`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
}

impl RedisUrl {
    pub fn parse(_url: &str) -> Result<RedisUrl, RedisError> {
        todo!()
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis://{}:{}/{}", self.host, self.port, self.db)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("invalid Redis URL: {0}")]
    Url(String),
    #[error("Redis I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("Redis protocol error: {0}")]
    Protocol(String),
    #[error("Redis error reply: {0}")]
    Server(String),
    #[error("not connected to Redis")]
    Disconnected,
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// A reply, RESP2 and RESP3 alike.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Nil,
    Simple(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Bulk(Bytes),
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
}

/// Connection options.
#[derive(Clone, Debug)]
pub struct Options {
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub resp3: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            resp3: false,
        }
    }
}

/// A connection's state changes, reported once per transition.
#[derive(Debug)]
pub enum ConnEvent {
    Connected,
    Disconnected(RedisError),
}

pub type EventHook = Rc<dyn Fn(ConnEvent)>;

/// A pipelined command connection.
#[derive(Clone)]
pub struct Client {}

impl Client {
    pub fn connect(_url: RedisUrl, _opts: Options, _events: Option<EventHook>) -> Client {
        todo!()
    }
    pub async fn command(&self, _args: Vec<Bytes>) -> Result<Reply, RedisError> {
        todo!()
    }
    pub async fn publish(&self, _channel: Bytes, _payload: Bytes) -> Result<i64, RedisError> {
        todo!()
    }
    pub async fn numsub(&self, _channel: Bytes) -> Result<i64, RedisError> {
        todo!()
    }
    pub fn is_connected(&self) -> bool {
        todo!()
    }
    pub async fn connected(&self) {
        todo!()
    }
    pub fn close(&self) {
        todo!()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubKind {
    Channel,
    Pattern,
    Shard,
}

#[derive(Clone, Debug)]
pub struct Message {
    pub kind: SubKind,
    pub pattern: Option<Bytes>,
    pub channel: Bytes,
    pub payload: Bytes,
}

pub type MessageHook = Rc<dyn Fn(Message)>;

#[derive(Clone)]
pub struct Subscriber {}

impl Subscriber {
    pub fn connect(
        _url: RedisUrl,
        _opts: Options,
        _on_message: MessageHook,
        _events: Option<EventHook>,
    ) -> Subscriber {
        todo!()
    }
    pub fn subscribe(&self, _kind: SubKind, _names: Vec<Bytes>) {
        todo!()
    }
    pub fn unsubscribe(&self, _kind: SubKind, _names: Vec<Bytes>) {
        todo!()
    }
    pub async fn subscribed(&self) {
        todo!()
    }
    pub fn is_connected(&self) -> bool {
        todo!()
    }
    pub fn close(&self) {
        todo!()
    }
}
