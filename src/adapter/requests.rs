//! Operations that wait for other shards' answers, and with a cluster adapter for other
//! servers' answers, from the side that asked: a broadcast with acks (Node's
//! `io.timeout(ms).emit(ev, …, (err, responses) => …)`), `fetchSockets`, `allSockets`,
//! `allRooms` and `serverSideEmit` with acks.
//!
//! Each has a [`RequestId`] from this shard's [`Requests`] table, through which the peers'
//! [`AdapterResponse`]s come back (this shard's own answers too, so every answer takes one
//! path). The operation is sent when it is started, as Node sends at `emit`; the handle
//! returned only waits, at most the operation's timeout, and cleans up when dropped.
//!
//! Another server's answers come through this shard's cluster adapter: it knows the request
//! by the id it published, and how many servers should answer from `PUBSUB NUMSUB` (Node's
//! `serverCount`), asked once the request is out, as Node does.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytestring::ByteString;
use futures_channel::mpsc;
use futures_lite::StreamExt;

use super::peer::{DEFAULT_REQUEST_TIMEOUT, PeerMsg, Reach};
use crate::adapter::{
    AdapterRequest, AdapterResponse, BroadcastOptions, BroadcastRequest, EncodedPacket, RequestId, Room,
    SocketDetails,
};
use crate::cluster::adapter::ClusterShard;
use crate::cluster::wire::{Request, Response, WirePacket};
use crate::protocol::sid::Sid;
use crate::protocol::value::Value;
use crate::server::sleep;
use crate::shard::ShardId;
use crate::socket::acks::{AckSink, AckTally, broadcast_ack_id};
use crate::socket::layer::Layer;
use crate::socket::namespace::NamespaceState;

/// This shard's open requests, by sequence number.
#[derive(Default)]
pub(crate) struct Requests {
    next: Cell<u64>,
    open: RefCell<HashMap<u64, mpsc::UnboundedSender<AdapterResponse>>>,
}

impl Requests {
    pub(crate) fn open(&self, origin: ShardId) -> (RequestId, mpsc::UnboundedReceiver<AdapterResponse>) {
        let seq = self.next.get();
        self.next.set(seq.wrapping_add(1));
        let (tx, rx) = mpsc::unbounded();
        self.open.borrow_mut().insert(seq, tx);
        (RequestId::new(origin, seq), rx)
    }

