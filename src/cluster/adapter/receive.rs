//! What a shard does with what the other servers publish: broadcasts written to its own
//! sockets, answers handed to the requests that wait for them, and (on shard 0) requests run
//! on every shard of the process and answered once for it. See the parent module's docs.

use super::*;

impl ClusterShard {
    pub(super) fn on_message(&self, msg: Message) {
        self.metrics.cluster_received();
        if self.is_cluster_family() {
            return self.on_sharded(msg);
        }
        match msg.kind {
            SubKind::Pattern => self.on_broadcast(msg),
            SubKind::Channel | SubKind::Shard => {
                let Ok(channel) = std::str::from_utf8(&msg.channel) else { return };
                let key = self.key();
                if channel.strip_prefix(key).is_some_and(|r| r.starts_with("-response#")) {
                    match Response::decode(&msg.payload) {
                        Ok(response) => self.on_response(response),
                        Err(e) => self.malformed(channel, &e),
                    }
                } else if let Some(nsp) = channel
                    .strip_prefix(key)
                    .and_then(|r| r.strip_prefix("-request#"))
                    .and_then(|r| r.strip_suffix('#'))
                {
                    match Request::decode(&msg.payload) {
                        Ok(request) => self.on_request(ByteString::from(nsp), request),
                        Err(e) => self.malformed(channel, &e),
                    }
                }
            }
        }
    }

    /// The sharded adapter's `onRawMessage` / `onMessage`: what this shard got on the
    /// namespace's channel (shard 0), a room's channel or its own responses channel.
    pub(super) fn on_sharded(&self, msg: Message) {
        let Ok(channel) = std::str::from_utf8(&msg.channel) else { return };
        let decoded = match self.is_streams() {
            true => crate::cluster::streams::wire::decode_ephemeral(&msg.payload),
            false => ShardedMsg::decode(&msg.payload),
        };
        let decoded = match decoded {
            Ok(decoded) => decoded,
            Err(e) => return self.malformed(channel, &e),
        };
        let main = self.broadcast_prefix(&decoded.nsp);
        let Some(suffix) = channel.strip_prefix(main.as_str()) else { return };
        if let Body::Response(response) = decoded.body {
            return self.on_response(response);
        }
        if decoded.uid == self.uid() || suffix.strip_suffix('#') == Some(self.uid()) {
            return;
        }
        let Some(layer) = self.layer.upgrade() else { return };
        let nsp = ByteString::from(decoded.nsp);
        let Some(ns) = layer.registry.get(&nsp) else { return };
        match decoded.body {
            Body::Broadcast { packet, opts } => {
                let packet = match packet.to_encoded(None) {
                    Ok(packet) => packet,
                    Err(e) => return self.malformed(channel, &e),
                };
                if suffix.is_empty() {
                    // The namespace's channel: only shard 0 listens, for the whole process.
                    layer.broadcast(Reach::Process, &nsp, opts, Arc::new(packet));
                } else {
                    // A room's channel: each shard in the room listens, for its own sockets.
                    layer.ctx().metrics().broadcast_started();
                    layer.deliver(&ns, &opts, &packet, None);
                }
            }
            Body::Request(request) if suffix.is_empty() => self.on_request(nsp, request),
            _ => {}
        }
    }

    pub(super) fn malformed(&self, channel: &str, e: &dyn std::fmt::Display) {
        self.metrics.cluster_malformed();
        debug!(shard = self.shard, channel, "dropped a cluster message: {e}");
    }

