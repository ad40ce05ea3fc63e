//! Connection state recovery byte for byte, with raw WebSocket clients against a two-shard
//! server: the CONNECT answer with its `pid` (`40{"sid":"…","pid":"…"}`), the offset as the
//! last argument of broadcasts and plain emits (and none on volatile emits and acks), the
//! missed packets written before the CONNECT answer of a recovered socket, and, without the
//! option, the bytes of before (no pid, no offset). The expected bytes are those of Node's
//! socket.io 4.8 (`lib/socket.ts` `_onconnect`, `emit`; socket.io-adapter's
//! `SessionAwareAdapter`), offsets aside (ours are not `yeast()`'s, see `socket::recovery`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::engine::Eio;
use common::sio::{Client, SioServer, connect_ack_sid};
use tpcio::prelude::DisconnectReason;
use tpcio::prelude::Value;
use tpcio::prelude::{ConnectError, ConnectInfo, ConnectionStateRecovery, Event, Handler, Socket, SocketIo};

/// `join room`, `bcast room n` → `b n` to the room, `uni` → `u 1` to the sender, `poke id` →
/// `poked` to socket `id` through `fetch_sockets`,
/// `vol` → `v 1` volatile to the namespace; acked with `true` when asked. Disconnects are
/// recorded.
struct Probe(Arc<Mutex<Vec<String>>>);

impl Handler for Probe {
    type Data = ();

    /// Refuses a CONNECT whose payload has `"deny":true`.
    async fn authorize(&self, c: &ConnectInfo) -> Result<(), ConnectError> {
        match c.auth.get("deny") {
            Some(Value::Bool(true)) => Err(ConnectError::new("denied")),
            _ => Ok(()),
        }
    }

    async fn on_event(&self, socket: Socket<()>, mut event: Event) {
        let ack = event.take_ack();
        let v = event.values().unwrap_or_default();
        let room = v.first().and_then(Value::as_str).unwrap_or_default().to_owned();
        match event.name() {
            "join" => socket.join(room),
            "bcast" => {
                let n = v.get(1).cloned().unwrap_or_default();
                let _ = socket.namespace_ops().to(room).emit("b", &[n]);
            }
            "uni" => {
                let _ = socket.emit("u", &1u64);
            }
            "poke" => {
                // Through a RemoteSocket, routed to the shard that has the socket.
                if let Ok(found) = socket.namespace_ops().to(room).fetch_sockets().await {
                    for remote in found {
                        let _ = remote.emit("poked", &());
                    }
                }
            }
            "vol" => {
                let _ = socket.namespace_ops().volatile().emit("v", &1u64);
            }
            _ => {}
        }
        if let Some(ack) = ack {
            let _ = ack.send(&true);
        }
    }

    async fn on_disconnect(&self, socket: Socket<()>, reason: DisconnectReason) {
        self.0.lock().expect("not poisoned").push(format!("{} {reason}", socket.id().as_str()));
    }
}

fn server(recovery: bool) -> (SioServer, Arc<Mutex<Vec<String>>>) {
    server_with(recovery.then(ConnectionStateRecovery::default))
}

fn server_with(recovery: Option<ConnectionStateRecovery>) -> (SioServer, Arc<Mutex<Vec<String>>>) {
    let record = Arc::new(Mutex::new(Vec::new()));
    let (main, chat) = (record.clone(), record.clone());
    let mut io = SocketIo::new()
        .serve_client(false)
        .namespace("/", move |_| Probe(main.clone()))
        .namespace("/chat", move |_| Probe(chat.clone()));
    if let Some(recovery) = recovery {
        io = io.connection_state_recovery(recovery);
    }
    (SioServer::start(io), record)
}

