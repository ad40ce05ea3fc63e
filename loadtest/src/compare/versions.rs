//! What ran, recorded with the results: the kernel, the compiler, glommio and socketioxide
//! as their lock files pin them, Node and its socket.io as installed, and tpcio's commit. A
//! version that cannot be read is "unknown", never an error: it does not change a figure.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Versions {
    /// `git describe --always --dirty` of the repository.
    pub tpcio_commit: String,
    pub kernel: String,
    pub rustc: String,
    pub glommio: String,
    pub socketioxide: String,
    pub node: String,
    pub socket_io: String,
}

const UNKNOWN: &str = "unknown";

impl Versions {
    /// Read from `root` (the repository) and the programs on the PATH.
    pub fn read(root: &Path) -> Versions {
        let lock = |path: &str, name: &str| {
            fs::read_to_string(root.join(path)).ok().and_then(|l| locked_version(&l, name))
        };
        let package = || {
            let text =
                fs::read_to_string(root.join("loadtest/node-reference/node_modules/socket.io/package.json"));
            let json: serde_json::Value = serde_json::from_str(&text.ok()?).ok()?;
            Some(json.get("version")?.as_str()?.to_string())
        };
        let known = |v: Option<String>| v.unwrap_or_else(|| UNKNOWN.into());
        Versions {
            tpcio_commit: known(output(root, "git", &["describe", "--always", "--dirty"])),
            kernel: known(
                fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|k| k.trim().to_string()),
            ),
            rustc: known(output(root, "rustc", &["--version"])),
            glommio: known(lock("Cargo.lock", "glommio")),
            socketioxide: known(lock("loadtest/socketioxide-ref/Cargo.lock", "socketioxide")),
            node: known(output(root, "node", &["--version"])),
            socket_io: known(package()),
        }
    }

    /// One line for `results.md`.
    pub fn line(&self) -> String {
        format!(
            "tpcio {}, rustc {}, glommio {}, socketioxide {}, Node {} with socket.io {}, Linux {}",
            self.tpcio_commit,
            self.rustc.strip_prefix("rustc ").unwrap_or(&self.rustc),
            self.glommio,
            self.socketioxide,
            self.node,
            self.socket_io,
            self.kernel
        )
    }
}

/// The first line a program prints, if it runs and succeeds.
fn output(dir: &Path, program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).current_dir(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    out.status
        .success()
        .then(|| text.lines().next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
}

/// The version of package `name` in a `Cargo.lock` (the first, should there be several).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    lines.find(|l| l.trim() == wanted)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?;
    Some(version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_locked_version() {
        let lock = "[[package]]\nname = \"glommio-x\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"glommio\"\nversion = \"0.9.0\"\nsource = \"x\"\n";
        assert_eq!(locked_version(lock, "glommio"), Some("0.9.0".into()));
        assert_eq!(locked_version(lock, "tokio"), None);
    }

    #[test]
    fn writes_one_line() {
        let v = Versions {
            rustc: "rustc 1.90.0 (x 2025-09-14)".into(),
            node: "v22.1.0".into(),
            ..Versions::default()
        };
        assert!(v.line().contains("rustc 1.90.0 (x 2025-09-14), glommio"), "{}", v.line());
        assert!(v.line().contains("Node v22.1.0 with socket.io"));
    }
}
