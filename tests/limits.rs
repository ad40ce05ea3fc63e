//! The server's limits against real sockets (README "Limits"): a shard's outbox to a peer
//! that does not keep up drops rather than grows, and an empty dynamic child namespace goes
//! with `cleanup_empty_child_namespaces`.

mod common;

use common::sio::probe::{self, Report, expect_report};
use common::sio::{Client, SioServer};
use tpcio::server::RunningServer;

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
