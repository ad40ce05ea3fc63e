//! The comparison as Markdown: a summary (one row per scenario, a column per server, the
//! ratios of tpcio to the references), the details (every figure of every cell), and
//! `results.md` around them with the command, date, machine and pinning.

use std::fmt::Write;

use super::report::{Outcome, Results, Row};
use super::scenarios::Figures;

/// The servers tpcio's figures are divided by, in the order of their ratio columns.
const RATIO_TO: [&str; 2] = ["node", "socketioxide"];

/// `1234567.8` → `1 234 568`.
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    if x < -0.5 { format!("-{out}") } else { out }
}

fn headline(row: &Row, value: f64) -> String {
    if row.metric.higher_is_better { thousands(value) } else { format!("{value:.1}") }
}

fn opt(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "-".into(), show)
}

/// Pipes would end a table cell early.
fn cell_text(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The headline figure of `server`, or why there is none.
fn summary_cell(row: &Row, server: &str) -> String {
    match row.cell(server).map(|c| &c.outcome) {
        Some(Outcome::Measured { figures, .. }) => opt(figures.throughput, |v| headline(row, v)),
        Some(Outcome::Failed { .. }) => "failed".into(),
        Some(Outcome::NotApplicable { .. }) | None => "n/a".into(),
    }
}

fn ratio(row: &Row, other: &str) -> String {
    opt(row.ratio(other), |r| format!("{r:.2}×"))
}

/// One row per scenario: each server's headline figure, then tpcio's ratios.
pub fn summary(results: &Results) -> String {
    let others: Vec<&str> =
        RATIO_TO.into_iter().filter(|o| results.servers.iter().any(|s| s.id == *o)).collect();
    let mut out = String::from("| scenario | unit |");
    let mut rule = String::from("|---|---|");
    for s in &results.servers {
        let _ = write!(out, " {} |", s.label);
        rule.push_str("---:|");
    }
    for o in &others {
        let label = results.servers.iter().find(|s| s.id == *o).map_or(*o, |s| s.label);
        let _ = write!(out, " tpcio ÷ {label} |");
        rule.push_str("---:|");
    }
    out = format!("{out}\n{rule}\n");
    for row in &results.rows {
        let better = if row.metric.higher_is_better { "" } else { ", lower is better" };
        let _ = write!(out, "| {} | {}{better} |", cell_text(&row.title), row.metric.unit);
        for s in &results.servers {
            let _ = write!(out, " {} |", summary_cell(row, s.id));
        }
        for o in &others {
            let _ = write!(out, " {} |", ratio(row, o));
        }
        out.push('\n');
    }
    out
}

fn detail_figures(row: &Row, f: &Figures) -> [String; 7] {
    [
        opt(f.throughput, |v| headline(row, v)),
        opt(f.p50_us, thousands),
        opt(f.p99_us, thousands),
        opt(f.server_us_per_op, |v| format!("{v:.2}")),
        opt(f.server_cpu_pct, |v| format!("{v:.0}%")),
        opt(f.loadgen_cpu_pct, |v| format!("{v:.0}%")),
        cell_text(&f.note),
    ]
}

/// One row per scenario and server, every figure.
pub fn details(results: &Results) -> String {
    let mut out = String::from(
        "| scenario | server | figure | p50 µs | p99 µs | server µs CPU/op | server CPU | loadgen CPU | notes |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for row in &results.rows {
        for cell in &row.cells {
            let label = results.servers.iter().find(|s| s.id == cell.server).map_or(cell.server, |s| s.label);
            let cols = match &cell.outcome {
                Outcome::Measured { figures, .. } => detail_figures(row, figures),
                Outcome::Failed { reason } => failed_columns("failed", reason),
                Outcome::NotApplicable { reason } => failed_columns("n/a", reason),
            };
            let title = format!("{} ({})", row.title, row.metric.unit);
            let _ = writeln!(out, "| {} | {label} | {} |", cell_text(&title), cols.join(" | "));
        }
    }
    out
}

fn failed_columns(what: &str, reason: &str) -> [String; 7] {
    let dash = || "-".to_string();
    [what.into(), dash(), dash(), dash(), dash(), dash(), cell_text(reason)]
}

/// `results.md`.
pub fn document(results: &Results) -> String {
    let mut out = String::from("# tpcio compared: socketioxide, Node socket.io, raw WebSocket echo\n\n");
    let b = &results.budget;
    let _ = writeln!(out, "- Date: {}", results.date);
    let _ = writeln!(out, "- Command: `{}`", results.command);
    let _ = writeln!(out, "- Machine: {}", results.cpu_model);
    let _ = writeln!(
        out,
        "- Pinning: each server alone on CPU {} (`taskset -c {}`), the load generator on CPU {}; one server at a time",
        results.server_cpus, results.server_cpus, results.loadgen_cpus
    );
    let _ = writeln!(
        out,
        "- Windows{}: {} s per echo/ack/polling/connect run, broadcast searches of {} s in steps of {} s (+{} s drain)\n",
        if results.quick { " (--quick)" } else { "" },
        b.window,
        b.search,
        b.step,
        b.drain
    );
    out.push_str("## Servers\n\n");
    for s in &results.servers {
        let _ = writeln!(out, "- **{}**: {}", s.label, s.description);
    }
    out.push_str("\n## Summary\n\n");
    out.push_str(&summary(results));
    out.push_str("\n## Details\n\n");
    out.push_str(&details(results));
    out.push_str(
        "\nFigure: the scenario's unit. Latency: round trips (echo, ack, polling), handshakes (connect), \
         send to delivery (broadcast, best sustained step). Server µs CPU/op: the server's CPU time over \
         the operations of the window. Server and loadgen CPU: share of one core each used over the window; \
         near 100% that side set the pace, both well below means the machine did (other work on its CPUs). \
         Broadcast figures are those of the best sustained step, so latencies are at that step's rate. \
         Idle: resident memory added per connection, on a fresh server.\n\n\
         ![throughput and latency](chart.svg)\n",
    );
    if let Some(cluster) = &results.cluster {
        out.push('\n');
        out.push_str(&super::cluster::section(cluster));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::report::fixture;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1 000");
        assert_eq!(thousands(1_440_000.0), "1 440 000");
        assert_eq!(thousands(-12_345.0), "-12 345");
        assert_eq!(thousands(f64::NAN), "-");
    }

    #[test]
    fn renders_the_summary() {
        let s = summary(&fixture::results());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            "| scenario | unit | tpcio | Node socket.io | raw WS echo | tpcio ÷ Node socket.io |"
        );
        assert_eq!(lines[1], "|---|---|---:|---:|---:|---:|");
        assert_eq!(lines[2], "| emit echo, 100 clients, 32 B | msgs/s | 60 000 | 24 000 | 120 000 | 2.50× |");
        assert_eq!(lines[3], "| ack echo, 100 clients, 32 B | msgs/s | 50 000 | failed | n/a | - |");
    }

    #[test]
    fn renders_the_details_and_the_document() {
        let r = fixture::results();
        let d = details(&r);
        assert!(d.contains(
            "| emit echo, 100 clients, 32 B (msgs/s) | tpcio | 60 000 | 1 500 | 3 000 | 12.50 | 75% | 97% |  |"
        ));
        assert!(d.contains("| ack echo, 100 clients, 32 B (msgs/s) | Node socket.io | failed | - | - | - | - | - | exit status: 2 |"));
        let doc = document(&r);
        assert!(doc.contains("- Command: `tpcio-loadtest compare --quick`"));
        assert!(doc.contains("on CPU 0 (`taskset -c 0`), the load generator on CPU 1"));
        assert!(doc.ends_with("![throughput and latency](chart.svg)\n"));
    }
}
