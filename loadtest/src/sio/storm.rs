//! The `connect` scenario, a connection storm: each of K connectors does full handshakes back
//! to back (TCP connect, WebSocket upgrade of `?EIO=4&transport=websocket`, the open packet,
//! `40` → `40{"sid":…}`; with `--eio 3` the server's bare `40`) and times each from the TCP
//! connect to the namespace answer. Then it leaves as socket.io-client's `disconnect()` does,
//! `41` and a close frame, and waits for the server to end the TCP connection, so at most K
//! connections are open at once and the TIME_WAIT states stay with the server. Source
//! addresses rotate over 127.0.0.x so the storm does not run out of ephemeral ports.
//!
//! The run stops at the end of its window or after `count` handshakes (failures included),
//! whichever comes first; a connector takes a ticket from a shared budget before each attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{Eio, connect_with};
use crate::eio::bounded;
use crate::error::LoadError;
use crate::net::{Sources, Target};
use crate::run::{Scenario, Window};
use crate::stats::Recorder;

/// Pause after a failed attempt, so a refusing server is not hammered in a tight loop.
const AFTER_FAILURE: Duration = Duration::from_millis(10);

/// The scenario, shared by every connector (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct Storm(Arc<Config>);

struct Config {
    target: Target,
    sources: Arc<Sources>,
    eio: Eio,
    /// Attempts left; `u64::MAX` for "until the window ends".
    budget: AtomicU64,
    op_timeout: Duration,
}

impl Storm {
    pub fn new(
        target: Target,
        sources: Arc<Sources>,
        eio: Eio,
        count: Option<u64>,
        op_timeout: Duration,
    ) -> Storm {
        let budget = AtomicU64::new(count.unwrap_or(u64::MAX));
        Storm(Arc::new(Config { target, sources, eio, budget, op_timeout }))
    }
}

impl Config {
    /// Takes one attempt from the budget, if any is left.
    fn ticket(&self) -> bool {
        self.budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(1)).is_ok()
    }
}

impl Scenario for Storm {
    /// A connector holds nothing between handshakes.
    type Client = ();

    async fn connect(&self) -> Result<(), LoadError> {
        Ok(())
    }

    async fn run(&self, (): (), window: Window, rec: &Recorder) -> Result<(), LoadError> {
        let config = &*self.0;
        let end = Instant::from_std(window.end);
        while Instant::now() < end && config.ticket() {
            let started = Instant::now();
            let handshake = connect_with(&config.target, &config.sources, config.eio);
            match bounded(handshake, end, config.op_timeout).await {
                Ok(Some((ws, _))) => {
                    rec.record(started.elapsed());
                    let mut ws = ws;
                    ws.queue_text(b"41");
                    match tokio::time::timeout(config.op_timeout, ws.close()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => rec.warning("close", &e),
                        Err(_) => rec.warning("close", &LoadError::Timeout(config.op_timeout)),
                    }
                }
                // The window ended mid-handshake: neither a success nor a failure.
                Ok(None) => return Ok(()),
                Err(e) => {
                    rec.error("handshake", &e);
                    tokio::time::sleep(AFTER_FAILURE).await;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_runs_out() {
        let target = Target::parse("http://127.0.0.1:1/socket.io/").expect("url");
        let storm = Storm::new(target.clone(), Arc::default(), Eio::V4, Some(2), Duration::from_secs(1));
        assert!((storm.0.ticket(), storm.0.ticket(), storm.0.ticket()) == (true, true, false));
        let endless = Storm::new(target, Arc::default(), Eio::V4, None, Duration::from_secs(1));
        assert!((0..1000).all(|_| endless.0.ticket()));
    }
}
