//! Driving a real browser: the demo server (tpcio's chat page, `src/cli/demo.rs`) on
//! 127.0.0.1:0 with two unpinned shards, Debian's chromium (never a browser downloaded by
//! playwright), and the folder the scenarios save their screenshots in. A missing chromium
//! fails the test with the install hint: tests never skip silently.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::cli::demo;
use tpcio::prelude::Parser;
use tpcio::prelude::{CpuPlacement, RunningServer, Server, ServerConfig};

/// The browser the scenarios launch (tests/js/browser/lib.mjs names the same path).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Fails (never skips) when chromium is not installed.
pub fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the browser tests need Debian's chromium; run the README's test \
         command, scripts/test.sh, which installs it (apt-get install --no-install-recommends chromium)"
    );
}

/// `target/browser-test/<scenario>/`, emptied: where a scenario saves its screenshots.
pub fn screenshot_dir(scenario: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("browser-test").join(scenario);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let dir = dir.canonicalize().unwrap_or(dir);
    println!("screenshots: {}", dir.display());
    dir
}

/// The demo server, stopped (without waiting for it) when dropped.
pub struct DemoServer {
    running: Option<RunningServer>,
    pub addr: SocketAddr,
}

impl DemoServer {
    pub fn start() -> DemoServer {
        Self::start_with(Parser::Json, |_| {})
    }

    /// The demo server speaking `parser` (its page then loads the matching client build), with
    /// `configure` applied to its configuration first.
    pub fn start_with(parser: Parser, configure: impl FnOnce(&mut ServerConfig)) -> DemoServer {
        let addr = "127.0.0.1:0".parse().expect("a socket address");
        let mut config =
            ServerConfig { addr, shards: Some(2), placement: CpuPlacement::Unpinned, ..Default::default() };
        // Sessions a failed test leaves open must not hold its server's threads for long.
        config.shutdown_timeout = Duration::from_secs(1);
        configure(&mut config);
        let server = demo::pages_for(demo::socket_io().parser(parser).attach(Server::new(config)), parser);
        let running = server.start().expect("the demo server starts (is client/ installed?)");
        assert_eq!(running.shards(), 2);
        let addr = running.local_addr();
        DemoServer { running: Some(running), addr }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop_flag().store(true, Ordering::Release);
        }
    }
}
