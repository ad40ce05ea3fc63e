//! Connection state recovery (Node socket.io 4.6+ `connectionStateRecovery`, with
//! socket.io-adapter's in-memory `SessionAwareAdapter`), across the shards of one process.
//!
//! **What the client sees** (v5 clients, exactly as Node): with the option on, every socket
//! gets a private id (`pid`) next to its id in the CONNECT answer, `40{"sid":"…","pid":"…"}`,
//! and every event that may be replayed carries an offset as its last argument: an EVENT or
//! BINARY_EVENT without an ack id, not volatile — broadcasts and plain `socket.emit` alike
//! (Node routes the latter as a broadcast to the socket's own room). A client that lost its
//! transport reconnects with `{"pid":…,"offset":…}` in its CONNECT; if its session is still
//! kept and its offset still logged, it gets its old socket back (same id and pid, same rooms,
//! same data), every packet it missed (written before the CONNECT answer, each once, in
//! order), then the CONNECT answer; the handler sees [`Socket::recovered`]. Otherwise it gets
//! a fresh socket, as Node. With `skip_middlewares` (default) a recovered socket skips
//! [`Handler::authorize`].
//!
//! Offsets are short, unique, increasing per shard strings in the spirit of Node's `yeast()`:
//! the wall clock in ms in base 64 (`0-9A-Za-z-_`), then `.` and the shard that made it, then
//! `.n` for the n-th offset of that shard within the same ms (`PjssgW0.1`, `PjssgW0.1.2`).
//! A broadcast's offset is made once, where its packet is encoded; every shard delivers the
//! same shared packet with the same offset.
//!
//! **Where the state lives.** Every shard keeps:
//! - a *log* of the offset-bearing packets it delivered (the broadcasts it saw from any shard,
//!   the unicasts to its own sockets): the offset, the shared `Arc<EncodedPacket>` (never
//!   copied), the namespace, the broadcast's rooms and exceptions, and when it was logged;
//! - the *sessions* of its sockets that closed for a recoverable reason (transport error or
//!   close, forced close, ping timeout, server shutting down, forced server close — not a
//!   namespace disconnect by either side, not a parse error, not our slow-consumer abort):
//!   id, pid, rooms (its own id's room included) and data (the `Rc` of the old socket).
//!
//! A pid is drawn with [`Sid::generate`] for the shard that made the socket, so any shard
//! knows whom to ask. The shard a CONNECT with `pid` and `offset` lands on looks in its own
//! store first, then asks the pid's shard (one message; the CONNECT waits at most the requests
//! timeout, then the socket is fresh). That shard *takes* the session (GETDEL: a session
//! restores once) and answers with it and the missed packets from its own log: the packets
//! after the offset whose namespace is the session's, whose rooms are empty or meet the
//! session's, and whose exceptions do not. A socket restored on another shard keeps its pid;
//! when it closes again its new shard keeps the session and tells the pid's shard where it is
//! (a *forward*), so the next CONNECT is still found in two hops. The client's packets for the
//! namespace cannot be handled before the CONNECT answer: until then the namespace is pending,
//! as while `authorize` runs. A restore from another shard has one narrow window: a broadcast
//! that reaches the keeping shard after it answered, and the restoring shard before the socket
//! joined its rooms there, misses the socket (Node's cluster adapters have the like). A client
//! that leaves while its session is being restored gets it kept again, on the shard that was
//! restoring it.
//!
//! Without `skip_middlewares`, [`Handler::authorize`] runs first and the session is taken only
//! for a socket it accepts (Node restores first, then runs the middlewares, writing the missed
//! packets even before a refusal).
//!
//! The data of a session restored on the same shard is the old socket's own value. Rust values
//! do not cross shards: one restored on another shard gets what [`Handler::export_data`] gave
//! (as `socket.data` travels as JSON in Node's cluster adapters) through
//! [`Handler::import_data`], by default a fresh `Default`.
//!
//! **Bounds.** Per shard: the log keeps packets younger than `max_disconnection_duration` and
//! at most `max_packets` of them (the oldest go first); sessions and forwards expire after
//! `max_disconnection_duration`, and at most `max_sessions` are kept (the oldest go first).
//! One sweeper task per shard frees them (at most once a second) while there is any. A client
//! whose offset fell off the log, or that received no offset-bearing packet at all, cannot
//! recover, as with Node's in-memory adapter. A client that never returns leaves nothing
//! behind after `max_disconnection_duration`.
//!
//! With the classic Redis adapter ([`SocketIo::redis_adapter`]) packets from other servers
//! carry no offset and are not logged, and packets published to them carry none (Node's
//! classic adapter does not support recovery either): recovery covers this process only.
//! With the streams adapter, offsets are stream entry ids and sessions live in Redis, so a
//! client recovers on any node (see `crate::cluster::streams::session`).
//!
//! [`Socket::recovered`]: super::SocketRef::recovered
//! [`Handler::authorize`]: super::Handler::authorize
//! [`Handler::export_data`]: super::Handler::export_data
//! [`Handler::import_data`]: super::Handler::import_data
//! [`SocketIo::redis_adapter`]: super::SocketIo::redis_adapter

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytestring::ByteString;