fn is_id(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// `40{"sid":"…","pid":"…"}` (or `40/nsp,{…}`) checked byte for byte: (sid, pid).
fn connect_ack_pid(text: &str, nsp: &str) -> (String, String) {
    let prefix = if nsp == "/" { "40".to_string() } else { format!("40{nsp},") };
    let json = text.strip_prefix(&prefix).unwrap_or_else(|| panic!("not a connect ack for {nsp}: {text:?}"));
    let parsed: serde_json::Value = serde_json::from_str(json).expect("JSON");
    let sid = parsed["sid"].as_str().expect("a sid").to_owned();
    let pid = parsed["pid"].as_str().expect("a pid").to_owned();
    assert!(is_id(&sid) && is_id(&pid) && sid != pid, "{text}");
    assert_eq!(text, format!(r#"{prefix}{{"sid":"{sid}","pid":"{pid}"}}"#));
    (sid, pid)
}

/// `prefix` then a JSON string (the offset) then `]`: the offset.
fn offset_after(text: &str, prefix: &str) -> String {
    let rest = text.strip_prefix(prefix).unwrap_or_else(|| panic!("expected {prefix}…, got {text:?}"));
    let offset = rest.strip_prefix('"').and_then(|r| r.strip_suffix("\"]")).expect("an offset string last");
    assert!(
        !offset.is_empty()
            && offset.len() <= 24
            && offset.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)),
        "a short offset: {offset:?}"
    );
    offset.to_owned()
}

#[test]
fn connect_answer_has_a_pid_and_events_an_offset() {
    let (server, _) = server(true);
    let mut client = Client::open(server.addr, Eio::V4);
    client.send("40");
    connect_ack_pid(&client.text(), "/");
    client.send("40/chat,");
    connect_ack_pid(&client.text(), "/chat");

    client.send(r#"42["join","r"]"#);
    client.send(r#"42["bcast","r",1]"#);
    let first = offset_after(&client.text(), r#"42["b",1,"#);
    client.send(r#"42/chat,["join","r"]"#);
    client.send(r#"42/chat,["bcast","r",2]"#);
    let chat = offset_after(&client.text(), r#"42/chat,["b",2,"#);
    client.send(r#"42["uni"]"#);
    let unicast = offset_after(&client.text(), r#"42["u",1,"#);
    assert!(first != chat && chat != unicast && first != unicast);
    // No offset: volatile, and acks.
    client.send(r#"42["vol"]"#);
    client.expect_text(r#"42["v",1]"#);
    assert_eq!(client.call(7, r#"["nothing"]"#), "[true]");
}

#[test]
fn without_the_option_nothing_changes() {
    let (server, _) = server(false);
    let (mut client, _) = Client::connect(server.addr);
    client.send("40/chat,");
    connect_ack_sid(&client.text(), "/chat");
    client.send(r#"42["join","r"]"#);
    client.send(r#"42["bcast","r",1]"#);
    client.expect_text(r#"42["b",1]"#);
    client.send(r#"42["uni"]"#);
    client.expect_text(r#"42["u",1]"#);
    // A client that sends a pid and an offset anyway gets a fresh socket, without a pid.
    let mut other = Client::open(server.addr, Eio::V4);
    other.send(r#"40{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"x"}"#);
    connect_ack_sid(&other.text(), "/");
}

fn wait_for_disconnect(record: &Mutex<Vec<String>>, sid: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = record.lock().expect("not poisoned").iter().find(|l| l.starts_with(sid)) {
            return line.clone();
        }
        assert!(Instant::now() < deadline, "no disconnect recorded for {sid}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn missed_packets_come_before_the_connect_answer() {
    let (server, record) = server(true);
    for round in 0..4 {
        let mut client = Client::open(server.addr, Eio::V4);
        client.send("40");
        let (sid, pid) = connect_ack_pid(&client.text(), "/");
        client.send(r#"42["join","r"]"#);
        client.send(r#"42["bcast","r",0]"#);
        let offset = offset_after(&client.text(), r#"42["b",0,"#);
        drop(client);
        assert_eq!(wait_for_disconnect(&record, &sid), format!("{sid} transport close"));

        let mut trigger = Client::open(server.addr, Eio::V4);
        trigger.send("40");
        connect_ack_pid(&trigger.text(), "/");
        for n in 1..=3 {
            assert_eq!(trigger.call(n, &format!(r#"["bcast","r",{n}]"#)), "[true]");
        }
        // Not for the room: not replayed.
        assert_eq!(trigger.call(9, r#"["bcast","elsewhere",9]"#), "[true]");

        let mut back = Client::open(server.addr, Eio::V4);
        back.send(&format!(r#"40{{"pid":"{pid}","offset":"{offset}","x":{round}}}"#));
        for n in 1..=3 {
            offset_after(&back.text(), &format!(r#"42["b",{n},"#));
        }
        back.expect_text(&format!(r#"40{{"sid":"{sid}","pid":"{pid}"}}"#));
        // Still in the room.
        assert_eq!(trigger.call(4, r#"["bcast","r",4]"#), "[true]");
        offset_after(&back.text(), r#"42["b",4,"#);

        // Taken: the same pid and offset again give a fresh socket.
        let mut again = Client::open(server.addr, Eio::V4);
        again.send(&format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#));
        let (fresh, fresh_pid) = connect_ack_pid(&again.text(), "/");
        assert!(fresh != sid && fresh_pid != pid);
    }
}

/// The reconnection lands on the other shard: the session comes from the shard that kept it,
/// and the restored socket, whose id names its first shard, is still reached by a
/// `RemoteSocket` and by its own emits. Then it moves back, through the forward its pid's
/// shard keeps.
#[test]
fn a_session_restores_on_the_other_shard_and_back() {
    let (server, record) = server(true);
    let mut trigger = Client::open(server.addr, Eio::V4);
    trigger.send("40");
    connect_ack_pid(&trigger.text(), "/");

    let mut client = Client::open(server.addr, Eio::V4);
    client.send("40");
    let (sid, pid) = connect_ack_pid(&client.text(), "/");
    client.send(r#"42["join","r"]"#);
    client.send(r#"42["bcast","r",0]"#);
    let mut offset = offset_after(&client.text(), r#"42["b",0,"#);
    let mut shard = client.shard();
    let mut seen = 0;
    for round in 1..=2 {
        drop(client);
        assert!(wait_for_disconnect(&record, &sid).ends_with("transport close"));
        record.lock().expect("not poisoned").clear();
        assert_eq!(trigger.call(round, &format!(r#"["bcast","r",{round}]"#)), "[true]");
        // Engine sessions until one is on the other shard (each lands on either).
        let mut back = (0..64)
            .map(|_| Client::open(server.addr, Eio::V4))
            .find(|c| c.shard() != shard)
            .expect("a session on the other shard within 64 tries");
        back.send(&format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#));
        offset_after(&back.text(), &format!(r#"42["b",{round},"#));
        back.expect_text(&format!(r#"40{{"sid":"{sid}","pid":"{pid}"}}"#));
        seen += 1;
        assert_eq!(trigger.call(10 + round, &format!(r#"["poke","{sid}"]"#)), "[true]");
        offset_after(&back.text(), r#"42["poked","#);
        back.send(r#"42["uni"]"#);
        offset = offset_after(&back.text(), r#"42["u",1,"#);
        shard = back.shard();
        client = back;
    }
    assert_eq!(seen, 2);
}

/// A client joined to room `r` whose transport then dropped: (sid, pid, offset).
fn cut(server: &SioServer, record: &Mutex<Vec<String>>) -> (String, String, String) {
    let mut client = Client::open(server.addr, Eio::V4);
    client.send("40");
    let (sid, pid) = connect_ack_pid(&client.text(), "/");
    client.send(r#"42["join","r"]"#);
    client.send(r#"42["bcast","r",0]"#);
    let offset = offset_after(&client.text(), r#"42["b",0,"#);
    drop(client);
    assert!(wait_for_disconnect(record, &sid).ends_with("transport close"));
    (sid, pid, offset)
}

/// `skip_middlewares` (default): a recovered socket does not go through `authorize`; without
/// it, the middleware runs first and a refusal leaves the session for the next try.
#[test]
fn skip_middlewares_or_not() {
    let (server, record) = server(true);
    let (sid, pid, offset) = cut(&server, &record);
    let mut back = Client::open(server.addr, Eio::V4);
    back.send(&format!(r#"40{{"pid":"{pid}","offset":"{offset}","deny":true}}"#));
    back.expect_text(&format!(r#"40{{"sid":"{sid}","pid":"{pid}"}}"#));

    let strict = ConnectionStateRecovery::default().skip_middlewares(false);
    let (server, record) = server_with(Some(strict));
    let (sid, pid, offset) = cut(&server, &record);
    let mut refused = Client::open(server.addr, Eio::V4);
    refused.send(&format!(r#"40{{"pid":"{pid}","offset":"{offset}","deny":true}}"#));
    refused.expect_text(r#"44{"message":"denied"}"#);
    refused.send(&format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#));
    refused.expect_text(&format!(r#"40{{"sid":"{sid}","pid":"{pid}"}}"#));
}
