//! The server's memory during the churn. One reading is a poor witness: a broadcast to every
//! client holds buffers while its frames go out, and RSS read at that instant is some MiB
//! above the level a moment later. So each of the three readings the growth is judged on
//! (`start` after the warm-up, `middle`, `end`) is the median of VmRSS read every tick over a
//! span of a few seconds, with the lowest and highest kept; besides them a full reading (RSS
//! and PSS) every `every` seconds shows the trend.

use std::time::Duration;

use super::report::Sample;
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
    pub samples: Vec<Sample>,
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
        Sampler { pid, marks, every, next: every, samples: Vec::new() }
    }

    /// A full reading now, outside the churn's timeline (before it starts).
    pub fn read_now(&mut self, label: &str, live: u64) -> Result<(), String> {
        let m = Memory::read(self.pid).map_err(|e| self.gone(e, Duration::ZERO))?;
        self.samples.push(Sample::single(label, 0.0, live, m));
        Ok(())
    }

    /// Takes the readings due `at` into the churn, with `live` sessions open; an error when
    /// the server cannot be read (it is gone).
    pub fn tick(&mut self, at: Duration, live: u64) -> Result<(), String> {
        if at >= self.next {
            let m = Memory::read(self.pid).map_err(|e| self.gone(e, at))?;
            self.samples.push(Sample::single("", at.as_secs_f64(), live, m));
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
