//! The soak's report: the memory readings, what the churn did, the avalanche's figures, the
//! verdict on both criteria, as one JSON object and as Markdown.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::mem::Memory;
use crate::sio::soak::{ErrorCounts, Shared};

#[derive(Serialize, Debug)]
pub struct SoakReport {
    pub scenario: &'static str,
    pub ws_clients: usize,
    pub polling_clients: usize,
    /// Clients whose first connection succeeded: the slots of the run.
    pub connected: usize,
    pub connect_seconds: f64,
    pub threads: usize,
    pub source_addrs: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub lifetime_s: f64,
    pub emit_every_s: f64,
    pub broadcast_every_s: f64,
    pub size: usize,
    pub server_before: Memory,
    pub samples: Vec<Sample>,
    pub churn: Churn,
    pub avalanche: Option<Avalanche>,
    /// Failures by phase and message.
    pub errors: ErrorCounts,
    pub max_growth_pct: f64,
    pub notes: Vec<String>,
    pub verdict: Verdict,
}

/// One reading of the server's memory, `t_s` seconds into the churn: a single one, or the
/// median of `readings` over a few seconds (then `rss_min_bytes`..`rss_max_bytes` is their range).
#[derive(Serialize, Clone, Debug)]
pub struct Sample {
    /// `connected`, `start`, `middle`, `end`, or empty for a periodic reading.
    pub label: String,
    pub t_s: f64,
    /// Sessions open at the reading (the median over a span).
    pub live: u64,
    pub rss_bytes: u64,
    pub rss_min_bytes: u64,
    pub rss_max_bytes: u64,
    pub readings: usize,
    pub pss_bytes: Option<u64>,
    /// Since the previous periodic reading (periodic readings only).
    pub usage: Option<Use>,
}

/// CPU use, and time spent waiting for a CPU, of both processes over an interval: percent of
/// one CPU.
#[derive(Serialize, Clone, Copy, Debug)]
pub struct Use {
    pub server_cpu_pct: f64,
    pub server_wait_pct: f64,
    pub loadgen_cpu_pct: f64,
    pub loadgen_wait_pct: f64,
}

impl Sample {
    pub fn single(label: &str, t_s: f64, live: u64, m: Memory) -> Sample {
        let rss = m.rss_bytes;
        Sample {
            label: label.to_string(),
            t_s,
            live,
            rss_bytes: rss,
            rss_min_bytes: rss,
            rss_max_bytes: rss,
            readings: 1,
            pss_bytes: m.pss_bytes,
            usage: None,
        }
    }

    /// The median of RSS readings (and of the sessions open at each); both non-empty.
    pub fn median(label: &str, t_s: f64, live: &mut [u64], rss: &mut [u64]) -> Sample {
        live.sort_unstable();
        rss.sort_unstable();
        Sample {
            label: label.to_string(),
            t_s,
            live: live.get(live.len() / 2).copied().unwrap_or(0),
            rss_bytes: rss.get(rss.len() / 2).copied().unwrap_or(0),
            rss_min_bytes: rss.first().copied().unwrap_or(0),
            rss_max_bytes: rss.last().copied().unwrap_or(0),
            readings: rss.len(),
            pss_bytes: None,
            usage: None,
        }
    }
}

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

#[derive(Serialize, Debug)]
pub struct Churn {
    pub seconds: f64,
    pub connects: u64,
    pub connect_failures: u64,
    pub leaves: u64,
    pub leave_failures: u64,
    pub session_failures: u64,
    pub emits: u64,
    pub answers: u64,
    pub broadcasts: u64,
    pub deliveries: u64,
    /// Failures the load threads counted (connects and sessions, the whole run).
    pub errors: u64,
    /// Answer latency (echo and ack) over the whole run, microseconds.
    pub answer_p50_us: u64,
    pub answer_p99_us: u64,
    pub loadgen_cpu_pct: f64,
    pub server_cpu_pct: Option<f64>,
}

impl Churn {
    pub fn read(
        shared: &Shared,
        errors: u64,
        seconds: f64,
        loadgen_cpu_s: f64,
        server_cpu_s: Option<f64>,
    ) -> Churn {
        let c = &shared.counters;
        let pct = |cpu: f64| 100.0 * cpu / seconds.max(1e-9);
        Churn {
            seconds,
            connects: load(&c.connects),
            connect_failures: load(&c.connect_failures),
            leaves: load(&c.leaves),
            leave_failures: load(&c.leave_failures),
            session_failures: load(&c.session_failures),
            emits: load(&c.emits),
            answers: load(&c.answers),
            broadcasts: load(&c.broadcasts),
            deliveries: load(&c.deliveries),
            errors,
            answer_p50_us: 0,
            answer_p99_us: 0,
            loadgen_cpu_pct: pct(loadgen_cpu_s),
            server_cpu_pct: server_cpu_s.map(pct),
        }
    }
}