use crate::adapter::{BroadcastOptions, EncodedPacket, Room};
use crate::engine::DisconnectReason;
use crate::protocol::sid::Sid;
use crate::protocol::value::Value;
use crate::shard::ShardId;

/// Node's `connectionStateRecovery` server option (see [`SocketIo::connection_state_recovery`]
/// and the [module documentation](self)).
///
/// [`SocketIo::connection_state_recovery`]: super::SocketIo::connection_state_recovery
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStateRecovery {
    /// Node's `maxDisconnectionDuration` (default 2 min): how long a session and the packets
    /// its client may have missed are kept.
    pub max_disconnection_duration: Duration,
    /// Node's `skipMiddlewares` (default `true`): a recovered socket does not go through
    /// [`Handler::authorize`](super::Handler::authorize).
    pub skip_middlewares: bool,
    /// The most packets each shard logs (default 10 000; the oldest are dropped first). Not a
    /// Node option: its in-memory adapter bounds the log by age only.
    pub max_packets: usize,
    /// The most sessions each shard keeps (default 100 000; the oldest are dropped first). Not
    /// a Node option.
    pub max_sessions: usize,
}

impl Default for ConnectionStateRecovery {
    fn default() -> Self {
        ConnectionStateRecovery {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_sessions: 100_000,
        }
    }
}

impl ConnectionStateRecovery {
    /// Sets [`ConnectionStateRecovery::max_disconnection_duration`](#structfield.max_disconnection_duration).
    pub fn max_disconnection_duration(mut self, duration: Duration) -> Self {
        self.max_disconnection_duration = duration;
        self
    }

    /// Sets [`ConnectionStateRecovery::skip_middlewares`](#structfield.skip_middlewares).
    pub fn skip_middlewares(mut self, skip: bool) -> Self {
        self.skip_middlewares = skip;
        self
    }

    /// Sets [`ConnectionStateRecovery::max_packets`](#structfield.max_packets).
    pub fn max_packets(mut self, max: usize) -> Self {
        self.max_packets = max;
        self
    }

    /// Sets [`ConnectionStateRecovery::max_sessions`](#structfield.max_sessions).
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }
}

/// Node's `RECOVERABLE_DISCONNECT_REASONS`.
pub(crate) fn is_recoverable(reason: DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::TransportError
            | DisconnectReason::TransportClose
            | DisconnectReason::ForcedClose
            | DisconnectReason::PingTimeout
            | DisconnectReason::ServerShuttingDown
            | DisconnectReason::ForcedServerClose
    )
}

/// Whether a broadcast's packet gets an offset: an event (binary or not) without ack id (the
/// callers guarantee it), not volatile.
pub(crate) fn is_eligible(packet: &EncodedPacket, opts: &BroadcastOptions) -> bool {
    !opts.flags.volatile && matches!(packet.text().as_bytes().first(), Some(b'2' | b'5'))
}

/// A logged packet.
struct Logged {
    offset: Box<str>,
    nsp: ByteString,
    rooms: Vec<Room>,
    except: Vec<Room>,
    packet: Arc<EncodedPacket>,
    at: Instant,
}

/// The socket's data, as kept by the shard where it closed.
pub(crate) struct Session {
    pub(crate) sid: Sid,
    pub(crate) pid: Sid,
    pub(crate) nsp: ByteString,
    /// Its own id's room included.
    pub(crate) rooms: Vec<Room>,
    pub(crate) data: Rc<dyn Any>,
}

enum Kept {
    Held(Session),
    /// The session is kept by this shard (it was restored there and closed again).
    Forward(ShardId),
}

/// What [`RecoveryStore::take`] found for a pid.
pub(crate) enum Take {
    Found(Session, Vec<Arc<EncodedPacket>>),
    /// Ask this shard.
    Forward(ShardId),
    None,
}

