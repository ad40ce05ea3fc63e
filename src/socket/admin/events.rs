//! Development mode's notifications: what happens to the sockets of one shard, told to the
//! admin sockets of every shard and server (Node's `adminNamespace.emit(…)` from the listeners
//! `registerVerboseListeners` puts on every namespace).
//!
//! Each shard has one [`Tap`]; its namespaces call it where a socket connects, joins or leaves
//! a room, disconnects, receives or is sent an event, or upgrades its transport. The tap only
//! queues a notice with its time: a task of the shard emits the queue afterwards, so that no
//! emit to the admin namespace runs inside a namespace's own bookkeeping. With the UI off (or
//! in production mode) there is no tap, and each of those places costs one branch.
//!
//! Payloads as Node's: `socket_connected(socket, date)`, `socket_updated({id, nsp, transport})`,
//! `socket_disconnected(nsp, id, reason, date)`, `room_joined(nsp, room, id, date)`,
//! `room_left(…)` (after the `socket_disconnected` of a leaving socket, as Node defers it a
//! tick), `event_received(nsp, id, [event, ...args], date)` and `event_sent(…)`, dates as
//! `JSON.stringify` writes them. The admin namespace's own events are not reported.

use std::cell::{Cell, OnceCell, RefCell};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use bytestring::ByteString;

use crate::adapter::{BroadcastOptions, EncodedPacket, Room, SocketDetails};
use crate::engine::{DisconnectReason, TransportKind};
use crate::protocol::sid::Sid;
use crate::protocol::sio::{DecodeOptions, Packet, SioVersion};
use crate::protocol::value::Value;
use crate::server::EngineSocket;
use crate::socket::{Broadcast, Io, RawArgs};

/// One shard's reporter to the admin namespace.
pub(crate) struct Tap {
    admin_nsp: ByteString,
    out: OnceCell<(Io, Broadcast)>,
    queue: RefCell<Vec<Notice>>,
    flushing: Cell<bool>,
}