    pub(crate) fn close(&self, id: RequestId) {
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
    /// The request published to the other servers, and the namespace asked.
    cluster: Option<(Rc<ClusterShard>, String, ByteString)>,
}

impl AckWait {
    /// Every response once each shard and each other server counted its recipients and each
    /// recipient answered; `Err` with those that came when the timeout passed first.
    pub(crate) async fn wait(mut self) -> Result<Vec<Value>, Vec<Value>> {
        let mut timer = Box::pin(sleep(self.timeout));
        if !self.count_servers(&mut timer).await {
            return Err(self.take());
        }
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

    /// Adds the other servers to the tally (Node's `serverCount() - 1`); `false` when the
    /// timeout passed first. Redis unreachable: no other server can answer.
    async fn count_servers(&mut self, timer: &mut std::pin::Pin<Box<impl Future<Output = ()>>>) -> bool {
        let Some((cluster, _, nsp)) = &self.cluster else { return true };
        let count = futures_lite::future::or(async { Some(cluster.server_count(nsp).await) }, async {
            timer.await;
            None
        })
        .await;
        match count {
            Some(count) => {
                self.tally.add_servers(count.unwrap_or(1).saturating_sub(1));
                true
            }
            None => false,
        }
    }

    /// For another server's request: `count` once every shard counted its recipients (their
    /// sum: this process is one server), and each client's answer as it comes, until all
    /// answered or the timeout passed.
    pub(crate) async fn relay(mut self, mut count: impl FnMut(usize), mut ack: impl FnMut(Value)) {
        let mut timer = Box::pin(sleep(self.timeout));
        // This shard's count is in the tally already; its clients' acks come as the others'.
        let (mut counted, mut clients) = self.tally.counted();
        let mut acked = 0;
        let shards = self.tally.servers();
        if counted == shards {
            count(clients);
        }
        while counted < shards || acked < clients {
            match next_or_timeout(&mut self.rx, &mut timer).await {
                Some(AdapterResponse::ClientCount { count: n, .. }) => {
                    counted += 1;
                    clients += n;
                    if counted == shards {
                        count(clients);
                    }
                }
                Some(AdapterResponse::Ack { response, .. }) => {
                    acked += 1;
                    ack(response);
                }
                Some(_) => {}
                None => return,
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
        if let Some((cluster, request_id, _)) = self.cluster.take() {
            cluster.close_request(&request_id);
        }
        if let Some((ns, recipients, ack_id)) = self.local.take() {
            for socket in recipients {
                ns.forget_ack(socket, ack_id);
            }
        }
    }
}

/// Answers gathered from the shards of a [`Reach`] (and this shard's own, given at the
/// start), each shard's at most once, until all answered or the timeout passed.
pub(crate) struct Gather {
    layer: Rc<Layer>,
    id: Option<RequestId>,
    rx: Option<mpsc::UnboundedReceiver<AdapterResponse>>,
    peers: usize,
    timeout: Duration,
}

impl Gather {
    async fn wait(mut self) -> Vec<AdapterResponse> {
        let mut answers = Vec::new();
        if let Some(mut rx) = self.rx.take() {
            let mut timer = Box::pin(sleep(self.timeout));
            while answers.len() < self.peers {
                match next_or_timeout(&mut rx, &mut timer).await {
                    Some(answer) => answers.push(answer),
                    None => break,
                }
            }
        }
        answers
    }
}

impl Drop for Gather {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.layer.requests.close(id);
        }
    }
}

/// Why a request to the other servers of a cluster ended without every answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum ClusterRequestError {
    /// Node's "timeout reached": some servers did not answer in time.
    #[error("timeout reached: only {received} responses received out of {expected}")]
    Timeout {
        /// How many servers answered in time.
        received: usize,
        /// How many servers were asked.
        expected: usize,
    },
}

/// Publishes the request `make(uid, request_id)` to the other servers of the cluster and
/// waits for one answer from each (Node's `serverCount() - 1`), at most `timeout`; none to
/// wait for when there is no other server (or Redis cannot count them). `Err` with the answers
/// that came when some did not.
async fn ask_other_servers(
    cluster: &ClusterShard,
    nsp: &ByteString,
    timeout: Duration,
    make: impl FnOnce(String, String) -> Request,
) -> Result<Vec<Response>, (Vec<Response>, ClusterRequestError)> {
    let expected = cluster.server_count(nsp).await.unwrap_or(1).saturating_sub(1);
    if expected == 0 {
        return Ok(Vec::new());
    }
    let (request_id, mut rx) = cluster.open_request();
    cluster.publish_request(nsp, &make(cluster.uid().to_owned(), request_id.clone()));
    let mut timer = Box::pin(sleep(timeout));
    let mut answers = Vec::with_capacity(expected.min(64));
    let mut result = Ok(());
    while answers.len() < expected {
        match next_or_timeout(&mut rx, &mut timer).await {
            Some(answer) => answers.push(answer),
            None => {
                result = Err(ClusterRequestError::Timeout { received: answers.len(), expected });
                break;
            }
        }
    }
    cluster.close_request(&request_id);
    match result {
        Ok(()) => Ok(answers),
        Err(e) => Err((answers, e)),
    }
}

/// A `fetchSockets` under way.
pub(crate) struct FetchWait {
    gather: Option<Gather>,
    timeout: Duration,
    sockets: Vec<SocketDetails>,
    cluster: Option<(Rc<ClusterShard>, ByteString, BroadcastOptions)>,
}

/// A socket found by a fetch, and whether it is on another server of the cluster.
pub(crate) type Found = (SocketDetails, bool);

impl FetchWait {
    /// The sockets of every shard that answered in time, then of every other server; `Err`
    /// (with what came) when another server did not answer within the timeout, as Node's
    /// adapter rejects.
    pub(crate) async fn wait(mut self) -> Result<Vec<Found>, (Vec<Found>, ClusterRequestError)> {
        let timeout = self.timeout;
        let mut found: Vec<Found> =
            std::mem::take(&mut self.sockets).into_iter().map(|d| (d, false)).collect();
        if let Some(gather) = self.gather.take() {
            for answer in gather.wait().await {
                if let AdapterResponse::Sockets { sockets, .. } = answer {
                    found.extend(sockets.into_iter().map(|d| (d, false)));
                }
            }
        }
        let Some((cluster, nsp, opts)) = self.cluster.take() else { return Ok(found) };
        let answers = ask_other_servers(&cluster, &nsp, timeout, |uid, request_id| Request::RemoteFetch {
            uid,
            request_id,
            opts,
        })
        .await;
        let remote = |found: &mut Vec<Found>, answers: Vec<Response>| {
            for answer in answers {
                if let Response::FetchSockets { sockets, .. } = answer {
                    found.extend(sockets.into_iter().map(|d| (d, true)));
                }
            }
        };
        match answers {
            Ok(answers) => {
                remote(&mut found, answers);
                Ok(found)
            }
            Err((answers, e)) => {
                remote(&mut found, answers);
                Err((found, e))
            }
        }
    }
}

impl Layer {
    /// Asks the peers of `reach` with `request(id)`, expecting one answer each.
    fn start_gather(
        &self,
        reach: Reach,
        timeout: Duration,
        request: impl Fn(RequestId) -> AdapterRequest,
    ) -> Gather {
        let mut gather = Gather { layer: self.rc(), id: None, rx: None, peers: 0, timeout };
        if self.servers(reach) > 1 || !self.reaches_me(reach) {
            let (id, rx) = self.requests.open(self.ctx().id());
            gather.peers = self.send_peers(reach, || PeerMsg::Adapter(request(id).into()));
            gather.id = Some(id);
            gather.rx = Some(rx);
        }
        gather
    }

