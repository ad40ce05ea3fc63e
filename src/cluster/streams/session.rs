//! Connection state recovery across nodes with the streams adapter: offsets are stream entry
//! ids, sessions live in Redis.
//!
//! **Offsets.** A broadcast that gets an offset (an event without ack, not volatile; with
//! recovery on, `socket.emit` too, as Node routes it as a broadcast to the socket's room) is
//! `XADD`ed first; the shard delivers it with the entry id as its offset once Redis answered
//! (one round trip later, as Node awaits `doPublish`), and so do this process's other shards
//! (through the mesh) and every other node (which reads the id with the entry). Every node so
//! delivers the same offset, and a client can recover on any node, ours or Node's. When the
//! `XADD` fails (Redis down) the broadcast is delivered with a local offset, which only this
//! process can resolve (none, once the session lives in Redis: the client gets a fresh
//! socket).
//!
//! **Sessions.** Node writes `SET {prefix}{pid} base64(msgpack {sid, pid, rooms, data}) PX
//! {maxDisconnectionDuration}` only when a socket closes (`persistSession`), so a node that
//! crashes loses every session (socket.io-redis-streams-adapter#27). Ours writes the same key
//! while the socket lives: each shard's `SessionKeeper` marks a socket when it connects and
//! when its rooms change, and every [`FLUSH_EVERY`] writes the marked sessions, and those
//! written more than [`StreamsOptions::session_refresh`] ago, in one pipelined batch of `SET …
//! PX`. A session so never expires while its socket lives, holds rooms at most one flush
//! late, and costs one `SET` per socket per refresh period plus one per connect or batch of
//! room changes. A clean close writes the session as Node does (with the data of
//! [`Handler::export_data`]); the keeper forgets the socket. A crash loses only what changed
//! in the last flush.
//!
//! **Restore** (Node's `restoreSession`): the offset must look like an entry id; the session is
//! taken (`GETDEL`, Redis 6.2+, where Node sends `MULTI GET DEL`: it restores once) while `XRANGE {stream} {offset} {offset}` checks that the
//! offset is still in the stream (not trimmed); then `XRANGE` from the next id on, at most
//! [`MAX_XRANGE_CALLS`] calls of [`XRANGE_COUNT`] entries, keeps the broadcasts of the
//! namespace that reach the session's rooms, each with its id appended.
//!
//! **A reconnection while the old socket still lives** (its node has not noticed the dead
//! transport yet, or the client moved on its own): since ours keeps sessions of live sockets,
//! a client can recover while the socket with its id is still connected somewhere. The
//! restoring node then disconnects that id everywhere first (`disconnectSockets` to the room of
//! the id, `close: false`, through the stream and this process's shards), so no two sockets
//! share an id; the old socket's close (a server namespace disconnect) writes no session.
//! Since a live socket's session is in Redis, a second connection that presents its pid and
//! an offset takes the socket over (the pid is the client's secret, as in Node); Node, whose
//! session exists only after the close, would give that connection a fresh socket.
//! A socket that closes for a reason that is not recoverable leaves its key to expire (within
//! `max_disconnection_duration`): deleting it could race with the key a restoring node just
//! wrote for the same pid.
//!
//! [`StreamsOptions::session_refresh`]: super::StreamsOptions::session_refresh
//! [`Handler::export_data`]: crate::socket::Handler::export_data

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;

use super::reader::xrange_entries;
use super::wire::{StoredSession, decode_entry, missed};
use crate::adapter::{EncodedPacket, Room};
use crate::cluster::adapter::ClusterShard;
use crate::cluster::redis::Reply;
use crate::cluster::wire::sharded::Body;
use crate::protocol::sid::Sid;
use crate::protocol::value::Value;
use crate::socket::recovery::with_offset;

