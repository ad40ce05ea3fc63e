//! The comparison's scenarios: which load-generator command each runs with which arguments,
//! and which figures of its JSON line go in the table. Reports are read as loose JSON, field
//! by field, so a scenario whose report lacks a figure shows "-" rather than failing.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// How long each part of a run lasts.
#[derive(Clone, Debug, Serialize)]
pub struct Budget {
    /// First rate of the broadcast searches to 1 000 and to 10 000 clients, messages per second.
    pub first_rates: (u32, u32),
    /// Measured window of the echo, polling and connect scenarios, and the idle hold.
    pub window: f64,
    /// One step of a broadcast search, and the drain after it.
    pub step: f64,
    pub drain: f64,
    /// All the steps of one broadcast search.
    pub search: f64,
    pub idle_clients: usize,
}

impl Budget {
    /// `window`: the measured window, by default 2 s with `quick`, else 8 s.
    pub fn new(quick: bool, window: Option<f64>) -> Budget {
        if quick {
            // A short search starts higher to reach rates worth reading in its few steps.
            Budget {
                first_rates: (100, 10),
                window: window.unwrap_or(2.0),
                step: 1.0,
                drain: 0.5,
                search: 8.0,
                idle_clients: 1000,
            }
        } else {
            Budget {
                first_rates: (20, 2),
                window: window.unwrap_or(8.0),
                step: 3.0,
                drain: 2.0,
                search: 40.0,
                idle_clients: 10_000,
            }
        }
    }
}

/// Echo clients and payload, as `scripts/bench-sio.sh` uses them.
const ECHO_CLIENTS: usize = 100;
const POLL_CLIENTS: usize = 50;
const STORM_CLIENTS: usize = 50;
const SIZE: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Echo,
    /// `echo` emitting `echo-typed`: the servers' handler reads the arguments with its typed
    /// API (deserialized values) instead of relaying them.
    EchoTyped,
    Ack,
    Broadcast1k,
    Broadcast10k,
    Connect,
    Idle,
    Polling,
}

/// The headline figure of a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Metric {
    pub unit: &'static str,
    pub higher_is_better: bool,
}

