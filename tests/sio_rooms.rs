//! Rooms and broadcasts across shards, byte for byte: clients are opened until both shards
//! own several engine sessions (a TCP connection lands on a shard by hash; the owner is read
//! from the engine sid), then the probe handler makes the server broadcast to rooms, to all
//! but the sender, to all but a room, make sockets join or leave rooms, and disconnect them.
//!
//! "Nobody else got anything" is proved without sleeping: once every expected recipient has
//! its packet, each shard has finished delivering that broadcast; a namespace-wide `marker`
//! sent next must then be the very next packet of everyone else.
//!
//! Acks across shards are tested over long-polling, where every request is a fresh TCP
//! connection that may land on the shard that does not own the session and be handed over.
//! (A handler runs on the shard owning its socket, and `emit_with_ack` exists only on a
//! socket, so a server ack to a session on another shard than the handler's cannot be asked
//! for through the API.)

mod common;

use std::time::Instant;

use common::TIMEOUT;
use common::engine::Eio;
use common::server::TestServer;
use common::sio::probe::{self, disconnect_reasons};
use common::sio::{Client, Polling, SHARDS, SioServer};
use common::ws::Event;

const PLACEHOLDER: &str = r#"{"_placeholder":true,"num":0}"#;

/// A v5 client joined to `/`, with its socket id.
struct Member {
    client: Client,
    sid: String,
}

/// Opens clients until each shard owns at least `per_shard` of them (64 at most); returns
/// them grouped by owner shard, in opening order.
fn spread(server: &SioServer, per_shard: usize) -> [Vec<Member>; SHARDS] {
    spread_with(per_shard, || {
        let (client, sid) = Client::connect(server.addr);
        Member { client, sid }
    })
}

fn spread_with(per_shard: usize, mut open: impl FnMut() -> Member) -> [Vec<Member>; SHARDS] {
    let mut shards: [Vec<Member>; SHARDS] = Default::default();
    for _ in 0..64 {
        if shards.iter().all(|s| s.len() >= per_shard) {
            return shards;
        }
        let member = open();
        shards[member.client.shard()].push(member);
    }
    panic!("64 connections did not reach both shards: {:?}", shards.each_ref().map(Vec::len));
}

fn call(member: &mut Member, id: u64, event: &str) -> String {
    member.client.call(id, event)
}

