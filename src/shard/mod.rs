//! Thread-per-core plumbing: shard ids, the placement of shards on CPUs, and the
//! typed messages shards exchange over glommio's channel mesh.
//!
//! A session lives on exactly one shard, named by its sid. A connection that the
//! kernel's `SO_REUSEPORT` balancing hands to another shard is passed to the
//! owner whole: its file descriptor, the parsed request and the bytes read after it
//! travel as one [`ShardMsg::Handoff`] (with its TLS session, if it has one), and the owner
//! serves it from then on. Nothing is
//! shared between shards but these messages.
//!
//! - [`cpus`]: which CPUs the shards run on.
//! - `mesh`: this shard's ends of the channel mesh, and the loops receiving from each peer.
//! - `state`: one shard's state: its sessions and timer wheel, its endpoints' handlers, its
//!   connection count and drain. Touched by its own thread only.

pub mod cpus;
pub(crate) mod mesh;
pub(crate) mod state;

use std::any::Any;
use std::os::fd::OwnedFd;

use bytes::Bytes;

use crate::engine::DisconnectReason;
use crate::http::Request;
use crate::protocol::sid::Sid;

/// Index of a shard, `0..shards`.
pub type ShardId = usize;

/// What one shard sends another.
pub enum ShardMsg {
    /// A client connection whose next request belongs to a session on the receiving shard.
    Handoff(Handoff),
    /// Close a session of the receiving shard at once (e.g. its client sent a body over
    /// `maxPayload`, or cut a POST short, on a connection another shard accepted).
    Abort { sid: Sid, reason: DisconnectReason },
    /// A message from one endpoint's handler to the same endpoint's handler on the receiving
    /// shard (the Socket.IO layer's broadcasts and requests ride here, one per batch).
    Peer { endpoint: usize, from: ShardId, msg: Box<dyn Any + Send> },
}

impl std::fmt::Debug for ShardMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShardMsg::Handoff(h) => f.debug_tuple("Handoff").field(h).finish(),
            ShardMsg::Abort { sid, reason } => {
                f.debug_struct("Abort").field("sid", sid).field("reason", reason).finish()
            }
            ShardMsg::Peer { endpoint, from, .. } => {
                f.debug_struct("Peer").field("endpoint", endpoint).field("from", from).finish_non_exhaustive()
            }
        }
    }
}

/// A connection moved to the shard that owns the session it asked for.
#[derive(Debug)]
pub struct Handoff {
    pub fd: OwnedFd,
    /// The request that named the other shard's session, already parsed.
    pub request: Request,
    /// Bytes read from the connection after that request, not yet parsed.
    pub rest: Bytes,
    /// The connection's TLS session, when it came in over TLS: its keys, sequence numbers and
    /// the records it already took from the socket, so the owner goes on where the sender
    /// stopped.
    pub tls: Option<Box<rustls::ServerConnection>>,
}