/// What the table shows of one report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    pub throughput: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub server_us_per_op: Option<f64>,
    /// Share of one core each side used over the window, percent.
    pub server_cpu_pct: Option<f64>,
    pub loadgen_cpu_pct: Option<f64>,
    /// Losses, errors, the search's best rate, memory details.
    pub note: String,
    /// The range of each figure over the rounds, when the figures are medians of several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread: Option<Box<super::rounds::Spreads>>,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Echo,
        Kind::EchoTyped,
        Kind::Ack,
        Kind::Broadcast1k,
        Kind::Broadcast10k,
        Kind::Connect,
        Kind::Idle,
        Kind::Polling,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Kind::Echo => "echo",
            Kind::EchoTyped => "echo-typed",
            Kind::Ack => "ack",
            Kind::Broadcast1k => "broadcast-1k",
            Kind::Broadcast10k => "broadcast-10k",
            Kind::Connect => "connect",
            Kind::Idle => "idle",
            Kind::Polling => "polling",
        }
    }

    pub fn parse(id: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id() == id)
    }

    /// The load generator's subcommand.
    pub fn command(self) -> &'static str {
        match self {
            Kind::Broadcast1k | Kind::Broadcast10k => "broadcast",
            Kind::EchoTyped => "echo",
            other => other.id(),
        }
    }

    pub fn title(self, budget: &Budget) -> String {
        match self {
            Kind::Echo => format!("emit echo, {ECHO_CLIENTS} clients, {SIZE} B"),
            Kind::EchoTyped => format!("emit echo-typed (typed handler), {ECHO_CLIENTS} clients, {SIZE} B"),
            Kind::Ack => format!("ack echo, {ECHO_CLIENTS} clients, {SIZE} B"),
            Kind::Broadcast1k => "broadcast to 1 000, highest sustained (p99 ≤ 100 ms)".into(),
            Kind::Broadcast10k => "broadcast to 10 000, highest sustained (p99 ≤ 1 s)".into(),
            Kind::Connect => format!("connection storm, {STORM_CLIENTS} at a time"),
            Kind::Idle => {
                format!("{} idle connections", super::markdown::thousands(budget.idle_clients as f64))
            }
            Kind::Polling => format!("polling echo, {POLL_CLIENTS} clients, {SIZE} B"),
        }
    }

    pub fn metric(self) -> Metric {
        let unit = match self {
            Kind::Echo | Kind::EchoTyped | Kind::Ack | Kind::Polling => "msgs/s",
            Kind::Broadcast1k | Kind::Broadcast10k => "deliveries/s",
            Kind::Connect => "handshakes/s",
            Kind::Idle => "KiB RSS/conn",
        };
        Metric { unit, higher_is_better: self != Kind::Idle }
    }

    /// The scenario's arguments after its subcommand.
    pub fn args(self, url: &str, server_pid: u32, b: &Budget) -> Vec<String> {
        let mut args =
            vec!["--url".to_string(), url.to_string(), "--server-pid".into(), server_pid.to_string()];
        let mut add = |name: &str, value: String| args.extend([format!("--{name}"), value]);
        match self {
            Kind::Echo | Kind::EchoTyped | Kind::Ack | Kind::Polling => {
                let clients = if self == Kind::Polling { POLL_CLIENTS } else { ECHO_CLIENTS };
                add("clients", clients.to_string());
                add("size", SIZE.to_string());
                add("duration", b.window.to_string());
                if self == Kind::EchoTyped {
                    add("event", "echo-typed".into());
                }
            }
            Kind::Broadcast1k | Kind::Broadcast10k => {
                let (clients, rate, bound) = match self {
                    Kind::Broadcast1k => (1000, b.first_rates.0, 100),
                    _ => (10_000, b.first_rates.1, 1000),
                };
                add("clients", clients.to_string());
                add("rate", rate.to_string());
                add("p99-bound-ms", bound.to_string());
                add("duration", b.step.to_string());
                add("drain", b.drain.to_string());
                add("max-time", b.search.to_string());
                add("connect-timeout", "60".into());
                args.push("--find-max".into());
            }
            Kind::Connect => {
                add("clients", STORM_CLIENTS.to_string());
                add("duration", b.window.to_string());
            }
            Kind::Idle => {
                add("clients", b.idle_clients.to_string());
                add("settle", "1".into());
                add("duration", b.window.to_string());
            }
        }
        args
    }

    /// How long the load generator may take before it is killed: its own bounds plus margin.
    pub fn time_limit(self, b: &Budget) -> Duration {
        let own = match self {
            Kind::Broadcast1k | Kind::Broadcast10k => 60.0 + b.search + b.step + b.drain,
            Kind::Idle => 60.0 + 1.0 + b.window,
            _ => 10.0 + b.window,
        };
        Duration::from_secs_f64(own + 60.0)
    }

    pub fn figures(self, r: &Value) -> Figures {
        match self {
            Kind::Echo | Kind::EchoTyped | Kind::Ack | Kind::Polling => echo_figures(r),
            Kind::Broadcast1k | Kind::Broadcast10k => broadcast_figures(r),
            Kind::Connect => Figures {
                throughput: num(r, "handshakes_per_s"),
                p50_us: num(r, "p50_us"),
                p99_us: num(r, "p99_us"),
                server_us_per_op: num(r, "server_us_per_handshake"),
                server_cpu_pct: num(r, "server_cpu_pct"),
                loadgen_cpu_pct: num(r, "loadgen_cpu_pct"),
                note: count_note(r, "errors", "failed"),
                spread: None,
            },
            Kind::Idle => idle_figures(r),
        }
    }
}

fn num(r: &Value, key: &str) -> Option<f64> {
    r.get(key)?.as_f64()
}

/// `part` as a percentage of `whole` seconds.
fn pct(part: Option<f64>, whole: Option<f64>) -> Option<f64> {
    Some(100.0 * part? / whole.filter(|w| *w > 0.0)?)
}

/// `"N what"` when the report counts some, else nothing.
fn count_note(r: &Value, key: &str, what: &str) -> String {
    match num(r, key) {
        Some(n) if n > 0.0 => format!("{n} {what}"),
        _ => String::new(),
    }
}

fn echo_figures(r: &Value) -> Figures {
    let per_op = || Some(num(r, "server_cpu_s")? * 1e6 / num(r, "messages").filter(|m| *m > 0.0)?);
    Figures {
        throughput: num(r, "rate_per_s"),
        p50_us: num(r, "p50_us"),
        p99_us: num(r, "p99_us"),
        server_us_per_op: num(r, "server_us_per_op").or_else(per_op),
        server_cpu_pct: num(r, "server_cpu_pct").or_else(|| pct(num(r, "server_cpu_s"), num(r, "seconds"))),
        loadgen_cpu_pct: num(r, "loadgen_cpu_pct")
            .or_else(|| pct(num(r, "loadgen_cpu_s"), num(r, "seconds"))),
        note: count_note(r, "errors", "errors"),
        spread: None,
    }
}

