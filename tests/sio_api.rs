//! The Socket.IO server API beyond rooms, across two shards with clients on both, byte for
//! byte: broadcasts with acks (one ack id for every recipient, answers collected from both
//! shards, a timeout with the partial answers), `fetch_sockets` and the remote sockets it
//! returns (joined to a room, emitted to, asked, disconnected on their own shard), the
//! handler hooks (`on_disconnecting`, `on_packet`, `on_outgoing`), a parent namespace's emit
//! to its children on both shards, and an `Io` kept from `on_start` emitting from a task.

mod common;

use std::collections::HashSet;
use std::time::Instant;

use common::TIMEOUT;
use common::sio::connect_ack_sid;
use common::sio_api::{Member, Report, ack_request, expect_report, server, spread};

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("JSON")
}

fn sorted_sids<'a>(members: impl IntoIterator<Item = &'a Member>) -> Vec<String> {
    let mut sids: Vec<String> = members.into_iter().map(|m| m.sid.clone()).collect();
    sids.sort();
    sids
}

/// Waits until `member`'s rooms read `expected` (a join made from another shard arrives by
/// the mesh).
fn await_rooms(member: &mut Member, expected: &str) {
    let deadline = Instant::now() + TIMEOUT;
    let mut id = 100;
    loop {
        id += 1;
        let rooms = member.client.call(id, r#"["rooms"]"#);
        if rooms == expected {
            return;
        }
        assert!(Instant::now() < deadline, "rooms stayed {rooms}, expected {expected}");
    }
}

/// The first member sends `42["mark"]`: the next packet of every member must be the marker.
fn assert_nothing_else(all: &mut [&mut Member]) {
    all[0].client.send(r#"42["mark"]"#);
    for (i, member) in all.iter_mut().enumerate() {
        assert_eq!(member.client.text(), r#"42["marker"]"#, "client {i} got something else first");
    }
}

#[test]
fn broadcast_acks_collect_every_answer_from_both_shards() {
    let (server, _reports) = server();
    let [mut zero, mut one] = spread(&server, 3);
    let mut asker = zero.pop().expect("three on shard 0");
    let mut members: Vec<Member> = zero.into_iter().chain(one.drain(..)).collect();
    for member in &mut members {
        assert_eq!(member.client.call(1, r#"["join","r"]"#), "[]");
    }
    asker.client.send(r#"421["ask","r",5000]"#);
    let mut ids = HashSet::new();
    for member in &mut members {
        let (id, args) = ack_request(&member.client.text(), "/");
        assert_eq!(args, r#"["question","r"]"#);
        ids.insert(id);
        member.client.send(&format!(r#"43{id}["{}"]"#, member.sid));
    }
    assert_eq!(ids.len(), 1, "encoded once: one ack id on every shard");
    assert!(ids.iter().all(|&id| id >= 1_000_000_000), "{ids:?} is outside the per-socket ids");
    asker.client.expect_text(&format!(r#"431["ok",{}]"#, json(&sorted_sids(&members))));

    // Nobody in the room: complete as soon as both shards counted no one.
    asker.client.send(r#"422["ask","nobody",5000]"#);
    asker.client.expect_text(r#"432["ok",[]]"#);
}

#[test]
fn broadcast_ack_timeout_hands_over_the_answers_that_came() {
    let (server, _reports) = server();
    let [mut zero, one] = spread(&server, 2);
    let mut asker = zero.pop().expect("two on shard 0");
    // The silent client is on shard 1, the asker on shard 0.
    let mut members: Vec<Member> = zero.into_iter().chain(one).collect();
    for member in &mut members {
        assert_eq!(member.client.call(1, r#"["join","r"]"#), "[]");
    }
    let started = Instant::now();
    asker.client.send(r#"421["ask","r",400]"#);
    let (silent, answering) = members.split_last_mut().expect("members");
    let (late_id, _) = ack_request(&silent.client.text(), "/");
    for member in answering.iter_mut() {
        let (id, _) = ack_request(&member.client.text(), "/");
        member.client.send(&format!(r#"43{id}["{}"]"#, member.sid));
    }
    asker.client.expect_text(&format!(r#"431["timeout",{}]"#, json(&sorted_sids(answering.iter()))));
    assert!(started.elapsed().as_millis() >= 400, "not before the timeout");

    // A late answer is dropped; the connection goes on.
    silent.client.send(&format!(r#"43{late_id}["late"]"#));
    assert_eq!(silent.client.call(2, r#"["rooms"]"#), r#"[["r"]]"#);
}

#[test]
fn fetch_sockets_finds_both_shards_and_drives_remote_sockets() {
    let (server, reports) = server();
    let [mut zero, mut one] = spread(&server, 2);
    assert_eq!(zero[0].client.call(1, r#"["join","a"]"#), "[]");
    assert_eq!(one[0].client.call(1, r#"["join","a"]"#), "[]");
    assert_eq!(one[1].client.call(1, r#"["join","b"]"#), "[]");
    let entry = |m: &Member, shard: usize, rooms: &[&str]| {
        format!(r#"{{"id":"{}","shard":{shard},"rooms":{},"eio":"4"}}"#, m.sid, json(&rooms))
    };
    // `spread` may have opened more than two on a shard: they are in no room.
    let rooms_of = |shard: usize, i: usize| match (shard, i) {
        (0, 0) | (1, 0) => &["a"][..],
        (1, 1) => &["b"][..],
        _ => &[][..],
    };
    let mut all: Vec<(String, String)> = [&zero, &one]
        .into_iter()
        .enumerate()
        .flat_map(|(shard, members)| {
            members.iter().enumerate().map(move |(i, m)| (m.sid.clone(), entry(m, shard, rooms_of(shard, i))))
        })
        .collect();
    all.sort();
    let list = |items: &[&(String, String)]| {
        format!("[[{}]]", items.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join(","))
    };
    let asker = &mut zero[1];
    assert_eq!(asker.client.call(2, r#"["fetch",""]"#), list(&all.iter().collect::<Vec<_>>()));
    let in_a: Vec<&(String, String)> = all.iter().filter(|(_, e)| e.contains(r#"["a"]"#)).collect();
    assert_eq!(asker.client.call(3, r#"["fetch","a"]"#), list(&in_a));

    // A socket of shard 1 driven from shard 0: join, emit, ack, disconnect.
    let target = one[1].sid.clone();
    assert_eq!(zero[1].client.call(4, &format!(r#"["remote-join","{target}","joined"]"#)), "[1]");
    await_rooms(&mut one[1], r#"[["b","joined"]]"#);
    assert_eq!(zero[1].client.call(5, &format!(r#"["remote-emit","{target}","hi"]"#)), "[]");
    one[1].client.expect_text(r#"42["remote","hi"]"#);
    zero[1].client.send(&format!(r#"426["remote-ask","{target}"]"#));
    let (id, args) = ack_request(&one[1].client.text(), "/");
    assert_eq!(args, r#"["question"]"#);
    one[1].client.send(&format!(r#"43{id}["yes","ignored"]"#));
    zero[1].client.expect_text(r#"436["yes"]"#);
    // And one of this shard.
    let local = zero[0].sid.clone();
    assert_eq!(zero[1].client.call(7, &format!(r#"["remote-emit","{local}",2]"#)), "[]");
    zero[0].client.expect_text(r#"42["remote",2]"#);

    assert_eq!(zero[1].client.call(8, &format!(r#"["remote-disconnect","{target}"]"#)), "[]");
    one[1].client.expect_text("41");
    let reason = expect_report(&reports, |r| match r {
        Report::Disconnect { socket, reason } if *socket == target => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, "server namespace disconnect");
    let rest = all.iter().filter(|(id, _)| *id != target).collect::<Vec<_>>();
    assert_eq!(zero[1].client.call(9, r#"["fetch",""]"#), list(&rest));
}

#[test]
fn on_disconnecting_sees_the_rooms_still_joined() {
    let (server, reports) = server();
    let [mut zero, mut one] = spread(&server, 1);
    for (member, rooms) in [(&mut zero[0], ["a", "b"]), (&mut one[0], ["c", "d"])] {
        for room in rooms {
            assert_eq!(member.client.call(1, &format!(r#"["join","{room}"]"#)), "[]");
        }
    }
    zero[0].client.send("41");
    let sid = zero[0].sid.clone();
    let seen = expect_report(&reports, |r| match r {
        Report::Disconnecting { socket, rooms, reason } if *socket == sid => Some((rooms.clone(), *reason)),
        Report::Disconnect { socket, .. } if *socket == sid => panic!("disconnect before disconnecting"),
        _ => None,
    });
    assert_eq!(seen, (vec!["a".to_string(), "b".to_string()], "client namespace disconnect"));

    let sid = one[0].sid.clone();
    drop(one);
    let seen = expect_report(&reports, |r| match r {
        Report::Disconnecting { socket, rooms, reason } if *socket == sid => Some((rooms.clone(), *reason)),
        _ => None,
    });
    assert_eq!(seen, (vec!["c".to_string(), "d".to_string()], "transport close"));
}

#[test]
fn on_packet_refusal_drops_the_event_and_its_ack() {
    let (server, reports) = server();
    let [mut zero, mut one] = spread(&server, 1);
    for member in [&mut zero[0], &mut one[0]] {
        member.client.send(r#"427["forbidden",1]"#);
        // The next packet is the answer to the next call: no ack 7 came first.
        assert_eq!(member.client.call(8, r#"["rooms"]"#), "[[]]");
        let sid = member.sid.clone();
        expect_report(&reports, |r| match r {
            Report::Refused { socket, event } if *socket == sid && event == "forbidden" => Some(()),
            _ => None,
        });
    }
}

#[test]
fn on_outgoing_sees_emits_and_broadcasts_on_the_recipients_shard() {
    let (server, reports) = server();
    let [mut zero, mut one] = spread(&server, 1);
    zero[0].client.send(r#"421["echo",1]"#);
    zero[0].client.expect_text(r#"42["echo",1]"#);
    zero[0].client.expect_text("431[]");
    let outgoing = |sid: &str, name: &str| {
        let (sid, name) = (sid.to_string(), name.to_string());
        expect_report(&reports, move |r| match r {
            Report::Outgoing { socket, event } if *socket == sid && *event == name => Some(()),
            _ => None,
        })
    };
    outgoing(&zero[0].sid, "echo");
    zero[0].client.send(r#"42["broadcast",2]"#);
    one[0].client.expect_text(r#"42["all",2]"#);
    outgoing(&one[0].sid, "all");
}

#[test]
fn parent_namespace_emit_reaches_children_on_both_shards() {
    let (server, _reports) = server();
    let [mut zero, mut one] = spread(&server, 2);
    // `/dyn-a` has children on both shards, `/dyn-b` only on shard 1; the emit starts on 0.
    let children = [(0, 0, "/dyn-a"), (1, 0, "/dyn-a"), (1, 1, "/dyn-b")];
    for (shard, i, nsp) in children {
        let member = if shard == 0 { &mut zero[i] } else { &mut one[i] };
        member.client.send(&format!("40{nsp},"));
        connect_ack_sid(&member.client.text(), nsp);
    }
    zero[1].client.send(r#"42["parent",5]"#);
    for (shard, i, nsp) in children {
        let member = if shard == 0 { &mut zero[i] } else { &mut one[i] };
        member.client.expect_text(&format!(r#"42{nsp},["parent",5]"#));
    }
    let mut all: Vec<&mut Member> = zero.iter_mut().chain(one.iter_mut()).collect();
    assert_nothing_else(&mut all);
}

#[test]
fn io_from_on_start_emits_to_a_room_from_its_task() {
    let (server, _reports) = server();
    let [mut zero, mut one] = spread(&server, 1);
    for member in [&mut zero[0], &mut one[0]] {
        assert_eq!(member.client.call(1, r#"["join","ticks"]"#), "[]");
        let tick = member.client.text();
        assert!(tick.starts_with(r#"42["tick","#), "{tick}");
    }
}