    /// Sends the packet `make` builds for the ack id to the sockets `opts` selects on the shards of
    /// `reach` (and to the other servers of the cluster when `reach` is all of it), one ack id for all;
    /// `None` when `make` gives none.
    pub(crate) fn start_broadcast_with_ack_packet(
        &self,
        reach: Reach,
        nsp: &ByteString,
        mut opts: BroadcastOptions,
        make: impl FnOnce(u64) -> Option<EncodedPacket>,
    ) -> Option<AckWait> {
        // The timeout travels with the request: each shard forgets unanswered acks after it.
        let timeout = opts.flags.timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        opts.flags.timeout = Some(timeout);
        let ctx = self.ctx();
        let (id, rx) = self.requests.open(ctx.id());
        let ack_id = broadcast_ack_id(id.seq, ctx.id(), ctx.shards());
        let Some(packet) = make(ack_id) else {
            self.requests.close(id);
            return None;
        };
        let packet = Arc::new(packet);
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
        let cluster = match (reach, self.cluster()) {
            (Reach::All, Some(cluster)) => match WirePacket::from_encoded(&packet) {
                Ok(wire) => {
                    let request_id = cluster.open_ack_request(id);
                    // Node publishes the packet without its id: each server picks its own.
                    let packet = WirePacket { id: None, nsp: nsp.to_string(), ..wire };
                    let request = Request::Broadcast {
                        uid: cluster.uid().to_owned(),
                        request_id: request_id.clone(),
                        packet,
                        opts: crate::cluster::adapter::wire_opts(&opts),
                    };
                    cluster.publish_request(nsp, &request);
                    Some((cluster.clone(), request_id, nsp.clone()))
                }
                Err(_) => None,
            },
            _ => None,
        };
        Some(AckWait { layer: self.rc(), id, rx, tally, timeout, local, cluster })
    }

    /// Asks the shards of `reach` (and the other servers, when `reach` is the whole cluster)
    /// for the sockets `opts` selects (Node's `fetchSockets`, bounded by `opts`' timeout or
    /// 5 s, as Node's cluster adapters bound it).
    pub(crate) fn start_fetch(&self, reach: Reach, nsp: &ByteString, opts: BroadcastOptions) -> FetchWait {
        let timeout = opts.flags.timeout.unwrap_or_else(|| self.requests_timeout());
        let sockets = if self.reaches_me(reach) { self.local_details(nsp, &opts) } else { Vec::new() };
        let gather = self.start_gather(reach, timeout, |id| AdapterRequest::FetchSockets {
            id,
            nsp: nsp.clone(),
            opts: opts.clone(),
        });
        let cluster = match (reach, self.cluster()) {
            (Reach::All, Some(cluster)) => {
                Some((cluster.clone(), nsp.clone(), crate::cluster::adapter::wire_opts(&opts)))
            }
            _ => None,
        };
        FetchWait { gather: Some(gather), timeout, sockets, cluster }
    }

