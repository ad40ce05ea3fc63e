//! What this shard's Socket.IO layer sends each other shard, batched: every message queued for
//! a peer while the shard runs goes out as one mesh message, so a burst of broadcasts costs
//! each peer one channel send and one wake-up, not one per broadcast.
//!
//! One flusher task per peer sends the batches in the order they were queued: a peer sees
//! this shard's messages in order, which the layer relies on (an answer counted after the
//! broadcasts before it).
//!
//! Each peer's queue is bounded ([`SocketIo::shard_outbox_capacity`]): a peer that does not
//! take its batches (the mesh channel to it full, the peer busy) makes the producer see
//! "full", as the mesh's own `try_send` hands the item back, instead of the queue growing
//! without end. The caller drops the message then (see `Layer::send_peer`). glommio polls a
//! spawned task at once, so a flusher sends the first message right away and batches form
//! while it waits on a full mesh channel: exactly when the bound matters.
//!
//! [`SocketIo::shard_outbox_capacity`]: crate::socket::SocketIo::shard_outbox_capacity

use std::cell::RefCell;

use super::peer::PeerMsg;
use crate::shard::ShardId;

/// Messages waiting for each peer.
pub(crate) struct Outbox {
    peers: RefCell<Vec<Pending>>,
    /// The most messages queued for one peer.
    capacity: usize,
}

#[derive(Default)]
struct Pending {
    msgs: Vec<PeerMsg>,
    /// A flusher task is running for this peer (it takes what is queued until none is).
    flushing: bool,
}

/// What became of a message given to [`Outbox::push`].
pub(crate) enum Pushed {
    /// Queued; a flusher runs for the peer already.
    Queued,
    /// Queued; no flusher runs for the peer, the caller must start one.
    StartFlusher,
    /// Not queued, handed back: the peer has `capacity` messages waiting already.
    Full(PeerMsg),
}

impl Outbox {
    pub(crate) fn new(capacity: usize) -> Self {
        Outbox { peers: RefCell::new(Vec::new()), capacity: capacity.max(1) }
    }

    /// Queues `msg` for `peer`, unless its queue is full.
    pub(crate) fn push(&self, peer: ShardId, msg: PeerMsg) -> Pushed {
        let mut peers = self.peers.borrow_mut();
        if peers.len() <= peer {
            peers.resize_with(peer + 1, Pending::default);
        }
        let pending = &mut peers[peer];
        if pending.msgs.len() >= self.capacity {
            return Pushed::Full(msg);
        }
        pending.msgs.push(msg);
        match std::mem::replace(&mut pending.flushing, true) {
            true => Pushed::Queued,
            false => Pushed::StartFlusher,
        }
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

    /// Whether the push started a flusher.
    fn push(outbox: &Outbox, peer: ShardId, n: u64) -> bool {
        match outbox.push(peer, msg(n)) {
            Pushed::StartFlusher => true,
            Pushed::Queued => false,
            Pushed::Full(_) => panic!("no room in the outbox"),
        }
    }

    #[test]
    fn one_flusher_per_peer_takes_everything_in_order() {
        let outbox = Outbox::new(16);
        assert!(push(&outbox, 1, 1), "the first message starts a flusher");
        assert!(!push(&outbox, 1, 2), "a running flusher takes the second too");
        assert!(push(&outbox, 0, 9), "peers are independent");
        assert_eq!(seqs(outbox.take(1).expect("a batch")), [1, 2]);
        // Queued while the flusher was sending: no second flusher, the same one takes it.
        assert!(!push(&outbox, 1, 3));
        assert_eq!(seqs(outbox.take(1).expect("a batch")), [3]);
        assert!(outbox.take(1).is_none(), "empty: the flusher stops");
        assert!(push(&outbox, 1, 4), "and the next message starts a new one");
        assert_eq!(seqs(outbox.take(0).expect("a batch")), [9]);
        assert!(outbox.take(7).is_none());
    }

    #[test]
    fn a_full_peer_hands_the_message_back_and_frees_room_as_its_flusher_takes() {
        let outbox = Outbox::new(2);
        assert!(push(&outbox, 1, 1));
        assert!(!push(&outbox, 1, 2));
        let Pushed::Full(back) = outbox.push(1, msg(3)) else { panic!("a third message fits in two") };
        assert_eq!(seqs(vec![back]), [3], "the refused message comes back");
        assert!(push(&outbox, 0, 7), "another peer has its own room");
        assert_eq!(seqs(outbox.take(1).expect("a batch")), [1, 2], "the refused one is not queued");
        assert!(!push(&outbox, 1, 4), "room again once the flusher took the batch");
    }
}
