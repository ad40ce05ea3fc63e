//! The Prometheus endpoint as a scraper sees it: a Socket.IO server on two shards with
//! `metrics` set serves every shard's counters at that path; after a WebSocket session, a
//! polling session, events, a broadcast and refused requests, the sums over shards have moved
//! by exactly what the clients did. Without the option the path is a plain 404.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use common::engine::Eio;
use common::http::Conn;
use common::sio::probe::{self, Report, expect_report};
use common::sio::{Client, Polling, SHARDS, connect_ack_sid};

/// One scrape: each series (`name{labels}`) with its value.
struct Scrape(HashMap<String, u64>);

impl Scrape {
    fn take(addr: SocketAddr) -> Scrape {
        let response = Conn::connect(addr).get("/metrics");
        let body = response.ok_body("text/plain; version=0.0.4; charset=utf-8");
        let text = std::str::from_utf8(body).expect("a UTF-8 scrape");
        let series = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("a sample line");
                (series.to_string(), value.parse().expect("an integer value"))
            })
            .collect();
        Scrape(series)
    }

    /// The sum over every series of `name` whose labels include all of `labels` (e.g. over shards).
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.0
            .iter()
            .filter(|(series, _)| {
                series.strip_prefix(name).is_some_and(|rest| {
                    rest.starts_with('{')
                        && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
                })
            })
            .map(|(_, value)| value)
            .sum()
    }
}

