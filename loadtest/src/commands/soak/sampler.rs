//! The server's memory during the churn. One reading is a poor witness: a broadcast to every
//! client holds buffers while its frames go out, and RSS read at that instant is some MiB
//! above the level a moment later. So each of the three readings the growth is judged on
//! (`start` after the warm-up, `middle`, `end`) is the median of VmRSS read every tick over a
//! span of a few seconds, with the lowest and highest kept; besides them a full reading (RSS
//! and PSS) every `every` seconds shows the trend, with the CPU the server and the load
//! generator used since the previous one and the time they waited for a CPU: on a shared
//! machine that wait tells a server that stalls from one that other processes starved.

use std::time::Duration;

use super::report::{Sample, Use};
use crate::cpu::{cpu_seconds, run_queue_seconds};
use crate::mem::Memory;

/// The span of one judged reading, at most.
const SPAN: Duration = Duration::from_secs(5);

struct Mark {
    label: &'static str,
    from: Duration,
    to: Duration,
    rss: Vec<u64>,
    live: Vec<u64>,
    done: bool,
}

pub struct Sampler {
    pid: u32,
    marks: Vec<Mark>,
    every: Duration,
    next: Duration,
    /// CPU and run-queue seconds at the previous full reading, and when it was.
    last: Option<(Duration, Clocks)>,
    pub samples: Vec<Sample>,
}

/// CPU seconds and run-queue seconds of the server and of the load generator.
#[derive(Clone, Copy)]
struct Clocks([f64; 4]);

impl Clocks {
    fn read(pid: u32) -> Option<Clocks> {
        let (server, me) = (Some(pid), None);
        Some(Clocks([
            cpu_seconds(server).ok()?,
            run_queue_seconds(server).ok()?,
            cpu_seconds(me).ok()?,
            run_queue_seconds(me).ok()?,
        ]))
    }

    /// Percent of the `seconds` between `earlier` and `self`.
    fn since(&self, earlier: &Clocks, seconds: f64) -> Use {
        let pct = |i: usize| 100.0 * (self.0[i] - earlier.0[i]) / seconds.max(1e-9);
        Use {
            server_cpu_pct: pct(0),
            server_wait_pct: pct(1),
            loadgen_cpu_pct: pct(2),
            loadgen_wait_pct: pct(3),
        }
    }
}

impl Sampler {
    /// Readings for a churn of `duration` whose first `warmup` seconds do not count.
    pub fn new(pid: u32, warmup: Duration, duration: Duration, every: Duration) -> Sampler {
        let span = SPAN.min((duration - warmup) / 4);
        let middle = warmup + (duration - warmup) / 2 - span / 2;
        let mark = |label, from: Duration| Mark {
            label,
            from,
            to: from + span,
            rss: vec![],
            live: vec![],
            done: false,
        };
        let marks = vec![mark("start", warmup), mark("middle", middle), mark("end", duration - span)];
        Sampler { pid, marks, every, next: every, last: None, samples: Vec::new() }
    }

    /// A full reading now, outside the churn's timeline (before it starts).
    pub fn read_now(&mut self, label: &str, live: u64) -> Result<(), String> {
        let m = Memory::read(self.pid).map_err(|e| self.gone(e, Duration::ZERO))?;
        self.samples.push(Sample::single(label, 0.0, live, m));
        self.last = Clocks::read(self.pid).map(|clocks| (Duration::ZERO, clocks));
        Ok(())
    }

    /// Takes the readings due `at` into the churn, with `live` sessions open; an error when
    /// the server cannot be read (it is gone).
    pub fn tick(&mut self, at: Duration, live: u64) -> Result<(), String> {
        if at >= self.next {
            let m = Memory::read(self.pid).map_err(|e| self.gone(e, at))?;
            let mut sample = Sample::single("", at.as_secs_f64(), live, m);
            let clocks = Clocks::read(self.pid);
            if let (Some((then, earlier)), Some(now)) = (self.last, clocks) {
                sample.usage = Some(now.since(&earlier, (at - then).as_secs_f64()));
            }
            self.last = clocks.map(|clocks| (at, clocks));
            self.samples.push(sample);
            while self.next <= at {
                self.next += self.every;
            }
        }
        for i in 0..self.marks.len() {
            let mark = &self.marks[i];
            if mark.done || at < mark.from {
                continue;
            }
            let rss = Memory::rss(self.pid).map_err(|e| self.gone(e, at))?;
            let mark = &mut self.marks[i];
            mark.rss.push(rss);
            mark.live.push(live);
            if at >= mark.to {
                mark.done = true;
                let t_s = (mark.from + mark.to).as_secs_f64() / 2.0;
                let sample = Sample::median(mark.label, t_s, &mut mark.live, &mut mark.rss);
                self.samples.push(sample);
            }
        }
        self.samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        Ok(())
    }

    /// Whether the three judged readings are taken.
    pub fn done(&self) -> bool {
        self.marks.iter().all(|m| m.done)
    }

    fn gone(&self, e: std::io::Error, at: Duration) -> String {
        format!("server pid {} could not be read {:.1} s into the churn: {e}", self.pid, at.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judged_readings_lie_inside_the_churn() {
        let s = Sampler::new(1, Duration::from_secs(30), Duration::from_secs(600), Duration::from_secs(10));
        let spans: Vec<_> = s.marks.iter().map(|m| (m.from.as_secs(), m.to.as_secs())).collect();
        assert_eq!(spans, [(30, 35), (312, 317), (595, 600)]);
        let short = Sampler::new(1, Duration::from_secs(2), Duration::from_secs(10), Duration::from_secs(1));
        assert!(
            short.marks.iter().all(|m| m.from >= Duration::from_secs(2) && m.to <= Duration::from_secs(10))
        );
    }
}
