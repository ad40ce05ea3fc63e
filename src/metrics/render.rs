//! The Prometheus text exposition format, version 0.0.4: for each metric a `# HELP` and a
//! `# TYPE` line, then one `name{label="value",…} number` line per series; label values
//! escape `\`, `"` and line feeds.

use std::fmt::Write;
use std::sync::PoisonError;

use super::ShardMetrics;
use crate::http::EngineError;

/// What a scrape answers with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const TRANSPORTS: [&str; 2] = ["polling", "websocket"];
const DIRECTIONS: [&str; 2] = ["in", "out"];
const MESH_KINDS: [&str; 3] = ["handoff", "abort", "peer"];

#[derive(Clone, Copy)]
enum Label<'a> {
    Num(usize),
    Str(&'a str),
}

struct Text<'a>(&'a mut String);

impl Text<'_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // `write!` into a `String` cannot fail.
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, Label<'_>)], value: u64) {
        self.0.push_str(name);
        for (i, (key, label)) in labels.iter().enumerate() {
            self.0.push(if i == 0 { '{' } else { ',' });
            self.0.push_str(key);
            self.0.push_str("=\"");
            match label {
                Label::Num(n) => {
                    let _ = write!(self.0, "{n}");
                }
                Label::Str(s) => escape(s, self.0),
            }
            self.0.push('"');
        }
        if !labels.is_empty() {
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

use Label::{Num, Str};

pub(super) fn render(shards: &[std::sync::Arc<ShardMetrics>], out: &mut String) {
    let mut t = Text(out);
    let per_shard =
        |t: &mut Text<'_>, name: &str, kind: &str, help: &str, value: &dyn Fn(&ShardMetrics) -> u64| {
            t.family(name, kind, help);
            for (id, m) in shards.iter().enumerate() {
                t.sample(name, &[("shard", Num(id))], value(m));
            }
        };

    let name = "tpcio_sessions";
    t.family(name, "gauge", "Engine.IO sessions open, by the transport they use now.");
    for (id, m) in shards.iter().enumerate() {
        for (i, transport) in TRANSPORTS.iter().enumerate() {
            t.sample(name, &[("shard", Num(id)), ("transport", Str(transport))], m.sessions[i].get());
        }
    }
    let name = "tpcio_sessions_opened_total";
    t.family(name, "counter", "Engine.IO sessions opened, by the transport they opened with.");
    for (id, m) in shards.iter().enumerate() {
        for (i, transport) in TRANSPORTS.iter().enumerate() {
            t.sample(name, &[("shard", Num(id)), ("transport", Str(transport))], m.opened[i].get());
        }
    }
    per_shard(
        &mut t,
        "tpcio_upgrades_total",
        "counter",
        "Sessions upgraded from polling to WebSocket.",
        &|m| m.upgrades.get(),
    );

    let namespaces: Vec<Vec<(Box<str>, u64)>> = shards
        .iter()
        .map(|m| {
            let list = m.namespaces.lock().unwrap_or_else(PoisonError::into_inner);
            list.iter().map(|(name, gauge)| (name.clone(), gauge.get())).collect()
        })
        .collect();
    let name = "tpcio_namespaces";
    t.family(name, "gauge", "Socket.IO namespaces with at least one connected socket.");
    for (id, list) in namespaces.iter().enumerate() {
        let live = list.iter().filter(|(_, sockets)| *sockets > 0).count();
        t.sample(name, &[("shard", Num(id))], live as u64);
    }
    let name = "tpcio_sockets";
    t.family(name, "gauge", "Connected Socket.IO sockets, by namespace.");
    for (id, list) in namespaces.iter().enumerate() {
        for (namespace, sockets) in list {
            t.sample(name, &[("shard", Num(id)), ("namespace", Str(namespace))], *sockets);
        }
    }
    per_shard(
        &mut t,
        "tpcio_polling_parked_gets",
        "gauge",
        "Polling GETs parked, waiting for something to send.",
        &|m| m.parked_gets.get(),
    );

    per_shard(
        &mut t,
        "tpcio_rooms",
        "gauge",
        "Rooms in the room indexes, each socket's own room included.",
        &|m| m.rooms.get(),
    );

    let name = "tpcio_messages_total";
    t.family(
        name,
        "counter",
        "Engine.IO message packets received from clients (in) and queued for them (out).",
    );
    for (id, m) in shards.iter().enumerate() {
        for (d, direction) in DIRECTIONS.iter().enumerate() {
            t.sample(name, &[("shard", Num(id)), ("direction", Str(direction))], m.messages[d].get());
        }
    }
    let name = "tpcio_frames_total";
    t.family(
        name,
        "counter",
        "WebSocket data frames (one packet each) and polling HTTP bodies (one or more).",
    );
    transfers(&mut t, name, shards, |m, i, d| m.frames[i][d].get());
    let name = "tpcio_bytes_total";
    t.family(name, "counter", "Engine.IO encoded bytes of those frames and bodies, before compression.");
    transfers(&mut t, name, shards, |m, i, d| m.bytes[i][d].get());

    per_shard(
        &mut t,
        "tpcio_broadcasts_total",
        "counter",
        "Broadcast operations started on this shard.",
        &|m| m.broadcasts.get(),
    );
    per_shard(
        &mut t,
        "tpcio_broadcast_deliveries_total",
        "counter",
        "Packets queued to this shard's sockets by broadcasts from any shard.",
        &|m| m.deliveries.get(),
    );
    let name = "tpcio_mesh_messages_total";
    t.family(name, "counter", "Shard-to-shard messages sent (out) and received (in), by kind.");
    for (id, m) in shards.iter().enumerate() {
        for (d, direction) in DIRECTIONS.iter().enumerate() {
            for (k, kind) in MESH_KINDS.iter().enumerate() {
                let labels = [("shard", Num(id)), ("direction", Str(direction)), ("kind", Str(kind))];
                t.sample(name, &labels, m.mesh[d][k].get());
            }
        }
    }
    per_shard(
        &mut t,
        "tpcio_volatile_drops_total",
        "counter",
        "Volatile broadcast packets dropped for a full outgoing queue.",
        &|m| m.volatile_drops.get(),
    );
    per_shard(
        &mut t,
        "tpcio_slow_consumers_total",
        "counter",
        "Sessions closed for a full outgoing queue (reason \"slow consumer\").",
        &|m| m.slow_consumers.get(),
    );
    per_shard(
        &mut t,
        "tpcio_handler_panics_total",
        "counter",
        "Panics caught in handler code (callbacks and their tasks); each disconnected its socket or closed its session.",
        &|m| m.handler_panics.get(),
    );
    per_shard(
        &mut t,
        "tpcio_events_rejected_total",
        "counter",
        "Events dropped by a typed handler (Router) because their arguments did not deserialize.",
        &|m| m.events_rejected.get(),
    );

    per_shard(
        &mut t,
        "tpcio_shard_outbox_drops_total",
        "counter",
        "Messages for another shard dropped because that shard's outbox was full.",
        &|m| m.outbox_drops.get(),
    );
    let name = "tpcio_connections_refused_total";
    t.family(name, "counter", "Connections refused at accept, by the limit they met.");
    for (id, m) in shards.iter().enumerate() {
        for (r, limit) in ["max_connections", "max_connections_per_ip"].iter().enumerate() {
            t.sample(name, &[("shard", Num(id)), ("limit", Str(limit))], m.refused[r].get());
        }
    }
    if shards.iter().any(|m| m.cluster.on.get() > 0) {
        cluster(&mut t, shards);
    }
    let name = "tpcio_handshake_errors_total";
    t.family(name, "counter", "Requests refused with an Engine.IO error (Node's connection_error), by code.");
    for (id, m) in shards.iter().enumerate() {
        for error in EngineError::ALL {
            let code = usize::from(error.code());
            let labels = [("shard", Num(id)), ("code", Num(code)), ("message", Str(error.message()))];
            t.sample(name, &labels, m.engine_errors[code].get());
        }
    }
}

