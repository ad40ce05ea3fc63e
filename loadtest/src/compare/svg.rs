//! `chart.svg`, written by hand: one small panel per scenario, each with its own scale (the
//! scenarios' figures differ by orders of magnitude). Top: the headline figure, one bar per
//! server. Bottom: latency, a pair of bars per server (p50 pale, p99 solid).

use std::fmt::Write;

use super::report::{Outcome, Results, Row};

const WIDTH: f64 = 960.0;
const COLUMNS: usize = 4;
const PANEL_W: f64 = WIDTH / COLUMNS as f64;
const PANEL_H: f64 = 180.0;
const HEADER_H: f64 = 64.0;
const SECTION_H: f64 = 28.0;
/// Inside a panel: title above, axis labels below.
const PLOT_TOP: f64 = 34.0;
const PLOT_BOTTOM: f64 = 30.0;
const PLOT_SIDE: f64 = 14.0;

/// One server's bars in a panel.
struct Group<'a> {
    server: &'a str,
    /// One value (throughput) or two (p50, p99); `None` draws "n/a".
    values: Vec<Option<f64>>,
}

fn color(server: &str) -> &'static str {
    match server {
        "tpcio" => "#e8590c",
        "socketioxide" => "#1c7ed6",
        "node" => "#2f9e44",
        "raw" => "#868e96",
        _ => "#495057",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `1440000` → `1.44M`: bar labels must be short.
fn short(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{:.2}M", v / 1e6),
        a if a >= 1e4 => format!("{:.0}k", v / 1e3),
        a if a >= 1e3 => format!("{:.1}k", v / 1e3),
        a if a >= 10.0 => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    }
}

fn text(out: &mut String, x: f64, y: f64, size: u32, anchor: &str, content: &str) {
    let _ = writeln!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}">{}</text>"#,
        escape(content)
    );
}

fn rect(out: &mut String, x: f64, y: f64, w: f64, h: f64, fill: &str, opacity: f64) {
    let _ = writeln!(
        out,
        r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}" fill-opacity="{opacity}"/>"#
    );
}

/// A panel at (`x`, `y`): title, baseline, the groups' bars with their values.
fn panel(out: &mut String, x: f64, y: f64, title: &str, groups: &[Group<'_>]) {
    text(out, x + PANEL_W / 2.0, y + 18.0, 11, "middle", title);
    let (left, right) = (x + PLOT_SIDE, x + PANEL_W - PLOT_SIDE);
    let (top, base) = (y + PLOT_TOP, y + PANEL_H - PLOT_BOTTOM);
    let _ = writeln!(
        out,
        r##"<line x1="{left:.1}" y1="{base:.1}" x2="{right:.1}" y2="{base:.1}" stroke="#adb5bd"/>"##
    );
    let max = groups.iter().flat_map(|g| g.values.iter().flatten()).fold(0.0_f64, |m, v| m.max(*v));
    let scale = if max > 0.0 { (base - top - 14.0) / max } else { 0.0 };
    let group_w = (right - left) / groups.len().max(1) as f64;
    for (i, g) in groups.iter().enumerate() {
        let gx = left + group_w * i as f64;
        let bar_w = (group_w - 10.0) / g.values.len().max(1) as f64;
        for (j, value) in g.values.iter().enumerate() {
            let bx = gx + 5.0 + bar_w * j as f64;
            let opacity = if g.values.len() == 2 && j == 0 { 0.45 } else { 1.0 };
            match value {
                Some(v) => {
                    let h = (v * scale).max(0.5);
                    rect(out, bx + 1.0, base - h, bar_w - 2.0, h, color(g.server), opacity);
                    text(out, bx + bar_w / 2.0, base - h - 3.0, 9, "middle", &short(*v));
                }
                None => text(out, bx + bar_w / 2.0, base - 4.0, 9, "middle", "n/a"),
            }
        }
        text(out, gx + group_w / 2.0, base + 13.0, 10, "middle", g.server);
    }
}

/// The servers that take part in the row's scenario (measured or failed).
fn takes_part(row: &Row, server: &str) -> bool {
    row.cell(server).is_some_and(|c| !matches!(c.outcome, Outcome::NotApplicable { .. }))
}

fn throughput_groups<'a>(row: &Row, servers: &[&'a str]) -> Vec<Group<'a>> {
    let groups = servers.iter().filter(|s| takes_part(row, s));
    groups
        .map(|&server| Group { server, values: vec![row.figures(server).and_then(|f| f.throughput)] })
        .collect()
}

