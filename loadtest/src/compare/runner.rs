//! The comparison's run: each server in turn on its own port, every scenario against it, the
//! tables printed and the results folder written.
//!
//! On each fresh server the idle scenario runs first, so its memory per connection is not
//! flattered by memory the earlier scenarios freed; the tables keep the usual order.

use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use super::RunArgs;
use super::cluster;
use super::markdown;
use super::process::{self, Running};
use super::report::{self, Cell, Outcome, Results, Row, ServerInfo};
use super::rounds;
use super::scenarios::{Budget, Kind};
use super::servers::{Server, cpu_count};
use super::time::Utc;
use super::versions::Versions;

/// Descriptors the servers may need: 10 000 broadcast clients and some.
const SERVER_FILES: usize = 11_000;

/// What every measurement of a run shares.
struct Context {
    root: PathBuf,
    logs: PathBuf,
    server_cpus: String,
    server_cpu_count: usize,
    loadgen_cpus: String,
    budget: Budget,
    kinds: Vec<Kind>,
    supported: Vec<String>,
}

pub fn compare(args: &RunArgs) -> Result<(), String> {
    let servers = parse_list(&args.servers, Server::parse, "server")?;
    let with_cluster = args.scenarios.iter().any(|s| s.trim() == "cluster");
    let others: Vec<String> = args.scenarios.iter().filter(|s| s.trim() != "cluster").cloned().collect();
    let kinds = parse_list(&others, Kind::parse, "scenario")?;
    let server_cpu_count = cpu_count(&args.server_cpus)?;
    cpu_count(&args.loadgen_cpus)?;
    if let Err(e) = crate::rlimit::ensure_sockets(SERVER_FILES) {
        eprintln!("warning: {e}");
    }
    let root = args.root.clone().unwrap_or_else(default_root);
    let now = Utc::now();
    let dir = root.join("loadtest/results").join(now.compact());
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let ctx = Context {
        root,
        logs,
        server_cpus: args.server_cpus.clone(),
        server_cpu_count,
        loadgen_cpus: args.loadgen_cpus.clone(),
        budget: Budget::new(args.quick, args.duration),
        kinds,
        supported: process::supported_commands(),
    };
    let mut rows: Vec<Row> = (ctx.kinds.iter())
        .map(|k| Row { id: k.id(), title: k.title(&ctx.budget), metric: k.metric(), cells: Vec::new() })
        .collect();
    let default_rounds = if args.quick { 1 } else { 3 };
    let round_count =
        if ctx.kinds.is_empty() { 0 } else { args.rounds.map_or(default_rounds, |r| r as usize) };
    // outcomes[server][scenario][round]
    let mut outcomes = vec![vec![Vec::with_capacity(round_count); ctx.kinds.len()]; servers.len()];
    let mut load_averages = Vec::with_capacity(round_count);
    for round in 1..=round_count {
        let load = cluster::load_average();
        eprintln!("== round {round} of {round_count} (load average {load})");
        load_averages.push(load);
        for (i, server) in servers.iter().enumerate() {
            let port =
                u16::try_from(i).ok().and_then(|i| args.port.checked_add(i)).ok_or("--port too high")?;
            for (slot, cell) in outcomes[i].iter_mut().zip(measure_server(*server, port, &ctx)) {
                slot.push(cell.outcome);
            }
        }
    }
    for (server, per_kind) in servers.iter().zip(outcomes) {
        for (row, per_round) in rows.iter_mut().zip(per_kind) {
            row.cells.push(Cell { server: server.id(), outcome: rounds::combine(per_round) });
        }
    }
    let cluster_results = with_cluster.then(|| {
        let setup = cluster::Setup {
            root: &ctx.root,
            logs: &ctx.logs,
            loadgen_cpus: &ctx.loadgen_cpus,
            budget: cluster::ClusterBudget::new(args.quick, args.cluster_rounds),
            adapter: &args.cluster_adapter,
        };
        cluster::run(&servers, &setup)
    });
    if let Some(c) = &cluster_results {
        rows.extend(cluster::rows(c));
    }
    let results = Results {
        date: now.readable(),
        command: command_line(),
        cpu_model: report::cpu_model(),
        server_cpus: ctx.server_cpus.clone(),
        loadgen_cpus: ctx.loadgen_cpus.clone(),
        quick: args.quick,
        rounds: round_count,
        load_averages,
        versions: Versions::read(&ctx.root),
        budget: ctx.budget.clone(),
        servers: servers
            .iter()
            .map(|s| ServerInfo { id: s.id(), label: s.label(), description: s.description() })
            .collect(),
        rows,
        cluster: cluster_results,
    };
    println!("{}\n{}", markdown::summary(&results), markdown::details(&results));
    if let Some(c) = &results.cluster {
        println!("{}", cluster::section(c));
    }
    let latest = match &args.latest {
        Some(name) => name,
        None if with_cluster && ctx.kinds.is_empty() => "cluster-latest",
        None => "latest",
    };
    report::save(&results, &dir, &ctx.root.join("loadtest/results").join(latest))?;
    eprintln!("results: {} (and loadtest/results/{latest}/)", dir.display());
    Ok(())
}

fn parse_list<T>(names: &[String], parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<Vec<T>, String> {
    names.iter().map(|n| parse(n.trim()).ok_or_else(|| format!("unknown {what} {n:?}"))).collect()
}

/// `--latest`: one plain folder name, so the copy stays inside loadtest/results/.
pub fn folder_name(name: &str) -> Result<String, String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || !name.chars().all(plain) {
        return Err(format!("{name:?}: expected a folder name (letters, digits, - and _)"));
    }
    Ok(name.to_owned())
}