/// The cluster adapter's families, when it runs.
fn cluster(t: &mut Text<'_>, shards: &[std::sync::Arc<ShardMetrics>]) {
    type Read = fn(&ShardMetrics) -> u64;
    let counters: [(&str, &str, Read); 5] = [
        ("tpcio_cluster_published_total", "Messages published to the cluster (Redis).", |m| {
            m.cluster.published.get()
        }),
        (
            "tpcio_cluster_publish_failures_total",
            "Messages that could not be published to Redis (lost: pub/sub is at most once).",
            |m| m.cluster.publish_failures.get(),
        ),
        ("tpcio_cluster_received_total", "Messages received from the cluster (Redis).", |m| {
            m.cluster.received.get()
        }),
        ("tpcio_cluster_malformed_total", "Cluster messages dropped because they did not decode.", |m| {
            m.cluster.malformed.get()
        }),
        ("tpcio_cluster_redis_errors_total", "Redis connections lost or refused.", |m| {
            m.cluster.redis_errors.get()
        }),
    ];
    for (name, help, read) in counters {
        t.family(name, "counter", help);
        for (id, m) in shards.iter().enumerate() {
            t.sample(name, &[("shard", Num(id))], read(m));
        }
    }
    let name = "tpcio_cluster_redis_up";
    t.family(name, "gauge", "Whether a Redis connection of the cluster adapter is up, by role.");
    for (id, m) in shards.iter().enumerate() {
        for (r, role) in ["publisher", "subscriber"].iter().enumerate() {
            t.sample(name, &[("shard", Num(id)), ("role", Str(role))], m.cluster.redis_up[r].get());
        }
    }
}