    /// The ids of the sockets in any of `rooms` (all when empty) on the shards of `reach`
    /// (Node's `adapter.sockets(rooms)`).
    pub(crate) fn start_socket_ids(
        &self,
        reach: Reach,
        nsp: &ByteString,
        rooms: Vec<Room>,
        timeout: Duration,
    ) -> impl Future<Output = Vec<ByteString>> + 'static {
        let opts = rooms.iter().cloned().fold(BroadcastOptions::new(), BroadcastOptions::to);
        let mut ids: Vec<ByteString> = match (self.reaches_me(reach), self.registry.get(nsp)) {
            (true, Some(ns)) => {
                ns.select(&opts).into_iter().map(|(s, _)| ByteString::from(s.as_str())).collect()
            }
            _ => Vec::new(),
        };
        let gather = self.start_gather(reach, timeout, |id| AdapterRequest::SocketIds {
            id,
            nsp: nsp.clone(),
            rooms: rooms.clone(),
        });
        async move {
            for answer in gather.wait().await {
                if let AdapterResponse::SocketIds { ids: more, .. } = answer {
                    ids.extend(more);
                }
            }
            ids
        }
    }

    /// Every room with a socket in it on the shards of `reach`, each once (Node's
    /// `adapter.rooms.keys()` over a process).
    pub(crate) fn start_all_rooms(
        &self,
        reach: Reach,
        nsp: &ByteString,
        timeout: Duration,
    ) -> impl Future<Output = Vec<Room>> + 'static {
        let mut rooms: Vec<Room> = match (self.reaches_me(reach), self.registry.get(nsp)) {
            (true, Some(ns)) => ns.room_names(),
            _ => Vec::new(),
        };
        let gather =
            self.start_gather(reach, timeout, |id| AdapterRequest::AllRooms { id, nsp: nsp.clone() });
        async move {
            for answer in gather.wait().await {
                if let AdapterResponse::AllRooms { rooms: more, .. } = answer {
                    rooms.extend(more);
                }
            }
            let mut seen = foldhash::HashSet::default();
            rooms.retain(|r| seen.insert(r.clone()));
            rooms
        }
    }

    /// Node's `adapter.allRooms()`: the rooms of every shard and, when `reach` is the whole
    /// cluster, of every other server.
    pub(crate) async fn all_rooms(
        self: Rc<Self>,
        reach: Reach,
        nsp: ByteString,
    ) -> Result<Vec<Room>, ClusterRequestError> {
        let timeout = self.requests_timeout();
        let mut rooms = self.start_all_rooms(reach, &nsp, timeout).await;
        let Some(cluster) = self.cluster().filter(|c| reach == Reach::All && c.has_all_rooms()).cloned()
        else {
            return Ok(rooms);
        };
        let answers = ask_other_servers(&cluster, &nsp, timeout, |uid, request_id| Request::AllRooms {
            uid,
            request_id,
        })
        .await
        .map_err(|(_, e)| e)?;
        for answer in answers {
            if let Response::AllRooms { rooms: more, .. } = answer {
                rooms.extend(more);
            }
        }
        let mut seen = foldhash::HashSet::default();
        rooms.retain(|r| seen.insert(r.clone()));
        Ok(rooms)
    }

    /// Node's `serverSideEmit` with an ack: the event to every other server of the cluster,
    /// and the first argument each acked it with; `Ok` with none when there is no other server.
    pub(crate) async fn server_side_emit_with_ack(
        self: Rc<Self>,
        nsp: ByteString,
        data: Vec<Value>,
    ) -> Result<Vec<Value>, (Vec<Value>, ClusterRequestError)> {
        let Some(cluster) = self.cluster().cloned() else { return Ok(Vec::new()) };
        let answers = ask_other_servers(&cluster, &nsp, self.requests_timeout(), |uid, request_id| {
            Request::ServerSideEmit { uid, request_id: Some(request_id), data }
        })
        .await;
        let values = |answers: Vec<Response>| {
            answers
                .into_iter()
                .filter_map(|a| match a {
                    Response::ServerSideEmit { data, .. } => Some(data),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        match answers {
            Ok(answers) => Ok(values(answers)),
            Err((answers, e)) => Err((values(answers), e)),
        }
    }
}
