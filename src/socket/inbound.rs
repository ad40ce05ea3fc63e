//! What other shards send this shard's Socket.IO layer, run in arrival order, giving the
//! shard back during large pieces of work: a broadcast from a peer reaching thousands of
//! sockets here is delivered [`CHUNK`] sockets at a time, with a yield between chunks, so the
//! shard's connections, timers and handlers run meanwhile instead of waiting for the whole
//! fan-out. An idle shard runs a message as it comes; only the rest of a long fan-out (and
//! what arrived behind it) goes to a task, so most messages cost none.
//!
//! The shard reads its peers' next messages only once the task is done with these
//! ([`Layer::poll_inbound_idle`]), so the bounded mesh channels still hold a fast peer back.
//!
//! Order is kept where it is defined. While the task has work, what arrives queues behind
//! it, and the next message starts only once the one before is wholly done, so a peer's
//! messages apply in the order it sent them (a broadcast before the `disconnectSockets` after it, every
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
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::layer::Layer;
use super::namespace::NamespaceState;
use crate::adapter::peer::PeerMsg;
use crate::adapter::{AdapterMsg, AdapterRequest, BroadcastOptions, BroadcastRequest, EncodedPacket};
use crate::protocol::sid::Sid;
use crate::server::EngineSocket;

/// Sockets served between two yields.
pub(crate) const CHUNK: usize = 1024;

/// Messages from the peers not yet run.
#[derive(Default)]
pub(crate) struct Inbound {
    queue: RefCell<VecDeque<Work>>,
    /// A task runs the queue.
    running: Cell<bool>,
    /// The peers' receive loops waiting for the task to finish.
    waiting: RefCell<Vec<Waker>>,
}

/// What the inbound task has left to do.
enum Work {
    Msg(PeerMsg),
    /// The rest of a broadcast whose first chunk was served.
    Rest(Fanout),
}

/// A peer's broadcast being served here.
struct Fanout {
    ns: Rc<NamespaceState>,
    opts: BroadcastOptions,
    packet: EncodedPacket,
    recipients: Vec<(Sid, EngineSocket)>,
    /// The first recipient not served yet.
    next: usize,
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
    /// Takes a message from a peer. An idle shard runs it here and now; only a broadcast
    /// longer than a chunk leaves work (its rest, and what came after it in the same batch)
    /// to the inbound task, so most messages cost no task.
    pub(crate) fn receive_from_peer(&self, msg: PeerMsg) {
        if self.inbound.running.get() {
            self.inbound.queue.borrow_mut().push_back(Work::Msg(msg));
            return;
        }
        match msg {
            PeerMsg::Batch(msgs) => self.run_here(msgs.into_iter()),
            msg => self.run_here(std::iter::once(msg)),
        }
    }

    /// Runs `msgs` in order until one leaves work for the inbound task, which then takes
    /// that work and the messages after it.
    fn run_here(&self, mut msgs: impl Iterator<Item = PeerMsg>) {
        while let Some(msg) = msgs.next() {
            if let Some(rest) = self.run_first_chunk(msg) {
                let mut queue = self.inbound.queue.borrow_mut();
                queue.push_back(Work::Rest(rest));
                queue.extend(msgs.map(Work::Msg));
                drop(queue);
                return self.start_inbound_task();
            }
        }
    }

    fn start_inbound_task(&self) {
        self.inbound.running.set(true);
        let layer = self.rc();
        self.spawn(async move {
            // Cleared however the task ends (a handler's panic included), so the next message
            // starts another task for what is left rather than queueing behind a dead one.
            let _running = Running(&layer.inbound);
            loop {
                let next = layer.inbound.queue.borrow_mut().pop_front();
                match next {
                    None => break,
                    Some(Work::Rest(rest)) => layer.finish_fanout(rest).await,
                    Some(Work::Msg(PeerMsg::Batch(msgs))) => {
                        for msg in msgs {
                            if let Some(rest) = layer.run_first_chunk(msg) {
                                layer.finish_fanout(rest).await;
                            }
                        }
                    }
                    Some(Work::Msg(msg)) => {
                        if let Some(rest) = layer.run_first_chunk(msg) {
                            layer.finish_fanout(rest).await;
                        }
                    }
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

    /// Runs one message; a broadcast to more than [`CHUNK`] sockets serves the first chunk
    /// and returns the rest.
    fn run_first_chunk(&self, msg: PeerMsg) -> Option<Fanout> {
        let request = match msg {
            PeerMsg::Adapter(AdapterMsg::Request(AdapterRequest::Broadcast(request))) => request,
            // Connection state recovery: logged when it arrives, delivered as any broadcast.
            PeerMsg::Recoverable { broadcast, offset } => {
                self.log_recoverable(&offset, &broadcast.nsp, &broadcast.opts, &broadcast.packet);
                broadcast
            }
            msg => {
                self.on_peer_message(msg);
                return None;
            }
        };
        let BroadcastRequest { nsp, opts, packet } = request;
        let ns = self.registry.get(&nsp)?;
        let packet = packet.local_copy();
        let recipients = ns.select(&opts);
        let first = recipients.len().min(CHUNK);
        self.deliver_to(&ns, &opts, &packet, None, &recipients[..first]);
        (first < recipients.len()).then_some(Fanout { ns, opts, packet, recipients, next: first })
    }

    /// Serves the rest of a broadcast, a chunk after each yield; a socket that left the
    /// namespace meanwhile is skipped.
    async fn finish_fanout(&self, mut fanout: Fanout) {
        while fanout.next < fanout.recipients.len() {
            crate::server::yield_now().await;
            let end = (fanout.next + CHUNK).min(fanout.recipients.len());
            let Fanout { ns, opts, packet, recipients, .. } = &fanout;
            let still: Vec<_> =
                recipients[fanout.next..end].iter().filter(|(id, _)| ns.has_socket(*id)).cloned().collect();
            self.deliver_to(ns, opts, packet, None, &still);
            fanout.next = end;
        }
    }
}
