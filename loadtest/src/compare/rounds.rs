//! Rounds: the comparison measures every server once per round, one server after the other
//! (tpcio, socketioxide, node, raw, tpcio, …), each time on a freshly started server, so that
//! the drifts of a shared machine fall on every server alike. A cell of the tables is then the
//! median of each figure over the rounds that measured it, with its min–max ([`Spreads`]);
//! each figure's median is taken on its own (the median p99 need not come from the round of
//! the median throughput).

use serde::Serialize;

use super::cluster::Spread;
use super::report::Outcome;
use super::scenarios::Figures;

/// The generator's share of its CPU from which its figures are its own limit as much as the
/// server's: the generator set the pace.
pub const SATURATED_PCT: f64 = 90.0;

/// Each figure over the rounds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Spreads {
    pub rounds: usize,
    /// Rounds that measured something (the others failed).
    pub measured: usize,
    pub throughput: Option<Spread>,
    pub p50_us: Option<Spread>,
    pub p99_us: Option<Spread>,
    pub server_us_per_op: Option<Spread>,
    pub server_cpu_pct: Option<Spread>,
    pub loadgen_cpu_pct: Option<Spread>,
}

/// One cell's outcomes, round after round, as one outcome: medians of the measured rounds
/// (every round kept in the report), or, when none measured anything, the first failure.
pub fn combine(rounds: Vec<Outcome>) -> Outcome {
    if let [only] = rounds.as_slice() {
        return only.clone();
    }
    let measured: Vec<&Figures> = rounds
        .iter()
        .filter_map(|o| match o {
            Outcome::Measured { figures, .. } => Some(figures),
            _ => None,
        })
        .collect();
    if measured.is_empty() {
        let failure = rounds.iter().find(|o| matches!(o, Outcome::Failed { .. })).or(rounds.first());
        return failure.cloned().unwrap_or(Outcome::NotApplicable { reason: "not run".into() });
    }
    let over = |f: fn(&Figures) -> Option<f64>| Spread::of(measured.iter().map(|x| f(x)));
    let spreads = Spreads {
        rounds: rounds.len(),
        measured: measured.len(),
        throughput: over(|f| f.throughput),
        p50_us: over(|f| f.p50_us),
        p99_us: over(|f| f.p99_us),
        server_us_per_op: over(|f| f.server_us_per_op),
        server_cpu_pct: over(|f| f.server_cpu_pct),
        loadgen_cpu_pct: over(|f| f.loadgen_cpu_pct),
    };
    let median = |s: &Option<Spread>| s.as_ref().map(|s| s.median);
    let figures = Figures {
        throughput: median(&spreads.throughput),
        p50_us: median(&spreads.p50_us),
        p99_us: median(&spreads.p99_us),
        server_us_per_op: median(&spreads.server_us_per_op),
        server_cpu_pct: median(&spreads.server_cpu_pct),
        loadgen_cpu_pct: median(&spreads.loadgen_cpu_pct),
        note: notes(&rounds),
        spread: Some(Box::new(spreads)),
    };
    let report = serde_json::json!({ "rounds": rounds });
    Outcome::Measured { figures, report }
}

/// Each round's note (`r2: 0.1% loss`), failures included; nothing when no round had one.
fn notes(rounds: &[Outcome]) -> String {
    let note = |o: &Outcome| match o {
        Outcome::Measured { figures, .. } => figures.note.clone(),
        Outcome::Failed { reason } => format!("failed: {reason}"),
        Outcome::NotApplicable { reason } => format!("n/a: {reason}"),
    };
    let all: Vec<String> = rounds.iter().map(note).collect();
    if all.iter().all(String::is_empty) {
        return String::new();
    }
    let each = all.iter().enumerate().filter(|(_, n)| !n.is_empty());
    each.map(|(i, n)| format!("r{}: {n}", i + 1)).collect::<Vec<_>>().join("; ")
}

/// The generator was at [`SATURATED_PCT`] or more of its CPU (median over the rounds).
pub fn saturated(figures: &Figures) -> bool {
    figures.loadgen_cpu_pct.is_some_and(|pct| pct >= SATURATED_PCT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn measured(throughput: f64, us: f64, loadgen: f64, note: &str) -> Outcome {
        let figures = Figures {
            throughput: Some(throughput),
            server_us_per_op: Some(us),
            loadgen_cpu_pct: Some(loadgen),
            note: note.into(),
            ..Figures::default()
        };
        Outcome::Measured { figures, report: json!({"t": throughput}) }
    }

    #[test]
    fn takes_medians_over_the_measured_rounds() {
        let failed = Outcome::Failed { reason: "exit status: 2".into() };
        let rounds = vec![measured(100.0, 9.0, 95.0, ""), failed, measured(300.0, 7.0, 80.0, "1 errors")];
        let Outcome::Measured { figures, report } = combine(rounds) else { panic!("measured") };
        assert_eq!(figures.throughput, Some(200.0));
        assert_eq!(figures.server_us_per_op, Some(8.0));
        let spread = figures.spread.as_deref().expect("spread");
        assert_eq!((spread.rounds, spread.measured), (3, 2));
        let us = spread.server_us_per_op.as_ref().expect("us");
        assert_eq!((us.min, us.max), (7.0, 9.0));
        assert_eq!(figures.note, "r2: failed: exit status: 2; r3: 1 errors");
        assert_eq!(report["rounds"].as_array().map(Vec::len), Some(3));
        assert!(!saturated(&figures), "median 87.5 %");
    }

    #[test]
    fn keeps_a_single_round_and_the_first_failure() {
        let one = combine(vec![measured(5.0, 1.0, 99.0, "")]);
        let Outcome::Measured { figures, .. } = &one else { panic!("measured") };
        assert!(figures.spread.is_none() && saturated(figures));
        let na = Outcome::NotApplicable { reason: "echo only".into() };
        let failed = Outcome::Failed { reason: "x".into() };
        assert!(matches!(combine(vec![na.clone(), failed]), Outcome::Failed { .. }));
        assert!(matches!(combine(vec![na.clone(), na]), Outcome::NotApplicable { .. }));
    }
}
