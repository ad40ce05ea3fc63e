//! A soak client over WebSocket: the [`Talk`] carried as text frames, pings answered at once.

use tokio::sync::watch;
use tokio::time::Instant;

use super::talk::{FAR, Seen, Step, Talk};
use super::{Ended, Shared};
use crate::error::LoadError;
use crate::sio::{Eio, Ws, connect_with};
use crate::stats::Recorder;
use crate::ws_client::Opcode;

pub async fn open(shared: &Shared) -> Result<Ws, LoadError> {
    connect_with(&shared.target, &shared.sources, Eio::V4).await.map(|(ws, _)| ws)
}

/// Runs `step` on `ws` until it is over, the run stops, or the session fails.
pub async fn drive(
    ws: &mut Ws,
    talk: &mut Talk<'_>,
    step: Step,
    stop: &mut watch::Receiver<bool>,
    rec: &Recorder,
) -> Result<Ended, LoadError> {
    let op_timeout = talk.op_timeout();
    loop {
        while let Some((opcode, range)) = ws.frame()? {
            if opcode != Opcode::Text {
                return Err(LoadError::UnexpectedPacket("binary frame".into()));
            }
            if talk.on_packet(ws.payload(range), rec)? == Seen::Ping {
                ws.queue_text(b"3");
            }
        }
        let now = Instant::now();
        if let Some(packet) = talk.due(now, step) {
            ws.queue_text(packet);
        }
        if ws.has_queued() {
            tokio::time::timeout(op_timeout, ws.flush())
                .await
                .map_err(|_| LoadError::Timeout(op_timeout))??;
        }
        if talk.finished(now, step) {
            return Ok(Ended::Done);
        }
        let wake = talk.deadline(now, step)?.unwrap_or(now + FAR);
        tokio::select! {
            biased;
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return Ok(Ended::Stopped) },
            read = ws.read_more() => read?,
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Leaves as socket.io-client's `disconnect()` does: `41`, a close frame, then waits for the
/// server to end the connection (bounded by the caller).
pub async fn leave(mut ws: Ws) -> Result<(), LoadError> {
    ws.queue_text(b"41");
    ws.close().await
}
