//! The Socket.IO application the npm client scenarios talk to, and a thread-safe log of what
//! its handlers saw (disconnect reasons) for the Rust side to assert.
//!
//! Namespaces: `/` (refuses `token == "bad"` with `not authorized` / `{"code":42}`), `/admin`
//! (refuses unless `role == "admin"`, with `admins only` and no data) and every `/dyn-*`. All
//! share one handler: on connect it joins the room named by `room` (if any) and emits `welcome`;
//! its events are listed on [`App::on_event`]. Parameters come from the CONNECT payload (v5
//! `auth`, or the namespace query of a v4 client) and, failing that, from the handshake query:
//! a v2 client is joined to `/` without a CONNECT, so its `query` only reaches the handshake.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tpcio::prelude::DisconnectReason;
use tpcio::prelude::Value;
use tpcio::prelude::{ConnectError, ConnectInfo, Event, Handler, Socket, SocketIo};
use tpcio::prelude::{CpuPlacement, Handshake, RunningServer, ServerConfig};

/// Lines written by the handlers of every shard: `"<nsp> <name> <reason>"` per disconnect.
#[derive(Clone, Default)]
pub struct Record(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Record {
    fn lines(&self) -> MutexGuard<'_, Vec<String>> {
        self.0.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn push(&self, line: String) {
        self.lines().push(line);
        self.0.1.notify_all();
    }

    pub fn snapshot(&self) -> Vec<String> {
        self.lines().clone()
    }

    /// The lines `keep` selects, once there are `n` of them or `timeout` passed.
    pub fn wait_lines(&self, keep: impl Fn(&str) -> bool, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = self.lines();
        loop {
            let kept: Vec<String> = lines.iter().filter(|l| keep(l)).cloned().collect();
            let left = deadline.saturating_duration_since(Instant::now());
            if kept.len() >= n || left.is_zero() {
                return kept;
            }
            lines = self.0.1.wait_timeout(lines, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Waits (at most `timeout`) until every line of `want` has been written; panics otherwise.
    pub fn wait_for(&self, want: &[&str], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut lines = self.lines();
        loop {
            if want.iter().all(|w| lines.iter().any(|l| l == w)) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("server-side record lacks some of {want:?} after {timeout:?}: {:?}", *lines);
            }
            lines = self.0.1.wait_timeout(lines, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

/// What a socket keeps: the name its client gave, for the record.
#[derive(Default)]
pub struct Peer {
    name: String,
}

/// The test application, one per shard and namespace.
pub struct App {
    shard: usize,
    record: Record,
}

/// Starts the application on `addr` (2 unpinned shards, Node's default heartbeat).
pub fn start(addr: SocketAddr, record: &Record) -> std::io::Result<RunningServer> {
    let mut config = ServerConfig {
        addr,
        shards: Some(2),
        placement: CpuPlacement::Unpinned,
        shutdown_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    // The Socket.IO 2.x clients speak Engine.IO v3.
    config.engine.allow_eio3 = true;
    let (main, admin, dynamic) = (record.clone(), record.clone(), record.clone());
    SocketIo::new()
        .namespace("/", move |shard| App { shard, record: main.clone() })
        .namespace("/admin", move |shard| App { shard, record: admin.clone() })
        .dynamic_namespace(|n| n.starts_with("/dyn-"), move |shard| App { shard, record: dynamic.clone() })
        .start(config)
}

/// `key` from the CONNECT payload, else from the handshake query.
fn param(auth: &Value, handshake: Option<&Handshake>, key: &str) -> Option<String> {
    if let Some(v) = auth.get(key).and_then(Value::as_str) {
        return Some(v.to_owned());
    }
    let query = handshake?.request.query();
    form_urlencoded::parse(query).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The first argument as a string (a room name), or "".
fn first_str(values: &[Value]) -> String {
    values.first().and_then(Value::as_str).unwrap_or_default().to_owned()
}

impl Handler for App {
    type Data = Peer;

    async fn authorize(&self, c: &ConnectInfo) -> Result<Peer, ConnectError> {
        let p = |key| param(&c.auth, c.handshake.as_deref(), key);
        match &*c.namespace {
            "/" if p("token").as_deref() == Some("bad") => {
                Err(ConnectError::new("not authorized").with_data(object(vec![("code", 42.into())])))
            }
            "/admin" if p("role").as_deref() != Some("admin") => Err(ConnectError::new("admins only")),
            _ => Ok(Peer::default()),
        }
    }

    async fn on_connect(&self, socket: Socket<Peer>) {
        let auth = socket.auth();
        let handshake = socket.handshake();
        let p = |key| param(&auth, handshake.as_deref(), key);
        let name = p("name").unwrap_or_else(|| "anon".into());
        if let Some(room) = p("room") {
            socket.join(room);
        }
        socket.with_data_mut(|peer| peer.name.clone_from(&name));
        // Sent after the join: a client that got `welcome` is in its room.
        let welcome = object(vec![
            ("nsp", socket.namespace().into()),
            ("id", socket.id().as_str().into()),
            ("shard", (self.shard as u64).into()),
            ("name", name.into()),
            ("auth", auth.clone()),
        ]);
        let _ = socket.emit("welcome", &[welcome]);
    }

    /// `echo` → `echo` with the same arguments; `ack-me` → acked with them; `join room`;
    /// `to-room room ...` → `room-msg ...` to the room but the sender; `broadcast ...` →
    /// `broadcast-msg ...` to all but the sender; `all-except room ...` → `except-msg ...` to the
    /// namespace but the room; `volatile ...` → `volatile-msg ...` to the namespace, volatile;
    /// `ask-client q [ms]` → `question q` with an ack, then `answer {ok,result|error}`; `bye` →
    /// `disconnect(false)`; `close-me` → `disconnect(true)`. Events that change rooms or
    /// broadcast are acked with `true` once done, when the client asks.
    async fn on_event(&self, socket: Socket<Peer>, mut event: Event) {
        let ack = event.take_ack();
        let values = event.values().unwrap_or_default();
        let rest = values.get(1..).unwrap_or_default();
        let done = match event.name() {
            "echo" => socket.emit_raw("echo", &event.raw_args()).is_ok(),
            "ack-me" => {
                if let Some(ack) = ack {
                    let _ = ack.send_raw(&event.raw_args());
                }
                return;
            }
            "join" => {
                socket.join(first_str(&values));
                true
            }
            "to-room" => socket.to(first_str(&values)).emit("room-msg", rest).is_ok(),
            "broadcast" => socket.broadcast().emit_raw("broadcast-msg", &event.raw_args()).is_ok(),
            "all-except" => {
                socket.namespace_ops().except(first_str(&values)).emit("except-msg", rest).is_ok()
            }
            "volatile" => {
                socket.namespace_ops().volatile().emit_raw("volatile-msg", &event.raw_args()).is_ok()
            }
            "ask-client" => {
                let question = values.first().cloned().unwrap_or_default();
                let ms = values.get(1).and_then(Value::as_u64).unwrap_or(2000);
                let answer = match socket
                    .emit_with_ack::<_, Vec<Value>>("question", &[question], Duration::from_millis(ms))
                    .await
                {
                    Ok(result) => object(vec![("ok", true.into()), ("result", result.into())]),
                    Err(e) => object(vec![("ok", false.into()), ("error", e.to_string().into())]),
                };
                socket.emit("answer", &[answer]).is_ok()
            }
            "bye" => {
                socket.disconnect(false);
                return;
            }
            "close-me" => {
                socket.disconnect(true);
                return;
            }
            _ => false,
        };
        if let Some(ack) = ack {
            let _ = ack.send(&done);
        }
    }

    async fn on_disconnect(&self, socket: Socket<Peer>, reason: DisconnectReason) {
        let name = socket.with_data(|peer| peer.name.clone());
        self.record.push(format!("{} {name} {reason}", socket.namespace()));
    }
}
