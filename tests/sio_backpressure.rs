//! The outgoing queue's bound as a client sees it (README "Backpressure"): a long-polling
//! client that stops polling has its queue fill up; at `max_buffered_packets` a `volatile`
//! broadcast is dropped for it while it stays connected, and any other broadcast disconnects
//! it with the reason `slow consumer` — on whichever shard it lives.
//!
//! The byte bound (`max_buffered_bytes`) acts the same way for a client owed too many bytes
//! rather than too many packets.
//!
//! The sender's `flood` ack comes once every shard has delivered the flood (see the probe),
//! so what the stalled client's next poll holds is settled, without sleeping.

mod common;

use std::sync::mpsc::Receiver;

use common::engine::Eio;
use common::http::Conn;
use common::sio::probe::{self, Report, expect_report};
use common::sio::{Client, Polling, SioServer, connect_ack_sid};

const BOUND: usize = 8;

/// A v5 polling client joined to `/` that will not poll until told to; its socket id.
fn stalled_client(addr: std::net::SocketAddr) -> (Polling, String) {
    let mut victim = Polling::handshake(addr, Eio::V4);
    victim.send(&["40"]);
    let ack = victim.recv_n(1).remove(0);
    let sid = connect_ack_sid(&ack, "/");
    (victim, sid)
}

fn flood_packets(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!(r#"42["f",{i}]"#)).collect()
}

#[test]
fn volatile_broadcasts_past_the_bound_are_dropped_and_the_client_stays() {
    let (server, _reports) = probe::server_with(|config| config.engine.max_buffered_packets = BOUND);
    let (mut victim, _) = stalled_client(server.addr);
    let (mut sender, _) = Client::connect(server.addr);

    assert_eq!(sender.call(1, r#"["flood",20,true]"#), "[]");
    assert_eq!(victim.recv_n(BOUND), flood_packets(0..BOUND), "the first {BOUND} only");

    // Still connected: the next broadcast, not volatile, arrives.
    assert_eq!(sender.call(2, r#"["flood",1,false]"#), "[]");
    assert_eq!(victim.recv_n(1), flood_packets(0..1));
}

#[test]
fn a_full_queue_disconnects_the_slow_consumer_with_a_reason() {
    let (server, reports) = probe::server_with(|config| config.engine.max_buffered_packets = BOUND);
    let mut sender = flood_a_stalled_client(&server, &reports, 20);
    // The sender was never slow.
    let rooms = sender.call(2, r#"["rooms"]"#);
    assert!(rooms.starts_with("[["), "{rooms}");
}

/// What one `f i` broadcast with `i < 10` counts against the byte bound: the engine type digit
/// and `2["f",i]`.
const SMALL_FLOOD_PACKET: usize = 1 + r#"2["f",0]"#.len();

#[test]
fn the_byte_bound_drops_volatile_broadcasts_past_it() {
    let (server, _reports) = probe::server_with(|config| {
        config.engine.max_buffered_bytes = 5 * SMALL_FLOOD_PACKET;
    });
    let (mut victim, _) = stalled_client(server.addr);
    let (mut sender, _) = Client::connect(server.addr);

    assert_eq!(sender.call(1, r#"["flood",9,true]"#), "[]");
    assert_eq!(victim.recv_n(5), flood_packets(0..5), "as many as fit in the bytes, not the 4096 packets");
    assert_eq!(sender.call(2, r#"["flood",1,false]"#), "[]");
    assert_eq!(victim.recv_n(1), flood_packets(0..1), "still connected");
}

#[test]
fn a_polling_client_that_never_fetches_hits_the_byte_bound_and_is_disconnected() {
    let (server, reports) = probe::server_with(|config| {
        config.engine.max_buffered_bytes = 5 * SMALL_FLOOD_PACKET;
    });
    flood_a_stalled_client(&server, &reports, 9);
}

/// A client that never polls, then a broadcast of `count` packets to it from another client:
/// the stalled one is disconnected as a slow consumer, and its session is gone (its next poll
/// is refused as Node refuses an unknown sid). Returns the sender.
fn flood_a_stalled_client(server: &SioServer, reports: &Receiver<Report>, count: usize) -> Client {
    let (victim, victim_sid) = stalled_client(server.addr);
    let (mut sender, _) = Client::connect(server.addr);
    assert_eq!(sender.call(1, &format!(r#"["flood",{count},false]"#)), "[]");
    let reason = expect_report(reports, |r| match r {
        Report::Disconnect { socket, reason, .. } if *socket == victim_sid => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, "slow consumer");
    let response = Conn::connect(server.addr).get(&victim.target());
    assert_eq!((response.status, response.text()), (400, r#"{"code":1,"message":"Session ID unknown"}"#));
    sender
}
