//! The server's limits against real sockets (README "Limits"): an empty dynamic child
//! namespace goes with `cleanup_empty_child_namespaces`.

mod common;

use common::sio::probe::{self, Report, expect_report};
use common::sio::{Client, SioServer};

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
