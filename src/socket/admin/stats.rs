//! `server_stats`, every 2 s, once per process: this server as the dashboard lists it.
//!
//! Node counts for it in listeners on every Engine.IO socket (`packetCreate`, `packet`,
//! `close`). Here the counts are already kept, per shard, by the metrics ([`crate::metrics`]):
//! shard 0 reads every shard's, and the aggregated events are what they moved by since the
//! last emit. So the admin UI adds nothing to the path of a packet. Node's `rawDisconnection`
//! carries the close reason as its `subType`; the metrics count closes without reasons, and so
//! does this (the dashboard's chart counts by type only).

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::AdminShared;
use crate::metrics::{Metrics, Totals};
use crate::protocol::value::Value;
use crate::socket::{Broadcast, Io};

/// Node's `setInterval(emitStats, 2000)`.
const PERIOD: Duration = Duration::from_secs(2);

/// The host's name (Node's `os.hostname()`).
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is what we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// Emits `server_stats` now and every 2 s from here on (on shard 0 only).
pub(crate) fn run(io: Io, admin: Broadcast, shared: Arc<AdminShared>, metrics: Arc<Metrics>) {
    let declared: Rc<Vec<String>> =
        Rc::new(io.layer().registry.static_names().iter().map(|n| n.to_string()).collect());
    io.spawn(async move {
        let mut last = metrics.totals();
        loop {
            let now = metrics.totals();
            let stats = server_stats(&shared, &declared, &last, &now, SystemTime::now());
            let _ = admin.emit("server_stats", &stats);
            last = now;
            crate::server::sleep(PERIOD).await;
        }
    });
}

/// The stats object, keys in Node's order: `serverId`, `hostname`, `pid`, `uptime`,
/// `clientsCount`, `pollingClientsCount`, `aggregatedEvents`, `namespaces`.
fn server_stats(
    shared: &AdminShared,
    declared: &[String],
    last: &Totals,
    now: &Totals,
    at: SystemTime,
) -> Value {
    let uptime = shared.started.elapsed().as_secs_f64();
    let mut namespaces: Vec<Value> = Vec::new();
    let mut add = |name: &str, count: u64| {
        namespaces.push(Value::Object(vec![
            ("name".into(), Value::from(name)),
            ("socketsCount".into(), Value::from(count)),
        ]))
    };
    for name in declared {
        let count = now.namespaces.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c);
        add(name, count);
    }
    for (name, count) in &now.namespaces {
        if !declared.contains(name) {
            add(name, *count);
        }
    }
    Value::Object(vec![
        ("serverId".into(), Value::from(shared.server_id.as_str())),
        ("hostname".into(), Value::from(shared.hostname.as_str())),
        ("pid".into(), Value::from(u64::from(std::process::id()))),
        ("uptime".into(), Value::from(uptime)),
        ("clientsCount".into(), Value::from(now.sessions[0] + now.sessions[1])),
        ("pollingClientsCount".into(), Value::from(now.sessions[0])),
        ("aggregatedEvents".into(), Value::Array(aggregated(last, now, at))),
        ("namespaces".into(), Value::Array(namespaces)),
    ])
}

/// Node's `EventBuffer` values: `{timestamp, type, count}` (the second the counts end in),
/// for each kind that moved.
fn aggregated(last: &Totals, now: &Totals, at: SystemTime) -> Vec<Value> {
    let ms = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let timestamp = ms - ms % 1000;
    let opened = now.opened.saturating_sub(last.opened);
    let open_before = last.sessions[0] + last.sessions[1];
    let open_now = now.sessions[0] + now.sessions[1];
    // Sessions that closed: those opened, less what the open count grew by.
    let closed = (open_before + opened).saturating_sub(open_now);
    let kinds = [
        ("rawConnection", opened),
        ("rawDisconnection", closed),
        ("packetsOut", now.messages[1].saturating_sub(last.messages[1])),
        ("bytesOut", now.bytes[1].saturating_sub(last.bytes[1])),
        ("packetsIn", now.messages[0].saturating_sub(last.messages[0])),
        ("bytesIn", now.bytes[0].saturating_sub(last.bytes[0])),
    ];
    kinds
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(kind, count)| {
            Value::Object(vec![
                ("timestamp".into(), Value::from(timestamp)),
                ("type".into(), Value::from(kind)),
                ("count".into(), Value::from(count)),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(sessions: [u64; 2], opened: u64, messages: [u64; 2], ns: &[(&str, u64)]) -> Totals {
        Totals {
            sessions,
            opened,
            messages,
            bytes: [messages[0] * 10, messages[1] * 10],
            namespaces: ns.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
        }
    }

    #[test]
    fn stats_have_nodes_keys_and_deltas() {
        let shared = AdminShared::new(super::super::AdminUi::new().server_id("s1"), false);
        let last = totals([1, 0], 1, [2, 2], &[("/", 1)]);
        let now = totals([1, 2], 5, [7, 9], &[("/", 2), ("/admin", 1), ("/dyn-1", 0)]);
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let declared = vec!["/".to_owned(), "/admin".to_owned(), "/empty".to_owned()];
        let stats = server_stats(&shared, &declared, &last, &now, at);
        let Value::Object(fields) = &stats else { panic!("{stats:?}") };
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        let node = [
            "serverId",
            "hostname",
            "pid",
            "uptime",
            "clientsCount",
            "pollingClientsCount",
            "aggregatedEvents",
            "namespaces",
        ];
        assert_eq!(keys, node);
        assert_eq!(stats.get("serverId").and_then(Value::as_str), Some("s1"));
        assert_eq!(stats.get("clientsCount").and_then(Value::as_u64), Some(3));
        assert_eq!(stats.get("pollingClientsCount").and_then(Value::as_u64), Some(1));
        let events = stats.get("aggregatedEvents").and_then(Value::as_array).unwrap();
        let count = |kind: &str| {
            events
                .iter()
                .find(|e| e.get("type").and_then(Value::as_str) == Some(kind))
                .and_then(|e| e.get("count")?.as_u64())
        };
        // 4 opened, 2 more open than before: 2 closed.
        assert_eq!(count("rawConnection"), Some(4));
        assert_eq!(count("rawDisconnection"), Some(2));
        assert_eq!(count("packetsIn"), Some(5));
        assert_eq!(count("bytesOut"), Some(70));
        assert!(events.iter().all(|e| e.get("timestamp").and_then(Value::as_u64) == Some(1_700_000_000_000)));
        let names: Vec<(String, u64)> = stats
            .get("namespaces")
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n.get("name").unwrap().as_str().unwrap().to_owned(),
                    n.get("socketsCount").unwrap().as_u64().unwrap(),
                )
            })
            .collect();
        let want = [("/", 2), ("/admin", 1), ("/empty", 0), ("/dyn-1", 0)].map(|(n, c)| (n.to_owned(), c));
        assert_eq!(names, want);
    }
}
