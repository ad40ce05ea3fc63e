//! The comparison as Markdown: a summary (one row per scenario, a column per server, the
//! ratios of tpcio to the references), the details (every figure of every cell), and
//! `results.md` around them with the command, date, machine and pinning.

use std::fmt::Write;

use super::cluster::Spread;
use super::report::{Outcome, Results, Row};
use super::rounds::{SATURATED_PCT, saturated};
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

/// A median with its min–max when it has one (several rounds), else the value alone.
fn ranged(value: Option<f64>, spread: Option<&Spread>, show: impl Fn(f64) -> String) -> String {
    match spread {
        Some(s) => s.show(show),
        None => opt(value, show),
    }
}

/// The headline figure of `server`, or why there is none.
fn summary_cell(row: &Row, server: &str) -> String {
    match row.cell(server).map(|c| &c.outcome) {
        Some(Outcome::Measured { figures, .. }) => {
            let spread = figures.spread.as_deref().and_then(|s| s.throughput.as_ref());
            ranged(figures.throughput, spread, |v| headline(row, v))
        }
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
    let s = f.spread.as_deref();
    let loadgen = opt(f.loadgen_cpu_pct, |v| format!("{v:.0}%"));
    [
        ranged(f.throughput, s.and_then(|s| s.throughput.as_ref()), |v| headline(row, v)),
        ranged(f.p50_us, s.and_then(|s| s.p50_us.as_ref()), thousands),
        ranged(f.p99_us, s.and_then(|s| s.p99_us.as_ref()), thousands),
        ranged(f.server_us_per_op, s.and_then(|s| s.server_us_per_op.as_ref()), |v| format!("{v:.2}")),
        opt(f.server_cpu_pct, |v| format!("{v:.0}%")),
        if saturated(f) { format!("{loadgen} (saturated)") } else { loadgen },
        cell_text(&f.note),
    ]
}

/// Server CPU per operation, one row per scenario, a column per server: the figure that
/// stays fair when the generator, not the server, set the pace.
pub fn cpu_summary(results: &Results) -> String {
    let mut out = String::from("| scenario | unit |");
    let mut rule = String::from("|---|---|");
    for s in &results.servers {
        let _ = write!(out, " {} |", s.label);
        rule.push_str("---:|");
    }
    out = format!("{out}\n{rule}\n");
    for row in results.rows.iter().filter(|r| r.cells.iter().any(|c| per_op(r, c.server).is_some())) {
        let _ = write!(out, "| {} | {} |", cell_text(&row.title), per_op_unit(row.metric.unit));
        for s in &results.servers {
            let _ = write!(out, " {} |", per_op(row, s.id).unwrap_or_else(|| "-".into()));
        }
        out.push('\n');
    }
    out
}

/// `server µs CPU per message` for `msgs/s`, and so on.
fn per_op_unit(unit: &str) -> String {
    let what = match unit {
        "msgs/s" => "message",
        "deliveries/s" => "delivery",
        "handshakes/s" => "handshake",
        other => other,
    };
    format!("server µs CPU per {what}")
}

/// The median server CPU per operation with its range, `*` when the generator saturated.
fn per_op(row: &Row, server: &str) -> Option<String> {
    let f = row.figures(server)?;
    f.server_us_per_op?;
    let spread = f.spread.as_deref().and_then(|s| s.server_us_per_op.as_ref());
    let text = ranged(f.server_us_per_op, spread, |v| format!("{v:.2}"));
    Some(if saturated(f) { format!("{text} *") } else { text })
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
        "- Windows{}: {} s per echo/ack/polling/connect run, broadcast searches of {} s in steps of {} s (+{} s drain)",
        if results.quick { " (--quick)" } else { "" },
        b.window,
        b.search,
        b.step,
        b.drain
    );
    let _ = writeln!(
        out,
        "- Rounds: {}, servers in turn within each, a fresh server each time; every figure is the median over \
         the rounds with its min–max in brackets (each figure's median on its own)",
        results.rounds
    );
    let _ = writeln!(
        out,
        "- Load average (1, 5, 15 min) as each round began: {}",
        results.load_averages.join("; ")
    );
    let _ = writeln!(out, "- Versions: {}\n", results.versions.line());
    out.push_str("## Servers\n\n");
    for s in &results.servers {
        let _ = writeln!(out, "- **{}**: {}", s.label, s.description);
    }
    out.push_str("\n## Summary\n\n");
    out.push_str(&summary(results));
    out.push_str("\n## Server CPU per operation\n\n");
    out.push_str(&cpu_summary(results));
    let _ = writeln!(
        out,
        "\n`*`: the load generator used {SATURATED_PCT:.0}% or more of its CPU (median over the rounds): it set \
         the pace, so that server's rate is partly the generator's limit; its CPU per operation still holds. \
         The generator has one CPU here ({}); more generator processes on it would add no CPU, and every \
         generator already spreads its connections over 127.0.0.x source addresses.",
        results.loadgen_cpus
    );
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
            "| emit echo, 100 clients, 32 B (msgs/s) | tpcio | 60 000 | 1 500 | 3 000 | 12.50 | 75% | 97% (saturated) |  |"
        ));
        assert!(d.contains("| ack echo, 100 clients, 32 B (msgs/s) | Node socket.io | failed | - | - | - | - | - | exit status: 2 |"));
        let doc = document(&r);
        assert!(doc.contains("- Command: `tpcio-loadtest compare --quick`"));
        assert!(doc.contains("on CPU 0 (`taskset -c 0`), the load generator on CPU 1"));
        assert!(doc.ends_with("![throughput and latency](chart.svg)\n"));
        assert!(
            doc.contains("- Versions: tpcio , rustc , glommio , socketioxide , Node v22.1.0 with socket.io"),
            "{doc}"
        );
        let cpu = cpu_summary(&r);
        assert!(
            cpu.contains(
                "| emit echo, 100 clients, 32 B | server µs CPU per message | 12.50 * | 12.50 * | 12.50 * |"
            ),
            "{cpu}"
        );
    }

    #[test]
    fn shows_medians_with_their_range() {
        use crate::compare::report::Outcome;
        use crate::compare::rounds::combine;
        let mut r = fixture::results();
        let Outcome::Measured { figures, report } = r.rows[0].cells[0].outcome.clone() else { panic!() };
        let slower = Figures { throughput: Some(40_000.0), server_us_per_op: Some(15.0), ..figures.clone() };
        let rounds = vec![
            Outcome::Measured { figures: figures.clone(), report: report.clone() },
            Outcome::Measured { figures: slower, report },
            Outcome::Failed { reason: "x".into() },
        ];
        r.rows[0].cells[0].outcome = combine(rounds);
        assert_eq!(summary_cell(&r.rows[0], "tpcio"), "50 000 (40 000–60 000)");
        assert!(cpu_summary(&r).contains("| 13.75 (12.50–15.00) * |"));
    }
}
