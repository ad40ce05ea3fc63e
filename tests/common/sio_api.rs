//! A namespace handler for the Socket.IO API tests ([`Api`]), on `/` and every `/dyn-…`
//! namespace, where each event a raw client sends names one server API to exercise — a
//! broadcast with acks, `fetch_sockets` and the remote sockets it returns, a parent namespace
//! emit — and answers with what it returned. What only the server sees (the `on_outgoing`,
//! `on_packet`, `on_disconnecting` hooks) is reported on a channel. On `/`, shard 0's
//! `on_start` spawns a task that emits `tick` to room `ticks` every 50 ms through its `Io`.
//!
//! Events (arguments after the name), each acked once done on this shard:
//! `join r`, `rooms` (`[[…sorted rooms]]`), `ask r ms` (`["ok"|"timeout", [sorted answers]]`),
//! `fetch r` (`[[{"id","shard","rooms","eio"}…]]` sorted by id, every socket when `r` is ""),
//! `remote-join id r` (`[owner shard]`), `remote-emit id v`, `remote-ask id` (`[answer]`),
//! `remote-disconnect id`, `parent v`, `echo v`, `broadcast v`, `mark`. `forbidden` is refused
//! by `on_packet`.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use tpcio::prelude::DisconnectReason;
use tpcio::prelude::ShardId;
use tpcio::prelude::Value;
use tpcio::prelude::{BroadcastAckError, Event, Handler, Io, RemoteSocket, Socket, SocketIo, SocketRef};

use super::TIMEOUT;
use super::sio::{Client, SHARDS, SioServer};

