//! CPU time of a process, read from `/proc/<pid>/stat` (`utime` + `stime`, fields 14 and 15
//! of proc(5)), so the report can say how much CPU the server and the load generator spent
//! inside the measured window. The kernel sums every thread of the process into these fields,
//! which is what we want for Node (GC and libuv threads) as much as for a sharded server.

use std::fs;
use std::io;

/// CPU seconds (user + system) the process `pid` has used so far; `None` reads our own.
pub fn cpu_seconds(pid: Option<u32>) -> io::Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = fs::read_to_string(&path)?;
    let ticks = parse_cpu_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("cannot parse {path}")))?;
    Ok(ticks as f64 / clock_ticks_per_second())
}

/// Seconds the threads of process `pid` (`None`: ours) have spent ready to run but waiting
/// for a CPU, summed from `/proc/<pid>/task/*/schedstat` (the second field, nanoseconds;
/// the kernel's scheduler statistics, `CONFIG_SCHED_INFO`): what other processes on the same
/// CPUs took from it. Threads that already exited are not counted.
pub fn run_queue_seconds(pid: Option<u32>) -> io::Result<f64> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}/task"),
        None => "/proc/self/task".to_string(),
    };
    let mut ns = 0u64;
    for task in fs::read_dir(&dir)? {
        let Ok(stat) = fs::read_to_string(task?.path().join("schedstat")) else { continue };
        ns += stat.split_ascii_whitespace().nth(1).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    }
    Ok(ns as f64 / 1e9)
}

/// `utime + stime` in clock ticks. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: utime is field 14, so index 11 here.
    let mut fields = after_comm.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU readings at the start of a measured interval, for the load generator and the server.
pub struct CpuMeter {
    server_pid: Option<u32>,
    loadgen: f64,
    server: Option<io::Result<f64>>,
}

impl CpuMeter {
    pub fn start(server_pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            server_pid,
            loadgen: cpu_seconds(None).unwrap_or(0.0),
            server: server_pid.map(|pid| cpu_seconds(Some(pid))),
        }
    }

    /// CPU seconds since `start`: the load generator's, and the server's when it could be
    /// read at both ends (a failure is printed once, here).
    pub fn stop(&self) -> (f64, Option<f64>) {
        let loadgen = cpu_seconds(None).unwrap_or(0.0) - self.loadgen;
        let server = match (self.server_pid, &self.server) {
            (Some(pid), Some(Ok(before))) => match cpu_seconds(Some(pid)) {
                Ok(after) => Some(after - before),
                Err(e) => {
                    eprintln!("tpcio-loadtest: server pid {pid}: {e}");
                    None
                }
            },
            (Some(pid), Some(Err(e))) => {
                eprintln!("tpcio-loadtest: server pid {pid}: {e}");
                None
            }
            _ => None,
        };
        (loadgen, server)
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions; it only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fields_after_the_last_parenthesis() {
        let stat = "1234 (we ird) (name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn rejects_truncated_stat() {
        assert_eq!(parse_cpu_ticks("1 (x) S 1 2"), None);
        assert_eq!(parse_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn reads_our_own_process() {
        assert!(cpu_seconds(None).is_ok_and(|s| s >= 0.0));
        assert!(run_queue_seconds(None).is_ok_and(|s| s >= 0.0));
    }
}
