//! Operations that wait for other shards' answers, from the side that asked: a broadcast
//! with acks (Node's `io.timeout(ms).emit(ev, …, (err, responses) => …)`) and
//! `fetchSockets`.
//!
//! Each has a [`RequestId`] from this shard's [`Requests`] table, through which the peers'
//! [`AdapterResponse`]s come back (this shard's own answers too, so every answer takes one
//! path). The operation is sent when it is started, as Node sends at `emit`; the handle
//! returned only waits, at most the operation's timeout, and cleans up when dropped.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytestring::ByteString;
use futures_channel::mpsc;
use futures_lite::StreamExt;

use super::acks::{AckSink, AckTally, broadcast_ack_id};
use super::layer::Layer;
use super::namespace::NamespaceState;
use super::peer::{DEFAULT_REQUEST_TIMEOUT, PeerMsg, Reach};
use crate::adapter::{
    AdapterRequest, AdapterResponse, BroadcastOptions, BroadcastRequest, EncodedPacket, RequestId,
    SocketDetails,
};
use crate::protocol::sid::Sid;
use crate::protocol::value::Value;
use crate::server::sleep;
use crate::shard::ShardId;

/// This shard's open requests, by sequence number.
#[derive(Default)]
pub(crate) struct Requests {
    next: Cell<u64>,
    open: RefCell<HashMap<u64, mpsc::UnboundedSender<AdapterResponse>>>,
}

impl Requests {
    fn open(&self, origin: ShardId) -> (RequestId, mpsc::UnboundedReceiver<AdapterResponse>) {
        let seq = self.next.get();
        self.next.set(seq.wrapping_add(1));
        let (tx, rx) = mpsc::unbounded();
        self.open.borrow_mut().insert(seq, tx);
        (RequestId::new(origin, seq), rx)
    }

    fn close(&self, id: RequestId) {
        self.open.borrow_mut().remove(&id.seq);
    }

    /// Hands a response to the request waiting for it; late ones are dropped.
    pub(crate) fn answer(&self, response: AdapterResponse) {
        if let Some(tx) = self.open.borrow().get(&response.id().seq) {
            let _ = tx.unbounded_send(response);
        }
    }
}

/// Waits for the next response, or `None` once `timer` fires.
async fn next_or_timeout<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    timer: &mut std::pin::Pin<Box<impl Future<Output = ()>>>,
) -> Option<T> {
    futures_lite::future::or(rx.next(), async {
        timer.await;
        None
    })
    .await
}

/// A broadcast with acks under way.
pub(crate) struct AckWait {
    layer: Rc<Layer>,
    id: RequestId,
    rx: mpsc::UnboundedReceiver<AdapterResponse>,
    tally: AckTally,
    timeout: Duration,
    /// This shard's recipients, whose acks are forgotten once the wait ends (as Node's
    /// operator deletes them from the namespace's sockets on timeout).
    local: Option<(Rc<NamespaceState>, Vec<Sid>, u64)>,
}

impl AckWait {
    /// Every response once each shard counted its recipients and each recipient answered;
    /// `Err` with those that came when the timeout passed first.
    pub(crate) async fn wait(mut self) -> Result<Vec<Value>, Vec<Value>> {
        let mut timer = Box::pin(sleep(self.timeout));
        loop {
            if self.tally.is_complete() {
                return Ok(self.take());
            }
            match next_or_timeout(&mut self.rx, &mut timer).await {
                Some(AdapterResponse::ClientCount { count, .. }) => self.tally.client_count(count),
                Some(AdapterResponse::Ack { response, .. }) => self.tally.response(response),
                Some(_) => {}
                None => return Err(self.take()),
            }
        }
    }

    fn take(&mut self) -> Vec<Value> {
        std::mem::replace(&mut self.tally, AckTally::new(0)).into_responses()
    }
}