/// The restart: times are seconds after the restart signal (the ready file).
#[derive(Serialize, Debug)]
pub struct Avalanche {
    /// Sessions held when the signal was given.
    pub held: u64,
    pub dropped: u64,
    pub reconnected: u64,
    pub not_reconnected: u64,
    /// Reconnected sessions that answered one ack.
    pub verified: u64,
    pub verify_failures: u64,
    pub dropped_again: u64,
    pub attempts: u64,
    /// `reconnected / held`, percent.
    pub success_pct: f64,
    pub first_drop_s: Option<f64>,
    pub first_reconnect_s: Option<f64>,
    pub last_reconnect_s: Option<f64>,
    /// From the first client back (the new server's first session) to the last.
    pub reconnect_seconds: Option<f64>,
    /// From the first session the old server ended to the last client back.
    pub since_first_drop_seconds: Option<f64>,
    /// Per client, from its session's end to its new session, milliseconds.
    pub delay_p50_ms: f64,
    pub delay_p99_ms: f64,
    pub delay_max_ms: f64,
    /// How long the run waited for the reconnections.
    pub waited_s: f64,
}

impl Avalanche {
    pub fn read(shared: &Shared, held: u64, signal: std::time::Instant, waited_s: f64) -> Avalanche {
        let c = &shared.counters;
        let at = |ns: &AtomicU64| shared.seconds_after(ns, signal);
        let (first_drop_s, first_reconnect_s, last_reconnect_s) =
            (at(&c.first_drop_ns), at(&c.first_reconnect_ns), at(&c.last_reconnect_ns));
        let delays = shared.reconnect_delays();
        let ms = |us: u64| us as f64 / 1000.0;
        let reconnected = load(&c.reconnected);
        Avalanche {
            held,
            dropped: load(&c.dropped),
            reconnected,
            not_reconnected: load(&c.not_reconnected),
            verified: load(&c.verified),
            verify_failures: load(&c.verify_failures),
            dropped_again: load(&c.dropped_again),
            attempts: load(&c.reconnect_attempts),
            success_pct: if held > 0 { 100.0 * reconnected as f64 / held as f64 } else { 0.0 },
            first_drop_s,
            first_reconnect_s,
            last_reconnect_s,
            reconnect_seconds: last_reconnect_s.zip(first_reconnect_s).map(|(l, f)| l - f),
            since_first_drop_seconds: last_reconnect_s.zip(first_drop_s).map(|(l, f)| l - f),
            delay_p50_ms: ms(delays.value_at_quantile(0.5)),
            delay_p99_ms: ms(delays.value_at_quantile(0.99)),
            delay_max_ms: ms(delays.max()),
            waited_s,
        }
    }
}

#[derive(Serialize, Debug)]
pub struct Verdict {
    /// RSS growth from the `start` reading (after the warm-up) to `middle` and `end`, percent.
    pub growth_middle_pct: Option<f64>,
    pub growth_end_pct: Option<f64>,
    pub memory_ok: bool,
    /// `None` when no restart was asked for.
    pub reconnect_ok: Option<bool>,
    pub passed: bool,
    pub reasons: Vec<String>,
}

impl Verdict {
    pub fn judge(
        samples: &[Sample],
        max_growth_pct: f64,
        avalanche: Option<&Avalanche>,
        server_gone: Option<String>,
    ) -> Verdict {
        let rss = |label: &str| samples.iter().find(|s| s.label == label).map(|s| s.rss_bytes as f64);
        let growth = |label: &str| Some(100.0 * (rss(label)? - rss("start")?) / rss("start")?);
        let (growth_middle_pct, growth_end_pct) = (growth("middle"), growth("end"));
        let mut reasons: Vec<String> = server_gone.into_iter().collect();
        let memory_ok = match (growth_middle_pct, growth_end_pct) {
            (Some(middle), Some(end)) if middle <= max_growth_pct && end <= max_growth_pct => true,
            (Some(middle), Some(end)) => {
                reasons.push(format!(
                    "RSS grew {middle:.1} % (middle) and {end:.1} % (end) after the warm-up, more than \
                     {max_growth_pct} %"
                ));
                false
            }
            _ => {
                reasons.push("the start, middle and end readings are not all there".into());
                false
            }
        };
        let reconnect_ok = avalanche.map(|a| {
            let ok = a.held > 0
                && a.dropped == a.held
                && a.reconnected == a.held
                && a.verified == a.reconnected
                && a.dropped_again == 0;
            if !ok {
                reasons.push(format!(
                    "reconnection: {} held, {} dropped, {} reconnected ({:.2} %), {} answered an ack, \
                     {} dropped again",
                    a.held, a.dropped, a.reconnected, a.success_pct, a.verified, a.dropped_again
                ));
            }
            ok
        });
        let passed = reasons.is_empty() && memory_ok && reconnect_ok != Some(false);
        Verdict { growth_middle_pct, growth_end_pct, memory_ok, reconnect_ok, passed, reasons }
    }
}

