//! `compare raw-echo`: the echo scenario without Engine.IO or Socket.IO, against
//! `examples/raw_ws_echo.rs`. Each client sends one text frame of `--size` bytes and waits for
//! the same frame back, in a closed loop: the figure every Socket.IO echo is bounded by on the
//! same runtime, sockets and framing.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::commands::echo::{EchoArgs, Shape, check, measure};
use crate::eio::{bounded, payload};
use crate::error::LoadError;
use crate::net::{Sources, Target};
use crate::run::{Scenario, Window};
use crate::stats::{Recorder, Report};
use crate::ws_client::{Opcode, WsClient};

/// The echo scenario's arguments; the server is `examples/raw_ws_echo.rs` (any path).
#[derive(clap::Args, Debug)]
pub struct RawEchoArgs {
    #[command(flatten)]
    echo: EchoArgs,
}

#[derive(Clone)]
struct RawEcho(Arc<Config>);

struct Config {
    target: Target,
    sources: Arc<Sources>,
    payload: Vec<u8>,
    op_timeout: Duration,
}

impl Scenario for RawEcho {
    type Client = WsClient;

    async fn connect(&self) -> Result<WsClient, LoadError> {
        WsClient::connect(&self.0.target, &self.0.sources, "raw=1").await
    }

    async fn run(&self, mut ws: WsClient, window: Window, rec: &Recorder) -> Result<(), LoadError> {
        let (config, end) = (&self.0, Instant::from_std(window.end));
        loop {
            ws.queue_text(&config.payload);
            let sent = Instant::now();
            ws.flush().await?;
            loop {
                match ws.frame()? {
                    Some((Opcode::Text, range)) if ws.payload(range.clone()) == config.payload => break,
                    Some(_) => return Err(LoadError::EchoMismatch),
                    None if bounded(ws.read_more(), end, config.op_timeout).await?.is_none() => return Ok(()),
                    None => {}
                }
            }
            rec.record(sent.elapsed());
            if Instant::now() >= end {
                return Ok(());
            }
        }
    }
}

/// One frame in flight per client, the echo report's fields (no Engine.IO: `eio` 0), so the
/// comparison reads both alike.
pub fn raw_echo(args: &RawEchoArgs) -> Result<Report, String> {
    let e = &args.echo;
    if e.pipeline != 1 {
        return Err("raw-echo keeps one frame in flight: --pipeline must be 1".into());
    }
    let c = check(e, "raw-echo".into(), e.clients)?;
    let sources = Sources::spread(&c.target, e.clients)?;
    let payload = payload(e.size).into_bytes();
    let scenario = RawEcho(Arc::new(Config { target: c.target, sources, payload, op_timeout: c.op_timeout }));
    let shape = Shape { name: "raw-echo", transport: "websocket", eio: 0, ack: false };
    Ok(measure(scenario, &c.config, e, shape))
}