enum Notice {
    Connected { nsp: ByteString, id: Sid, at: SystemTime },
    Disconnected { nsp: ByteString, id: Sid, reason: &'static str, at: SystemTime },
    Room { joined: bool, nsp: ByteString, room: Room, id: Sid, at: SystemTime },
    Transport { nsp: ByteString, id: Sid, transport: &'static str },
    Event { sent: bool, nsp: ByteString, id: Sid, data: ByteString, attachments: Vec<Bytes>, at: SystemTime },
}

impl Tap {
    pub(crate) fn new(admin_nsp: ByteString) -> Tap {
        Tap { admin_nsp, out: OnceCell::new(), queue: RefCell::new(Vec::new()), flushing: Cell::new(false) }
    }

    /// The shard started: notices go to `admin` from now on.
    pub(crate) fn start(&self, io: Io, admin: Broadcast) {
        let _ = self.out.set((io, admin));
    }

    fn push(&self, notice: Notice) {
        let Some((io, _)) = self.out.get() else { return };
        self.queue.borrow_mut().push(notice);
        if self.flushing.replace(true) {
            return;
        }
        let io = io.clone();
        io.clone().spawn(async move {
            // The tap lives as long as the layer whose registry holds it.
            let Some(tap) = io.layer().registry.tap() else { return };
            tap.flush(&io);
        });
    }

    fn flush(&self, io: &Io) {
        loop {
            let notices = std::mem::take(&mut *self.queue.borrow_mut());
            if notices.is_empty() {
                self.flushing.set(false);
                return;
            }
            for notice in notices {
                self.emit(io, notice);
            }
        }
    }

    fn emit(&self, io: &Io, notice: Notice) {
        let Some((_, admin)) = self.out.get() else { return };
        let _ = match notice {
            Notice::Connected { nsp, id, at } => {
                let opts = BroadcastOptions::new().to(ByteString::from(id.as_str()));
                // Gone already: its `socket_disconnected` follows.
                let Some(details) = io.layer().local_details(&nsp, &opts).pop() else { return };
                admin.emit("socket_connected", &(serialize(&nsp, &details), iso_date(at)))
            }
            Notice::Disconnected { nsp, id, reason, at } => {
                admin.emit("socket_disconnected", &(&*nsp, id.as_str(), reason, iso_date(at)))
            }
            Notice::Room { joined, nsp, room, id, at } => {
                let event = if joined { "room_joined" } else { "room_left" };
                admin.emit(event, &(&*nsp, &*room, id.as_str(), iso_date(at)))
            }
            Notice::Transport { nsp, id, transport } => {
                let update = Value::Object(vec![
                    ("id".into(), Value::from(id.as_str())),
                    ("nsp".into(), Value::from(&*nsp)),
                    ("transport".into(), Value::from(transport)),
                ]);
                admin.emit("socket_updated", &update)
            }
            Notice::Event { sent, nsp, id, data, attachments, at } => {
                let json = |v: &str| ByteString::from(serde_json::to_string(v).unwrap_or_default());
                let args = RawArgs {
                    json: vec![json(&nsp), json(id.as_str()), data, json(&iso_date(at))],
                    attachments,
                };
                admin.emit_raw(if sent { "event_sent" } else { "event_received" }, &args)
            }
        };
    }

    /// A socket connected to `nsp` (it is in its own room).
    pub(crate) fn connected(&self, nsp: &ByteString, id: Sid) {
        let at = SystemTime::now();
        let room = ByteString::from(id.as_str());
        self.push(Notice::Room { joined: true, nsp: nsp.clone(), room, id, at });
        self.push(Notice::Connected { nsp: nsp.clone(), id, at });
    }

    pub(crate) fn disconnected(&self, nsp: &ByteString, id: Sid, reason: DisconnectReason) {
        let at = SystemTime::now();
        self.push(Notice::Disconnected { nsp: nsp.clone(), id, reason: reason.as_str(), at });
    }

    /// A socket joined (`true`) or left a room it was not in (was in).
    pub(crate) fn room(&self, joined: bool, nsp: &ByteString, room: &str, id: Sid) {
        let at = SystemTime::now();
        self.push(Notice::Room { joined, nsp: nsp.clone(), room: Room::from(room), id, at });
    }

    /// The sockets of a connection that moved to WebSocket.
    pub(crate) fn upgraded(&self, sockets: Vec<(ByteString, Sid)>) {
        for (nsp, id) in sockets {
            self.push(Notice::Transport { nsp, id, transport: "websocket" });
        }
    }

    /// An event from a client (Node's `socket.onAny`, which sees it before any middleware).
    pub(crate) fn received(&self, nsp: &ByteString, id: Sid, packet: &Packet, attachments: &[Bytes]) {
        self.event(false, nsp, id, packet.data.as_ref(), attachments);
    }

    /// An event a socket is sent (Node's `socket.onAnyOutgoing`).
    pub(crate) fn sent(&self, nsp: &ByteString, id: Sid, packet: &Packet, attachments: &[Bytes]) {
        self.event(true, nsp, id, packet.data.as_ref(), attachments);
    }

    /// A broadcast's packet, written to each of `recipients`.
    pub(crate) fn sent_to(
        &self,
        nsp: &ByteString,
        recipients: &[(Sid, EngineSocket)],
        packet: &EncodedPacket,
    ) {
        if *nsp == self.admin_nsp || recipients.is_empty() {
            return;
        }
        let opts = DecodeOptions { max_attachments: usize::MAX };
        let Ok(decoded) = Packet::decode(packet.text().clone(), SioVersion::V5, &opts) else { return };
        for (id, _) in recipients {
            self.event(true, nsp, *id, decoded.data.as_ref(), packet.attachments());
        }
    }

    fn event(&self, sent: bool, nsp: &ByteString, id: Sid, data: Option<&ByteString>, attachments: &[Bytes]) {
        if *nsp == self.admin_nsp {
            return;
        }
        let Some(data) = data else { return };
        let (data, attachments) = (data.clone(), attachments.to_vec());
        self.push(Notice::Event { sent, nsp: nsp.clone(), id, data, attachments, at: SystemTime::now() });
    }
}

/// `socket.data` as a fetch hands it to other shards and servers with the UI on: the user's
/// exported data (if any) and `_admin: {clientId, transport}`, which Node's `serialize` reads.
pub(crate) fn socket_data(user: Option<Value>, engine: &EngineSocket) -> Value {
    let client_id: String = engine.sid().as_str().chars().take(12).collect();
    let admin = Value::Object(vec![
        ("clientId".into(), Value::from(client_id)),
        ("transport".into(), Value::from(transport_name(engine.transport()))),
    ]);
    let mut fields = vec![("_admin".to_owned(), admin)];
    if let Some(Value::Object(user)) = user {
        fields.extend(user.into_iter().filter(|(k, _)| k != "_admin"));
    }
    Value::Object(fields)
}

fn transport_name(kind: Option<TransportKind>) -> &'static str {
    match kind {
        Some(TransportKind::WebSocket) => "websocket",
        _ => "polling",
    }
}

/// Node's `serialize(socket, nsp)`: `{id, clientId, transport, nsp, data, handshake, rooms}`,
/// from a socket as `fetch_sockets` finds it (on any shard or server, Node's included).
pub(crate) fn serialize(nsp: &str, details: &SocketDetails) -> Value {
    let admin = details.data.get("_admin");
    let mut fields = vec![("id".to_owned(), Value::from(&*details.id))];
    for key in ["clientId", "transport"] {
        if let Some(value) = admin.and_then(|a| a.get(key)) {
            fields.push((key.to_owned(), value.clone()));
        }
    }
    let data = match &details.data {
        Value::Object(all) => Value::Object(all.iter().filter(|(k, _)| k != "_admin").cloned().collect()),
        _ => Value::Object(Vec::new()),
    };
    fields.push(("nsp".into(), Value::from(nsp)));
    fields.push(("data".into(), data));
    fields.push(("handshake".into(), handshake(&details.handshake)));
    fields.push(("rooms".into(), Value::Array(details.rooms.iter().map(|r| Value::from(&**r)).collect())));
    Value::Object(fields)
}

/// The handshake fields Node's `serialize` keeps, in its order; `time` made from `issued`
/// when the socket's server did not send it (ours does not).
fn handshake(h: &Value) -> Value {
    let header = |name: &str| h.get("headers").and_then(|hs| hs.get(name)).filter(|v| !v.is_null()).cloned();
    let address = header("cf-connecting-ip")
        .or_else(|| header("x-forwarded-for"))
        .or_else(|| h.get("address").cloned())
        .unwrap_or_default();
    let issued = h.get("issued").cloned().unwrap_or_default();
    let time = match h.get("time") {
        Some(time) => time.clone(),
        None => Value::from(js_date_string(issued.as_u64().unwrap_or(0))),
    };
    let mut fields = vec![("address".to_owned(), address)];
    for key in ["headers", "query"] {
        fields.push((key.to_owned(), h.get(key).cloned().unwrap_or(Value::Object(Vec::new()))));
    }
    fields.push(("issued".into(), issued));
    fields.push(("secure".into(), h.get("secure").cloned().unwrap_or(Value::Bool(false))));
    fields.push(("time".into(), time));
    for key in ["url", "xdomain"] {
        if let Some(value) = h.get(key) {
            fields.push((key.to_owned(), value.clone()));
        }
    }
    Value::Object(fields)
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// A date as `JSON.stringify(new Date())` writes it: `2026-12-03T17:04:05.123Z`.
pub(crate) fn iso_date(at: SystemTime) -> String {
    crate::protocol::date::iso_string(unix_ms(at) as i64).unwrap_or_default()
}

/// `new Date(ms).toString()` in UTC: `Thu Dec 03 2026 17:04:05 GMT+0000 (Coordinated Universal Time)`.
fn js_date_string(ms: u64) -> String {
    let http = crate::http::date::http_date(ms / 1000);
    let http = std::str::from_utf8(&http).unwrap_or_default();
    // "Thu, 03 Dec 2026 17:04:05 GMT"
    let (day, rest) = http.split_once(", ").unwrap_or(("", http));
    let parts: Vec<&str> = rest.split(' ').collect();
    match parts.as_slice() {
        [date, month, year, time, _] => {
            format!("{day} {month} {date} {year} {time} GMT+0000 (Coordinated Universal Time)")
        }
        _ => http.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_javascript_writes_them() {
        let at = UNIX_EPOCH + std::time::Duration::from_millis(1_796_317_445_123);
        assert_eq!(iso_date(at), "2026-12-03T17:04:05.123Z");
        assert_eq!(iso_date(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            js_date_string(1_796_317_445_123),
            "Thu Dec 03 2026 17:04:05 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn sockets_serialize_as_node_does() {
        let handshake = Value::Object(vec![
            (
                "headers".into(),
                Value::Object(vec![
                    ("host".into(), Value::from("x")),
                    ("x-forwarded-for".into(), Value::from("10.0.0.1")),
                ]),
            ),
            ("address".into(), Value::from("127.0.0.1")),
            ("xdomain".into(), Value::from(false)),
            ("secure".into(), Value::from(false)),
            ("issued".into(), Value::from(1_796_317_445_123u64)),
            ("url".into(), Value::from("/socket.io/?EIO=4")),
            ("query".into(), Value::Object(vec![("EIO".into(), Value::from("4"))])),
            ("auth".into(), Value::Object(Vec::new())),
        ]);
        let admin = Value::Object(vec![
            ("clientId".into(), Value::from("abcdefghijkl")),
            ("transport".into(), Value::from("websocket")),
        ]);
        let details = SocketDetails {
            id: "sock".into(),
            handshake,
            rooms: vec!["sock".into(), "lobby".into()],
            data: Value::Object(vec![("_admin".into(), admin), ("nick".into(), Value::from("ann"))]),
        };
        let json = serde_json::to_string(&serialize("/", &details)).unwrap();
        assert_eq!(
            json,
            r#"{"id":"sock","clientId":"abcdefghijkl","transport":"websocket","nsp":"/","data":{"nick":"ann"},"handshake":{"address":"10.0.0.1","headers":{"host":"x","x-forwarded-for":"10.0.0.1"},"query":{"EIO":"4"},"issued":1796317445123,"secure":false,"time":"Thu Dec 03 2026 17:04:05 GMT+0000 (Coordinated Universal Time)","url":"/socket.io/?EIO=4","xdomain":false},"rooms":["sock","lobby"]}"#
        );
    }
}