/// A session restored on another shard: everything but the data is sent as is.
pub(crate) struct SentSession {
    pub(crate) sid: Sid,
    pub(crate) pid: Sid,
    pub(crate) rooms: Vec<Room>,
    pub(crate) data: Option<Value>,
    pub(crate) missed: Vec<Arc<EncodedPacket>>,
}

/// One shard's log and sessions (see the module documentation).
pub(crate) struct RecoveryStore {
    pub(crate) opts: ConnectionStateRecovery,
    shard: ShardId,
    log: RefCell<VecDeque<Logged>>,
    sessions: RefCell<foldhash::HashMap<Sid, (Instant, Kept)>>,
    /// Pids in the order they were kept, to expire and cap them; an entry whose time differs
    /// from the session's is stale.
    order: RefCell<VecDeque<(Instant, Sid)>>,
    /// The last offset's ms and its repeat count.
    last: Cell<Option<(u64, u64)>>,
    /// Whether a sweeper task runs.
    pub(crate) sweeping: Cell<bool>,
    /// Restores this shard asked another shard for, by number.
    waiting: RefCell<foldhash::HashMap<u64, futures_channel::oneshot::Sender<Option<SentSession>>>>,
    next_wait: Cell<u64>,
}

/// `yeast`'s alphabet.
const ALPHABET: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

fn yeast(mut n: u64, out: &mut String) {
    let mut digits = [0u8; 11];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = ALPHABET[(n % 64) as usize];
        n /= 64;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).expect("ASCII"));
}

impl RecoveryStore {
    pub(crate) fn new(opts: ConnectionStateRecovery, shard: ShardId) -> Self {
        RecoveryStore {
            opts,
            shard,
            log: RefCell::default(),
            sessions: RefCell::default(),
            order: RefCell::default(),
            last: Cell::new(None),
            sweeping: Cell::new(false),
            waiting: RefCell::default(),
            next_wait: Cell::new(0),
        }
    }

    /// A fresh offset, `now_ms` being the wall clock (which may go back: the last ms is kept).
    pub(crate) fn next_offset(&self, now_ms: u64) -> String {
        let (ms, repeat) = match self.last.get() {
            Some((last, repeats)) if now_ms <= last => (last, repeats + 1),
            _ => (now_ms, 0),
        };
        self.last.set(Some((ms, repeat)));
        let mut out = String::with_capacity(16);
        yeast(ms, &mut out);
        out.push('.');
        out.push_str(&self.shard.to_string());
        if repeat > 0 {
            out.push('.');
            out.push_str(&repeat.to_string());
        }
        out
    }

    /// Logs a packet this shard delivered, `offset` being the one it carries.
    pub(crate) fn log(
        &self,
        offset: &str,
        nsp: &ByteString,
        opts: &BroadcastOptions,
        packet: Arc<EncodedPacket>,
        now: Instant,
    ) {
        let mut log = self.log.borrow_mut();
        if self.opts.max_packets == 0 {
            return;
        }
        while log.len() >= self.opts.max_packets {
            log.pop_front();
        }
        log.push_back(Logged {
            offset: offset.into(),
            nsp: nsp.clone(),
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
            packet,
            at: now,
        });
    }

    /// Keeps the session of a socket that closed for a recoverable reason.
    pub(crate) fn persist(&self, session: Session, now: Instant) {
        self.keep(session.pid, Kept::Held(session), now);
    }

    /// Remembers that the session of `pid` (one of this shard's pids) is kept by `holder`.
    pub(crate) fn forward(&self, pid: Sid, holder: ShardId, now: Instant) {
        self.keep(pid, Kept::Forward(holder), now);
    }

    fn keep(&self, pid: Sid, kept: Kept, now: Instant) {
        if self.opts.max_sessions == 0 {
            return;
        }
        let mut sessions = self.sessions.borrow_mut();
        let mut order = self.order.borrow_mut();
        while sessions.len() >= self.opts.max_sessions && !sessions.contains_key(&pid) {
            let Some((at, old)) = order.pop_front() else { break };
            if sessions.get(&old).is_some_and(|(t, _)| *t == at) {
                sessions.remove(&old);
            }
        }
        sessions.insert(pid, (now, kept));
        order.push_back((now, pid));
    }