impl Drop for AckWait {
    fn drop(&mut self) {
        self.layer.requests.close(self.id);
        if let Some((ns, recipients, ack_id)) = self.local.take() {
            for socket in recipients {
                ns.forget_ack(socket, ack_id);
            }
        }
    }
}

/// A `fetchSockets` under way.
pub(crate) struct FetchWait {
    layer: Rc<Layer>,
    id: Option<RequestId>,
    rx: Option<mpsc::UnboundedReceiver<AdapterResponse>>,
    peers: usize,
    sockets: Vec<SocketDetails>,
    timeout: Duration,
}

impl FetchWait {
    /// The sockets of every shard that answered in time.
    pub(crate) async fn wait(mut self) -> Vec<SocketDetails> {
        if let Some(mut rx) = self.rx.take() {
            let mut timer = Box::pin(sleep(self.timeout));
            let mut answered = 0;
            while answered < self.peers {
                match next_or_timeout(&mut rx, &mut timer).await {
                    Some(AdapterResponse::Sockets { sockets, .. }) => {
                        answered += 1;
                        self.sockets.extend(sockets);
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        }
        std::mem::take(&mut self.sockets)
    }
}

impl Drop for FetchWait {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.layer.requests.close(id);
        }
    }
}

impl Layer {
    /// Sends an event with one ack id to the sockets `opts` selects on the shards of `reach`.
    pub(crate) fn start_broadcast_with_ack(
        &self,
        reach: Reach,
        nsp: &ByteString,
        mut opts: BroadcastOptions,
        event: &str,
        args: &[Value],
    ) -> AckWait {
        // The timeout travels with the request: each shard forgets unanswered acks after it.
        let timeout = opts.flags.timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        opts.flags.timeout = Some(timeout);
        let ctx = self.ctx();
        let (id, rx) = self.requests.open(ctx.id());
        let ack_id = broadcast_ack_id(id.seq, ctx.id(), ctx.shards());
        let packet = Arc::new(EncodedPacket::event(nsp.clone(), event, args, Some(ack_id)));
        let mut tally = AckTally::new(self.servers(reach));
        let mut local = None;
        if self.reaches_me(reach) {
            let mut count = 0;
            if let Some(ns) = self.registry.get(nsp) {
                let layer = self.rc();
                let sink: AckSink =
                    Rc::new(move |response| layer.requests.answer(AdapterResponse::Ack { id, response }));
                let recipients: Vec<Sid> = self
                    .deliver(&ns, &opts, &packet, Some((ack_id, &sink)))
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
                count = recipients.len();
                local = Some((ns, recipients, ack_id));
            }
            tally.client_count(count);
        }
        self.send_peers(reach, || {
            let broadcast = BroadcastRequest::new(nsp.clone(), opts.clone(), packet.clone());
            PeerMsg::Adapter(AdapterRequest::BroadcastWithAck { id, ack_id, broadcast }.into())
        });
        AckWait { layer: self.rc(), id, rx, tally, timeout, local }
    }

    /// Asks the shards of `reach` for the sockets `opts` selects (Node's `fetchSockets`,
    /// bounded by `opts`' timeout or 5 s, as Node's cluster adapters bound it).
    pub(crate) fn start_fetch(&self, reach: Reach, nsp: &ByteString, opts: BroadcastOptions) -> FetchWait {
        let timeout = opts.flags.timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        let sockets = if self.reaches_me(reach) { self.local_details(nsp, &opts) } else { Vec::new() };
        let mut wait = FetchWait { layer: self.rc(), id: None, rx: None, peers: 0, sockets, timeout };
        if self.servers(reach) > 1 || !self.reaches_me(reach) {
            let (id, rx) = self.requests.open(self.ctx().id());
            wait.peers = self.send_peers(reach, || {
                let request = AdapterRequest::FetchSockets { id, nsp: nsp.clone(), opts: opts.clone() };
                PeerMsg::Adapter(request.into())
            });
            wait.id = Some(id);
            wait.rx = Some(rx);
        }
        wait
    }
}
