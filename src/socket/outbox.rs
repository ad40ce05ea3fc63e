//! What this shard's Socket.IO layer sends each other shard, batched: every message queued for
//! a peer while the shard runs goes out as one mesh message, so a burst of broadcasts costs
//! each peer one channel send and one wake-up, not one per broadcast.
//!
//! One flusher task per peer sends the batches in the order they were queued: a peer sees
//! this shard's messages in order, which the layer relies on (an answer counted after the
//! broadcasts before it).

use std::cell::RefCell;

use super::peer::PeerMsg;
use crate::shard::ShardId;

/// Messages waiting for each peer.
#[derive(Default)]
pub(crate) struct Outbox {
    peers: RefCell<Vec<Pending>>,
}

#[derive(Default)]
struct Pending {
    msgs: Vec<PeerMsg>,
    /// A flusher task is running for this peer (it takes what is queued until none is).
    flushing: bool,
}

impl Outbox {
    /// Queues `msg` for `peer`; `true` when no flusher runs for it and the caller must start
    /// one.
    pub(crate) fn push(&self, peer: ShardId, msg: PeerMsg) -> bool {
        let mut peers = self.peers.borrow_mut();
        if peers.len() <= peer {
            peers.resize_with(peer + 1, Pending::default);
        }
        let pending = &mut peers[peer];
        pending.msgs.push(msg);
        !std::mem::replace(&mut pending.flushing, true)
    }

    /// The next batch for `peer`'s flusher; `None` when nothing is queued, and the flusher
    /// then stops.
    pub(crate) fn take(&self, peer: ShardId) -> Option<Vec<PeerMsg>> {
        let mut peers = self.peers.borrow_mut();
        let pending = peers.get_mut(peer)?;
        if pending.msgs.is_empty() {
            pending.flushing = false;
            return None;
        }
        Some(std::mem::take(&mut pending.msgs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::AdapterRequest;

    fn msg(n: u64) -> PeerMsg {
        let request = AdapterRequest::SocketIds {
            id: crate::adapter::RequestId { origin: 0, seq: n },
            nsp: "/".into(),
            rooms: Vec::new(),
        };
        PeerMsg::Adapter(request.into())
    }

    fn seqs(batch: Vec<PeerMsg>) -> Vec<u64> {
        batch
            .into_iter()
            .map(|m| match m {
                PeerMsg::Adapter(crate::adapter::AdapterMsg::Request(AdapterRequest::SocketIds {
                    id,
                    ..
                })) => id.seq,
                _ => panic!("unexpected message"),
            })
            .collect()
    }

    #[test]
    fn one_flusher_per_peer_takes_everything_in_order() {
        let outbox = Outbox::default();
        assert!(outbox.push(1, msg(1)), "the first message starts a flusher");
        assert!(!outbox.push(1, msg(2)), "a running flusher takes the second too");
        assert!(outbox.push(0, msg(9)), "peers are independent");
        assert_eq!(seqs(outbox.take(1).expect("a batch")), [1, 2]);
        // Queued while the flusher was sending: no second flusher, the same one takes it.
        assert!(!outbox.push(1, msg(3)));
        assert_eq!(seqs(outbox.take(1).expect("a batch")), [3]);
        assert!(outbox.take(1).is_none(), "empty: the flusher stops");
        assert!(outbox.push(1, msg(4)), "and the next message starts a new one");
        assert_eq!(seqs(outbox.take(0).expect("a batch")), [9]);
        assert!(outbox.take(7).is_none());
    }
}