    /// Takes the session of `pid` for a client of `nsp` whose last offset is `offset`, with
    /// the packets it missed. A session found is gone from the store whatever the outcome.
    pub(crate) fn take(&self, pid: Sid, nsp: &str, offset: &str, now: Instant) -> Take {
        let max = self.opts.max_disconnection_duration;
        let kept = self.sessions.borrow_mut().remove(&pid);
        let session = match kept {
            Some((at, _)) if now.saturating_duration_since(at) > max => return Take::None,
            Some((at, Kept::Forward(shard))) => {
                // Kept for the next time the pid is asked for, until the holder answers.
                self.sessions.borrow_mut().insert(pid, (at, Kept::Forward(shard)));
                return Take::Forward(shard);
            }
            Some((_, Kept::Held(session))) if session.nsp == nsp => session,
            _ => return Take::None,
        };
        let log = self.log.borrow();
        // From the newest: a recent offset is found at once, even in a full log.
        let Some(start) = log.iter().rposition(|p| &*p.offset == offset) else { return Take::None };
        if now.saturating_duration_since(log[start].at) > max {
            return Take::None;
        }
        let missed = log
            .iter()
            .skip(start + 1)
            .filter(|p| p.nsp == session.nsp && should_include(&session.rooms, &p.rooms, &p.except))
            .map(|p| p.packet.clone())
            .collect();
        Take::Found(session, missed)
    }

    /// Drops what expired; returns when to sweep next (`None`: nothing left).
    pub(crate) fn sweep(&self, now: Instant) -> Option<Instant> {
        let max = self.opts.max_disconnection_duration;
        let expired = |at: Instant| now.saturating_duration_since(at) > max;
        let mut log = self.log.borrow_mut();
        while log.front().is_some_and(|p| expired(p.at)) {
            log.pop_front();
        }
        let mut sessions = self.sessions.borrow_mut();
        let mut order = self.order.borrow_mut();
        while let Some(&(at, pid)) = order.front() {
            let live = sessions.get(&pid).is_some_and(|(t, _)| *t == at);
            if live && !expired(at) {
                break;
            }
            order.pop_front();
            if live {
                sessions.remove(&pid);
            }
        }
        if sessions.is_empty() {
            // Only stale entries can be left.
            order.clear();
        }
        // A burst of disconnections or packets leaves no large tables behind once it expired.
        if log.capacity() > 64 && log.len() * 4 < log.capacity() {
            log.shrink_to_fit();
        }
        if order.capacity() > 64 && order.len() * 4 < order.capacity() {
            order.shrink_to_fit();
        }
        if sessions.capacity() > 64 && sessions.len() * 4 < sessions.capacity() {
            sessions.shrink_to_fit();
        }
        let next = [log.front().map(|p| p.at), order.front().map(|(at, _)| *at)];
        next.into_iter().flatten().min().map(|at| at + max)
    }

    #[cfg(test)]
    pub(crate) fn logged(&self) -> usize {
        self.log.borrow().len()
    }

    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.sessions.borrow().len()
    }

    /// A restore asked of another shard: its number, and where the answer comes.
    pub(crate) fn wait(&self) -> (u64, futures_channel::oneshot::Receiver<Option<SentSession>>) {
        let seq = self.next_wait.get();
        self.next_wait.set(seq.wrapping_add(1));
        let (tx, rx) = futures_channel::oneshot::channel();
        self.waiting.borrow_mut().insert(seq, tx);
        (seq, rx)
    }

    pub(crate) fn forget_wait(&self, seq: u64) {
        self.waiting.borrow_mut().remove(&seq);
    }

    /// Another shard's answer to a restore; a late one is dropped (its session is lost).
    pub(crate) fn answered(&self, seq: u64, session: Option<SentSession>) {
        if let Some(tx) = self.waiting.borrow_mut().remove(&seq) {
            let _ = tx.send(session);
        }
    }
}

/// socket.io-adapter's `shouldIncludePacket`: no rooms or one of the session's, and none of
/// the session's rooms excepted.
fn should_include(session: &[Room], rooms: &[Room], except: &[Room]) -> bool {
    (rooms.is_empty() || rooms.iter().any(|r| session.contains(r)))
        && !except.iter().any(|r| session.contains(r))
}

/// `text` with `offset` as the last argument of its (event) array.
pub(crate) fn with_offset(packet: &EncodedPacket, offset: &str) -> EncodedPacket {
    let text = packet.text();
    let body = text.strip_suffix(']').unwrap_or(text);
    let mut out = String::with_capacity(text.len() + offset.len() + 3);
    out.push_str(body);
    out.push_str(",\"");
    out.push_str(offset);
    out.push_str("\"]");
    EncodedPacket::from_text(ByteString::from(out), packet.attachments().to_vec())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