/// The search's best sustained step (the report's top level); none sustained, no throughput.
fn broadcast_figures(r: &Value) -> Figures {
    let best_rate = num(r, "max_sustained_rate");
    let note = match best_rate {
        Some(rate) => {
            let loss = num(r, "loss").unwrap_or(0.0);
            format!("{} msg/s, {:.2}% loss", super::markdown::thousands(rate), 100.0 * loss)
        }
        None => format!(
            "no step sustained ({} steps)",
            r.get("steps").and_then(Value::as_array).map_or(0, Vec::len)
        ),
    };
    Figures {
        throughput: num(r, "max_sustained_deliveries_per_s"),
        p50_us: num(r, "p50_us"),
        p99_us: num(r, "p99_us"),
        server_us_per_op: num(r, "server_us_per_delivery"),
        server_cpu_pct: pct(num(r, "server_cpu_s"), num(r, "cpu_window_s")),
        loadgen_cpu_pct: pct(num(r, "loadgen_cpu_s"), num(r, "cpu_window_s")),
        note,
        spread: None,
    }
}

fn idle_figures(r: &Value) -> Figures {
    let per_conn = |key: &str| Some(r.get("server_per_connection")?.get(key)?.as_f64()? / 1024.0);
    let mut note = Vec::new();
    if let Some(pss) = per_conn("pss") {
        note.push(format!("PSS {pss:.1} KiB/conn"));
    }
    match (num(r, "alive_at_reading"), num(r, "clients")) {
        (Some(alive), Some(clients)) if alive < clients => note.push(format!("{alive}/{clients} alive")),
        _ => {}
    }
    Figures {
        throughput: per_conn("rss"),
        server_cpu_pct: num(r, "server_cpu_pct"),
        loadgen_cpu_pct: num(r, "loadgen_cpu_pct"),
        note: note.join(", "),
        ..Figures::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_echo_report() {
        let r = json!({"rate_per_s": 5000.0, "p50_us": 180, "p99_us": 900, "messages": 10000,
            "server_cpu_s": 0.5, "loadgen_cpu_s": 1.0, "seconds": 2.0, "errors": 0});
        let f = Kind::Echo.figures(&r);
        assert_eq!(f.throughput, Some(5000.0));
        assert_eq!(f.server_us_per_op, Some(50.0));
        assert_eq!(f.loadgen_cpu_pct, Some(50.0));
        assert_eq!(f.server_cpu_pct, Some(25.0));
        assert_eq!(f.note, "");
    }

    #[test]
    fn reads_a_search_with_no_sustained_step() {
        let r = json!({"max_sustained_rate": null, "max_sustained_deliveries_per_s": null,
            "p50_us": 1, "p99_us": 2, "steps": [{}, {}]});
        let f = Kind::Broadcast1k.figures(&r);
        assert_eq!(f.throughput, None);
        assert_eq!(f.note, "no step sustained (2 steps)");
    }

    #[test]
    fn builds_arguments_and_parses_ids() {
        let b = Budget::new(true, None);
        let args = Kind::Broadcast10k.args("http://h/socket.io/", 7, &b);
        assert!(args.windows(2).any(|w| w == ["--clients", "10000"]));
        assert!(args.contains(&"--find-max".to_string()));
        assert!(args.windows(2).any(|w| w == ["--rate", "10"]), "{args:?}");
        assert_eq!(Kind::parse("broadcast-10k"), Some(Kind::Broadcast10k));
        assert_eq!(Kind::Broadcast10k.command(), "broadcast");
        assert_eq!(Kind::parse("nope"), None);
        let typed = Kind::parse("echo-typed").unwrap();
        assert_eq!(typed.command(), "echo");
        let args = typed.args("http://h/socket.io/", 7, &b);
        assert!(args.windows(2).any(|w| w == ["--event", "echo-typed"]), "{args:?}");
        assert!(!Kind::Echo.args("http://h/socket.io/", 7, &b).contains(&"--event".to_string()));
    }
}
