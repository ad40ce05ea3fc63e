//! The admin namespace's handler on one shard: the login middleware, what a dashboard gets when
//! it connects (`session`, `config`, `all_sockets`), and its actions.
//!
//! The actions are Node's `registerFeatureHandlers` for Socket.IO 4: each is a broadcast
//! operator on the namespace the dashboard names, restricted to the room `filter` when one is
//! given (a socket's own id to act on one socket), and run on every shard and, with a cluster
//! adapter, every server:
//! - `emit(nsp, filter, event, ...args)`: `io.of(nsp).in(filter).emit(event, ...args)`;
//! - `join(nsp, room, filter)` / `leave(…)`: `socketsJoin(room)` / `socketsLeave(room)`;
//! - `_disconnect(nsp, close, filter)`: `disconnectSockets(close)`.
//!
//! None takes an ack (the package registers none; a dashboard asking for one never gets it).
//! A namespace this server does not serve is ignored, where Node's `io.of` would create it.

use std::rc::Rc;
use std::sync::Arc;

use super::events::{Tap, serialize};
use super::{AdminShared, auth, stats};
use crate::protocol::value::Value;
use crate::socket::{ConnectError, ConnectInfo, Event, Handler, Io, RawArgs, Socket};

/// `instrument`'s features, in the order Node lists them.
const ACTIONS: [&str; 7] = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"];

pub(crate) struct AdminHandler {
    shared: Arc<AdminShared>,
    tap: Option<Rc<Tap>>,
}

impl AdminHandler {
    pub(crate) fn new(shared: Arc<AdminShared>, tap: Option<Rc<Tap>>) -> Self {
        AdminHandler { shared, tap }
    }

    fn features(&self) -> Vec<&'static str> {
        let mut features: Vec<&str> = if self.shared.config.readonly { Vec::new() } else { ACTIONS.to_vec() };
        features.push("AGGREGATED_EVENTS");
        if self.tap.is_some() {
            features.push("ALL_EVENTS");
        }
        features
    }
}

/// A dashboard's socket: the session its login opened, to send once connected.
pub(crate) type Login = Option<String>;

impl Handler for AdminHandler {
    type Data = Login;

    fn on_start(&self, io: Io) {
        let Some(admin) = io.of(&self.shared.config.namespace) else { return };
        if let Some(tap) = &self.tap {
            tap.start(io.clone(), admin.clone());
        }
        // One server to the dashboard: shard 0 speaks for the process.
        if io.shard() == 0 {
            let metrics = io.layer().ctx().all_metrics().clone();
            stats::run(io, admin, self.shared.clone(), metrics);
        }
    }

    async fn authorize(&self, connect: &ConnectInfo) -> Result<Login, ConnectError> {
        let Some(basic) = &self.shared.config.auth else { return Ok(None) };
        auth::check(&connect.auth, &basic.username, &basic.hash, &self.shared.sessions)
            .await
            .map_err(|()| ConnectError::new("invalid credentials"))
    }

    async fn on_connect(&self, socket: Socket<Login>) {
        // Node emits it from the middleware, before the CONNECT answer; the dashboard listens for
        // it from its connect handler on, so it comes right after here.
        if let Some(session) = socket.with_data_mut(|login| login.take()) {
            let _ = socket.emit("session", &session);
        }
        let config = Value::Object(vec![(
            "supportedFeatures".into(),
            Value::Array(self.features().into_iter().map(Value::from).collect()),
        )]);
        let _ = socket.emit("config", &config);
        if self.tap.is_some() {
            let sockets = all_sockets(&socket.io()).await;
            let _ = socket.emit("all_sockets", &(sockets,));
        }
    }

    async fn on_event(&self, socket: Socket<Login>, event: Event) {
        if self.shared.config.readonly {
            return;
        }
        let Ok(args) = event.values() else { return };
        let io = socket.io();
        let text = |i: usize| args.get(i).and_then(Value::as_str).filter(|s| !s.is_empty());
        let Some(nsp) = text(0) else { return };
        let Some(target) = io.of(nsp) else { return };
        match event.name() {
            "emit" => {
                let Some(name) = text(2) else { return };
                let raw = event.raw_args();
                let rest = RawArgs {
                    json: raw.json.get(3..).unwrap_or_default().to_vec(),
                    attachments: raw.attachments,
                };
                let target = match text(1) {
                    Some(filter) => target.to(filter.to_owned()),
                    None => target,
                };
                let _ = target.emit_raw(name, &rest);
            }
            action @ ("join" | "leave") => {
                let Some(room) = text(1) else { return };
                let target = match text(2) {
                    Some(filter) => target.to(filter.to_owned()),
                    None => target,
                };
                match action {
                    "join" => target.sockets_join(room.to_owned()),
                    _ => target.sockets_leave(room.to_owned()),
                }
            }
            "_disconnect" => {
                let close = args.get(1).is_some_and(truthy);
                let target = match text(2) {
                    Some(filter) => target.to(filter.to_owned()),
                    None => target,
                };
                target.disconnect_sockets(close);
            }
            _ => {}
        }
    }
}

/// JavaScript's truthiness, for the `close` flag.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Node's `fetchAllSockets`: every namespace's sockets, on every shard and server, serialized.
/// The namespaces are those this shard has and those any shard counts sockets in.
async fn all_sockets(io: &Io) -> Vec<Value> {
    let layer = io.layer();
    let mut names: Vec<String> = layer.registry.names().iter().map(|n| n.to_string()).collect();
    for (name, _) in layer.ctx().all_metrics().totals().namespaces {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let targets: Vec<_> = names.iter().filter_map(|name| io.of(name)).collect();
    // Every request is sent before the first answer is awaited.
    let fetches: Vec<_> = targets.iter().map(|b| b.fetch_sockets()).collect();
    let mut sockets = Vec::new();
    for (target, fetch) in targets.iter().zip(fetches) {
        let found = fetch.await.unwrap_or_else(|(found, _)| found);
        sockets.extend(found.iter().map(|s| serialize(target.namespace(), &s.details())));
    }
    sockets
}
