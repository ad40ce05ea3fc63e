//! [`Client`]: pipelined commands on one connection, answered in FIFO order.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_channel::oneshot;

use super::conn::{Handler, Link};
use super::resp::{self, Frame};
use super::{EventHook, Options, RedisError, RedisUrl, Reply};

/// A pipelined command connection, kept open (and reopened) by a background task.
///
/// Cloning is cheap and every clone drives the same connection; the connection closes when
/// [`Client::close`] is called or the last clone is dropped. Lives on one executor thread.
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

struct Inner {
    link: Rc<Link>,
    fifo: Rc<Fifo>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.link.close();
    }
}

/// The callers awaiting an answer, oldest first.
struct Fifo {
    timeout: Duration,
    waiting: RefCell<VecDeque<Waiting>>,
}

struct Waiting {
    due: Instant,
    reply: oneshot::Sender<Result<Reply, RedisError>>,
}

impl Handler for Fifo {
    fn on_up(&self, _link: &Link) {}

    fn on_frame(&self, _link: &Link, frame: Frame) -> Result<(), RedisError> {
        if let Frame::Push(items) = frame {
            tracing::debug!(?items, "Redis push frame ignored on a command connection");
            return Ok(());
        }
        let waiting = self.waiting.borrow_mut().pop_front();
        match waiting {
            // The caller may have given up waiting: its answer is dropped.
            Some(w) => {
                let _ = w.reply.send(resp::into_result(frame));
                Ok(())
            }
            None => Err(RedisError::Protocol("a reply no command was waiting for".into())),
        }
    }

    fn on_down(&self, err: &RedisError) {
        let waiting = std::mem::take(&mut *self.waiting.borrow_mut());
        let now = Instant::now();
        for w in waiting {
            let err = if w.due <= now { RedisError::Timeout(self.timeout) } else { err.duplicate() };
            let _ = w.reply.send(Err(err));
        }
    }

    fn oldest_deadline(&self) -> Option<Instant> {
        self.waiting.borrow().front().map(|w| w.due)
    }
}

impl Client {
    /// Returns at once; a task spawned on the current glommio executor connects, runs the
    /// handshake (`AUTH`, `HELLO 3`, `SELECT`) and reconnects with backoff whenever the
    /// connection is lost, until [`Client::close`]. `events` hears every state change once.
    ///
    /// # Panics
    ///
    /// When called outside a glommio executor (the task is spawned on the current one).
    pub fn connect(url: RedisUrl, opts: Options, events: Option<EventHook>) -> Client {
        let fifo = Rc::new(Fifo { timeout: opts.command_timeout, waiting: RefCell::default() });
        let link = Link::new(url, opts, events);
        link.start(fifo.clone());
        Client { inner: Rc::new(Inner { link, fifo }) }
    }

    /// Sends one command (pipelined behind any in flight) and awaits its reply.
    ///
    /// Fails at once with [`RedisError::Disconnected`] while the connection is down (nothing is
    /// queued for later); with [`RedisError::Timeout`] when the reply takes longer than
    /// `command_timeout` (the connection is then reopened); with [`RedisError::Server`] on an
    /// error reply (also one nested in an aggregate reply).
    pub async fn command(&self, args: Vec<Bytes>) -> Result<Reply, RedisError> {
        if args.is_empty() {
            return Err(RedisError::Protocol("an empty command".into()));
        }
        self.inner.link.send(&args)?;
        let (tx, rx) = oneshot::channel();
        let due = Instant::now() + self.inner.fifo.timeout;
        self.inner.fifo.waiting.borrow_mut().push_back(Waiting { due, reply: tx });
        rx.await.unwrap_or(Err(RedisError::Disconnected))
    }

    /// `PUBLISH channel payload`: how many subscribers received it.
    pub async fn publish(&self, channel: Bytes, payload: Bytes) -> Result<i64, RedisError> {
        self.publish_with("PUBLISH", channel, payload).await
    }

    /// `SPUBLISH channel payload` (Redis 7 sharded pub/sub).
    pub async fn spublish(&self, channel: Bytes, payload: Bytes) -> Result<i64, RedisError> {
        self.publish_with("SPUBLISH", channel, payload).await
    }

    async fn publish_with(
        &self,
        cmd: &'static str,
        channel: Bytes,
        payload: Bytes,
    ) -> Result<i64, RedisError> {
        let reply = self.command(vec![Bytes::from_static(cmd.as_bytes()), channel, payload]).await?;
        match reply {
            Reply::Int(n) => Ok(n),
            other => Err(unexpected(cmd, &other)),
        }
    }

    /// `PUBSUB NUMSUB channel`: how many subscribers the channel has (on this Redis node).
    pub async fn numsub(&self, channel: Bytes) -> Result<i64, RedisError> {
        self.count_subscribers("NUMSUB", channel).await
    }

    /// `PUBSUB SHARDNUMSUB channel`: how many sharded subscribers the channel has.
    pub async fn shardnumsub(&self, channel: Bytes) -> Result<i64, RedisError> {
        self.count_subscribers("SHARDNUMSUB", channel).await
    }

    async fn count_subscribers(&self, sub: &'static str, channel: Bytes) -> Result<i64, RedisError> {
        let reply = self
            .command(vec![Bytes::from_static(b"PUBSUB"), Bytes::from_static(sub.as_bytes()), channel])
            .await?;
        let count = match &reply {
            // RESP2: [channel, count]; RESP3: {channel: count}.
            Reply::Array(items) if items.len() == 2 => items[1].as_int(),
            Reply::Map(pairs) if pairs.len() == 1 => pairs[0].1.as_int(),
            _ => None,
        };
        count.ok_or_else(|| {
            unexpected(if sub == "NUMSUB" { "PUBSUB NUMSUB" } else { "PUBSUB SHARDNUMSUB" }, &reply)
        })
    }

    /// Whether the connection is up (handshake done) right now.
    pub fn is_connected(&self) -> bool {
        self.inner.link.is_up()
    }

    /// Resolves once the connection is up: at once if it is. Also resolves when the client is
    /// closed, so check [`Client::is_connected`] if that can happen.
    pub async fn connected(&self) {
        self.inner.link.wait_up().await
    }

    /// Closes the connection for good (every clone): commands in flight fail with
    /// `Disconnected`, and no event is reported for it.
    pub fn close(&self) {
        self.inner.link.close();
    }
}

pub(super) fn unexpected(command: &str, reply: &Reply) -> RedisError {
    RedisError::Protocol(format!("unexpected reply to {command}: {reply:?}"))
}
