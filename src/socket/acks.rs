//! Server-side acknowledgements: which ack ids a socket's packets carry, what waits for each
//! answer, and when a broadcast's acks are complete (Node socket.io 4.8
//! `BroadcastOperator.emit` with a callback, socket.io-adapter's `broadcastWithAck`).
//!
//! Two id spaces share each socket's table of pending acks, so they can never collide:
//!
//! - `socket.emit_with_ack` counts per socket from 0 (`420[…]`, `421[…]`, …), below
//!   [`BROADCAST_ACK_BASE`], wrapping there and skipping ids still pending.
//! - A broadcast is encoded once, so all its recipients, on every shard, get one id. The
//!   origin shard picks it as `BROADCAST_ACK_BASE + seq × shards + origin`, `seq` being the
//!   origin's [`RequestId`](crate::adapter::RequestId) sequence: distinct between shards by the
//!   remainder, within a shard by `seq`. Node shares one counter per namespace (`nsp._ids`)
//!   between both kinds; a counter per shard cannot be shared with peers without a round trip.
//!
//! Every id stays below 2^53, so JavaScript clients read it exactly.
//!
//! The origin of a broadcast with acks learns from each shard how many clients it reached
//! (`ClientCount`) and then gets each client's first ack argument (`Ack`); the [`AckTally`]
//! says when every shard answered and every counted client acked.

use std::rc::Rc;

use futures_channel::oneshot;

use crate::protocol::value::Value;

/// Where broadcast ack ids start; per-socket ids stay below.
pub(crate) const BROADCAST_ACK_BASE: u64 = 1_000_000_000;

/// The largest id a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_ID: u64 = (1 << 53) - 1;

/// Where each answer to a broadcast's ack goes, on the shard of the answering socket.
pub(crate) type AckSink = Rc<dyn Fn(Value)>;

/// What waits for a client's ack.
pub(crate) enum AckWaiter {
    /// `socket.emit_with_ack`: every argument.
    Socket(oneshot::Sender<Vec<Value>>),
    /// A broadcast: the first argument (`Null` when none), as Node's adapter callback keeps it.
    Broadcast(AckSink),
}

impl AckWaiter {
    pub(crate) fn answer(self, mut args: Vec<Value>) {
        match self {
            AckWaiter::Socket(sender) => {
                let _ = sender.send(args);
            }
            AckWaiter::Broadcast(sink) => {
                let first = if args.is_empty() { Value::Null } else { args.swap_remove(0) };
                sink(first)
            }
        }
    }
}

/// The next per-socket ack id from `next`, skipping ids still `pending`; returns it and the
/// counter's new value.
pub(crate) fn next_socket_ack_id(mut next: u64, pending: impl Fn(u64) -> bool) -> (u64, u64) {
    loop {
        let id = if next >= BROADCAST_ACK_BASE { 0 } else { next };
        next = id + 1;
        if !pending(id) {
            return (id, next);
        }
    }
}

/// The ack id of broadcast request `seq` from shard `origin` of `shards`.
pub(crate) fn broadcast_ack_id(seq: u64, origin: usize, shards: usize) -> u64 {
    let shards = shards.max(1) as u64;
    let slots = (MAX_SAFE_ID - BROADCAST_ACK_BASE) / shards;
    BROADCAST_ACK_BASE + (seq % slots) * shards + origin as u64 % shards
}

/// The answers to one broadcast with acks, as they come in from the shards it reached.
#[derive(Debug)]
pub(crate) struct AckTally {
    servers: usize,
    answered: usize,
    expected_clients: usize,
    responses: Vec<Value>,
}

impl AckTally {
    /// A broadcast that reached `servers` shards (this one included), none answered yet.
    pub(crate) fn new(servers: usize) -> Self {
        AckTally { servers, answered: 0, expected_clients: 0, responses: Vec::new() }
    }

    /// How many shards and servers are to count their recipients.
    pub(crate) fn servers(&self) -> usize {
        self.servers
    }