/// What the hooks saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    Outgoing { socket: String, event: String },
    Refused { socket: String, event: String },
    Disconnecting { socket: String, rooms: Vec<String>, reason: &'static str },
    Disconnect { socket: String, reason: &'static str },
}

pub struct Api {
    shard: ShardId,
    /// The handler of `/` (the dynamic namespaces share the type).
    main: bool,
    reports: Sender<Report>,
}

/// A server with [`Api`] on `/` and on every `/dyn-…` namespace; its reports.
pub fn server() -> (SioServer, Receiver<Report>) {
    let (tx, rx) = mpsc::channel();
    let main = tx.clone();
    let io = SocketIo::new()
        .namespace("/", move |shard| Api { shard, main: true, reports: main.clone() })
        .dynamic_namespace(
            |name| name.starts_with("/dyn-"),
            move |shard| Api { shard, main: false, reports: tx.clone() },
        );
    (SioServer::start(io), rx)
}

fn text(values: &[Value], i: usize) -> String {
    values.get(i).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn strings(items: impl IntoIterator<Item = String>) -> Value {
    let mut items: Vec<String> = items.into_iter().collect();
    items.sort();
    Value::Array(items.into_iter().map(Value::from).collect())
}

/// Answers as a sortable string: a string as is, anything else as its debug form.
fn answer_text(v: &Value) -> String {
    v.as_str().map_or_else(|| format!("{v:?}"), str::to_string)
}

/// The socket whose id is `id`, from a fetch on the namespace.
async fn find(socket: &SocketRef, id: &str) -> Option<RemoteSocket> {
    socket.namespace_ops().to(id.to_string()).fetch_sockets().await.unwrap_or_else(|(found, _)| found).pop()
}

async fn ticker(io: Io) {
    let mut n = 0u64;
    loop {
        tpcio::prelude::sleep(Duration::from_millis(50)).await;
        n += 1;
        if let Some(main) = io.of("/") {
            let _ = main.to("ticks").emit("tick", &[Value::from(n)]);
        }
    }
}

impl Handler for Api {
    type Data = ();

    async fn authorize(&self, _: &tpcio::prelude::ConnectInfo) -> Result<(), tpcio::prelude::ConnectError> {
        Ok(())
    }

    fn on_start(&self, io: Io) {
        assert_eq!(io.shard(), self.shard);
        if self.main && self.shard == 0 {
            io.spawn(ticker(io.clone()));
        }
    }

    fn on_packet(&self, socket: &Socket<()>, event: &Event) -> Result<(), String> {
        if event.name() != "forbidden" {
            return Ok(());
        }
        let (socket, event) = (socket.id().as_str().to_string(), event.name().to_string());
        let _ = self.reports.send(Report::Refused { socket, event });
        Err("forbidden".into())
    }

    fn on_outgoing(&self, socket: &SocketRef, event: &str) {
        let (socket, event) = (socket.id().as_str().to_string(), event.to_string());
        let _ = self.reports.send(Report::Outgoing { socket, event });
    }

    fn on_disconnecting(&self, socket: &Socket<()>, reason: DisconnectReason) {
        let own = socket.id();
        let rooms = socket.rooms().iter().filter(|r| **r != own.as_str()).map(|r| r.to_string()).collect();
        let socket = own.as_str().to_string();
        let _ = self.reports.send(Report::Disconnecting { socket, rooms, reason: reason.as_str() });
    }

    async fn on_event(&self, socket: Socket<()>, mut event: Event) {
        let values = event.values().unwrap_or_default();
        let arg = values.first().cloned().unwrap_or_default();
        let mut answer = Vec::new();
        match event.name() {
            "join" => socket.join(text(&values, 0)),
            "rooms" => {
                let own = socket.id();
                answer.push(strings(
                    socket.rooms().iter().filter(|r| **r != own.as_str()).map(|r| r.to_string()),
                ));
            }
            "ask" => {
                let wait = Duration::from_millis(values.get(1).and_then(Value::as_u64).unwrap_or(1000));
                let room = text(&values, 0);
                let acks = socket.namespace_ops().to(room.clone()).timeout(wait);
                let (verdict, responses) = match acks.emit_with_ack("question", &[Value::from(room)]).await {
                    Ok(responses) => ("ok", responses),
                    Err(BroadcastAckError::Timeout { responses }) => ("timeout", responses),
                    Err(_) => ("error", Vec::new()),
                };
                answer.push(Value::from(verdict));
                answer.push(strings(responses.iter().map(answer_text)));
            }
            "fetch" => {
                let room = text(&values, 0);
                let all = socket.namespace_ops();
                let selection = if room.is_empty() { all } else { all.to(room) };
                let mut found: Vec<(String, Value)> = Vec::new();
                for remote in selection.fetch_sockets().await.unwrap_or_else(|(found, _)| found) {
                    let own = remote.id();
                    let rooms = remote.rooms().iter().filter(|r| **r != own.as_str()).map(|r| r.to_string());
                    let eio = remote.handshake().get("query").and_then(|q| q.get("EIO")).cloned();
                    let entry = Value::Object(vec![
                        ("id".into(), Value::from(own.as_str())),
                        ("shard".into(), Value::from(remote.shard() as u64)),
                        ("rooms".into(), strings(rooms)),
                        ("eio".into(), eio.unwrap_or_default()),
                    ]);
                    found.push((own.as_str().to_string(), entry));
                }
                found.sort_by(|a, b| a.0.cmp(&b.0));
                answer.push(Value::Array(found.into_iter().map(|(_, v)| v).collect()));
            }
            "remote-join" => {
                if let Some(remote) = find(&socket, &text(&values, 0)).await {
                    remote.join(text(&values, 1));
                    answer.push(Value::from(remote.shard() as u64));
                }
            }
            "remote-emit" => {
                if let Some(remote) = find(&socket, &text(&values, 0)).await {
                    let _ = remote.emit("remote", &[values.get(1).cloned().unwrap_or_default()]);
                }
            }
            "remote-ask" => {
                if let Some(remote) = find(&socket, &text(&values, 0)).await {
                    match remote.emit_with_ack::<_, Value>("question", &(), TIMEOUT).await {
                        Ok(v) => answer.push(v),
                        Err(e) => answer.push(Value::from(e.to_string())),
                    }
                }
            }
            "remote-disconnect" => {
                if let Some(remote) = find(&socket, &text(&values, 0)).await {
                    remote.disconnect(false);
                }
            }
            "parent" => {
                let parent = socket.io().of_parent("/dyn-any").expect("the dynamic namespace");
                let _ = parent.emit("parent", &[arg]);
            }
            "echo" => {
                let _ = socket.emit("echo", &[arg]);
            }
            "broadcast" => {
                let _ = socket.broadcast().emit("all", &[arg]);
            }
            "mark" => {
                let _ = socket.namespace_ops().emit("marker", &());
            }
            _ => {}
        }
        if let Some(ack) = event.take_ack() {
            let _ = ack.send(&answer);
        }
    }

    async fn on_disconnect(&self, socket: Socket<()>, reason: DisconnectReason) {
        let socket = socket.id().as_str().to_string();
        let _ = self.reports.send(Report::Disconnect { socket, reason: reason.as_str() });
    }
}

/// The next report that `pick` accepts, skipping others; panics after [`TIMEOUT`].
pub fn expect_report<T>(reports: &Receiver<Report>, mut pick: impl FnMut(&Report) -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match reports.recv_timeout(left) {
            Ok(report) => match pick(&report) {
                Some(found) => return found,
                None => skipped.push(report),
            },
            Err(_) => panic!("no matching report; skipped {skipped:?}"),
        }
    }
}

/// A v5 client joined to `/`, with its socket id.
pub struct Member {
    pub client: Client,
    pub sid: String,
}

/// Opens clients until each shard owns at least `per_shard` of them (64 at most); returns
/// them grouped by owner shard.
pub fn spread(server: &SioServer, per_shard: usize) -> [Vec<Member>; SHARDS] {
    let mut shards: [Vec<Member>; SHARDS] = Default::default();
    for _ in 0..64 {
        if shards.iter().all(|s| s.len() >= per_shard) {
            return shards;
        }
        let (client, sid) = Client::connect(server.addr);
        shards[client.shard()].push(Member { client, sid });
    }
    panic!("64 connections did not reach both shards: {:?}", shards.each_ref().map(Vec::len));
}

/// Splits a server event with an ack id, `42<nsp,><id>[…]`, into the id and the JSON array.
pub fn ack_request(text: &str, nsp: &str) -> (u64, String) {
    let prefix = if nsp == "/" { "42".to_string() } else { format!("42{nsp},") };
    let rest = text.strip_prefix(&prefix).unwrap_or_else(|| panic!("not an event on {nsp}: {text:?}"));
    let digits = rest.find('[').unwrap_or_else(|| panic!("no arguments: {text:?}"));
    let id = rest[..digits].parse().unwrap_or_else(|_| panic!("no ack id: {text:?}"));
    (id, rest[digits..].to_string())
}
