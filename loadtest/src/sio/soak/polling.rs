//! A soak client over HTTP long-polling, the way socket.io-client keeps one that never
//! upgrades: a `GET` always pending (its own task, handing each body over a channel), and the
//! client's packets `POST`ed on the other connection as soon as they are due, so a broadcast
//! or a ping reaches it at any time.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::talk::{FAR, Seen, Step, Talk};
use super::{Ended, Shared};
use crate::eio::SEPARATOR;
use crate::error::LoadError;
use crate::http::HttpConn;
use crate::sio::polling::{PollClient, Poster};
use crate::stats::Recorder;

/// What the `GET` task hands over: a `200` body, or why it stopped.
type Body = Result<Vec<u8>, LoadError>;

pub struct PollSession {
    post: Poster,
    bodies: mpsc::UnboundedReceiver<Body>,
    get_task: JoinHandle<()>,
    /// The packets of the next `POST`.
    out: Vec<u8>,
}

impl Drop for PollSession {
    fn drop(&mut self) {
        self.get_task.abort();
    }
}

/// Opens a session connected to the main namespace and starts its `GET` loop.
pub async fn open(shared: &Shared) -> Result<PollSession, LoadError> {
    let PollClient { get, get_request, post } = PollClient::open(&shared.target, &shared.sources).await?;
    let (tx, bodies) = mpsc::unbounded_channel();
    let get_task = tokio::task::spawn_local(get_loop(get, get_request, tx));
    Ok(PollSession { post, bodies, get_task, out: Vec::new() })
}

/// `GET`s one after another until the session ends or nobody listens.
async fn get_loop(mut conn: HttpConn, request: Vec<u8>, tx: mpsc::UnboundedSender<Body>) {
    loop {
        let body = match conn.request(&request).await {
            Ok(response) if response.status == 200 => Ok(response.body.to_vec()),
            Ok(response) => Err(LoadError::Status(response.status)),
            Err(e) => Err(e),
        };
        let failed = body.is_err();
        if tx.send(body).is_err() || failed {
            return;
        }
    }
}

/// Runs `step` on the session until it is over, the run stops, or the session fails.
pub async fn drive(
    session: &mut PollSession,
    talk: &mut Talk<'_>,
    step: Step,
    stop: &mut watch::Receiver<bool>,
    rec: &Recorder,
) -> Result<Ended, LoadError> {
    let op_timeout = talk.op_timeout();
    let mut pong_due = false;
    loop {
        let now = Instant::now();
        session.out.clear();
        if std::mem::take(&mut pong_due) {
            session.out.push(b'3');
        }
        if let Some(packet) = talk.due(now, step) {
            if !session.out.is_empty() {
                session.out.push(SEPARATOR);
            }
            session.out.extend_from_slice(packet);
        }
        if !session.out.is_empty() {
            let post = session.post.post(&session.out);
            tokio::time::timeout(op_timeout, post).await.map_err(|_| LoadError::Timeout(op_timeout))??;
        }
        if talk.finished(now, step) {
            return Ok(Ended::Done);
        }
        let wake = talk.deadline(now, step)?.unwrap_or(now + FAR);
        tokio::select! {
            biased;
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return Ok(Ended::Stopped) },
            body = session.bodies.recv() => {
                let body = body.unwrap_or(Err(LoadError::Closed("GET loop ended")))?;
                for packet in body.split(|&b| b == SEPARATOR).filter(|p| !p.is_empty()) {
                    if talk.on_packet(packet, rec)? == Seen::Ping {
                        pong_due = true;
                    }
                }
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Leaves as socket.io-client does over polling: `41` and the Engine.IO close packet in one
/// `POST`, then waits for the pending `GET` to end (bounded by the caller).
pub async fn leave(mut session: PollSession) -> Result<(), LoadError> {
    session.post.post(&[b'4', b'1', SEPARATOR, b'1']).await?;
    while let Some(Ok(_)) = session.bodies.recv().await {}
    Ok(())
}
