//! The streams adapter's side of a shard (see [`crate::cluster::streams`]): its subscriptions,
//! where each message goes (stream or PUB/SUB), and what it does with each stream entry.

use std::time::Duration;

use super::*;
use crate::cluster::redis::Reply;
use crate::cluster::streams::session::{self, SessionKeeper, Snapshot};
use crate::cluster::streams::{reader, wire as sw};
use crate::protocol::sid::Sid;
use crate::socket::recovery;

impl ClusterShard {
    /// Every shard listens to its own answers channel `{p}#{nsp}#{uid}#`; shard 0 alone to the
    /// namespace's `{p}#{nsp}#`, which `PUBSUB NUMSUB` counts.
    pub(super) fn ensure_streams(&self, nsp: &ByteString) {
        let main = self.broadcast_prefix(nsp);
        let mut channels = vec![Bytes::from(format!("{main}{}#", self.uid()))];
        if self.responder() {
            channels.push(Bytes::from(main));
        } else if let Some(layer) = self.layer.upgrade()
            && layer.registry.get(nsp).is_some_and(|ns| ns.parent.is_some())
        {
            layer.send_peer(0, PeerMsg::ClusterNamespace(nsp.clone()));
        }
        self.sub.subscribe(SubKind::Channel, channels);
        // Recovery on: the sessions of live sockets are kept in Redis.
        if let Some(layer) = self.layer.upgrade()
            && layer.recovery().is_some()
            && let Some(ns) = layer.registry.get(nsp)
        {
            let (me, name) = (self.me.clone(), nsp.clone());
            ns.set_member_hook(Some(Rc::new(move |sid: Sid, alive: bool| {
                if let Some(me) = me.upgrade() {
                    me.session_touched(&name, sid, alive);
                }
            })));
        }
    }

    pub(crate) fn sessions(&self) -> &SessionKeeper {
        &self.sessions
    }

    /// A socket connected, changed rooms (`alive`) or left: its session is written at the
    /// next flush (see [`session`]).
    fn session_touched(&self, nsp: &ByteString, sid: Sid, alive: bool) {
        if !self.sessions.touched(nsp, sid, alive) {
            return;
        }
        let Some(layer) = self.layer.upgrade() else { return };
        let Some(ttl) = layer.recovery().map(|r| r.opts.max_disconnection_duration) else { return };
        let refresh = self.config().streams.session_refresh;
        let weak_layer = Rc::downgrade(&layer);
        let snapshot = move |nsp: &ByteString, sid: Sid| {
            let layer = weak_layer.upgrade()?;
            let ns = layer.registry.get(nsp)?;
            let pid = ns.recovery_of(sid)?.0?;
            let data = ns.data_of(sid)?;
            Some(Snapshot { pid, rooms: ns.rooms_of(sid), data: ns.handler.export_data(&data) })
        };
        layer.spawn(session::flush_loop(self.me.clone(), ttl, refresh, snapshot));
    }

    /// Node's `persistSession`: a socket closed for a recoverable reason.
    pub(crate) fn persist_session(&self, session: &sw::StoredSession, ttl: Duration) {
        let Some(layer) = self.layer.upgrade() else { return };
        let write = self.command(session::set_command(self, session, ttl));
        layer.spawn(async move {
            let _ = write.await;
        });
    }

    /// A recoverable broadcast of this server: `XADD`ed, its id (the offset) once Redis
    /// answered; `None` when it could not be added.
    pub(crate) fn xadd_broadcast(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        packet: &EncodedPacket,
    ) -> Option<impl std::future::Future<Output = Option<String>> + use<>> {
        let packet = WirePacket::from_encoded(packet).ok()?;
        let body = Body::Broadcast {
            packet: WirePacket { id: None, nsp: nsp.to_owned(), ..packet },
            opts: wire_opts(opts),
        };
        Some(self.xadd(&ShardedMsg { uid: self.uid().to_owned(), nsp: nsp.to_owned(), body }))
    }

    pub(super) fn forget_streams(&self, nsp: &str) {
        let main = self.broadcast_prefix(nsp);
        let mut channels = vec![Bytes::from(format!("{main}{}#", self.uid()))];
        if self.responder() {
            channels.push(Bytes::from(main));
        }
        self.sub.unsubscribe(SubKind::Channel, channels);
        if let Some(ns) = self.layer.upgrade().and_then(|l| l.registry.get(nsp)) {
            ns.set_member_hook(None);
        }
    }

    /// The stream of namespace `nsp`.
    pub(crate) fn stream_key(&self, nsp: &str) -> String {
        let o = &self.config().streams;
        sw::stream_key(&o.stream_name, o.stream_count, nsp)
    }

