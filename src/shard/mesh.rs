//! This shard's ends of the shard mesh: sending typed messages to a peer, and
//! the loops that receive from each peer.

use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::BytesMut;
use futures_lite::StreamExt;
use glommio::channels::channel_mesh::{Receivers, Senders};
use glommio::net::TcpStream;

use super::state::Shard;
use crate::metrics::{Direction, MeshKind, ShardMetrics};
use crate::server::Stats;
use crate::server::conn::{Conn, serve};
use crate::server::stream::Io;
use crate::shard::{ShardId, ShardMsg};

pub(crate) struct Mesh {
    senders: Senders<ShardMsg>,
    metrics: Arc<ShardMetrics>,
}

impl Mesh {
    pub(crate) fn new(senders: Senders<ShardMsg>, metrics: Arc<ShardMetrics>) -> Rc<Mesh> {
        Rc::new(Mesh { senders, metrics })
    }

    /// Sends to `peer`, waiting while its channel is full. `Err` if the peer is gone (the
    /// message is dropped: a handed-off connection closes).
    pub(crate) async fn send(&self, peer: ShardId, msg: impl Into<ShardMsg>) -> Result<(), ()> {
        let msg = msg.into();
        let kind = kind(&msg);
        self.senders.send_to(peer, msg).await.map_err(|_| ())?;
        self.metrics.mesh(Direction::Out, kind);
        Ok(())
    }
}

fn kind(msg: &ShardMsg) -> MeshKind {
    match msg {
        ShardMsg::Handoff(_) => MeshKind::Handoff,
        ShardMsg::Abort { .. } => MeshKind::Abort,
        ShardMsg::Peer { .. } => MeshKind::Peer,
    }
}

impl From<crate::shard::Handoff> for ShardMsg {
    fn from(h: crate::shard::Handoff) -> Self {
        ShardMsg::Handoff(h)
    }
}

/// Spawns one loop per peer that serves what the peer sends.
pub(crate) fn spawn_receivers(
    shard: &Rc<Shard>,
    mesh: &Rc<Mesh>,
    mut receivers: Receivers<ShardMsg>,
    stats: Arc<Stats>,
) {
    for (_peer, mut stream) in receivers.streams() {
        let shard = shard.clone();
        let mesh = mesh.clone();
        let stats = stats.clone();
        glommio::spawn_local(async move {
            while let Some(msg) = stream.next().await {
                shard.metrics.mesh(Direction::In, kind(&msg));
                match msg {
                    ShardMsg::Handoff(h) => {
                        stats.handoffs.fetch_add(1, Ordering::Relaxed);
                        // SAFETY: the sender dup'ed this descriptor for us alone.
                        let stream = unsafe { TcpStream::from_raw_fd(h.fd.into_raw_fd()) };
                        let Ok(peer) = stream.peer_addr() else { continue };
                        // A request for a session of ours: counted, never refused.
                        let slot = shard.admission.track(peer.ip());
                        let stream = match h.tls {
                            Some(tls) => Io::tls(stream, tls),
                            None => Io::plain(stream),
                        };
                        let conn = Conn::new(stream, BytesMut::from(&h.rest[..]), peer, slot);
                        glommio::spawn_local(serve(shard.clone(), mesh.clone(), conn, Some(h.request)))
                            .detach();
                    }
                    ShardMsg::Abort { sid, reason } => shard.abort(sid, reason),
                    ShardMsg::Peer { endpoint, from, msg } => {
                        if let Some((_, handler)) = shard.endpoints.get(endpoint) {
                            handler.on_peer_message(from, msg);
                            std::future::poll_fn(|cx| handler.poll_peer_ready(cx)).await;
                        }
                    }
                }
            }
        })
        .detach();
    }
}
