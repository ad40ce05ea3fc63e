//! What a comparison found, and where it is kept: one [`Row`] per scenario with a [`Cell`]
//! per server, written as `results.md`, `results.json` and `chart.svg` into a folder named by
//! the UTC time and copied to `latest/`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::scenarios::{Budget, Figures, Metric};
use super::versions::Versions;

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    pub date: String,
    pub command: String,
    pub cpu_model: String,
    pub server_cpus: String,
    pub loadgen_cpus: String,
    pub quick: bool,
    /// Rounds of the scenarios other than the cluster's; each cell gives their medians.
    pub rounds: usize,
    /// `/proc/loadavg` (1, 5, 15 min) as each round began.
    pub load_averages: Vec<String>,
    pub versions: Versions,
    pub budget: Budget,
    /// Every server taking part: `(id, label, description)`.
    pub servers: Vec<ServerInfo>,
    pub rows: Vec<Row>,
    /// The cluster scenario's rounds and medians, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<super::cluster::ClusterResults>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServerInfo {
    pub id: &'static str,
    pub label: &'static str,
    pub description: &'static str,
}

/// One scenario across the servers.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub id: &'static str,
    pub title: String,
    pub metric: Metric,
    pub cells: Vec<Cell>,
}

/// One server in one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub server: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Measured { figures: Figures, report: Value },
    Failed { reason: String },
    NotApplicable { reason: String },
}

impl Row {
    pub fn cell(&self, server: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.server == server)
    }

    pub fn figures(&self, server: &str) -> Option<&Figures> {
        match &self.cell(server)?.outcome {
            Outcome::Measured { figures, .. } => Some(figures),
            _ => None,
        }
    }

    /// The headline figure of tpcio over that of `other`.
    pub fn ratio(&self, other: &str) -> Option<f64> {
        let t = self.figures("tpcio")?.throughput?;
        let o = self.figures(other)?.throughput.filter(|o| *o > 0.0)?;
        Some(t / o)
    }
}

/// The first "model name" of /proc/cpuinfo, and how many CPUs there are.
pub fn cpu_model() -> String {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim()))
        .unwrap_or("unknown CPU");
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model} ({cpus} CPUs available)")
}

/// Writes the three files into `dir`, then copies them into `latest`.
pub fn save(results: &Results, dir: &Path, latest: &Path) -> Result<(), String> {
    let json = serde_json::to_string_pretty(results).map_err(|e| format!("results.json: {e}"))?;
    let files = [
        ("results.md", super::markdown::document(results)),
        ("results.json", json + "\n"),
        ("chart.svg", super::svg::chart(results)),
    ];
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    fs::create_dir_all(latest).map_err(|e| format!("{}: {e}", latest.display()))?;
    for (name, text) in &files {
        for folder in [dir, latest] {
            let path: PathBuf = folder.join(name);
            fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
pub mod fixture {
    //! Fixed results for the rendering tests.
    use super::*;
    use crate::compare::scenarios::Kind;
    use serde_json::json;

    fn measured(server: &'static str, throughput: f64, p50: f64, p99: f64) -> Cell {
        let figures = Figures {
            throughput: Some(throughput),
            p50_us: Some(p50),
            p99_us: Some(p99),
            server_us_per_op: Some(12.5),
            server_cpu_pct: Some(75.0),
            loadgen_cpu_pct: Some(97.0),
            note: String::new(),
            spread: None,
        };
        Cell { server, outcome: Outcome::Measured { figures, report: json!({}) } }
    }

    pub fn results() -> Results {
        let budget = Budget::new(true, None);
        let not_applicable = Outcome::NotApplicable { reason: "echo only".into() };
        Results {
            date: "2026-11-22 05:20:07 UTC".into(),
            command: "tpcio-loadtest compare --quick".into(),
            cpu_model: "Test CPU (2 CPUs available)".into(),
            server_cpus: "0".into(),
            loadgen_cpus: "1".into(),
            quick: true,
            rounds: 1,
            load_averages: vec!["0.50 0.40 0.30".into()],
            versions: Versions { node: "v22.1.0".into(), ..Versions::default() },
            budget: budget.clone(),
            servers: vec![
                ServerInfo { id: "tpcio", label: "tpcio", description: "ours" },
                ServerInfo { id: "node", label: "Node socket.io", description: "<reference> & co" },
                ServerInfo { id: "raw", label: "raw WS echo", description: "ceiling" },
            ],
            rows: vec![
                Row {
                    id: "echo",
                    title: Kind::Echo.title(&budget),
                    metric: Kind::Echo.metric(),
                    cells: vec![
                        measured("tpcio", 60_000.0, 1500.0, 3000.0),
                        measured("node", 24_000.0, 4000.0, 9000.0),
                        measured("raw", 120_000.0, 800.0, 1600.0),
                    ],
                },
                Row {
                    id: "ack",
                    title: Kind::Ack.title(&budget),
                    metric: Kind::Ack.metric(),
                    cells: vec![
                        measured("tpcio", 50_000.0, 1800.0, 3500.0),
                        Cell { server: "node", outcome: Outcome::Failed { reason: "exit status: 2".into() } },
                        Cell { server: "raw", outcome: not_applicable },
                    ],
                },
            ],
            cluster: None,
        }
    }
}
