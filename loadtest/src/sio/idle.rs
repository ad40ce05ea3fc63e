//! The `idle` scenario's clients: connected to the main namespace, sending nothing but the
//! heartbeat (answering the server's pings in v4, sending their own every `pingInterval` in
//! v3), so the server's memory per connection can be read while they are held. Each ping
//! answered or sent counts as one message; any other event is ignored.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Eio, Heartbeat, Packet, Ws, connect_with};
use crate::error::{LoadError, excerpt};
use crate::net::{Sources, Target};
use crate::run::{Scenario, Window};
use crate::stats::Recorder;
use crate::ws_client::Opcode;

/// The scenario, shared by every client (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct Idle(Arc<Config>);

struct Config {
    target: Target,
    sources: Arc<Sources>,
    eio: Eio,
}

impl Idle {
    pub fn new(target: Target, sources: Arc<Sources>, eio: Eio) -> Idle {
        Idle(Arc::new(Config { target, sources, eio }))
    }
}

impl Scenario for Idle {
    type Client = (Ws, Heartbeat);

    async fn connect(&self) -> Result<(Ws, Heartbeat), LoadError> {
        connect_with(&self.0.target, &self.0.sources, self.0.eio).await
    }

    async fn run(&self, client: (Ws, Heartbeat), window: Window, rec: &Recorder) -> Result<(), LoadError> {
        hold(client, Instant::from_std(window.end), rec).await
    }
}

/// Keeps the session alive until `end`.
async fn hold(
    (mut ws, mut heartbeat): (Ws, Heartbeat),
    end: Instant,
    rec: &Recorder,
) -> Result<(), LoadError> {
    let stop = tokio::time::sleep_until(end);
    tokio::pin!(stop);
    loop {
        while let Some((opcode, range)) = ws.frame()? {
            let text = ws.payload(range);
            if opcode != Opcode::Text {
                continue;
            }
            match Packet::parse(text) {
                Ok(Packet::Ping) => {
                    ws.queue_text(b"3");
                    rec.count();
                }
                Ok(Packet::Closed(why)) => return Err(LoadError::Closed(why)),
                Ok(_) => {}
                Err(_) => return Err(LoadError::UnexpectedPacket(excerpt(text))),
            }
        }
        if heartbeat.due(Instant::now()) {
            ws.queue_text(b"2");
            rec.count();
        }
        ws.flush().await?;
        // Far in the future when the server pings: `end` comes first.
        let ping_at = heartbeat.deadline().unwrap_or(end);
        tokio::select! {
            biased;
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep_until(ping_at) => {}
            read = ws.read_more() => read?,
        }
    }
}