/// How often a shard writes the sessions that changed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Node's `RESTORE_SESSION_MAX_XRANGE_CALLS`.
pub const MAX_XRANGE_CALLS: usize = 100;
/// Entries per `XRANGE` of a restore (Node reads without a count).
pub const XRANGE_COUNT: usize = 1000;

/// One live socket of this shard.
struct Live {
    nsp: ByteString,
    written: Option<Instant>,
    dirty: bool,
}

/// The live sessions of one shard (see the module documentation).
#[derive(Default)]
pub(crate) struct SessionKeeper {
    live: RefCell<foldhash::HashMap<Sid, Live>>,
    flushing: Cell<bool>,
}

/// What a session to write holds, read from the socket.
pub(crate) struct Snapshot {
    pub(crate) pid: Sid,
    pub(crate) rooms: Vec<Room>,
    pub(crate) data: Option<Value>,
}

impl SessionKeeper {
    /// Socket `sid` of `nsp` connected or changed rooms (`alive`), or left.
    pub(crate) fn touched(&self, nsp: &ByteString, sid: Sid, alive: bool) -> bool {
        let mut live = self.live.borrow_mut();
        if !alive {
            live.remove(&sid);
            return false;
        }
        live.entry(sid).or_insert_with(|| Live { nsp: nsp.clone(), written: None, dirty: true }).dirty = true;
        !self.flushing.replace(true)
    }

    /// The sessions due now: marked, or last written more than `refresh` ago.
    fn due(&self, now: Instant, refresh: Duration) -> Vec<(ByteString, Sid)> {
        let mut live = self.live.borrow_mut();
        let mut out = Vec::new();
        for (sid, entry) in live.iter_mut() {
            let stale = entry.written.is_none_or(|at| now.saturating_duration_since(at) >= refresh);
            if entry.dirty || stale {
                entry.dirty = false;
                entry.written = Some(now);
                out.push((entry.nsp.clone(), *sid));
            }
        }
        out
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.live.borrow().len()
    }
}

/// The `SET {prefix}{pid} … PX {ttl}` of a session.
pub(crate) fn set_command(cluster: &ClusterShard, session: &StoredSession, ttl: Duration) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"SET"),
        cluster.session_key(&session.pid),
        Bytes::from(session.encode()),
        Bytes::from_static(b"PX"),
        Bytes::from(ttl.as_millis().max(1).to_string()),
    ]
}

/// Writes the due sessions every [`FLUSH_EVERY`] while the shard has live sockets; `snapshot`
/// reads a socket (`None`: gone).
pub(crate) async fn flush_loop(
    cluster: Weak<ClusterShard>,
    ttl: Duration,
    refresh: Duration,
    snapshot: impl Fn(&ByteString, Sid) -> Option<Snapshot>,
) {
    loop {
        glommio::timer::sleep(FLUSH_EVERY).await;
        let Some(me) = cluster.upgrade() else { return };
        let keeper = me.sessions();
        if keeper.live.borrow().is_empty() {
            keeper.flushing.set(false);
            return;
        }
        let mut writes = Vec::new();
        for (nsp, sid) in keeper.due(Instant::now(), refresh) {
            let Some(s) = snapshot(&nsp, sid) else { continue };
            let session = StoredSession {
                sid: sid.as_str().to_owned(),
                pid: s.pid.as_str().to_owned(),
                rooms: s.rooms,
                data: s.data.unwrap_or(Value::Object(Vec::new())),
            };
            writes.push(me.command(set_command(&me, &session, ttl)));
        }
        drop(me);
        // Pipelined: every SET is on the connection before the first answer is awaited.
        for write in writes {
            let _ = write.await;
        }
    }
}

/// A session taken from Redis, with the packets its client missed.
pub(crate) struct Found {
    pub(crate) session: StoredSession,
    pub(crate) missed: Vec<Arc<EncodedPacket>>,
}

/// Node's `nextOffset`: the id right after `offset`.
fn next_id(offset: &str) -> Option<String> {
    let (ms, seq) = offset.split_once('-')?;
    Some(format!("{ms}-{}", seq.parse::<u64>().ok()?.checked_add(1)?))
}