    /// How many shards or servers counted so far, and the clients they counted.
    pub(crate) fn counted(&self) -> (usize, usize) {
        (self.answered, self.expected_clients)
    }

    /// `more` servers of a cluster will count theirs too.
    pub(crate) fn add_servers(&mut self, more: usize) {
        self.servers += more;
    }

    /// A shard sent the packet to `clients` of its sockets.
    pub(crate) fn client_count(&mut self, clients: usize) {
        self.answered += 1;
        self.expected_clients += clients;
    }

    pub(crate) fn response(&mut self, value: Value) {
        self.responses.push(value);
    }

    /// Every shard answered and every client it counted acked (Node's `checkCompleteness`).
    pub(crate) fn is_complete(&self) -> bool {
        self.answered == self.servers && self.responses.len() == self.expected_clients
    }

    /// The responses so far, in arrival order.
    pub(crate) fn into_responses(self) -> Vec<Value> {
        self.responses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn socket_ids_count_wrap_and_skip_pending() {
        assert_eq!(next_socket_ack_id(0, |_| false), (0, 1));
        assert_eq!(next_socket_ack_id(7, |_| false), (7, 8));
        assert_eq!(next_socket_ack_id(3, |id| id == 3 || id == 4), (5, 6));
        assert_eq!(next_socket_ack_id(BROADCAST_ACK_BASE, |_| false), (0, 1));
        assert_eq!(next_socket_ack_id(BROADCAST_ACK_BASE - 1, |id| id != 1), (1, 2));
    }

    #[test]
    fn broadcast_ids_are_disjoint_between_shards_and_js_safe() {
        assert_eq!(broadcast_ack_id(0, 0, 2), 1_000_000_000);
        assert_eq!(broadcast_ack_id(0, 1, 2), 1_000_000_001);
        assert_eq!(broadcast_ack_id(1, 0, 2), 1_000_000_002);
        assert_eq!(broadcast_ack_id(5, 3, 4), 1_000_000_023);
        let mut seen = std::collections::HashSet::new();
        for seq in 0..50 {
            for origin in 0..3 {
                assert!(seen.insert(broadcast_ack_id(seq, origin, 3)));
            }
        }
        for shards in [1, 2, 7, 64] {
            let id = broadcast_ack_id(u64::MAX, shards - 1, shards);
            assert!((BROADCAST_ACK_BASE..=MAX_SAFE_ID).contains(&id), "{id}");
        }
    }

    #[test]
    fn tally_completes_once_every_server_and_client_answered() {
        let mut tally = AckTally::new(2);
        assert!(!tally.is_complete());
        tally.client_count(2);
        tally.response(Value::from(1));
        // An ack may overtake its shard's count.
        tally.response(Value::from(2));
        tally.response(Value::from(3));
        assert!(!tally.is_complete(), "shard 2 has not counted");
        tally.client_count(1);
        assert!(tally.is_complete());
        assert_eq!(tally.into_responses(), [Value::from(1), Value::from(2), Value::from(3)]);

        let mut empty = AckTally::new(1);
        empty.client_count(0);
        assert!(empty.is_complete());
    }

    #[test]
    fn waiters_hand_over_all_or_first_argument() {
        let (tx, mut rx) = oneshot::channel();
        AckWaiter::Socket(tx).answer(vec![Value::from(1), Value::from(2)]);
        assert_eq!(rx.try_recv().ok().flatten(), Some(vec![Value::from(1), Value::from(2)]));

        let got = Rc::new(RefCell::new(Vec::new()));
        let sink = got.clone();
        let waiter = || {
            AckWaiter::Broadcast(Rc::new({
                let sink = sink.clone();
                move |v| sink.borrow_mut().push(v)
            }))
        };
        waiter().answer(vec![Value::from("a"), Value::from("b")]);
        waiter().answer(Vec::new());
        assert_eq!(*got.borrow(), [Value::from("a"), Value::Null]);
    }
}
