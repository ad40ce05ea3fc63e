//! Child processes of a comparison: servers pinned with `taskset` and stopped by PID
//! (SIGTERM, then SIGKILL after [`STOP_GRACE`]), even when the comparison fails half-way
//! ([`Running`] stops its server when dropped); load-generator runs bounded in time with their
//! JSON line read from stdout; TCP port checks.
//!
//! `taskset -c LIST PROGRAM` sets the affinity and then executes PROGRAM in the same process,
//! so the child's PID is the server's (or the load generator's) own.

use std::fs::File;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::servers::Launch;

/// How long a server has to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a server has to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a port may stay taken after its server stopped.
const FREE_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// A server process; stopped when dropped.
pub struct Running {
    child: Child,
}

impl Running {
    /// Starts `launch` on `cpus`, output to `log`, and waits until `port` accepts.
    pub fn start(launch: &Launch, cpus: &str, port: u16, log: &Path) -> Result<Running, String> {
        let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new("taskset")
            .args(["-c", cpus])
            .arg(&launch.program)
            .args(&launch.args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("taskset {}: {e}", launch.program.display()))?;
        let mut running = Running { child };
        running.wait_listening(port, log)?;
        Ok(running)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_listening(&mut self, port: u16, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited at start ({status}), see {}", log.display()));
            }
            if port_taken(port) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("not listening on port {port} after {START_TIMEOUT:?}"));
            }
            thread::sleep(POLL);
        }
    }

    /// SIGTERM, then SIGKILL if it is still there after [`STOP_GRACE`]; reaps it.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        signal(self.child.id(), libc::SIGTERM);
        if wait_until(&mut self.child, Instant::now() + STOP_GRACE).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.terminate();
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory preconditions; the PID is our own unreaped child.
        unsafe { libc::kill(pid, sig) };
    }
}

/// The child's exit status if it ends before `deadline`.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            _ => return None,
        }
    }
}

/// Something accepts connections on 127.0.0.1:`port`.
pub fn port_taken(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Waits until nothing accepts on `port` any more.
pub fn wait_port_free(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + FREE_TIMEOUT;
    while port_taken(port) {
        if Instant::now() >= deadline {
            return Err(format!("port {port} still taken {FREE_TIMEOUT:?} after its server stopped"));
        }
        thread::sleep(POLL);
    }
    Ok(())
}

/// Runs this executable with `args` on `cpus`, stderr to `log`, killed after `limit`; returns
/// the JSON object on the last line of its stdout.
pub fn run_loadgen(cpus: &str, args: &[String], log: &Path, limit: Duration) -> Result<Value, String> {
    let exe = own_executable();
    let err = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new("taskset")
        .args(["-c", cpus])
        .arg(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .map_err(|e| format!("taskset tpcio-loadtest: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let status = match wait_until(&mut child, Instant::now() + limit) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("killed after {limit:?}, see {}", log.display()));
        }
    };
    let text = reader.join().unwrap_or_default();
    last_json_line(&text).ok_or_else(|| format!("{status}: {}", last_line(log).unwrap_or_default()))
}

/// This very executable, even after a rebuild replaced (deleted) its file: the kernel's link
/// to the running image, which `taskset` can execute while we live.
fn own_executable() -> String {
    format!("/proc/{}/exe", std::process::id())
}

fn last_json_line(text: &str) -> Option<Value> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    serde_json::from_str::<Value>(line).ok().filter(Value::is_object)
}

/// The last non-empty line of a log, to say why a run failed.
fn last_line(log: &Path) -> io::Result<String> {
    let text = std::fs::read_to_string(log)?;
    Ok(text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string())
}

/// The subcommands `tpcio-loadtest --help` lists.
pub fn supported_commands() -> Vec<String> {
    let Ok(out) = Command::new(own_executable()).arg("--help").output() else { return Vec::new() };
    commands_in_help(&String::from_utf8_lossy(&out.stdout))
}

fn commands_in_help(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_commands_in_help() {
        let help = "About\n\nUsage: x <COMMAND>\n\nCommands:\n  echo       Echo\n  broadcast  B\n  help  H\n\nOptions:\n  -h\n";
        assert_eq!(commands_in_help(help), ["echo", "broadcast", "help"]);
    }

    #[test]
    fn reads_the_last_json_line() {
        assert_eq!(last_json_line("noise\n{\"a\":1}\n\n"), Some(serde_json::json!({"a": 1})));
        assert_eq!(last_json_line("{\"a\":1}\nnot json\n"), None);
        assert_eq!(last_json_line(""), None);
    }
}
