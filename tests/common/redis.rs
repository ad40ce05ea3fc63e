//! A real `redis-server` (the Debian package) on a free 127.0.0.1 port for the cluster tests,
//! killed by its PID when dropped, and a few commands spoken as RESP over a plain `TcpStream`
//! (PING, PUBLISH, PUBSUB NUMSUB): enough to watch the cluster without a Redis client crate.
//! A missing `redis-server` fails the test with the install hint: never a silent skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const REDIS_SERVER: &str = "redis-server";
const INSTALL_HINT: &str = "install the redis-server Debian package (scripts/test.sh does)";

/// How long redis-server may take to answer its first PING (a loaded machine is slow).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest one command waits for its reply.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `redis-server --port P --bind 127.0.0.1`, no persistence.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// What the server printed (its log goes to stdout), for failure messages.
    log: Arc<Mutex<String>>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub fn start() -> RedisServer {
        require_redis();
        // A port another process takes between our probe and redis' bind: try another one.
        let mut last_error = String::new();
        for _ in 0..3 {
            let mut server = RedisServer { child: None, port: free_port(), log: Arc::default() };
            match server.spawn() {
                Ok(()) => return server,
                Err(why) => last_error = why,
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:P`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL (no goodbye to the clients: their connections just drop), then reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs, then starts a fresh one (empty) on the same port. Redis binds
    /// with SO_REUSEADDR, so the old connections in TIME_WAIT do not block it; a bind that still
    /// fails is retried for a few seconds.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(why) if Instant::now() >= deadline => {
                    panic!("redis-server did not restart on port {}: {why}", self.port)
                }
                Err(_) => thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// `PUBSUB NUMSUB channel`: how many connections subscribe to `channel` (patterns not
    /// counted).
    pub fn numsub(&self, channel: &str) -> i64 {
        match self.command(&[b"PUBSUB", b"NUMSUB", channel.as_bytes()]) {
            Resp::Array(items) if items.len() == 2 => match items[1] {
                Resp::Integer(n) => n,
                ref other => panic!("PUBSUB NUMSUB {channel}: unexpected count {other:?}"),
            },
            other => panic!("PUBSUB NUMSUB {channel}: unexpected reply {other:?}"),
        }
    }

    /// `PUBSUB SHARDNUMSUB channel`: how many connections SSUBSCRIBE to `channel`.
    pub fn shardnumsub(&self, channel: &str) -> i64 {
        match self.command(&[b"PUBSUB", b"SHARDNUMSUB", channel.as_bytes()]) {
            Resp::Array(items) if items.len() == 2 => match items[1] {
                Resp::Integer(n) => n,
                ref other => panic!("PUBSUB SHARDNUMSUB {channel}: unexpected count {other:?}"),
            },
            other => panic!("PUBSUB SHARDNUMSUB {channel}: unexpected reply {other:?}"),
        }
    }

    /// `PUBLISH channel payload`; returns how many subscribers received it.
    pub fn publish(&self, channel: &str, payload: &[u8]) -> i64 {
        match self.command(&[b"PUBLISH", channel.as_bytes(), payload]) {
            Resp::Integer(n) => n,
            other => panic!("PUBLISH {channel}: unexpected reply {other:?}"),
        }
    }

    /// Waits (bounded) until `PUBSUB NUMSUB channel` reads `want`.
    pub fn wait_numsub(&self, channel: &str, want: i64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.numsub(channel);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PUBSUB NUMSUB {channel} is {got}, expected {want} within {timeout:?}"
            );
            // Polling Redis is the only way to see a subscription: there is no event to await.
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many connections are blocked in `XREAD` now (from `CLIENT LIST`).
    pub fn blocked_xreads(&self) -> usize {
        match self.command(&[b"CLIENT", b"LIST"]) {
            Resp::Bulk(Some(list)) => String::from_utf8_lossy(&list)
                .lines()
                .filter(|l| l.contains(" cmd=xread") && l.contains(" flags=b"))
                .count(),
            other => panic!("CLIENT LIST: unexpected reply {other:?}"),
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One command on a fresh connection, its reply parsed. Panics on an I/O error or a Redis
    /// error reply.
    pub fn command(&self, args: &[&[u8]]) -> Resp {
        let reply = try_command(self.port, args).unwrap_or_else(|e| {
            panic!("redis on port {}: {e}\n--- redis log ---\n{}", self.port, self.log())
        });
        if let Resp::Error(message) = &reply {
            panic!("redis on port {}: error reply {message}", self.port);
        }
        reply
    }

    fn spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let mut child = Command::new(REDIS_SERVER)
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {REDIS_SERVER} ({e}): {INSTALL_HINT}"))?;
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            super::cluster::collect(pipe, &self.log);
        }
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Resp::Simple(pong)) = try_command(self.port, &[b"PING"])
                && pong == "PONG"
            {
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("redis-server on port {port} exited ({status}):\n{}", self.log()));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("redis-server on port {port} did not answer PING in {START_TIMEOUT:?}"));
            }
            // Nothing to await before redis listens: retry the connection.
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Fails (never skips) without redis-server.
pub fn require_redis() {
    match Command::new(REDIS_SERVER).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("`{REDIS_SERVER} --version` failed ({status}): {INSTALL_HINT}"),
        Err(e) => panic!("`{REDIS_SERVER}` not found ({e}): {INSTALL_HINT}"),
    }
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Resp>),
}

/// Sends `args` as one RESP array of bulk strings and reads one reply.
pub fn try_command(port: u16, args: &[&[u8]]) -> std::io::Result<Resp> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    stream.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg);
        request.extend_from_slice(b"\r\n");
    }
    stream.write_all(&request)?;
    read_reply(&mut BufReader::new(stream))
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Resp> {
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(invalid("connection closed before a reply".into()));
    }
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(line.len().min(1));
    let number = || rest.parse::<i64>().map_err(|_| invalid(format!("bad length in {line:?}")));
    Ok(match kind {
        "+" => Resp::Simple(rest.to_owned()),
        "-" => Resp::Error(rest.to_owned()),
        ":" => Resp::Integer(number()?),
        "$" => match usize::try_from(number()?) {
            Err(_) => Resp::Bulk(None),
            Ok(len) => {
                let mut data = vec![0; len + 2];
                reader.read_exact(&mut data)?;
                data.truncate(len);
                Resp::Bulk(Some(data))
            }
        },
        "*" => {
            let count = usize::try_from(number()?).unwrap_or(0);
            Resp::Array((0..count).map(|_| read_reply(reader)).collect::<std::io::Result<_>>()?)
        }
        _ => return Err(invalid(format!("unknown reply {line:?}"))),
    })
}

fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe socket");
    probe.local_addr().expect("the probe's address").port()
}