/// `target/release/tpcio-loadtest` → the repository root, when that is where we run from.
fn default_root() -> PathBuf {
    let from_exe =
        std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()));
    match from_exe {
        Some(root) if root.join("loadtest").is_dir() => root,
        _ => PathBuf::from("."),
    }
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("tpcio-loadtest {}", args.join(" "))
}

/// Every scenario against `server`, in the order of `ctx.kinds`.
fn measure_server(server: Server, port: u16, ctx: &Context) -> Vec<Cell> {
    let launch = server.launch(&ctx.root, port, ctx.server_cpu_count);
    let every = |outcome: Outcome| -> Vec<Cell> {
        let cell = |k: &Kind| Cell { server: server.id(), outcome: outcome_for(server, *k, &outcome) };
        ctx.kinds.iter().map(cell).collect()
    };
    if let Some(why) = server.missing(&ctx.root, &launch) {
        eprintln!("== {}: {why}", server.id());
        return every(Outcome::NotApplicable { reason: why });
    }
    if process::port_taken(port) {
        return every(Outcome::Failed { reason: format!("port {port} already in use") });
    }
    eprintln!("== {} on port {port}, CPU {}", server.id(), ctx.server_cpus);
    let log = ctx.logs.join(format!("{}-server.log", server.id()));
    let running = match Running::start(&launch, &ctx.server_cpus, port, &log) {
        Ok(r) => r,
        Err(e) => return every(Outcome::Failed { reason: e }),
    };
    let mut order: Vec<(usize, Kind)> = ctx.kinds.iter().copied().enumerate().collect();
    order.sort_by_key(|(_, k)| *k != Kind::Idle);
    let mut cells: Vec<(usize, Cell)> =
        order.into_iter().map(|(i, k)| (i, measure_one(server, k, port, &running, ctx))).collect();
    running.stop();
    if let Err(e) = process::wait_port_free(port) {
        eprintln!("warning: {e}");
    }
    cells.sort_by_key(|(i, _)| *i);
    cells.into_iter().map(|(_, c)| c).collect()
}

/// `outcome` for the scenarios `server` takes part in, "n/a" for the others.
fn outcome_for(server: Server, kind: Kind, outcome: &Outcome) -> Outcome {
    if server.runs(kind) { outcome.clone() } else { not_run(server) }
}

fn not_run(server: Server) -> Outcome {
    Outcome::NotApplicable { reason: format!("{} takes part in the echo scenario only", server.label()) }
}

fn measure_one(server: Server, kind: Kind, port: u16, running: &Running, ctx: &Context) -> Cell {
    let cell = |outcome| Cell { server: server.id(), outcome };
    if !server.runs(kind) {
        return cell(not_run(server));
    }
    let mut argv: Vec<String> = match server {
        Server::RawWs => vec!["compare".into(), "raw-echo".into()],
        _ if !ctx.supported.iter().any(|c| c == kind.command()) => {
            let reason = format!("this tpcio-loadtest has no `{}` scenario", kind.command());
            return cell(Outcome::NotApplicable { reason });
        }
        _ => vec![kind.command().into()],
    };
    argv.extend(kind.args(&server.url(port), running.pid(), &ctx.budget));
    let log = ctx.logs.join(format!("{}-{}.log", server.id(), kind.id()));
    let outcome = match process::run_loadgen(&ctx.loadgen_cpus, &argv, &log, kind.time_limit(&ctx.budget)) {
        Ok(report) => Outcome::Measured { figures: kind.figures(&report), report },
        Err(reason) => Outcome::Failed { reason },
    };
    eprintln!("   {:<14} {}", kind.id(), progress_line(kind, &outcome));
    // Let the server close the run's connections before the next one.
    thread::sleep(Duration::from_secs(1));
    cell(outcome)
}

fn progress_line(kind: Kind, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Measured { figures, .. } => {
            let value = figures.throughput.map_or_else(|| "-".into(), markdown::thousands);
            format!("{value} {} {}", kind.metric().unit, figures.note)
        }
        Outcome::Failed { reason } => format!("failed: {reason}"),
        Outcome::NotApplicable { reason } => format!("n/a: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_refuses_unknown_names() {
        let names = ["tpcio".to_string(), " raw".to_string()];
        assert_eq!(parse_list(&names, Server::parse, "server"), Ok(vec![Server::Tpcio, Server::RawWs]));
        assert!(parse_list(&["bogus".to_string()], Kind::parse, "scenario").is_err());
    }

    #[test]
    fn takes_plain_folder_names_only() {
        assert_eq!(folder_name("typed-latest"), Ok("typed-latest".to_string()));
        for bad in ["", "..", "a/b", "/tmp", "x y"] {
            assert!(folder_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn marks_scenarios_the_raw_echo_skips() {
        let failed = Outcome::Failed { reason: "x".into() };
        assert!(matches!(outcome_for(Server::RawWs, Kind::Ack, &failed), Outcome::NotApplicable { .. }));
        assert!(matches!(outcome_for(Server::RawWs, Kind::Echo, &failed), Outcome::Failed { .. }));
        assert!(matches!(
            outcome_for(Server::RawWs, Kind::EchoTyped, &failed),
            Outcome::NotApplicable { .. }
        ));
    }
}
