//! The connect flow of the layer: a CONNECT checked by the namespace's middleware and
//! answered, and connection state recovery's side of it (a session taken from this shard or
//! another, restored; a closed socket's session kept).

use super::*;

impl Layer {
    /// Takes the session of `pid` for a CONNECT to `ns` whose client last saw `offset`: from
    /// this shard's store, else from the shard the pid names (or the one it forwards to), at
    /// most the requests timeout. `None`: a fresh socket.
    pub(super) async fn restore(
        &self,
        ns: &Rc<NamespaceState>,
        pid: Sid,
        offset: String,
    ) -> Option<Restored> {
        let store = self.recovery()?;
        if let Some(cluster) = self.streams() {
            // From Redis: sessions and offsets are the cluster's.
            let found =
                crate::cluster::streams::session::restore(cluster.clone(), ns.name.clone(), pid, offset)
                    .await?;
            let session = found.session;
            let sid = Sid::parse(session.sid.as_bytes())?;
            let pid = Sid::parse(session.pid.as_bytes())?;
            let data = ns.handler.import_data(Some(session.data));
            // The old socket may still live somewhere (see cluster::streams::session): gone
            // everywhere before this one takes its id.
            let opts = BroadcastOptions::new().to(ByteString::from(sid.as_str()));
            self.disconnect_sockets(crate::adapter::peer::Reach::All, &ns.name, opts, false);
            return Some(Restored { sid, pid, rooms: session.rooms, data, missed: found.missed });
        }
        let me = self.ctx().id();
        let target = match store.take(pid, &ns.name, &offset, Instant::now()) {
            Take::Found(session, missed) => {
                let Session { sid, pid, rooms, data, .. } = session;
                return Some(Restored { sid, pid, rooms, data: Some(data), missed });
            }
            Take::Forward(shard) => shard,
            Take::None => pid.shard(self.ctx().shards()),
        };
        if target == me {
            return None;
        }
        let (seq, rx) = store.wait();
        let asked = PeerMsg::Restore { origin: me, seq, nsp: ns.name.clone(), pid, offset, forwarded: false };
        if !self.send_peer(target, asked) {
            store.forget_wait(seq);
            return None;
        }
        let answer = async { rx.await.ok().flatten() };
        let expire = async {
            sleep(self.requests_timeout()).await;
            None
        };
        let sent = futures_lite::future::or(answer, expire).await;
        store.forget_wait(seq);
        let sent = sent?;
        let data = ns.handler.import_data(sent.data);
        Some(Restored { sid: sent.sid, pid: sent.pid, rooms: sent.rooms, data, missed: sent.missed })
    }

    /// Another shard's CONNECT asks for a session of this shard (or one it forwards to).
    pub(crate) fn serve_restore(
        &self,
        origin: ShardId,
        seq: u64,
        nsp: ByteString,
        pid: Sid,
        offset: String,
        forwarded: bool,
    ) {
        let Some(store) = self.recovery() else { return };
        let me = self.ctx().id();
        let answer = match store.take(pid, &nsp, &offset, Instant::now()) {
            Take::Found(session, missed) => {
                let data = self.registry.get(&nsp).and_then(|ns| ns.handler.export_data(&session.data));
                let Session { sid, pid, rooms, .. } = session;
                Some(recovery::SentSession { sid, pid, rooms, data, missed })
            }
            Take::Forward(shard) if !forwarded && shard != origin && shard != me => {
                let msg = PeerMsg::Restore { origin, seq, nsp, pid, offset, forwarded: true };
                if self.send_peer(shard, msg) {
                    return;
                }
                None
            }
            _ => None,
        };
        self.send_peer(origin, PeerMsg::Restored { seq, session: answer });
    }

    /// Keeps the session of a socket that closed; the shard its pid names learns where it is.
    pub(super) fn persist(&self, session: Session) {
        let Some(store) = self.recovery() else { return };
        if let Some(cluster) = self.streams() {
            // Node's `persistSession`, in Redis.
            let data = self.registry.get(&session.nsp).and_then(|ns| ns.handler.export_data(&session.data));
            let stored = crate::cluster::streams::wire::StoredSession {
                sid: session.sid.as_str().to_owned(),
                pid: session.pid.as_str().to_owned(),
                rooms: session.rooms,
                data: data.unwrap_or(Value::Object(Vec::new())),
            };
            cluster.persist_session(&stored, store.opts.max_disconnection_duration);
            return;
        }
        let (me, pid) = (self.ctx().id(), session.pid);
        store.persist(session, Instant::now());
        self.ensure_recovery_sweeper();
        let owner = pid.shard(self.ctx().shards());
        if owner != me {
            self.send_peer(owner, PeerMsg::SessionKept { pid, holder: me });
        }
    }

