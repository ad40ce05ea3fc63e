//! The scenario's sender: one more client, never cut, that emits the `to` events and asks the
//! server how many sockets it has (`count`, acknowledged with `fetchSockets().length`). It
//! runs as a task of the scenario's runtime that always reads its socket (so the heartbeat is
//! answered whatever the scenario does), driven through a [`SenderHandle`].
//!
//! `count` is also the scenario's barrier: the server handles one socket's events in order,
//! and its answer needs every shard (tpcio) to answer after the `to` events emitted before it,
//! so once it is back every earlier `to` has been handed to every shard and logged.

use std::collections::VecDeque;

use tokio::sync::{mpsc, oneshot};

use super::to_packet;
use crate::error::{LoadError, excerpt};
use crate::sio::{Packet, Ws};

enum Command {
    Emit(Vec<u8>),
    Count(oneshot::Sender<Result<i64, String>>),
}

/// Drives the sender task; dropping it ends the task (and closes the connection).
pub struct SenderHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// Events emitted per room so far: the seq the room's next one gets.
    sent: Vec<u64>,
    /// The room the next emit goes to.
    turn: usize,
}

impl SenderHandle {
    /// Starts the task on the current `LocalSet` with the connected `ws`.
    pub fn spawn(ws: Ws, rooms: usize) -> SenderHandle {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::task::spawn_local(async move {
            if let Err(e) = serve(ws, rx).await {
                eprintln!("tpcio-loadtest: recovery sender: {e}");
            }
        });
        SenderHandle { commands, sent: vec![0; rooms], turn: 0 }
    }

    /// Emits the next `to` event, the rooms taken in turn.
    pub fn emit_next(&mut self) -> Result<(), String> {
        let room = self.turn;
        self.turn = (self.turn + 1) % self.sent.len();
        let seq = self.sent[room];
        self.sent[room] += 1;
        self.commands.send(Command::Emit(to_packet(room, seq))).map_err(|_| "the sender stopped".to_string())
    }

    /// One `to` event to every room.
    pub fn emit_round(&mut self) -> Result<(), String> {
        (0..self.sent.len()).try_for_each(|_| self.emit_next())
    }

    /// Events emitted so far, per room.
    pub fn sent(&self) -> &[u64] {
        &self.sent
    }

    /// The number of sockets the server has (`count`), once every earlier emit was handled.
    pub async fn count(&self) -> Result<i64, String> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Count(tx)).map_err(|_| "the sender stopped".to_string())?;
        rx.await.map_err(|_| "the sender stopped".to_string())?
    }
}

async fn serve(mut ws: Ws, mut commands: mpsc::UnboundedReceiver<Command>) -> Result<(), LoadError> {
    let mut waiting: VecDeque<(u64, oneshot::Sender<Result<i64, String>>)> = VecDeque::new();
    let mut next_id = 1u64;
    loop {
        while let Some((_, range)) = ws.frame()? {
            match Packet::parse(ws.payload(range))? {
                Packet::Ping => ws.queue_text(b"3"),
                Packet::Ack(rest) => {
                    let (id, n) = parse_count(rest)?;
                    if let Some(i) = waiting.iter().position(|(w, _)| *w == id)
                        && let Some((_, tx)) = waiting.remove(i)
                    {
                        let _ = tx.send(Ok(n));
                    }
                }
                Packet::Closed(why) => return Err(LoadError::Closed(why)),
                Packet::Event(_) | Packet::Other => {}
            }
        }
        ws.flush().await?;
        tokio::select! {
            command = commands.recv() => match command {
                None => return Ok(()),
                Some(Command::Emit(packet)) => ws.queue_text(&packet),
                Some(Command::Count(tx)) => {
                    ws.queue_text(format!("42{next_id}[\"count\"]").as_bytes());
                    waiting.push_back((next_id, tx));
                    next_id += 1;
                }
            },
            read = ws.read_more() => read?,
        }
    }
}

/// An ack `<id>[<n>]` of `count`.
fn parse_count(rest: &[u8]) -> Result<(u64, i64), LoadError> {
    let bad = || LoadError::UnexpectedPacket(excerpt(rest));
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let id = std::str::from_utf8(&rest[..digits]).ok().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let [n]: [i64; 1] = serde_json::from_slice(&rest[digits..]).map_err(|_| bad())?;
    Ok((id, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_count_acks() {
        assert_eq!(parse_count(b"12[1001]").ok(), Some((12, 1001)));
        assert_eq!(parse_count(b"3[-1]").ok(), Some((3, -1)));
        assert!(parse_count(b"[5]").is_err());
        assert!(parse_count(b"3[]").is_err());
        assert!(parse_count(b"3[\"a\"]").is_err());
    }
}