impl SoakReport {
    /// Writes `soak.json` and `soak.md` into `out`.
    pub fn write(&self, out: &Path) -> io::Result<()> {
        fs::create_dir_all(out)?;
        let json = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        fs::write(out.join("soak.json"), json + "\n")?;
        fs::write(out.join("soak.md"), self.markdown())
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_markdown(&mut md);
        md
    }

    fn write_markdown(&self, md: &mut String) -> std::fmt::Result {
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        let pct = |p: Option<f64>| p.map_or("-".to_string(), |p| format!("{p:+.1} %"));
        let secs = |s: Option<f64>| s.map_or("-".to_string(), |s| format!("{s:.2} s"));
        let v = &self.verdict;
        writeln!(md, "# Soak: {}", if v.passed { "passed" } else { "FAILED" })?;
        writeln!(md)?;
        writeln!(
            md,
            "{} WebSocket + {} polling clients ({} connected in {:.1} s, from {} loopback addresses), \
             {:.0} s of churn after connecting (warm-up {:.0} s): mean session lifetime {:.0} s, one \
             emit per client every {:.0} s on average (half echo, half ack; {} B), a broadcast to \
             every client every {:.1} s on average.",
            self.ws_clients,
            self.polling_clients,
            self.connected,
            self.connect_seconds,
            self.source_addrs,
            self.duration_s,
            self.warmup_s,
            self.lifetime_s,
            self.emit_every_s,
            self.size,
            self.broadcast_every_s,
        )?;
        writeln!(md)?;
        for note in &self.notes {
            writeln!(md, "- {note}")?;
        }
        if !self.notes.is_empty() {
            writeln!(md)?;
        }
        writeln!(md, "## Verdict")?;
        writeln!(md)?;
        let ok = |b: bool| if b { "ok" } else { "FAILED" };
        writeln!(
            md,
            "- memory: {} — RSS growth after the warm-up: middle {}, end {} (limit {} %)",
            ok(v.memory_ok),
            pct(v.growth_middle_pct),
            pct(v.growth_end_pct),
            self.max_growth_pct
        )?;
        match (&self.avalanche, v.reconnect_ok) {
            (Some(a), Some(reconnect_ok)) => writeln!(
                md,
                "- reconnection: {} — {}/{} clients back ({:.2} %), all back {} after the new server's \
                 first session ({} after the old one ended the first)",
                ok(reconnect_ok),
                a.reconnected,
                a.held,
                a.success_pct,
                secs(a.reconnect_seconds),
                secs(a.since_first_drop_seconds),
            )?,
            _ => writeln!(md, "- reconnection: not run (no restart)")?,
        }
        for reason in &v.reasons {
            writeln!(md, "- {reason}")?;
        }
        writeln!(md)?;
        writeln!(md, "## Server memory (VmRSS)")?;
        writeln!(md)?;
        writeln!(
            md,
            "`start`, `middle` and `end` are medians of VmRSS read every 100 ms over a few seconds \
             (their range beside); the other rows are single readings, with the CPU the server and \
             the load generator used since the row before and the time they waited for a CPU that \
             other processes held (percent of one CPU)."
        )?;
        writeln!(md)?;
        writeln!(
            md,
            "| reading | t (s) | sessions open | RSS (MiB) | range (MiB) | PSS (MiB) | server CPU / wait | \
             generator CPU / wait |"
        )?;
        writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
        let before = &self.server_before;
        let pss = |p: Option<u64>| p.map_or("-".to_string(), |p| format!("{:.1}", mib(p)));
        writeln!(
            md,
            "| before connecting | - | 0 | {:.1} | | {} | | |",
            mib(before.rss_bytes),
            pss(before.pss_bytes)
        )?;
        for s in &self.samples {
            let (label, range) = if s.readings > 1 {
                let range = format!(
                    "{:.1}–{:.1} ({} readings)",
                    mib(s.rss_min_bytes),
                    mib(s.rss_max_bytes),
                    s.readings
                );
                (format!("**{}**", s.label), range)
            } else {
                (s.label.clone(), String::new())
            };
            let (t, live, rss) = (s.t_s, s.live, mib(s.rss_bytes));
            let usage = s.usage.map_or(" | ".to_string(), |u| {
                let (sc, sw) = (u.server_cpu_pct, u.server_wait_pct);
                format!("{sc:.0} % / {sw:.0} % | {:.0} % / {:.0} %", u.loadgen_cpu_pct, u.loadgen_wait_pct)
            });
            writeln!(
                md,
                "| {label} | {t:.0} | {live} | {rss:.1} | {range} | {} | {usage} |",
                pss(s.pss_bytes)
            )?;
        }
        let c = &self.churn;
        writeln!(md)?;
        writeln!(md, "## Churn")?;
        writeln!(md)?;
        writeln!(
            md,
            "{:.0} s: {} new sessions ({} failed to connect), {} left after their lifetime ({} did not \
             close cleanly), {} failed in use; {} emits, {} answers (p50 {} µs, p99 {} µs), {} broadcasts \
             and {} deliveries; server CPU {}, load generator CPU {:.0} %.",
            c.seconds,
            c.connects,
            c.connect_failures,
            c.leaves,
            c.leave_failures,
            c.session_failures,
            c.emits,
            c.answers,
            c.answer_p50_us,
            c.answer_p99_us,
            c.broadcasts,
            c.deliveries,
            c.server_cpu_pct.map_or("-".to_string(), |p| format!("{p:.0} %")),
            c.loadgen_cpu_pct,
        )?;
        if let Some(a) = &self.avalanche {
            writeln!(md)?;
            writeln!(md, "## Avalanche (times after the restart signal)")?;
            writeln!(md)?;
            writeln!(
                md,
                "| held | dropped | reconnected | answered an ack | attempts | first drop | first back | last back | per client p50 / p99 / max |"
            )?;
            writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
            writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} / {:.0} / {:.0} ms |",
                a.held,
                a.dropped,
                a.reconnected,
                a.verified,
                a.attempts,
                secs(a.first_drop_s),
                secs(a.first_reconnect_s),
                secs(a.last_reconnect_s),
                a.delay_p50_ms,
                a.delay_p99_ms,
                a.delay_max_ms,
            )?;
        }
        if !self.errors.is_empty() {
            writeln!(md)?;
            writeln!(md, "## Failures")?;
            writeln!(md)?;
            writeln!(
                md,
                "By phase. Reconnect attempts fail while the old server stops and the new one starts \
                 (refused, reset) and are retried; the verdict counts the clients that came back."
            )?;
            writeln!(md)?;
            for (what, n) in &self.errors {
                writeln!(md, "- {n} × {what}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(label: &str, rss_bytes: u64) -> Sample {
        let m = Memory { rss_bytes, pss_bytes: None, private_bytes: None };
        Sample::single(label, 0.0, 1, m)
    }

    #[test]
    fn a_median_keeps_its_range() {
        let s = Sample::median("end", 1.0, &mut [3, 1, 2], &mut [300, 100, 200]);
        assert_eq!(
            (s.live, s.rss_bytes, s.rss_min_bytes, s.rss_max_bytes, s.readings),
            (2, 200, 100, 300, 3)
        );
    }

    #[test]
    fn judges_the_growth_after_the_warm_up() {
        let samples =
            [sample("connected", 50), sample("start", 100), sample("middle", 105), sample("end", 110)];
        let v = Verdict::judge(&samples, 10.0, None, None);
        assert_eq!((v.growth_middle_pct, v.growth_end_pct), (Some(5.0), Some(10.0)));
        assert!(v.memory_ok && v.passed && v.reconnect_ok.is_none());
        let grown = [sample("start", 100), sample("middle", 100), sample("end", 111)];
        assert!(!Verdict::judge(&grown, 10.0, None, None).passed);
        assert!(!Verdict::judge(&samples[..2], 10.0, None, None).passed);
        assert!(!Verdict::judge(&samples, 10.0, None, Some("gone".into())).passed);
    }
}