    pub(super) fn connect(&self, engine: &EngineSocket, nsp: ByteString, auth: ByteString) {
        let Some(ns) = self.registry.resolve(&nsp) else {
            self.drive(engine, |c| {
                c.refuse(&nsp, ConnectRefusal::InvalidNamespace);
            });
            return;
        };
        if let Some(cluster) = self.cluster() {
            cluster.ensure_namespace(&ns.name);
        }
        let info = ConnectInfo {
            namespace: nsp.clone(),
            auth: value::from_json(&auth).unwrap_or(Value::Object(Vec::new())),
            handshake: engine.handshake(),
        };
        // Node's `_createSocket`: a restore when `pid` and `offset` are both strings.
        let mut restore = match (self.recovery(), info.auth.get("pid"), info.auth.get("offset")) {
            (Some(_), Some(Value::String(pid)), Some(Value::String(offset))) => {
                Some((Sid::parse(pid.as_bytes()), offset.clone()))
            }
            _ => None,
        };
        let skip_middlewares = self.recovery().is_some_and(|r| r.opts.skip_middlewares);
        let layer = self.rc();
        let engine = engine.clone();
        let site = Site::new(&ns, None, "connect");
        let connect = Box::pin(async move {
            // Without skip_middlewares the middleware runs first, so that the session is taken
            // only for a socket it accepts, and nothing is broadcast between the take and the
            // socket joining its rooms.
            let mut restored = None;
            if skip_middlewares && let Some((Some(pid), offset)) = restore.take() {
                restored = layer.restore(&ns, pid, offset).await;
            }
            // The middleware makes the socket's data: it runs unless a restored session
            // brought its own.
            let verdict = match restored.as_ref().is_some_and(|r| r.data.is_some()) {
                true => Ok(None),
                false => match CatchPanic::new(ns.handler.authorize(info)).await {
                    Ok(verdict) => verdict.map(Some),
                    // Refused as by the middleware: the socket never existed.
                    Err(panic) => {
                        layer.handler_panicked(&Site::new(&ns, None, "authorize"), &panic);
                        Err(crate::socket::api::ConnectError::new(PANICKED_MIDDLEWARE))
                    }
                },
            };
            if verdict.is_ok()
                && let Some((Some(pid), offset)) = restore
            {
                restored = layer.restore(&ns, pid, offset).await;
            }
            layer.finish_connect(&engine, ns, auth, verdict, restored);
        });
        self.run_callback(site, connect);
    }

    pub(super) fn finish_connect(
        &self,
        engine: &EngineSocket,
        ns: Rc<NamespaceState>,
        auth: ByteString,
        verdict: Result<Option<Rc<dyn std::any::Any>>, crate::socket::api::ConnectError>,
        restored: Option<Restored>,
    ) {
        // A session restored without data takes the one the middleware made.
        let made = verdict.as_ref().ok().cloned().flatten();
        let restored = restored.map(|r| Restored { data: r.data.or_else(|| made.clone()), ..r });
        if !self.clients.borrow().contains_key(&engine.sid()) {
            // The client left while its session was being restored: kept for its next try.
            if let Some(session) = restored.and_then(|r| r.into_session(ns.name.clone())) {
                self.persist(session);
            }
            return;
        }
        match verdict {
            Err(e) => {
                let data = e.data.as_ref().map(|d| {
                    let mut json = String::new();
                    value::write_json(d, &mut json, &mut Vec::new());
                    json
                });
                let refusal = ConnectRefusal::Middleware { message: e.message, data };
                self.drive(engine, |c| {
                    c.refuse(&ns.name, refusal);
                });
            }
            Ok(_) => {
                let (me, shards) = (self.ctx().id(), self.ctx().shards());
                // A restored id still in use here (it cannot be, short of a client replaying
                // another's pid while that one is connected) gives a fresh socket.
                let restored = restored
                    .filter(|r| !self.registry.get(&ns.name).is_some_and(|live| live.has_socket(r.sid)));
                let recovered = restored.is_some();
                let (id, pid, data, rooms, missed) = match restored {
                    Some(Restored { sid, pid, data: Some(data), rooms, missed }) => {
                        (sid, Some(pid), data, rooms, missed)
                    }
                    _ => {
                        let Some(data) = made else {
                            // Only a restored session skips the middleware: that one was in use.
                            let refusal = ConnectRefusal::Middleware {
                                message: PANICKED_MIDDLEWARE.into(),
                                data: None,
                            };
                            self.drive(engine, |c| {
                                c.refuse(&ns.name, refusal);
                            });
                            return;
                        };
                        let pid = self.recovery().map(|_| Sid::generate(me, shards));
                        (Sid::generate(me, shards), pid, data, Vec::new(), Vec::new())
                    }
                };
                let mut accepted = false;
                if let Some(c) = self.clients.borrow_mut().get_mut(&engine.sid()) {
                    accepted = c.accept_with_pid(&ns.name, id, pid, Instant::now());
                }
                if accepted {
                    // As Node: the missed packets come before the CONNECT answer (queued in
                    // the client, sent by `run_actions`), which the client buffers them for.
                    for packet in &missed {
                        let _ = send_encoded(engine, packet, self.parser());
                    }
                } else if let Some(pid) = pid.filter(|_| recovered) {
                    // The connection is closing: the session is kept for the client's next try.
                    let nsp = ns.name.clone();
                    self.persist(Session { sid: id, pid, nsp, rooms, data });
                    self.run_actions(engine);
                    return;
                }
                self.run_actions(engine);
                if accepted {
                    // As Node: the CONNECT answer is written before what the handler sends.
                    engine.write_boundary();
                    let ns = self.registry.readopt(ns);
                    ns.insert(id, engine.clone(), data.clone(), auth, pid, recovered);
                    for room in rooms {
                        if room != id.as_str() {
                            ns.join(id, room);
                        }
                    }
                    let socket = SocketRef { layer: self.rc(), ns: ns.clone(), id, engine: engine.clone() };
                    self.run_callback(
                        Site::new(&ns, Some(id), "on_connect"),
                        ns.handler.on_connect(socket, data),
                    );
                }
            }
        }
    }
}