#[test]
fn counters_move_by_what_the_clients_did() {
    let (server, reports) = probe::server_with(|config| {
        config.metrics = Some("/metrics".into());
        // So that an EIO=3 handshake is refused (code 5).
        config.engine.allow_eio3 = false;
    });
    let addr = server.addr;
    let zero = Scrape::take(addr);
    assert_eq!(zero.sum("tpcio_sessions", &[]), 0);
    assert_eq!(zero.sum("tpcio_handshake_errors_total", &[]), 0);

    // A WebSocket session joined to `/`, in a room.
    let (mut ws, ws_socket) = Client::connect(addr);
    let join = r#"421["join","room1"]"#;
    ws.send(join);
    assert_eq!(ws.text(), "431[]");
    // A polling session joined to `/`.
    let polling = Polling::handshake(addr, Eio::V4);
    polling.send(&["40"]);
    let ack = polling.recv();
    assert_eq!(ack.len(), 1, "{ack:?}");
    connect_ack_sid(&ack[0], "/");
    // A broadcast from the WebSocket client reaches the polling one.
    let broadcast = r#"422["broadcast","p"]"#;
    ws.send(broadcast);
    assert_eq!(ws.text(), "432[]");
    assert_eq!(polling.recv(), [r#"42["all","p"]"#]);
    // Three requests refused with Node's codes 0, 1 and 2.
    for (query, code) in [
        ("EIO=4&transport=bogus", 0),
        ("EIO=4&transport=polling&sid=nope", 1),
        ("EIO=4&transport=polling", 2),
    ] {
        let method = if code == 2 { "POST" } else { "GET" };
        let response = Conn::connect(addr).request(method, &format!("/socket.io/?{query}"), &[], b"");
        common::engine::assert_engine_error(&response, code);
    }

    let m = Scrape::take(addr);
    let ws_labels = [("transport", "websocket")];
    let polling_labels = [("transport", "polling")];
    assert_eq!(m.sum("tpcio_sessions", &ws_labels), 1);
    assert_eq!(m.sum("tpcio_sessions", &polling_labels), 1);
    assert_eq!(m.sum("tpcio_sessions_opened_total", &ws_labels), 1);
    assert_eq!(m.sum("tpcio_sessions_opened_total", &polling_labels), 1);
    assert_eq!(m.sum("tpcio_upgrades_total", &[]), 0);

    let shards = if ws.shard() == polling.shard() { 1 } else { 2 };
    assert_eq!(m.sum("tpcio_namespaces", &[]), shards);
    assert_eq!(m.sum("tpcio_sockets", &[("namespace", "/")]), 2);
    // Each socket's own room, and `room1`.
    assert_eq!(m.sum("tpcio_rooms", &[]), 3);

    // In: `40`, the join and the broadcast over WebSocket, `40` by POST. Out: two connect
    // acks, two acks, the broadcast (open packets are not messages).
    assert_eq!(m.sum("tpcio_messages_total", &[("direction", "in")]), 4);
    assert_eq!(m.sum("tpcio_messages_total", &[("direction", "out")]), 5);
    let ws_in = [("transport", "websocket"), ("direction", "in")];
    assert_eq!(m.sum("tpcio_frames_total", &ws_in), 3);
    assert_eq!(m.sum("tpcio_bytes_total", &ws_in), (2 + join.len() + broadcast.len()) as u64);
    let ws_out = [("transport", "websocket"), ("direction", "out")];
    assert_eq!(m.sum("tpcio_frames_total", &ws_out), 4, "open, connect ack, two acks");
    assert!(m.sum("tpcio_bytes_total", &ws_out) > (2 * "431[]".len()) as u64);
    let polling_in = [("transport", "polling"), ("direction", "in")];
    assert_eq!(m.sum("tpcio_frames_total", &polling_in), 1);
    assert_eq!(m.sum("tpcio_bytes_total", &polling_in), 2);
    let polling_out = [("transport", "polling"), ("direction", "out")];
    assert_eq!(m.sum("tpcio_frames_total", &polling_out), 3, "handshake, connect ack, broadcast");
    assert!(m.sum("tpcio_bytes_total", &polling_out) > r#"42["all","p"]"#.len() as u64);

    assert_eq!(m.sum("tpcio_broadcasts_total", &[]), 1);
    assert_eq!(m.sum("tpcio_broadcast_deliveries_total", &[]), 1);
    // The broadcast went to the other shard as one mesh message (whether or not it has a
    // recipient); polling requests landing on the shard not owning their session were handed over.
    let peer_in = m.sum("tpcio_mesh_messages_total", &[("direction", "in"), ("kind", "peer")]);
    assert_eq!(peer_in, (SHARDS - 1) as u64);
    let handoffs_in = m.sum("tpcio_mesh_messages_total", &[("direction", "in"), ("kind", "handoff")]);
    assert_eq!(handoffs_in, server.handoffs());

    for (code, message) in [(0, "Transport unknown"), (1, "Session ID unknown"), (2, "Bad handshake method")]
    {
        let labels = [("code", &*code.to_string()), ("message", message)];
        assert_eq!(m.sum("tpcio_handshake_errors_total", &labels), 1, "code {code}");
    }
    assert_eq!(m.sum("tpcio_handshake_errors_total", &[]), 3);
    assert_eq!(m.sum("tpcio_volatile_drops_total", &[]), 0);
    assert_eq!(m.sum("tpcio_slow_consumers_total", &[]), 0);

    // The WebSocket goes: its session, socket and rooms are counted out.
    drop(ws);
    let reason = expect_report(&reports, |r| match r {
        Report::Disconnect { socket, reason, .. } if *socket == ws_socket => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, "transport close");
    let m = Scrape::take(addr);
    assert_eq!(m.sum("tpcio_sessions", &ws_labels), 0);
    assert_eq!(m.sum("tpcio_sessions", &polling_labels), 1);
    assert_eq!(m.sum("tpcio_sockets", &[("namespace", "/")]), 1);
    assert_eq!(m.sum("tpcio_namespaces", &[]), 1);
    assert_eq!(m.sum("tpcio_rooms", &[]), 1);
}

#[test]
fn queue_drops_are_counted() {
    const BOUND: usize = 8;
    let (server, reports) = probe::server_with(|config| {
        config.metrics = Some("/metrics".into());
        config.engine.max_buffered_packets = BOUND;
    });
    // A polling client that never polls, and a sender.
    let victim = Polling::handshake(server.addr, Eio::V4);
    victim.send(&["40"]);
    let victim_socket = connect_ack_sid(&victim.recv()[0], "/");
    let (mut sender, _) = Client::connect(server.addr);

    // Its queue takes BOUND volatile packets and drops the rest.
    assert_eq!(sender.call(1, r#"["flood",20,true]"#), "[]");
    let m = Scrape::take(server.addr);
    assert_eq!(m.sum("tpcio_broadcasts_total", &[]), 20);
    assert_eq!(m.sum("tpcio_broadcast_deliveries_total", &[]), BOUND as u64);
    assert_eq!(m.sum("tpcio_volatile_drops_total", &[]), 20 - BOUND as u64);
    assert_eq!(m.sum("tpcio_slow_consumers_total", &[]), 0);

    // A broadcast that is not volatile disconnects it.
    assert_eq!(sender.call(2, r#"["flood",1,false]"#), "[]");
    let reason = expect_report(&reports, |r| match r {
        Report::Disconnect { socket, reason, .. } if *socket == victim_socket => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, "slow consumer");
    let m = Scrape::take(server.addr);
    assert_eq!(m.sum("tpcio_slow_consumers_total", &[]), 1);
    assert_eq!(m.sum("tpcio_volatile_drops_total", &[]), 20 - BOUND as u64);
    assert_eq!(m.sum("tpcio_sessions", &[("transport", "polling")]), 0);
}

#[test]
fn without_the_option_there_is_no_endpoint() {
    let (server, _reports) = probe::server();
    assert_eq!(Conn::connect(server.addr).get("/metrics").status, 404);

    let (server, _reports) = probe::server_with(|config| config.metrics = Some("/stats".into()));
    assert_eq!(Conn::connect(server.addr).get("/metrics").status, 404);
    let response = Conn::connect(server.addr).get("/stats");
    assert!(response.text().contains("# TYPE tpcio_sessions gauge\n"), "{}", response.text());
}
