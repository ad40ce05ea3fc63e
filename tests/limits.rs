//! The server's limits against real sockets (README "Limits"): `allow_request` may wait and
//! sees the client's address, a shard's outbox to a peer that does not keep up drops rather
//! than grows, and an empty dynamic child namespace goes with `cleanup_empty_child_namespaces`.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::engine::assert_healthy;
use common::http::{Conn, request_bytes};
use common::server::TestServer;
use common::sio::probe::{self, Report, expect_report};
use common::sio::{Client, SioServer};
use tpcio::server::{RunningServer, allow_request_async};

const HANDSHAKE: &str = "/engine.io/?EIO=4&transport=polling";

/// Another client address on the loopback interface.
fn other_ip() -> IpAddr {
    IpAddr::from([127, 0, 0, 2])
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
fn an_async_allow_request_refuses_by_the_clients_address() {
    let server = TestServer::start_with(|c| {
        c.allow_request = Some(allow_request_async(|req, peer: SocketAddr| {
            // The request is copied before the wait, as the future cannot borrow it.
            let reason = req.header("x-reason").map(|r| String::from_utf8_lossy(r).into_owned());
            async move {
                tpcio::server::sleep(Duration::from_millis(50)).await;
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