/// The first client sends `42["mark"]`: the next packet of every client must be the marker.
fn assert_nothing_else(all: &mut [&mut Member]) {
    all[0].client.send(r#"42["mark"]"#);
    for (i, member) in all.iter_mut().enumerate() {
        assert_eq!(member.client.text(), r#"42["marker"]"#, "client {i} got something else first");
    }
}

/// Waits until `member`'s rooms read `expected` (rooms joined by another shard's operation
/// arrive by the mesh, after that operation's ack).
fn await_rooms(member: &mut Member, expected: &str) {
    let deadline = Instant::now() + TIMEOUT;
    let mut id = 100;
    loop {
        id += 1;
        let rooms = call(member, id, r#"["rooms"]"#);
        if rooms == expected {
            return;
        }
        assert!(Instant::now() < deadline, "rooms stayed {rooms}, expected {expected}");
    }
}

#[test]
fn room_broadcast_reaches_every_other_member_on_both_shards_once() {
    let (server, _reports) = probe::server();
    let [mut zero, mut one] = spread(&server, 4);
    // Members: the first two of each shard; the others stay out.
    let (mut members0, mut others0) = (zero.drain(..2).collect::<Vec<_>>(), zero);
    let (mut members1, mut others1) = (one.drain(..2).collect::<Vec<_>>(), one);
    for member in members0.iter_mut().chain(members1.iter_mut()) {
        assert_eq!(call(member, 1, r#"["join","r"]"#), "[]");
    }
    for sender_shard in 0..SHARDS {
        let (senders, peers) =
            if sender_shard == 0 { (&mut members0, &mut members1) } else { (&mut members1, &mut members0) };
        let (sender, same_shard) = senders.split_first_mut().expect("two members per shard");
        sender.client.send(&format!(r#"42["to","r","hi {sender_shard}"]"#));
        let expected = format!(r#"42["room","hi {sender_shard}"]"#);
        for member in same_shard.iter_mut().chain(peers.iter_mut()) {
            member.client.expect_text(&expected);
        }
        let mut all: Vec<&mut Member> = vec![sender];
        all.extend(same_shard.iter_mut());
        all.extend(peers.iter_mut());
        all.extend(others0.iter_mut());
        all.extend(others1.iter_mut());
        assert_nothing_else(&mut all);
    }
}

#[test]
fn several_rooms_make_a_union_without_duplicates() {
    let (server, _reports) = probe::server();
    let [zero, one] = spread(&server, 3);
    // Shard 0's clients first: `a` holds the first half, `b` the second but the last client,
    // plus the second client (in both rooms). The last client is in neither.
    let mut all: Vec<Member> = zero.into_iter().chain(one).collect();
    let n = all.len();
    for (i, member) in all.iter_mut().enumerate() {
        if i < n / 2 {
            assert_eq!(call(member, 1, r#"["join","a"]"#), "[]");
        }
        if (i >= n / 2 && i < n - 1) || i == 1 {
            assert_eq!(call(member, 2, r#"["join","b"]"#), "[]");
        }
    }
    let (sender, rest) = all.split_first_mut().expect("clients");
    sender.client.send(r#"42["to-both","a","b",7]"#);
    let (_, rest) = rest.split_last_mut().expect("an outsider");
    for member in rest.iter_mut() {
        member.client.expect_text(r#"42["room",7]"#);
    }
    let mut refs: Vec<&mut Member> = all.iter_mut().collect();
    assert_nothing_else(&mut refs);
}

#[test]
fn socket_broadcast_reaches_all_but_the_sender_across_shards() {
    let (server, _reports) = probe::server();
    let [zero, one] = spread(&server, 3);
    let mut all: Vec<Member> = zero.into_iter().chain(one).collect();
    for shard in 0..SHARDS {
        let at = all.iter().position(|m| m.client.shard() == shard).expect("a client on each shard");
        all.swap(0, at);
        let (sender, rest) = all.split_first_mut().expect("clients");
        sender.client.send(&format!(r#"42["broadcast",{{"from":{shard}}}]"#));
        for member in rest.iter_mut() {
            member.client.expect_text(&format!(r#"42["all",{{"from":{shard}}}]"#));
        }
        let mut refs: Vec<&mut Member> = all.iter_mut().collect();
        assert_nothing_else(&mut refs);
    }
}

#[test]
fn except_skips_a_room_on_every_shard() {
    let (server, _reports) = probe::server();
    let [mut zero, mut one] = spread(&server, 3);
    let mut quiet: Vec<Member> = zero.drain(..2).chain(one.drain(..2)).collect();
    for member in &mut quiet {
        assert_eq!(call(member, 1, r#"["join","quiet"]"#), "[]");
    }
    // The namespace operator includes the sender, who is not in the room.
    let mut loud: Vec<Member> = zero.into_iter().chain(one).collect();
    loud[0].client.send(r#"42["except","quiet","e"]"#);
    for member in &mut loud {
        member.client.expect_text(r#"42["except","e"]"#);
    }
    let mut refs: Vec<&mut Member> = loud.iter_mut().chain(quiet.iter_mut()).collect();
    assert_nothing_else(&mut refs);
}

#[test]
fn sockets_join_and_leave_through_the_namespace_across_shards() {
    let (server, _reports) = probe::server();
    let [mut zero, mut one] = spread(&server, 3);
    let mut members: Vec<Member> = zero.drain(..2).chain(one.drain(..2)).collect();
    let mut others: Vec<Member> = zero.into_iter().chain(one).collect();
    for member in &mut members {
        assert_eq!(call(member, 1, r#"["join","r"]"#), "[]");
    }
    // From a client outside the room: every member, on both shards, joins `r2`.
    assert_eq!(call(&mut others[0], 2, r#"["sockets-join","r","r2"]"#), "[]");
    for member in &mut members {
        await_rooms(member, r#"[["r","r2"]]"#);
    }
    for other in &mut others {
        assert_eq!(call(other, 3, r#"["rooms"]"#), "[[]]");
    }
    others[0].client.send(r#"42["to","r2","x"]"#);
    for member in &mut members {
        member.client.expect_text(r#"42["room","x"]"#);
    }
    let mut refs: Vec<&mut Member> = others.iter_mut().chain(members.iter_mut()).collect();
    assert_nothing_else(&mut refs);

    assert_eq!(call(&mut others[0], 4, r#"["sockets-leave","r2","r"]"#), "[]");
    for member in &mut members {
        await_rooms(member, r#"[["r2"]]"#);
    }
}

#[test]
fn disconnect_sockets_through_the_namespace_across_shards() {
    let (server, reports) = probe::server();
    let [mut zero, mut one] = spread(&server, 3);
    let mut members: Vec<Member> = zero.drain(..2).chain(one.drain(..2)).collect();
    let mut others: Vec<Member> = zero.into_iter().chain(one).collect();
    for member in &mut members {
        assert_eq!(call(member, 1, r#"["join","gone"]"#), "[]");
    }
    assert_eq!(call(&mut others[0], 2, r#"["disconnect-room","gone",false]"#), "[]");
    for member in &mut members {
        member.client.expect_text("41");
    }
    let sids: Vec<&str> = members.iter().map(|m| m.sid.as_str()).collect();
    assert_eq!(disconnect_reasons(&reports, &sids), ["server namespace disconnect"; 4]);
    let mut refs: Vec<&mut Member> = others.iter_mut().collect();
    assert_nothing_else(&mut refs);

    // The engine connections stay: the members join again, then are disconnected for good.
    for member in &mut members {
        member.client.send("40");
        member.sid = common::sio::connect_ack_sid(&member.client.text(), "/");
        assert_eq!(call(member, 3, r#"["join","gone"]"#), "[]");
        member.client.send("40/dyn-a,");
        common::sio::connect_ack_sid(&member.client.text(), "/dyn-a");
    }
    // With `close`, each connection leaves every namespace (Node's `client._disconnect()`).
    assert_eq!(call(&mut others[0], 4, r#"["disconnect-room","gone",true]"#), "[]");
    for member in &mut members {
        let left = vec![Event::Text("41".into()), Event::Text("41/dyn-a,".into())];
        assert_eq!(member.client.closed(), (left, Some(None)));
    }
    let mut refs: Vec<&mut Member> = others.iter_mut().collect();
    assert_nothing_else(&mut refs);
}

#[test]
fn to_a_socket_id_reaches_that_socket_on_either_shard() {
    let (server, _reports) = probe::server();
    let mut shards = spread(&server, 2);
    for from in 0..SHARDS {
        let [zero, one] = &mut shards;
        let (from, to) = if from == 0 { (zero, one) } else { (one, zero) };
        let target = to[0].sid.clone();
        from[0].client.send(&format!(r#"42["to","{target}","pm"]"#));
        to[0].client.expect_text(r#"42["room","pm"]"#);
        let mut refs: Vec<&mut Member> = to.iter_mut().chain(from.iter_mut()).collect();
        assert_nothing_else(&mut refs);
    }
}

#[test]
fn dynamic_namespace_binary_broadcast_across_shards() {
    let (server, _reports) = probe::server();
    let [zero, one] = spread(&server, 2);
    let mut all: Vec<Member> = zero.into_iter().chain(one).collect();
    // The last client stays out of `/dyn-a`: it must get nothing.
    let n = all.len();
    for member in &mut all[..n - 1] {
        member.client.send("40/dyn-a,");
        common::sio::connect_ack_sid(&member.client.text(), "/dyn-a");
    }
    let (sender, rest) = all.split_first_mut().expect("clients");
    sender.client.send(&format!(r#"451-/dyn-a,3["broadcast",{PLACEHOLDER}]"#));
    sender.client.send_attachment(b"dyn");
    sender.client.expect_text("43/dyn-a,3[]");
    let (outsider, rest) = rest.split_last_mut().expect("an outsider");
    for member in rest.iter_mut() {
        member.client.expect_text(&format!(r#"451-/dyn-a,["all",{PLACEHOLDER}]"#));
        assert_eq!(member.client.attachment(), b"dyn");
    }
    // `mark` on `/` reaches everyone: the outsider first of all.
    outsider.client.send(r#"42["mark"]"#);
    for member in all.iter_mut() {
        member.client.expect_text(r#"42["marker"]"#);
    }
}

#[test]
fn broadcasts_reach_every_protocol_variant_and_transport_across_shards() {
    let (server, _reports) = probe::server();
    let [zero, one] = spread(&server, 1);
    let mut v5: Vec<Member> = zero.into_iter().chain(one).collect();
    let [zero, one] =
        spread_with(1, || Member { client: Client::connect_v4(server.addr), sid: String::new() });
    let mut v4: Vec<Member> = zero.into_iter().chain(one).collect();
    let mut polling: Vec<Polling> = [Eio::V4, Eio::V3]
        .into_iter()
        .map(|eio| {
            let mut session = Polling::handshake(server.addr, eio);
            if eio == Eio::V4 {
                session.send(&["40"]);
            }
            assert!(session.recv_n(1)[0].starts_with("40"));
            session
        })
        .collect();

    // Text: the same packet for both protocol versions; v3 polling counts UTF-16 units.
    let (sender, rest) = v5.split_first_mut().expect("v5 clients");
    sender.client.send(r#"42["broadcast","é😀"]"#);
    let expected = r#"42["all","é😀"]"#;
    for member in rest.iter_mut().chain(v4.iter_mut()) {
        member.client.expect_text(expected);
    }
    for session in &mut polling {
        assert_eq!(session.recv_n(1), [expected], "{:?}", session.eio);
    }

    // Binary: one attachment, framed for each engine version and transport.
    sender.client.send(&format!(r#"451-["broadcast",{PLACEHOLDER}]"#));
    sender.client.send_attachment(&[1, 2, 3]);
    let expected = format!(r#"451-["all",{PLACEHOLDER}]"#);
    for member in rest.iter_mut().chain(v4.iter_mut()) {
        member.client.expect_text(&expected);
        assert_eq!(member.client.attachment(), [1, 2, 3], "{:?}", member.client.eio);
    }
    assert_eq!(polling[0].recv_n(2), [expected.as_str(), "bAQID"]);
    let mut refs: Vec<&mut Member> = v5.iter_mut().chain(v4.iter_mut()).collect();
    assert_nothing_else(&mut refs);
}

/// Which requests of a polling session were handed over to the owner shard.
#[derive(Default, Debug)]
struct Landings {
    handed_over: usize,
    local: usize,
}

impl Landings {
    /// Runs `request`, counting it as handed over when the server's hand-off count moved.
    fn track<T>(&mut self, handoffs: impl Fn() -> u64, request: impl FnOnce() -> T) -> T {
        let before = handoffs();
        let out = request();
        if handoffs() > before {
            self.handed_over += 1;
        } else {
            self.local += 1;
        }
        out
    }

    fn both(&self) -> bool {
        self.handed_over >= 2 && self.local >= 2
    }
}

#[test]
fn polling_client_acks_reach_the_owner_from_either_shard() {
    let server = TestServer::start();
    for eio in [Eio::V4, Eio::V3] {
        let mut session = Polling::handshake(server.addr, eio);
        if eio == Eio::V4 {
            session.send(&["40"]);
        }
        let connected = session.recv_n(2);
        assert_eq!(connected[1], r#"42["auth",{}]"#, "{eio:?}");
        let mut posts = Landings::default();
        let mut round = 0;
        while !posts.both() {
            round += 1;
            assert!(round <= 40, "requests never spread over both shards: {posts:?}");
            posts.track(
                || server.handoffs(),
                || session.send(&[&format!(r#"42{round}["message-with-ack",{{"a":{round}}}]"#)]),
            );
            assert_eq!(session.recv_n(1), [format!(r#"43{round}[{{"a":{round}}}]"#)], "{eio:?}");
        }
    }
}

#[test]
fn polling_server_acks_answered_from_either_shard() {
    let (server, _reports) = probe::server();
    for eio in [Eio::V4, Eio::V3] {
        let mut session = Polling::handshake(server.addr, eio);
        if eio == Eio::V4 {
            session.send(&["40"]);
            common::sio::connect_ack_sid(&session.recv_n(1)[0], "/");
        } else {
            assert_eq!(session.recv_n(1), ["40"]);
        }
        let mut acks = Landings::default();
        let mut round = 0;
        while !acks.both() {
            assert!(round < 40, "ack POSTs never spread over both shards: {acks:?}");
            session.send(&[&format!(r#"42["ask",3000,{round}]"#)]);
            assert_eq!(session.recv_n(1), [format!(r#"42{round}["question",{round}]"#)], "{eio:?}");
            acks.track(|| server.handoffs(), || session.send(&[&format!(r#"43{round}["yes",{round}]"#)]));
            assert_eq!(session.recv_n(1), [format!(r#"42["answer","yes",{round}]"#)], "{eio:?}");
            round += 1;
        }
    }
}