    /// Node's `onmessage`.
    pub(super) fn on_broadcast(&self, msg: Message) {
        let Some(layer) = self.layer.upgrade() else { return };
        let (Ok(channel), Some(pattern)) = (
            std::str::from_utf8(&msg.channel),
            msg.pattern.as_ref().and_then(|p| std::str::from_utf8(p).ok()),
        ) else {
            return;
        };
        let Some(prefix) = pattern.strip_suffix('*') else { return };
        let Some(nsp) = prefix
            .strip_prefix(self.key())
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|r| r.strip_suffix('#'))
        else {
            return;
        };
        let Some(rest) = channel.strip_prefix(prefix) else { return };
        let Some(ns) = layer.registry.get(nsp) else { return };
        let room = rest.strip_suffix('#').unwrap_or(rest);
        // A room no socket of this shard is in: nothing to do, not even decoding.
        if !room.is_empty() && !ns.has_room(room) {
            return;
        }
        let msg = match BroadcastMsg::decode(&msg.payload) {
            Ok(msg) => msg,
            Err(e) => return self.malformed(channel, &e),
        };
        if msg.uid == self.uid() || msg.packet.nsp != nsp {
            return;
        }
        match msg.packet.to_encoded(None) {
            Ok(packet) => {
                layer.ctx().metrics().broadcast_started();
                layer.deliver(&ns, &msg.opts, &packet, None);
            }
            Err(e) => self.malformed(channel, &e),
        }
    }

    pub(super) fn on_response(&self, response: Response) {
        let target = match self.pending.borrow().get(response.request_id()) {
            Some(Pending::Ack(id)) => Ok(*id),
            Some(Pending::Gather(tx)) => Err(tx.clone()),
            None => return,
        };
        match target {
            Ok(id) => {
                let Some(layer) = self.layer.upgrade() else { return };
                let answer = match response {
                    Response::ClientCount { count, .. } => {
                        AdapterResponse::ClientCount { id, count: usize::try_from(count).unwrap_or(0) }
                    }
                    Response::BroadcastAck { packet, .. } => AdapterResponse::Ack { id, response: packet },
                    _ => return,
                };
                layer.requests.answer(answer);
            }
            Err(tx) => {
                let _ = tx.unbounded_send(response);
            }
        }
    }

    /// Node's `onrequest`, on shard 0: runs another server's request on every shard of this
    /// process and publishes one answer for the process.
    pub(super) fn on_request(&self, nsp: ByteString, request: Request) {
        if request.uid() == Some(self.uid()) {
            return;
        }
        let Some(layer) = self.layer.upgrade() else { return };
        let Some(ns) = layer.registry.get(&nsp) else { return };
        let timeout = self.config().requests_timeout;
        match request {
            Request::Sockets { uid, request_id, rooms } => {
                let wait = layer.start_socket_ids(Reach::Process, &nsp, rooms, timeout);
                let me = self.rc();
                layer.spawn(async move {
                    let sockets = wait.await.into_iter().map(|id| id.to_string()).collect();
                    me.publish_response(&nsp, Some(&uid), &Response::Sockets { request_id, sockets });
                });
            }
            Request::AllRooms { uid, request_id } => {
                let wait = layer.start_all_rooms(Reach::Process, &nsp, timeout);
                let me = self.rc();
                layer.spawn(async move {
                    let rooms = wait.await;
                    me.publish_response(&nsp, Some(&uid), &Response::AllRooms { request_id, rooms });
                });
            }
            Request::RemoteJoin { opts, rooms, .. } => layer.rooms(Reach::Process, &nsp, opts, rooms, true),
            Request::RemoteLeave { opts, rooms, .. } => layer.rooms(Reach::Process, &nsp, opts, rooms, false),
            Request::RemoteDisconnect { opts, close, .. } => {
                layer.disconnect_sockets(Reach::Process, &nsp, opts, close)
            }
            Request::LegacyJoin { uid, request_id, sid, room } => {
                self.legacy(&layer, nsp, uid, request_id, sid, move |layer, nsp, opts| {
                    layer.rooms(Reach::Process, nsp, opts, vec![room], true)
                })
            }
            Request::LegacyLeave { uid, request_id, sid, room } => {
                self.legacy(&layer, nsp, uid, request_id, sid, move |layer, nsp, opts| {
                    layer.rooms(Reach::Process, nsp, opts, vec![room], false)
                })
            }
            Request::LegacyDisconnect { uid, request_id, sid, close } => {
                self.legacy(&layer, nsp, uid, request_id, sid, move |layer, nsp, opts| {
                    layer.disconnect_sockets(Reach::Process, nsp, opts, close)
                })
            }
            Request::RemoteFetch { uid, request_id, opts } => {
                let wait = layer.start_fetch(Reach::Process, &nsp, opts.timeout(timeout));
                let me = self.rc();
                layer.spawn(async move {
                    let found = wait.wait().await.unwrap_or_else(|(found, _)| found);
                    let sockets = found.into_iter().map(|(details, _)| details).collect();
                    me.publish_response(&nsp, Some(&uid), &Response::FetchSockets { request_id, sockets });
                });
            }
            Request::ServerSideEmit { uid, request_id, data } => {
                let ack = request_id.map(|request_id| {
                    let me = self.rc();
                    let nsp = nsp.clone();
                    // The classic adapter answers a server-side emit on the shared response
                    // channel always; the sharded one on the requester's.
                    let requester = self.is_cluster_family().then_some(uid);
                    Box::new(move |data: Value| {
                        let response = Response::ServerSideEmit { request_id, data };
                        me.publish_response(&nsp, requester.as_deref(), &response);
                    }) as Box<dyn FnOnce(Value)>
                });
                layer.server_side_event(&ns, data, ack);
            }
            Request::Broadcast { uid, request_id, packet, opts } => {
                self.serve_broadcast_with_ack(&layer, nsp, uid, request_id, packet, opts)
            }
        }
    }

    /// A request of an adapter older than 8 naming one socket: done and answered only by the
    /// server that has the socket.
    pub(super) fn legacy(
        &self,
        layer: &Rc<Layer>,
        nsp: ByteString,
        uid: String,
        request_id: String,
        sid: String,
        run: impl FnOnce(&Layer, &ByteString, BroadcastOptions) + 'static,
    ) {
        let room = Room::from(sid.as_str());
        let wait =
            layer.start_socket_ids(Reach::Process, &nsp, vec![room.clone()], self.config().requests_timeout);
        let (me, layer2) = (self.rc(), layer.clone());
        layer.spawn(async move {
            if wait.await.is_empty() {
                return;
            }
            run(&layer2, &nsp, BroadcastOptions::new().to(room));
            me.publish_response(&nsp, Some(&uid), &Response::Legacy { request_id });
        });
    }

    /// Another server's broadcast with acks: delivered on every shard with one ack id, then
    /// one client count for the whole process and each client's answer, published as they
    /// come.
    pub(super) fn serve_broadcast_with_ack(
        &self,
        layer: &Rc<Layer>,
        nsp: ByteString,
        uid: String,
        request_id: String,
        packet: WirePacket,
        opts: BroadcastOptions,
    ) {
        let mut failed = None;
        let wait = layer.start_broadcast_with_ack_packet(Reach::Process, &nsp, opts, |ack_id| {
            packet.to_encoded(Some(ack_id)).map_err(|e| failed = Some(e)).ok()
        });
        if let Some(e) = failed {
            return self.malformed(&nsp, &e);
        }
        let Some(wait) = wait else { return };
        let me = self.rc();
        let specific = Some(uid);
        layer.spawn(async move {
            let (count_id, ack_id) = (request_id.clone(), request_id);
            let me2 = me.clone();
            let nsp2 = nsp.clone();
            let specific2 = specific.clone();
            wait.relay(
                move |count| {
                    let count = count as u64;
                    me.publish_response(
                        &nsp,
                        specific.as_deref(),
                        &Response::ClientCount { request_id: count_id.clone(), count },
                    );
                },
                move |packet| {
                    let response = Response::BroadcastAck { request_id: ack_id.clone(), packet };
                    me2.publish_response(&nsp2, specific2.as_deref(), &response);
                },
            )
            .await;
        });
    }
}