/// Whether `offset` is an entry id (`/^[0-9]+-[0-9]+$/`).
pub(crate) fn is_entry_id(offset: &str) -> bool {
    offset.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// Node's `restoreSession(pid, offset)` for namespace `nsp`; `None`: a fresh socket.
pub(crate) async fn restore(
    cluster: Rc<ClusterShard>,
    nsp: ByteString,
    pid: Sid,
    offset: String,
) -> Option<Found> {
    if !is_entry_id(&offset) {
        return None;
    }
    let stream = Bytes::from(cluster.stream_key(&nsp));
    let take = cluster.command(vec![Bytes::from_static(b"GETDEL"), cluster.session_key(pid.as_str())]);
    let range = |from: &str, to: &str, count: Option<usize>| {
        let mut args = vec![
            Bytes::from_static(b"XRANGE"),
            stream.clone(),
            Bytes::from(from.to_owned()),
            Bytes::from(to.to_owned()),
        ];
        if let Some(n) = count {
            args.extend([Bytes::from_static(b"COUNT"), Bytes::from(n.to_string())]);
        }
        cluster.command(args)
    };
    let exists = range(&offset, &offset, None);
    let (taken, exists) = (take.await, exists.await);
    let raw = match taken {
        Ok(Reply::Bulk(raw)) => raw,
        _ => return None,
    };
    if !matches!(exists, Ok(Reply::Array(ref e)) if !e.is_empty()) {
        return None;
    }
    let session = StoredSession::decode(&raw).ok()?;
    let mut missed_packets = Vec::new();
    let mut last = offset;
    for _ in 0..MAX_XRANGE_CALLS {
        let reply = range(&next_id(&last)?, "+", Some(XRANGE_COUNT)).await.ok()?;
        let entries = xrange_entries(reply);
        if entries.is_empty() {
            break;
        }
        for (id, fields) in &entries {
            if let Ok(msg) = decode_entry(fields.iter().map(|(k, v)| (&k[..], &v[..])))
                && missed(&msg, &nsp, &session.rooms)
                && let Body::Broadcast { packet, .. } = msg.body
                && let Ok(packet) = packet.to_encoded(None)
            {
                missed_packets.push(Arc::new(with_offset(&packet, id)));
            }
        }
        last = entries.last().map(|(id, _)| id.clone())?;
    }
    Some(Found { session, missed: missed_packets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids() {
        assert!(is_entry_id("1767225600000-0"));
        assert!(!is_entry_id("PjssgW0.1"));
        assert!(!is_entry_id("1-"));
        assert!(!is_entry_id("-1"));
        assert!(!is_entry_id("1-2-3"));
        assert_eq!(next_id("5-9").as_deref(), Some("5-10"));
        assert_eq!(next_id("x"), None);
    }

    #[test]
    fn the_keeper_writes_what_changed_and_what_is_old() {
        let k = SessionKeeper::default();
        let nsp = ByteString::from("/");
        let (a, b) = (Sid::generate(0, 1), Sid::generate(0, 1));
        assert!(k.touched(&nsp, a, true), "the first start the flusher");
        assert!(!k.touched(&nsp, b, true));
        let t0 = Instant::now();
        let refresh = Duration::from_secs(20);
        assert_eq!(k.due(t0, refresh).len(), 2);
        assert!(k.due(t0 + Duration::from_secs(1), refresh).is_empty(), "written, unchanged");
        k.touched(&nsp, a, true);
        assert_eq!(k.due(t0 + Duration::from_secs(2), refresh), [(nsp.clone(), a)]);
        assert_eq!(k.due(t0 + Duration::from_secs(20), refresh), [(nsp.clone(), b)], "b's refresh");
        k.touched(&nsp, a, false);
        assert_eq!(k.len(), 1);
    }
}
