//! Running the official npm clients: `node tests/js/<script> <port> <eio> <args>` with stdout
//! read line by line, stderr kept for the failure message, a deadline after which the script
//! is killed, and at most one node process per CPU. A missing `node` or package fails the
//! test with the install hint: tests never skip silently.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

const INSTALL_HINT: &str = "run the README's test command, scripts/test.sh, which installs them \
                            (`npm ci` in tests/js)";

pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("js")
}

/// Fails (never skips) when node or one of the npm `packages` is missing.
pub fn require_node(packages: &[&str]) {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("`node --version` failed ({}): Node.js is required; {INSTALL_HINT}", out.status),
        Err(e) => panic!("`node` not found ({e}): Node.js is required; {INSTALL_HINT}"),
    }
    for package in packages {
        let manifest = js_dir().join("node_modules").join(package).join("package.json");
        assert!(manifest.is_file(), "{} is missing: {INSTALL_HINT}", manifest.display());
    }
}

/// At most one node process per CPU: the heartbeat scripts run on 300 ms / 200 ms timings,
/// which a machine oversubscribed by parallel tests could miss.
pub struct Permit;

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

fn running_count() -> MutexGuard<'static, usize> {
    RUNNING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Permit {
    pub fn acquire() -> Self {
        let limit = thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let mut running = running_count();
        while *running >= limit {
            running = FREED.wait(running).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *running += 1;
        Permit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        *running_count() -= 1;
        FREED.notify_one();
    }
}

/// A running node script: its stdout arrives line by line, its stderr is collected whole.
pub struct NodeRun {
    what: String,
    child: Child,
    lines: Receiver<String>,
    stdout: Vec<String>,
    stderr: Option<JoinHandle<String>>,
    deadline: Instant,
    timeout: Duration,
    _permit: Permit,
}

impl NodeRun {
    pub fn start(
        script: &str,
        port: u16,
        eio: u8,
        args: &[&str],
        packages: &[&str],
        timeout: Duration,
    ) -> Self {
        require_node(packages);
        let permit = Permit::acquire();
        let what = format!("node tests/js/{script} {port} {eio} {}", args.join(" "));
        let mut child = Command::new("node")
            .arg(script)
            .arg(port.to_string())
            .arg(eio.to_string())
            .args(args)
            .current_dir(js_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot start node: {e}"));
        let lines = forward_lines(child.stdout.take().expect("stdout is piped"));
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let deadline = Instant::now() + timeout;
        NodeRun {
            what,
            child,
            lines,
            stdout: Vec::new(),
            stderr: Some(stderr),
            deadline,
            timeout,
            _permit: permit,
        }
    }

    /// The next stdout line, or None at end of output; kills the script past its deadline.
    pub fn next_line(&mut self) -> Option<String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                self.stdout.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let status = self.child.wait().ok();
                self.fail(&format!("killed after {:?} (exit status {status:?})", self.timeout))
            }
        }
    }

    /// Reads stdout until `want` is printed.
    pub fn expect_line(&mut self, want: &str) {
        while let Some(line) = self.next_line() {
            if line == want {
                return;
            }
        }
        let status = self.child.wait().ok();
        self.fail(&format!("exited ({status:?}) before printing `{want}`"))
    }

    /// Waits for the script to exit; asserts exit code 0 and a final summary line with
    /// `"ok":true` and `"verified":<verified>`, which it returns.
    pub fn finish(mut self, verified: &str) -> Value {
        while self.next_line().is_some() {}
        // Stdout only ends when node exits, so this wait is short.
        let status: ExitStatus = match self.child.wait() {
            Ok(status) => status,
            Err(e) => self.fail(&format!("cannot wait for node: {e}")),
        };
        let last = self.stdout.last().cloned().unwrap_or_default();
        let summary: Value = serde_json::from_str(&last).unwrap_or(Value::Null);
        if !status.success() || summary["ok"] != Value::Bool(true) || summary["verified"] != verified {
            self.fail(&format!("exit status {status}, expected a last line verifying `{verified}`"));
        }
        println!("{}: {last}", self.what);
        summary
    }

    pub fn fail(&mut self, why: &str) -> ! {
        // Its stderr only ends when it exits.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        panic!("{}: {why}\n--- stdout ---\n{}\n--- stderr ---\n{stderr}", self.what, self.stdout.join("\n"));
    }
}

impl Drop for NodeRun {
    fn drop(&mut self) {
        // A test failing half-way must not leave its client running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn forward_lines(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