fn transfers(
    t: &mut Text<'_>,
    name: &str,
    shards: &[std::sync::Arc<ShardMetrics>],
    value: impl Fn(&ShardMetrics, usize, usize) -> u64,
) {
    for (id, m) in shards.iter().enumerate() {
        for (i, transport) in TRANSPORTS.iter().enumerate() {
            for (d, direction) in DIRECTIONS.iter().enumerate() {
                let labels =
                    [("shard", Num(id)), ("transport", Str(transport)), ("direction", Str(direction))];
                t.sample(name, &labels, value(m, i, d));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Direction, MeshKind, Metrics};
    use crate::engine::TransportKind::{Polling, WebSocket};
    use crate::http::EngineError;

    /// One shard that saw a little of everything.
    fn fixture() -> std::sync::Arc<Metrics> {
        let metrics = Metrics::new(1);
        let m = metrics.shard(0);
        m.session_opened(Polling);
        m.session_opened(Polling);
        m.session_opened(WebSocket);
        m.session_upgraded();
        m.session_closed(WebSocket);
        m.message(Direction::In);
        m.message(Direction::Out);
        m.message(Direction::Out);
        m.transfer(WebSocket, Direction::In, 2, 30);
        m.transfer(Polling, Direction::Out, 1, 96);
        m.namespace("/").inc();
        m.namespace("/x").inc();
        m.namespace("/x").dec();
        m.rooms_changed(0, 3);
        m.rooms_changed(3, 2);
        m.broadcast_started();
        m.delivered(4);
        m.mesh(Direction::Out, MeshKind::Peer);
        m.mesh(Direction::In, MeshKind::Handoff);
        m.volatile_dropped();
        m.slow_consumer();
        m.handler_panicked();
        m.engine_error(EngineError::UnknownSid);
        m.engine_error(EngineError::UnknownSid);
        m.engine_error(EngineError::Forbidden);
        metrics
    }

    const EXPECTED: &str = r#"# HELP tpcio_sessions Engine.IO sessions open, by the transport they use now.
# TYPE tpcio_sessions gauge
tpcio_sessions{shard="0",transport="polling"} 1
tpcio_sessions{shard="0",transport="websocket"} 1
# HELP tpcio_sessions_opened_total Engine.IO sessions opened, by the transport they opened with.
# TYPE tpcio_sessions_opened_total counter
tpcio_sessions_opened_total{shard="0",transport="polling"} 2
tpcio_sessions_opened_total{shard="0",transport="websocket"} 1
# HELP tpcio_upgrades_total Sessions upgraded from polling to WebSocket.
# TYPE tpcio_upgrades_total counter
tpcio_upgrades_total{shard="0"} 1
# HELP tpcio_namespaces Socket.IO namespaces with at least one connected socket.
# TYPE tpcio_namespaces gauge
tpcio_namespaces{shard="0"} 1
# HELP tpcio_sockets Connected Socket.IO sockets, by namespace.
# TYPE tpcio_sockets gauge
tpcio_sockets{shard="0",namespace="/"} 1
tpcio_sockets{shard="0",namespace="/x"} 0
# HELP tpcio_polling_parked_gets Polling GETs parked, waiting for something to send.
# TYPE tpcio_polling_parked_gets gauge
tpcio_polling_parked_gets{shard="0"} 0
# HELP tpcio_rooms Rooms in the room indexes, each socket's own room included.
# TYPE tpcio_rooms gauge
tpcio_rooms{shard="0"} 2
# HELP tpcio_messages_total Engine.IO message packets received from clients (in) and queued for them (out).
# TYPE tpcio_messages_total counter
tpcio_messages_total{shard="0",direction="in"} 1
tpcio_messages_total{shard="0",direction="out"} 2
# HELP tpcio_frames_total WebSocket data frames (one packet each) and polling HTTP bodies (one or more).
# TYPE tpcio_frames_total counter
tpcio_frames_total{shard="0",transport="polling",direction="in"} 0
tpcio_frames_total{shard="0",transport="polling",direction="out"} 1
tpcio_frames_total{shard="0",transport="websocket",direction="in"} 2
tpcio_frames_total{shard="0",transport="websocket",direction="out"} 0
# HELP tpcio_bytes_total Engine.IO encoded bytes of those frames and bodies, before compression.
# TYPE tpcio_bytes_total counter
tpcio_bytes_total{shard="0",transport="polling",direction="in"} 0
tpcio_bytes_total{shard="0",transport="polling",direction="out"} 96
tpcio_bytes_total{shard="0",transport="websocket",direction="in"} 30
tpcio_bytes_total{shard="0",transport="websocket",direction="out"} 0
# HELP tpcio_broadcasts_total Broadcast operations started on this shard.
# TYPE tpcio_broadcasts_total counter
tpcio_broadcasts_total{shard="0"} 1
# HELP tpcio_broadcast_deliveries_total Packets queued to this shard's sockets by broadcasts from any shard.
# TYPE tpcio_broadcast_deliveries_total counter
tpcio_broadcast_deliveries_total{shard="0"} 4
# HELP tpcio_mesh_messages_total Shard-to-shard messages sent (out) and received (in), by kind.
# TYPE tpcio_mesh_messages_total counter
tpcio_mesh_messages_total{shard="0",direction="in",kind="handoff"} 1
tpcio_mesh_messages_total{shard="0",direction="in",kind="abort"} 0
tpcio_mesh_messages_total{shard="0",direction="in",kind="peer"} 0
tpcio_mesh_messages_total{shard="0",direction="out",kind="handoff"} 0
tpcio_mesh_messages_total{shard="0",direction="out",kind="abort"} 0
tpcio_mesh_messages_total{shard="0",direction="out",kind="peer"} 1
# HELP tpcio_volatile_drops_total Volatile broadcast packets dropped for a full outgoing queue.
# TYPE tpcio_volatile_drops_total counter
tpcio_volatile_drops_total{shard="0"} 1
# HELP tpcio_slow_consumers_total Sessions closed for a full outgoing queue (reason "slow consumer").
# TYPE tpcio_slow_consumers_total counter
tpcio_slow_consumers_total{shard="0"} 1
# HELP tpcio_handler_panics_total Panics caught in handler code (callbacks and their tasks); each disconnected its socket or closed its session.
# TYPE tpcio_handler_panics_total counter
tpcio_handler_panics_total{shard="0"} 1
# HELP tpcio_events_rejected_total Events dropped by a typed handler (Router) because their arguments did not deserialize.
# TYPE tpcio_events_rejected_total counter
tpcio_events_rejected_total{shard="0"} 0
# HELP tpcio_shard_outbox_drops_total Messages for another shard dropped because that shard's outbox was full.
# TYPE tpcio_shard_outbox_drops_total counter
tpcio_shard_outbox_drops_total{shard="0"} 0
# HELP tpcio_connections_refused_total Connections refused at accept, by the limit they met.
# TYPE tpcio_connections_refused_total counter
tpcio_connections_refused_total{shard="0",limit="max_connections"} 0
tpcio_connections_refused_total{shard="0",limit="max_connections_per_ip"} 0
# HELP tpcio_handshake_errors_total Requests refused with an Engine.IO error (Node's connection_error), by code.
# TYPE tpcio_handshake_errors_total counter
tpcio_handshake_errors_total{shard="0",code="0",message="Transport unknown"} 0
tpcio_handshake_errors_total{shard="0",code="1",message="Session ID unknown"} 2
tpcio_handshake_errors_total{shard="0",code="2",message="Bad handshake method"} 0
tpcio_handshake_errors_total{shard="0",code="3",message="Bad request"} 0
tpcio_handshake_errors_total{shard="0",code="4",message="Forbidden"} 1
tpcio_handshake_errors_total{shard="0",code="5",message="Unsupported protocol version"} 0
"#;

    #[test]
    fn exact_text_of_one_shard() {
        let text = fixture().render();
        for (line, (got, want)) in text.lines().zip(EXPECTED.lines()).enumerate() {
            assert_eq!(got, want, "line {}", line + 1);
        }
        assert_eq!(text, EXPECTED);
    }

    #[test]
    fn every_shard_has_its_series_in_order_and_label_values_are_escaped() {
        let metrics = Metrics::new(2);
        metrics.shard(1).namespace("/a\"b\\c\nd").inc();
        metrics.shard(1).session_opened(WebSocket);
        let text = metrics.render();
        let sessions: Vec<&str> = text.lines().filter(|l| l.starts_with("tpcio_sessions{")).collect();
        assert_eq!(
            sessions,
            [
                r#"tpcio_sessions{shard="0",transport="polling"} 0"#,
                r#"tpcio_sessions{shard="0",transport="websocket"} 0"#,
                r#"tpcio_sessions{shard="1",transport="polling"} 0"#,
                r#"tpcio_sessions{shard="1",transport="websocket"} 1"#,
            ]
        );
        assert!(text.contains("tpcio_sockets{shard=\"1\",namespace=\"/a\\\"b\\\\c\\nd\"} 1\n"), "{text}");
        assert!(text.contains("tpcio_namespaces{shard=\"0\"} 0\ntpcio_namespaces{shard=\"1\"} 1\n"));
    }

    /// Every sample belongs to the family announced just before it, with a legal name, and
    /// each family is announced once.
    #[test]
    fn the_text_is_well_formed() {
        let text = fixture().render();
        let mut family = String::new();
        let mut seen = std::collections::HashSet::new();
        let legal = |name: &str| {
            name.chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        };
        for line in text.lines() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                family = help.split(' ').next().unwrap_or_default().to_string();
                assert!(legal(&family) && family.starts_with("tpcio_"), "{line}");
                assert!(seen.insert(family.clone()), "{family} twice");
            } else if let Some(kind) = line.strip_prefix("# TYPE ") {
                let kind = kind.strip_prefix(&format!("{family} ")).expect("TYPE follows its HELP");
                assert!(kind == "gauge" || (kind == "counter" && family.ends_with("_total")), "{line}");
            } else {
                let (series, value) = line.rsplit_once(' ').expect("a value");
                assert!(value.parse::<u64>().is_ok(), "{line}");
                assert!(series.starts_with(&format!("{family}{{")) && series.ends_with('}'), "{line}");
            }
        }
    }
}
