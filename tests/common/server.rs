//! Starting and stopping the conformance server (`/engine.io/` echoes every message) for one
//! test: 127.0.0.1:0, two unpinned shards, settings changed by the test before start.
//!
//! The conformance heartbeat (300 ms + 200 ms) would close a silent v3 session half a second
//! after its handshake, so tests that are not about the heartbeat run with Node's defaults.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::cli::conformance;
use tpcio::prelude::{CpuPlacement, RunningServer, ServerConfig};

/// Node's default `pingInterval`, used unless a test changes it.
pub const PING_INTERVAL: Duration = Duration::from_millis(25_000);
/// Node's default `pingTimeout`.
pub const PING_TIMEOUT: Duration = Duration::from_millis(20_000);

/// A running server, stopped (without waiting for it) when dropped.
pub struct TestServer {
    running: Option<RunningServer>,
    pub addr: SocketAddr,
}

impl TestServer {
    /// The conformance server as shipped (pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6).
    pub fn conformance() -> TestServer {
        Self::configured(|_| {})
    }

    /// The conformance server with Node's default heartbeat (25 s + 20 s).
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    /// [`TestServer::start`] with `configure` applied to its configuration first.
    pub fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        Self::configured(|config| {
            config.engine.ping_interval = PING_INTERVAL;
            config.engine.ping_timeout = PING_TIMEOUT;
            configure(config);
        })
    }

    fn configured(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let addr = "127.0.0.1:0".parse().expect("a socket address");
        let mut config = conformance::config(addr, Some(2), CpuPlacement::Unpinned);
        // Sessions a test leaves open must not hold its server's threads for long.
        config.shutdown_timeout = Duration::from_secs(1);
        // What tests watch to know the server's state (e.g. a GET parked).
        config.metrics = Some(super::engine::METRICS_PATH.to_string());
        configure(&mut config);
        let running = conformance::server(config).start().expect("the server starts");
        assert_eq!(running.shards(), 2);
        let addr = running.local_addr();
        TestServer { running: Some(running), addr }
    }

    /// Connections moved to the shard owning their session so far.
    pub fn handoffs(&self) -> u64 {
        self.running().stats().handoffs.load(Ordering::Relaxed)
    }

    pub fn running(&self) -> &RunningServer {
        self.running.as_ref().expect("the server is running")
    }

    /// The server, for a test that shuts it down itself.
    pub fn take(mut self) -> RunningServer {
        self.running.take().expect("the server is running")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Stop without joining: a failing test should not also wait for sessions to close.
        if let Some(running) = self.running.take() {
            running.stop_flag().store(true, Ordering::Release);
        }
    }
}
