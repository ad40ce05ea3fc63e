//! Memory of a process, read from `/proc` (proc(5)): `VmRSS` of `/proc/<pid>/status`, and
//! from `/proc/<pid>/smaps_rollup` the proportional set size (`Pss`, shared pages divided
//! among their users) and the private pages (`Private_Clean` + `Private_Dirty`), which is
//! what a connection really costs once libraries and the binary are set aside. Values are
//! bytes (the files say kB, meaning KiB).

use std::fs;
use std::io;

use serde::Serialize;

/// One reading; the `smaps_rollup` figures are absent when that file cannot be read (kernels
/// before 4.14, or another user's process).
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub rss_bytes: u64,
    pub pss_bytes: Option<u64>,
    pub private_bytes: Option<u64>,
}

impl Memory {
    /// `VmRSS` alone, in bytes: cheaper than [`Memory::read`] (no page walk), for frequent readings.
    pub fn rss(pid: u32) -> io::Result<u64> {
        let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
        field_kib(&status, "VmRSS:")
            .map(|kib| kib * 1024)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in /proc/PID/status"))
    }

    pub fn read(pid: u32) -> io::Result<Memory> {
        let rss_bytes = Memory::rss(pid)?;
        let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let pss_bytes = field_kib(&rollup, "Pss:").map(|kib| kib * 1024);
        let private_bytes = match (field_kib(&rollup, "Private_Clean:"), field_kib(&rollup, "Private_Dirty:"))
        {
            (Some(clean), Some(dirty)) => Some((clean + dirty) * 1024),
            _ => None,
        };
        Ok(Memory { rss_bytes, pss_bytes, private_bytes })
    }
}

/// What one connection adds, in bytes: `(after − before) / connections` for each figure.
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct PerConnection {
    pub rss: f64,
    pub pss: Option<f64>,
    pub private: Option<f64>,
}

impl PerConnection {
    pub fn between(before: &Memory, after: &Memory, connections: usize) -> Option<PerConnection> {
        if connections == 0 {
            return None;
        }
        let per = |b: u64, a: u64| (a as f64 - b as f64) / connections as f64;
        let both = |b: Option<u64>, a: Option<u64>| Some(per(b?, a?));
        Some(PerConnection {
            rss: per(before.rss_bytes, after.rss_bytes),
            pss: both(before.pss_bytes, after.pss_bytes),
            private: both(before.private_bytes, after.private_bytes),
        })
    }
}

/// The number of `name  123 kB` in a `/proc` key-value file.
fn field_kib(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(name))?;
    line[name.len()..].split_ascii_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_in_kib() {
        let status = "Name:\tx\nVmRSS:\t  1234 kB\nRssAnon:\t 10 kB\n";
        assert_eq!(field_kib(status, "VmRSS:"), Some(1234));
        assert_eq!(field_kib(status, "VmSwap:"), None);
        assert_eq!(field_kib("Pss:  x kB", "Pss:"), None);
    }

    #[test]
    fn reads_our_own_memory() {
        let me = Memory::read(std::process::id()).expect("own /proc");
        assert!(me.rss_bytes > 0);
        assert!(Memory::rss(std::process::id()).is_ok_and(|rss| rss > 0));
    }

    #[test]
    fn divides_the_growth() {
        let before = Memory { rss_bytes: 1000, pss_bytes: Some(500), private_bytes: None };
        let after = Memory { rss_bytes: 3000, pss_bytes: Some(300), private_bytes: Some(9) };
        let per = PerConnection::between(&before, &after, 10).expect("some");
        assert_eq!((per.rss, per.pss, per.private), (200.0, Some(-20.0), None));
        assert_eq!(PerConnection::between(&before, &after, 0), None);
    }
}
