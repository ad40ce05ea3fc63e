//! The server's limits against real sockets (README "Limits"): `max_connections` and
//! `max_connections_per_ip` refuse the connection over them with a 503, `allow_request` may
//! wait and sees the client's address, an idle keep-alive connection closes after
//! `keep_alive_timeout` and a request that does not arrive within `header_timeout` gets Node's
//! 408, a shard's outbox to a peer that does not keep up drops rather than grows, a peer's
//! broadcast served in chunks still reaches every socket in order, and an empty dynamic child
//! namespace goes with `cleanup_empty_child_namespaces`.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::TIMEOUT;
use common::cli::conformance;
use common::engine::{TEXT, assert_healthy, sid_of};
use common::http::{Conn, request_bytes};
use common::server::TestServer;
use common::sio::probe::{self, Report, expect_report};
use common::sio::{Client, SioServer};
use tpcio::prelude::{CpuPlacement, RunningServer, ServerConfig, allow_request_async};

const HANDSHAKE: &str = "/engine.io/?EIO=4&transport=polling";

/// The answer to a connection over `max_connections`.
const REFUSED: &str = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n\
    Content-Type: application/json\r\nContent-Length: 45\r\n\r\n\
    {\"code\":503,\"message\":\"Too many connections\"}";

/// The answer to a connection over `max_connections_per_ip`.
const REFUSED_PER_IP: &str = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n\
    Content-Type: application/json\r\nContent-Length: 63\r\n\r\n\
    {\"code\":503,\"message\":\"Too many connections from this address\"}";

/// Node 20's answer to a request that did not arrive within `headersTimeout`.
const REQUEST_TIMEOUT: &str = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";

/// Another client address on the loopback interface.
fn other_ip() -> IpAddr {
    IpAddr::from([127, 0, 0, 2])
}

/// A connection that has been served a handshake, so the server counts it; or the whole
/// answer (until close) of a refused one.
fn served_or_refused(mut conn: Conn) -> Result<Conn, String> {
    conn.send(&request_bytes("GET", HANDSHAKE, &[], b""));
    let response = conn.response();
    if response.status == 200 {
        sid_of(std::str::from_utf8(response.ok_body(TEXT)).expect("UTF-8"));
        return Ok(conn);
    }
    assert_eq!(conn.read_to_close(), b"", "closed after the refusal");
    Err(format!("{}{}", response.head, response.text()))
}

/// The sum over shards of the samples of metric `name` whose labels contain `labels`.
fn metric(running: &RunningServer, name: &str, labels: &str) -> u64 {
    running
        .metrics()
        .render()
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{shard=")) && line.contains(labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn one_shard(configure: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let addr = "127.0.0.1:0".parse().expect("an address");
    let mut config = conformance::config(addr, Some(1), CpuPlacement::Unpinned);
    config.shutdown_timeout = Duration::from_secs(1);
    configure(&mut config);
    conformance::server(config).start().expect("the server starts")
}

/// Stops the server without waiting for it.
fn stop(running: RunningServer) {
    running.stop_flag().store(true, std::sync::atomic::Ordering::Release);
}

#[test]
fn the_connection_over_max_connections_gets_a_503_and_a_closed_one_makes_room() {
    let running = one_shard(|c| c.max_connections = Some(3));
    let addr = running.local_addr();
    let mut open: Vec<Conn> = (0..3)
        .map(|i| served_or_refused(Conn::connect(addr)).unwrap_or_else(|e| panic!("{i}: {e}")))
        .collect();
    let refused = served_or_refused(Conn::connect(addr)).err().expect("the fourth is refused");
    assert_eq!(refused, REFUSED);
    // Refused at once, before any request: a client that sends nothing is told too.
    assert_eq!(String::from_utf8_lossy(&Conn::connect(addr).read_to_close()), REFUSED);
    assert_eq!(metric(&running, "tpcio_connections_refused_total", r#"limit="max_connections""#), 2);

    // The server learns of the close when it reads it: try until it has.
    drop(open.pop());
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match served_or_refused(Conn::connect(addr)) {
            Ok(conn) => {
                open.push(conn);
                break;
            }
            Err(answer) if Instant::now() < deadline => assert_eq!(answer, REFUSED),
            Err(answer) => panic!("no room after a close: {answer}"),
        }
    }
    stop(running);
}

#[test]
fn each_shard_refuses_past_its_share_of_max_connections() {
    // Two shards, 2 connections: one each. Whichever shards the kernel picks, the second
    // connection (both on one shard) or the third (one on each) is refused.
    let server = TestServer::start_with(|c| c.max_connections = Some(2));
    let mut open = Vec::new();
    let refusal = loop {
        match served_or_refused(Conn::connect(server.addr)) {
            Ok(conn) => open.push(conn),
            Err(answer) => break answer,
        }
        assert!(open.len() <= 2, "a third connection was served");
    };
    assert!(!open.is_empty(), "the first connection was refused");
    assert_eq!(refusal, REFUSED);
    assert_eq!(metric(server.running(), "tpcio_connections_refused_total", r#"limit="max_connections""#), 1);
}

#[test]
fn one_address_over_its_limit_is_refused_while_others_are_served() {
    // 2 per address on two shards: one per shard.
    let server = TestServer::start_with(|c| c.max_connections_per_ip = Some(2));
    let mut crowd = Vec::new();
    let refusal = loop {
        match served_or_refused(Conn::connect_from(server.addr, other_ip())) {
            Ok(conn) => crowd.push(conn),
            Err(answer) => break answer,
        }
        assert!(crowd.len() <= 2, "a third connection from one address was served");
    };
    assert!(!crowd.is_empty(), "the first connection of the address was refused");
    assert_eq!(refusal, REFUSED_PER_IP);
    // 127.0.0.1 has its own count: its first connection is served whichever shard takes it.
    let _other = served_or_refused(Conn::connect(server.addr)).expect("another address is served");
    assert_eq!(
        metric(server.running(), "tpcio_connections_refused_total", r#"limit="max_connections_per_ip""#),
        1
    );
}

#[test]
fn an_async_allow_request_refuses_by_the_clients_address() {
    let server = TestServer::start_with(|c| {
        c.allow_request = Some(allow_request_async(|req, peer: SocketAddr| {
            // The request is copied before the wait, as the future cannot borrow it.
            let reason = req.header("x-reason").map(|r| String::from_utf8_lossy(r).into_owned());
            async move {
                tpcio::prelude::sleep(Duration::from_millis(50)).await;
                match peer.ip() == other_ip() {
                    true => Err(format!("{} {}", peer.ip(), reason.unwrap_or_default())),
                    false => Ok(()),
                }
            }
        }));
    });
    let mut refused = Conn::connect_from(server.addr, other_ip());
    let answer = refused.request("GET", HANDSHAKE, &[("X-Reason", "is not welcome")], b"");
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.text(), r#"{"code":4,"message":"127.0.0.2 is not welcome"}"#);
    // A WebSocket handshake gets Node's raw `abortUpgrade` 400 with the message.
    let mut ws = Conn::connect_from(server.addr, other_ip());
    let upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
        ("X-Reason", "no"),
    ];
    ws.send(&request_bytes("GET", "/engine.io/?EIO=4&transport=websocket", &upgrade, b""));
    assert_eq!(
        String::from_utf8_lossy(&ws.read_to_close()),
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\n\
         Content-Length: 12\r\n\r\n127.0.0.2 no"
    );
    // Everyone else waits the same and is let in, on both shards.
    for _ in 0..4 {
        assert_healthy(server.addr);
    }
}

#[test]
fn an_idle_keep_alive_connection_closes_after_keep_alive_timeout_without_a_word() {
    let server = TestServer::start_with(|c| {
        c.keep_alive_timeout = Duration::from_secs(1);
        c.header_timeout = Duration::from_secs(30);
    });
    let mut conn = Conn::connect(server.addr);
    let response = conn.get(HANDSHAKE);
    let answered = Instant::now();
    assert_eq!(response.header("keep-alive"), Some("timeout=1"));
    assert_eq!(conn.read_to_close(), b"", "closed silently");
    let idle = answered.elapsed();
    assert!(idle >= Duration::from_millis(950), "closed after {idle:?}, before the keep-alive timeout");
}

#[test]
fn a_process_spawned_by_the_embedder_does_not_hold_client_connections_open() {
    let server = TestServer::start_with(|c| c.keep_alive_timeout = Duration::from_millis(300));
    let mut conn = Conn::connect(server.addr);
    assert_eq!(conn.get(HANDSHAKE).status, 200, "accepted and served");
    // A child inherits every descriptor of ours not marked close-on-exec, the accepted
    // connection included: the server's close would then not end it.
    let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("spawn sleep");
    let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conn.read_to_close()));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(closed.expect("the connection closed at the keep-alive timeout"), b"");
}

#[test]
fn a_zero_keep_alive_timeout_keeps_idle_connections_and_announces_none_as_node() {
    let server = TestServer::start_with(|c| c.keep_alive_timeout = Duration::ZERO);
    let mut conn = Conn::connect(server.addr);
    let response = conn.get(HANDSHAKE);
    assert_eq!(response.header("connection"), Some("keep-alive"));
    assert_eq!(response.header("keep-alive"), None);
    conn.expect_silence(Duration::from_millis(300));
    assert_eq!(conn.get(HANDSHAKE).status, 200, "still served on the same connection");
}

#[test]
fn a_request_that_does_not_arrive_within_header_timeout_gets_nodes_408() {
    let server = TestServer::start_with(|c| {
        c.header_timeout = Duration::from_millis(400);
        c.keep_alive_timeout = Duration::from_secs(30);
    });
    let started = Instant::now();
    // A head that never completes, on a new connection.
    let mut slow = Conn::connect(server.addr);
    slow.send(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n");
    // A new connection that sends nothing: Node's clock runs from the connection.
    let mut silent = Conn::connect(server.addr);
    // A kept-alive connection whose second request stalls: the clock runs from its first byte,
    // not the keep-alive timeout.
    let mut second = Conn::connect(server.addr);
    assert_eq!(second.get(HANDSHAKE).status, 200);
    second.send(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\n");
    for conn in [&mut slow, &mut silent, &mut second] {
        assert_eq!(String::from_utf8_lossy(&conn.read_to_close()), REQUEST_TIMEOUT);
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(390), "answered after {took:?}, before the header timeout");
    assert_healthy(server.addr);
}

#[test]
fn a_full_outbox_to_a_slow_peer_shard_drops_and_counts_instead_of_growing() {
    const CAPACITY: usize = 4;
    const FLOOD: usize = 10;
    // A mesh channel of one message: a peer that stops takes one batch, and the outbox
    // behind it fills.
    let (server, reports) =
        probe::server_built(|io| io.shard_outbox_capacity(CAPACITY), |c| c.mesh_capacity = 1);
    let (mut sender, _) = Client::connect(server.addr);
    let mut same_shard = Vec::new();
    let mut listener = loop {
        let (client, _) = Client::connect(server.addr);
        if client.shard() != sender.shard() {
            break client;
        }
        same_shard.push(client);
    };
    // The listener's shard stops for a while: it reads nothing from the mesh.
    listener.send(r#"42["block",1500]"#);
    expect_report(&reports, |r| matches!(r, Report::Blocking { .. }).then_some(()));

    // The flood's closing fetch goes the same way as its broadcasts, so it is dropped too,
    // and then waits for no peer: the ack comes while the peer is still stopped.
    assert_eq!(sender.call(1, &format!(r#"["flood",{FLOOD},false]"#)), "[]");
    let drops = metric(server.running(), "tpcio_shard_outbox_drops_total", "") as usize;
    assert!(drops > 1, "the outbox did not fill: {drops} drops");
    // What was not dropped arrives, in order, once the peer runs again: the first ones.
    let delivered = FLOOD + 1 - drops;
    assert!(delivered <= CAPACITY + 2, "{delivered} went through an outbox of {CAPACITY}");
    for i in 0..delivered {
        listener.expect_text(&format!(r#"42["f",{i}]"#));
    }
    // Drained: the next broadcast goes through, right after them.
    assert_eq!(sender.call(2, r#"["broadcast","after"]"#), "[]");
    listener.expect_text(r#"42["all","after"]"#);
}

#[test]
fn a_broadcast_from_a_peer_to_more_sockets_than_a_chunk_reaches_them_all_in_order() {
    // One chunk is 1 024 sockets: the peer's shard serves these in two, with a yield between.
    const RECIPIENTS: usize = 1_100;
    let (server, _reports) = probe::server();
    let (mut sender, _) = Client::connect(server.addr);
    let mut far = Vec::new();
    let mut near = Vec::new();
    while far.len() < RECIPIENTS {
        let (client, _) = Client::connect(server.addr);
        match client.shard() == sender.shard() {
            true => near.push(client),
            false => far.push(client),
        }
    }
    // Two broadcasts, then a third: each socket gets them in
    // the order they were made, though the first ones were cut in chunks.
    assert_eq!(sender.call(1, r#"["flood",2,false]"#), "[]");
    assert_eq!(sender.call(2, r#"["broadcast","last"]"#), "[]");
    for client in far.iter_mut().chain(near.iter_mut()) {
        client.expect_text(r#"42["f",0]"#);
        client.expect_text(r#"42["f",1]"#);
        client.expect_text(r#"42["all","last"]"#);
    }
}

#[test]
fn an_empty_dynamic_child_namespace_goes_when_cleanup_is_on() {
    for cleanup in [true, false] {
        let (server, reports) = probe::server_built(|io| io.cleanup_empty_child_namespaces(cleanup), |_| {});
        let (mut client, _) = Client::connect(server.addr);
        client.send("40/dyn-a,");
        let ack = client.text();
        assert!(ack.starts_with(r#"40/dyn-a,{"sid":"#), "{ack}");
        let listed = |server: &SioServer| {
            server.running().metrics().render().lines().any(|l| l.contains(r#"namespace="/dyn-a""#))
        };
        assert!(listed(&server), "the child exists while it has a socket");
        client.send("41/dyn-a,");
        let reason = expect_report(&reports, |r| match r {
            Report::Disconnect { nsp, reason, .. } if nsp == "/dyn-a" => Some(*reason),
            _ => None,
        });
        assert_eq!(reason, "client namespace disconnect");
        assert_eq!(listed(&server), !cleanup, "cleanup {cleanup}");
        // Made again on demand.
        client.send("40/dyn-a,");
        assert!(client.text().starts_with(r#"40/dyn-a,{"sid":"#));
        assert!(listed(&server));
    }
}
