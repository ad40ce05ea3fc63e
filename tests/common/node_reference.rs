//! The Node reference of the conformance mode (`loadtest/node-reference/conformance.mjs`:
//! engine.io 6.6 and socket.io 4.8 from the committed lockfile) on a free local port, killed by
//! its child handle when dropped. A missing `node` or package fails the test with the install
//! hint: never a silent skip.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const INSTALL_HINT: &str = "run the README's test command, scripts/test.sh, which installs them \
                            (`npm ci` in loadtest/node-reference)";

/// How long node may take to print that it listens (a loaded machine starts node slowly).
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("loadtest").join("node-reference")
}

/// A running `node conformance.mjs PORT PING_INTERVAL PING_TIMEOUT`.
pub struct NodeReference {
    child: Child,
    pub addr: SocketAddr,
}

impl NodeReference {
    /// Starts the reference with this heartbeat (milliseconds).
    pub fn start(ping_interval: u64, ping_timeout: u64) -> NodeReference {
        require_reference();
        // A port another process takes between our probe and node's listen: try another one.
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::try_start(free_port(), ping_interval, ping_timeout) {
                Ok(node) => return node,
                Err(why) => last_error = why,
            }
        }
        panic!("the Node reference did not start: {last_error}");
    }

    fn try_start(port: u16, ping_interval: u64, ping_timeout: u64) -> Result<NodeReference, String> {
        let mut child = Command::new("node")
            .arg("conformance.mjs")
            .arg(port.to_string())
            .arg(ping_interval.to_string())
            .arg(ping_timeout.to_string())
            .current_dir(reference_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start node: {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        if line.contains("listening on") {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            return Ok(NodeReference { child, addr });
        }
        let _ = child.kill();
        let _ = child.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        Err(format!("node conformance.mjs {port}: printed {line:?}; stderr:\n{stderr}"))
    }
}

impl Drop for NodeReference {
    fn drop(&mut self) {
        // SIGKILL to this child alone: its sessions need no goodbye.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails (never skips) without node or the reference's packages.
pub fn require_reference() {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("`node --version` failed ({}): Node.js is required; {INSTALL_HINT}", out.status),
        Err(e) => panic!("`node` not found ({e}): Node.js is required; {INSTALL_HINT}"),
    }
    for package in ["engine.io", "socket.io"] {
        let manifest = reference_dir().join("node_modules").join(package).join("package.json");
        assert!(manifest.is_file(), "{} is missing: {INSTALL_HINT}", manifest.display());
    }
}

fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe socket");
    probe.local_addr().expect("the probe's address").port()
}
