//! The servers compared, each with the same behaviour (`echo` back or acked, `broadcast` to
//! all, pingInterval 25 s / pingTimeout 20 s), and how each is started. The raw WebSocket echo
//! speaks no Socket.IO: it only takes part in the echo scenario.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::scenarios::Kind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Server {
    Tpcio,
    Socketioxide,
    Node,
    RawWs,
}

/// A server's program and arguments, ready for `taskset`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Server {
    pub const ALL: [Server; 4] = [Server::Tpcio, Server::Socketioxide, Server::Node, Server::RawWs];

    /// The name used on the command line, in file names and in the JSON.
    pub fn id(self) -> &'static str {
        match self {
            Server::Tpcio => "tpcio",
            Server::Socketioxide => "socketioxide",
            Server::Node => "node",
            Server::RawWs => "raw",
        }
    }

    pub fn parse(id: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The column heading.
    pub fn label(self) -> &'static str {
        match self {
            Server::Tpcio => "tpcio",
            Server::Socketioxide => "socketioxide",
            Server::Node => "Node socket.io",
            Server::RawWs => "raw WS echo",
        }
    }

    /// What it is, for the report.
    pub fn description(self) -> &'static str {
        match self {
            Server::Tpcio => "`tpcio bench`, one shard per server CPU (glommio, io_uring)",
            Server::Socketioxide => {
                "socketioxide 0.18 on axum 0.8 (`loadtest/socketioxide-ref`): multi-threaded tokio runtime, one worker per server CPU"
            }
            Server::Node => "socket.io 4.8 on Node (`loadtest/node-reference/sio-bench.mjs`), one thread",
            Server::RawWs => {
                "`examples/raw_ws_echo.rs`: WebSocket frames echoed on tpcio's runtime and codecs, no Engine.IO/Socket.IO (echo only)"
            }
        }
    }

    pub fn runs(self, kind: Kind) -> bool {
        self != Server::RawWs || kind == Kind::Echo
    }

    pub fn url(self, port: u16) -> String {
        match self {
            Server::RawWs => format!("http://127.0.0.1:{port}/"),
            _ => format!("http://127.0.0.1:{port}/socket.io/"),
        }
    }

    /// The command line for `port`, with `cpus` CPUs to use.
    pub fn launch(self, root: &Path, port: u16, cpus: usize) -> Launch {
        let port = port.to_string();
        let host = ["--host".to_string(), "127.0.0.1".into()];
        let (program, args): (PathBuf, Vec<String>) = match self {
            Server::Tpcio => (
                root.join("target/release/tpcio"),
                [&["bench".into()], &host[..], &["--port".into(), port, "--shards".into(), cpus.to_string()]]
                    .concat(),
            ),
            Server::Socketioxide => (
                root.join("loadtest/socketioxide-ref/target/release/socketioxide-ref"),
                [&host[..], &["--port".into(), port]].concat(),
            ),
            Server::Node => (
                PathBuf::from("node"),
                vec![root.join("loadtest/node-reference/sio-bench.mjs").display().to_string(), port],
            ),
            Server::RawWs => (
                root.join("target/release/examples/raw_ws_echo"),
                [&host[..], &["--port".into(), port]].concat(),
            ),
        };
        Launch { program, args }
    }

    /// Why it cannot run here, if it cannot: a binary not built, a module not installed.
    pub fn missing(self, root: &Path, launch: &Launch) -> Option<String> {
        let needed = match self {
            Server::Node => root.join("loadtest/node-reference/node_modules/socket.io"),
            _ => launch.program.clone(),
        };
        (!needed.exists())
            .then(|| format!("{} not found (run scripts/compare.sh to build it)", needed.display()))
    }
}

/// How many CPUs a `taskset -c` list names (`0`, `0-3`, `0,2,4-5`).
pub fn cpu_count(list: &str) -> Result<usize, String> {
    let bad = || format!("bad CPU list {list:?} (expected e.g. 0 or 0-3 or 0,2)");
    let mut count = 0;
    for part in list.split(',') {
        count += match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
                b.checked_sub(a).ok_or_else(bad)? + 1
            }
            None => part.trim().parse::<usize>().map(|_| 1).map_err(|_| bad())?,
        };
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cpu_lists() {
        assert_eq!(cpu_count("0"), Ok(1));
        assert_eq!(cpu_count("0-3"), Ok(4));
        assert_eq!(cpu_count("0,2,4-5"), Ok(4));
        assert!(cpu_count("3-1").is_err());
        assert!(cpu_count("").is_err());
        assert!(cpu_count("a").is_err());
    }

    #[test]
    fn launches_tpcio_with_one_shard_per_cpu() {
        let l = Server::Tpcio.launch(Path::new("/r"), 20300, 1);
        assert_eq!(l.program, PathBuf::from("/r/target/release/tpcio"));
        assert_eq!(l.args, ["bench", "--host", "127.0.0.1", "--port", "20300", "--shards", "1"]);
        assert!(Server::RawWs.runs(Kind::Echo) && !Server::RawWs.runs(Kind::Ack));
        assert_eq!(Server::parse("node"), Some(Server::Node));
    }
}