    /// Node's `doPublish`: an ephemeral message to PUB/SUB, the others to the stream.
    pub(super) fn send_streams(&self, msg: ShardedMsg) {
        if sw::is_ephemeral(&msg) {
            let channel = self.broadcast_prefix(&msg.nsp);
            return self.publish(channel, sw::encode_ephemeral(&msg));
        }
        let Some(layer) = self.layer.upgrade() else { return };
        let xadd = self.xadd(&msg);
        layer.spawn(async move {
            let _ = xadd.await;
        });
    }

    /// `XADD {stream} MAXLEN ~ {maxLen} * uid … nsp … type … data …`; the future gives the
    /// entry's id. A failure is counted (the outage is logged by the connection).
    pub(crate) fn xadd(&self, msg: &ShardedMsg) -> impl std::future::Future<Output = Option<String>> + use<> {
        self.metrics.cluster_published();
        let o = &self.config().streams;
        let mut args = vec![
            Bytes::from_static(b"XADD"),
            Bytes::from(self.stream_key(&msg.nsp)),
            Bytes::from_static(b"MAXLEN"),
            Bytes::from_static(b"~"),
            Bytes::from(o.max_len.to_string()),
            Bytes::from_static(b"*"),
        ];
        for (name, value) in sw::entry_fields(msg, o.only_plaintext) {
            args.push(Bytes::from_static(name.as_bytes()));
            args.push(value);
        }
        let (client, metrics) = (self.client.clone(), self.metrics.clone());
        async move {
            match client.command(args).await {
                Ok(reply) => match reply.as_bytes().and_then(|b| std::str::from_utf8(b).ok()) {
                    Some(id) => Some(id.to_owned()),
                    None => {
                        metrics.cluster_publish_failed();
                        None
                    }
                },
                Err(_) => {
                    metrics.cluster_publish_failed();
                    None
                }
            }
        }
    }

    /// One reader per stream on this shard, each on a connection of its own.
    pub(super) fn start_readers(&self, layer: &Rc<Layer>) {
        let config = self.config();
        let o = &config.streams;
        let mut opts = config.redis.clone();
        // The read blocks up to `block_time`: its answer is not late before that.
        opts.command_timeout += o.block_time;
        opts.keepalive = Duration::ZERO;
        for stream in sw::stream_keys(&o.stream_name, o.stream_count) {
            let hook = outage_hook(&self.setup, self.shard, &self.metrics, "subscriber");
            let client = Client::connect(config.url.clone(), opts.clone(), Some(hook));
            layer.spawn(reader::run(self.me.clone(), client, stream, o.read_count, o.block_time));
        }
    }

    /// Node's `onRawMessage` for an entry this shard read: run on this shard's sockets only
    /// (every shard reads the stream). A broadcast's offset is the entry's id.
    pub(crate) fn on_stream_entry(&self, id: &str, fields: &[(Bytes, Bytes)]) {
        self.metrics.cluster_received();
        let msg = match sw::decode_entry(fields.iter().map(|(k, v)| (&k[..], &v[..]))) {
            Ok(msg) => msg,
            Err(e) => return self.malformed(id, &e),
        };
        if msg.uid == self.uid() {
            return;
        }
        let Some(layer) = self.layer.upgrade() else { return };
        let nsp = ByteString::from(msg.nsp);
        let Some(ns) = layer.registry.get(&nsp) else { return };
        let here = Reach::Shard(self.shard);
        match msg.body {
            Body::Broadcast { packet, opts } => {
                let packet = match packet.to_encoded(None) {
                    Ok(packet) => packet,
                    Err(e) => return self.malformed(id, &e),
                };
                layer.ctx().metrics().broadcast_started();
                match layer.recovery() {
                    Some(_) if recovery::is_eligible(&packet, &opts) => {
                        let packet = Arc::new(recovery::with_offset(&packet, id));
                        layer.deliver(&ns, &opts, &packet, None);
                    }
                    _ => {
                        layer.deliver(&ns, &opts, &packet, None);
                    }
                }
            }
            Body::Request(Request::RemoteJoin { opts, rooms, .. }) => {
                layer.rooms(here, &nsp, opts, rooms, true)
            }
            Body::Request(Request::RemoteLeave { opts, rooms, .. }) => {
                layer.rooms(here, &nsp, opts, rooms, false)
            }
            Body::Request(Request::RemoteDisconnect { opts, close, .. }) => {
                layer.disconnect_sockets(here, &nsp, opts, close)
            }
            // A server-side emit in the stream (the streams emitter): once for the process.
            Body::Request(request) if self.responder() => self.on_request(nsp, request),
            _ => {}
        }
    }

    /// A session's key.
    pub(crate) fn session_key(&self, pid: &str) -> Bytes {
        Bytes::from(format!("{}{pid}", self.config().streams.session_key_prefix))
    }

    /// The pipelined command connection (sessions, restores).
    pub(crate) fn command(
        &self,
        args: Vec<Bytes>,
    ) -> impl std::future::Future<Output = Result<Reply, RedisError>> + use<> {
        let client = self.client.clone();
        async move { client.command(args).await }
    }
}
