//! What other shards send this shard's Socket.IO layer, run in arrival order by one task that
//! gives the shard back between large pieces of work: a broadcast from a peer reaching
//! thousands of sockets here is delivered [`CHUNK`] sockets at a time, with a yield between
//! chunks, so the shard's connections, timers and handlers run meanwhile instead of waiting
//! for the whole fan-out.
//!
//! The shard reads its peers' next messages only once the task is done with these
//! ([`Layer::poll_inbound_idle`]), so the bounded mesh channels still hold a fast peer back.
//!
//! Order is kept where it is defined. Every message from the peers goes through one queue,
//! and the next starts only once the one before is wholly done, so a peer's messages apply in
//! the order it sent them (a broadcast before the `disconnectSockets` after it, every
//! broadcast before the answer that counts it). What runs on this shard meanwhile (a local
//! emit, a socket leaving) has no order with a peer's broadcast, as in Node between two
//! processes of a cluster: the recipients are chosen when the broadcast starts, and a socket
//! that left the namespace before its chunk is skipped.
//!
//! A broadcast made on this shard stays one synchronous loop, as Node's adapter is: the emit
//! that made it returns with every local socket served, so what the same code sends next
//! comes after it for each socket.
//!
//! glommio's `yield_if_needed` only yields once the task queue's preempt timer (100 ms by
//! default) has run out, which a fan-out to 10 000 sockets (a few ms) never reaches; a plain
//! yield per chunk bounds what others wait to a chunk's time instead, for one wake-up per
//! chunk.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use super::layer::Layer;
use super::peer::PeerMsg;
use crate::adapter::{AdapterMsg, AdapterRequest, BroadcastRequest};

/// Sockets served between two yields.
pub(crate) const CHUNK: usize = 1024;

/// Messages from the peers not yet run.
#[derive(Default)]
pub(crate) struct Inbound {
    queue: RefCell<VecDeque<PeerMsg>>,
    /// A task runs the queue.
    running: Cell<bool>,
    /// The peers' receive loops waiting for the task to finish.
    waiting: RefCell<Vec<Waker>>,
}

/// Marks the inbound task as running while it lives; its end wakes the waiting receive loops.
struct Running<'a>(&'a Inbound);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.set(false);
        let waiting = std::mem::take(&mut *self.0.waiting.borrow_mut());
        waiting.into_iter().for_each(Waker::wake);
    }
}

impl Layer {
    /// Takes a message from a peer: queued, and run by the inbound task (started here if
    /// none runs; glommio polls it at once, so an idle shard runs the message right away).
    pub(crate) fn receive_from_peer(&self, msg: PeerMsg) {
        self.inbound.queue.borrow_mut().push_back(msg);
        if self.inbound.running.replace(true) {
            return;
        }
        let layer = self.rc();
        self.spawn(async move {
            // Cleared however the task ends (a handler's panic included), so the next message
            // starts another task for what is left rather than queueing behind a dead one.
            let _running = Running(&layer.inbound);
            loop {
                let next = layer.inbound.queue.borrow_mut().pop_front();
                let Some(msg) = next else { break };
                match msg {
                    PeerMsg::Batch(msgs) => {
                        for msg in msgs {
                            layer.run_from_peer(msg).await;
                        }
                    }
                    msg => layer.run_from_peer(msg).await,
                }
            }
        });
    }

    /// Ready once no message from a peer is left to run: the receive loops read the next one
    /// only then, so the inbound queue holds at most what one mesh message carried, and a
    /// peer that sends faster than this shard serves fills the mesh channel, then its own
    /// bounded outbox.
    pub(crate) fn poll_inbound_idle(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.inbound.running.get() {
            return Poll::Ready(());
        }
        let mut waiting = self.inbound.waiting.borrow_mut();
        if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// One message: a broadcast in chunks, anything else at once.
    async fn run_from_peer(&self, msg: PeerMsg) {
        let PeerMsg::Adapter(AdapterMsg::Request(AdapterRequest::Broadcast(request))) = msg else {
            return self.on_peer_message(msg);
        };
        let BroadcastRequest { nsp, opts, packet } = request;
        let Some(ns) = self.registry.get(&nsp) else { return };
        let packet = packet.local_copy();
        let recipients = ns.select(&opts);
        let mut chunks = recipients.chunks(CHUNK);
        if let Some(first) = chunks.next() {
            self.deliver_to(&ns, &opts, &packet, None, first);
        }
        for chunk in chunks {
            crate::server::yield_now().await;
            let still: Vec<_> = chunk.iter().filter(|(id, _)| ns.has_socket(*id)).cloned().collect();
            self.deliver_to(&ns, &opts, &packet, None, &still);
        }
    }
}