fn latency_groups<'a>(row: &Row, servers: &[&'a str]) -> Vec<Group<'a>> {
    let groups = servers.iter().filter(|s| takes_part(row, s));
    let values =
        |f: Option<&super::scenarios::Figures>| vec![f.and_then(|f| f.p50_us), f.and_then(|f| f.p99_us)];
    groups.map(|&server| Group { server, values: values(row.figures(server)) }).collect()
}

/// Lays out one section's panels from `y`; returns where the next section starts.
fn section(out: &mut String, y: f64, title: &str, panels: &[(String, Vec<Group<'_>>)]) -> f64 {
    text(out, 12.0, y + 18.0, 13, "start", title);
    let y = y + SECTION_H;
    for (i, (name, groups)) in panels.iter().enumerate() {
        let (col, row) = (i % COLUMNS, i / COLUMNS);
        panel(out, PANEL_W * col as f64, y + PANEL_H * row as f64, name, groups);
    }
    y + PANEL_H * panels.len().div_ceil(COLUMNS) as f64
}

fn legend(out: &mut String, results: &Results) {
    let mut x = 12.0;
    for s in &results.servers {
        rect(out, x, 40.0, 12.0, 12.0, color(s.id), 1.0);
        text(out, x + 16.0, 50.0, 11, "start", s.label);
        x += 36.0 + 7.0 * s.label.len() as f64;
    }
    text(out, WIDTH - 12.0, 50.0, 10, "end", "latency pairs: p50 pale, p99 solid");
}

/// The whole chart.
pub fn chart(results: &Results) -> String {
    let servers: Vec<&str> = results.servers.iter().map(|s| s.id).collect();
    let throughput: Vec<_> = (results.rows.iter())
        .map(|r| (format!("{} ({})", r.id, r.metric.unit), throughput_groups(r, &servers)))
        .collect();
    let latency: Vec<_> = (results.rows.iter())
        .filter(|r| servers.iter().any(|s| r.figures(s).is_some_and(|f| f.p99_us.is_some())))
        .map(|r| (format!("{} (µs)", r.id), latency_groups(r, &servers)))
        .collect();
    let mut body = String::new();
    let title = format!("tpcio compared, {}, {}", results.date, results.cpu_model);
    text(&mut body, 12.0, 24.0, 15, "start", &title);
    legend(&mut body, results);
    let next =
        section(&mut body, HEADER_H, "Throughput (idle: KiB per connection, lower is better)", &throughput);
    let end = section(&mut body, next + 8.0, "Latency p50 / p99, µs (lower is better)", &latency);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{h:.0}\" viewBox=\"0 0 {WIDTH} {h:.0}\" \
         font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n",
        h = end + 10.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::report::fixture;

    #[test]
    fn shortens_and_escapes() {
        assert_eq!(short(1_440_000.0), "1.44M");
        assert_eq!(short(60_000.0), "60k");
        assert_eq!(short(1_500.0), "1.5k");
        assert_eq!(short(42.0), "42");
        assert_eq!(short(2.25), "2.2");
        assert_eq!(escape(r#"a<b & "c">"#), "a&lt;b &amp; &quot;c&quot;&gt;");
    }

    #[test]
    fn draws_every_panel_and_bar() {
        let svg = chart(&fixture::results());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\""));
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        // Two throughput panels (echo, ack) and two latency panels.
        for title in ["echo (msgs/s)", "ack (msgs/s)", "echo (µs)", "ack (µs)"] {
            assert!(svg.contains(&format!(">{title}</text>")), "{title}");
        }
        // Legend 3 + echo 3 bars + ack 1 bar + latency 3×2 + 1×2, plus the background.
        assert_eq!(svg.matches("<rect").count(), 1 + 3 + 3 + 1 + 6 + 2);
        assert!(svg.contains(">120k</text>") && svg.contains(">n/a</text>"));
        // Bars stand on the baseline of their panel: the tallest echo bar is the raw echo's.
        assert!(svg.contains(r##"fill="#868e96" fill-opacity="1"/>"##));
    }
}
