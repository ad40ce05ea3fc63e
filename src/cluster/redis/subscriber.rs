//! [`Subscriber`]: a connection in subscribed mode, its subscriptions remembered and re-sent
//! after every reconnect.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::conn::{Handler, Link};
use super::resp::Frame;
use super::{EventHook, Message, MessageHook, Options, RedisError, RedisUrl, Reply, SubKind};

/// At most this many names go in one `SUBSCRIBE` command.
const NAMES_PER_COMMAND: usize = 1000;

/// A dedicated pub/sub connection, kept open (and reopened, with its subscriptions) by a
/// background task.
///
/// Cloning is cheap and every clone drives the same connection; it closes when
/// [`Subscriber::close`] is called or the last clone is dropped. Lives on one executor thread.
#[derive(Clone)]
pub struct Subscriber {
    inner: Rc<Inner>,
}

struct Inner {
    link: Rc<Link>,
    subs: Rc<Subs>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.link.close();
        self.subs.wake_waiters();
    }
}

struct Subs {
    timeout: Duration,
    on_message: MessageHook,
    state: RefCell<SubState>,
}

#[derive(Default)]
struct SubState {
    /// What the caller wants, by kind (channels, patterns, shard channels).
    wanted: [HashSet<Bytes>; 3],
    /// The (un)subscribe commands on the current connection not yet fully confirmed, oldest
    /// first: how many confirmations each still awaits, and until when.
    unconfirmed: VecDeque<Unconfirmed>,
    /// Callers of [`Subscriber::subscribed`].
    waiters: Vec<Waker>,
}

struct Unconfirmed {
    due: Instant,
    left: usize,
}

fn slot(kind: SubKind) -> usize {
    match kind {
        SubKind::Channel => 0,
        SubKind::Pattern => 1,
        SubKind::Shard => 2,
    }
}

const KINDS: [SubKind; 3] = [SubKind::Channel, SubKind::Pattern, SubKind::Shard];

fn verb(kind: SubKind, subscribe: bool) -> &'static [u8] {
    match (kind, subscribe) {
        (SubKind::Channel, true) => b"SUBSCRIBE",
        (SubKind::Channel, false) => b"UNSUBSCRIBE",
        (SubKind::Pattern, true) => b"PSUBSCRIBE",
        (SubKind::Pattern, false) => b"PUNSUBSCRIBE",
        (SubKind::Shard, true) => b"SSUBSCRIBE",
        (SubKind::Shard, false) => b"SUNSUBSCRIBE",
    }
}

impl Subs {
    /// Sends `(UN)SUBSCRIBE names` in chunks, each awaiting one confirmation per name.
    fn send(&self, link: &Link, kind: SubKind, subscribe: bool, names: &[Bytes]) {
        for chunk in names.chunks(NAMES_PER_COMMAND) {
            let mut args: Vec<&[u8]> = Vec::with_capacity(chunk.len() + 1);
            args.push(verb(kind, subscribe));
            args.extend(chunk.iter().map(|n| &n[..]));
            if link.send(&args).is_ok() {
                let due = Instant::now() + self.timeout;
                self.state.borrow_mut().unconfirmed.push_back(Unconfirmed { due, left: chunk.len() });
            }
        }
    }

    fn wake_waiters(&self) {
        let waiters = std::mem::take(&mut self.state.borrow_mut().waiters);
        waiters.into_iter().for_each(Waker::wake);
    }

    /// One confirmation (or, with `all`, an error reply ending the oldest command).
    fn confirmed(&self, all: bool) {
        let settled = {
            let mut st = self.state.borrow_mut();
            match st.unconfirmed.front_mut() {
                None => {
                    tracing::debug!("Redis subscription confirmation no command was waiting for");
                    return;
                }
                Some(front) => {
                    front.left = if all { 0 } else { front.left.saturating_sub(1) };
                    if front.left == 0 {
                        st.unconfirmed.pop_front();
                    }
                }
            }
            st.unconfirmed.is_empty()
        };
        if settled {
            self.wake_waiters();
        }
    }

    fn deliver(&self, kind: SubKind, pattern: Option<Bytes>, channel: Option<Bytes>, payload: Option<Bytes>) {
        match (channel, payload) {
            (Some(channel), Some(payload)) => (self.on_message)(Message { kind, pattern, channel, payload }),
            _ => tracing::debug!("Redis pub/sub message with a non-string field ignored"),
        }
    }
}

/// The bytes of a string reply, without copying.
fn string(r: Reply) -> Option<Bytes> {
    match r {
        Reply::Bulk(b) => Some(b),
        Reply::Simple(s) => Some(Bytes::from(s)),
        _ => None,
    }
}

impl Handler for Subs {
    fn on_up(&self, link: &Link) {
        let wanted: Vec<(SubKind, Vec<Bytes>)> = {
            let st = self.state.borrow();
            KINDS.iter().map(|&k| (k, st.wanted[slot(k)].iter().cloned().collect())).collect()
        };
        for (kind, names) in wanted {
            self.send(link, kind, true, &names);
        }
        if self.state.borrow().unconfirmed.is_empty() {
            self.wake_waiters();
        }
    }

    fn on_frame(&self, _link: &Link, frame: Frame) -> Result<(), RedisError> {
        let items = match frame {
            // RESP2 pub/sub frames are arrays; RESP3 ones are pushes.
            Frame::Push(items) | Frame::Reply(Reply::Array(items)) => items,
            Frame::Error(e) => {
                tracing::warn!(error = %e, "Redis refused a (un)subscribe command");
                self.confirmed(true);
                return Ok(());
            }
            // The answer to a keepalive PING in RESP3.
            Frame::Reply(Reply::Simple(pong)) if pong.eq_ignore_ascii_case("PONG") => {
                self.confirmed(false);
                return Ok(());
            }
            Frame::Reply(other) => {
                tracing::debug!(reply = ?other, "Redis reply ignored on a subscriber connection");
                return Ok(());
            }
        };
        let n = items.len();
        let mut items = items.into_iter();
        let Some(kind) = items.next().and_then(string) else {
            tracing::debug!("Redis pub/sub frame without a kind ignored");
            return Ok(());
        };
        match (&kind[..], n) {
            (b"message", 3) => self.deliver(
                SubKind::Channel,
                None,
                items.next().and_then(string),
                items.next().and_then(string),
            ),
            (b"smessage", 3) => self.deliver(
                SubKind::Shard,
                None,
                items.next().and_then(string),
                items.next().and_then(string),
            ),
            (b"pmessage", 4) => {
                let pattern = items.next().and_then(string);
                if pattern.is_some() {
                    self.deliver(
                        SubKind::Pattern,
                        pattern,
                        items.next().and_then(string),
                        items.next().and_then(string),
                    );
                }
            }
            (
                b"subscribe" | b"psubscribe" | b"ssubscribe" | b"unsubscribe" | b"punsubscribe"
                | b"sunsubscribe",
                3,
            ) => self.confirmed(false),
            // The answer to a keepalive PING in RESP2 subscribed mode: `["pong", ""]`.
            (b"pong", 2) => self.confirmed(false),
            _ => tracing::debug!(kind = ?kind, "Redis pub/sub frame ignored"),
        }
        Ok(())
    }

    fn on_down(&self, _err: &RedisError) {
        // Everything wanted is sent again on the next connection.
        self.state.borrow_mut().unconfirmed.clear();
    }

    fn oldest_deadline(&self) -> Option<Instant> {
        self.state.borrow().unconfirmed.front().map(|u| u.due)
    }
}

/// Every `every`, a `PING` on a connection with nothing awaiting an answer: its reply is
/// awaited like a subscription's confirmation, so a silent peer times out and the connection
/// is reopened. Ends when the subscriber is closed.
async fn keep_alive(link: Rc<Link>, subs: Rc<Subs>, every: Duration) {
    loop {
        glommio::timer::sleep(every).await;
        if link.is_closed() {
            return;
        }
        if link.is_up() && subs.state.borrow().unconfirmed.is_empty() && link.send(&[b"PING"]).is_ok() {
            let due = Instant::now() + subs.timeout;
            subs.state.borrow_mut().unconfirmed.push_back(Unconfirmed { due, left: 1 });
        }
    }
}

impl Subscriber {
    /// Returns at once; a task spawned on the current glommio executor connects, runs the
    /// handshake, (re)subscribes and reconnects with backoff whenever the connection is lost,
    /// until [`Subscriber::close`]. Every message is handed to `on_message`, inline from the
    /// reading task (so the hook must not block); `events` hears every state change once.
    ///
    /// # Panics
    ///
    /// When called outside a glommio executor (the task is spawned on the current one).
    pub fn connect(
        url: RedisUrl,
        opts: Options,
        on_message: MessageHook,
        events: Option<EventHook>,
    ) -> Subscriber {
        let subs = Rc::new(Subs { timeout: opts.command_timeout, on_message, state: RefCell::default() });
        let keepalive = opts.keepalive;
        let link = Link::new(url, opts, events);
        link.start(subs.clone());
        if !keepalive.is_zero() {
            glommio::spawn_local(keep_alive(link.clone(), subs.clone(), keepalive)).detach();
        }
        Subscriber { inner: Rc::new(Inner { link, subs }) }
    }

    /// Adds subscriptions: sent at once if connected, and after every reconnect.
    pub fn subscribe(&self, kind: SubKind, names: Vec<Bytes>) {
        let new: Vec<Bytes> = {
            let mut st = self.inner.subs.state.borrow_mut();
            let set = &mut st.wanted[slot(kind)];
            names.into_iter().filter(|n| set.insert(n.clone())).collect()
        };
        if !new.is_empty() && self.inner.link.is_up() {
            self.inner.subs.send(&self.inner.link, kind, true, &new);
        }
    }

    /// Drops subscriptions (sent at once if connected).
    pub fn unsubscribe(&self, kind: SubKind, names: Vec<Bytes>) {
        let gone: Vec<Bytes> = {
            let mut st = self.inner.subs.state.borrow_mut();
            let set = &mut st.wanted[slot(kind)];
            names.into_iter().filter(|n| set.remove(n)).collect()
        };
        if !gone.is_empty() && self.inner.link.is_up() {
            self.inner.subs.send(&self.inner.link, kind, false, &gone);
        }
    }

    /// Resolves once connected and every (un)subscription sent has been confirmed by the
    /// server: from then on, a `PUBLISH` to a wanted channel reaches `on_message`. Also resolves
    /// when the subscriber is closed.
    pub async fn subscribed(&self) {
        poll_fn(|cx| {
            let link = &self.inner.link;
            let mut st = self.inner.subs.state.borrow_mut();
            if link.is_closed() || (link.is_up() && st.unconfirmed.is_empty()) {
                return Poll::Ready(());
            }
            if !st.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                st.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// Whether the connection is up (handshake done) right now.
    pub fn is_connected(&self) -> bool {
        self.inner.link.is_up()
    }

    /// Closes the connection for good (every clone).
    pub fn close(&self) {
        self.inner.link.close();
        self.inner.subs.wake_waiters();
    }
}
