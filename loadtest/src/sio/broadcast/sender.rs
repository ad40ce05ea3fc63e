//! The broadcasting client, on a thread and runtime of its own so the receivers' work does
//! not delay its schedule. It sends bursts on command: `count` messages, message `k` due at
//! `start + k / rate`; each wake-up sends every message already due in one write (tokio's
//! timer ticks in milliseconds), each stamped with its due time, not with the time it is
//! handed to the socket: a server that stops reading makes the sender wait, and latencies
//! measured from a late send would leave that wait out (coordinated omission). How far the
//! sender fell behind the schedule is reported too. Between bursts it reads (and drops) its
//! own copies of the broadcasts and answers pings.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tokio::sync::mpsc as tokio_mpsc;
use tokio::time::Instant;

use super::{Clock, broadcast_packet};
use crate::error::LoadError;
use crate::net::{Sources, Target};
use crate::sio::{Packet, Ws, connect};

/// How long past a burst's last due time the sender keeps trying before it gives up.
pub const SLACK: Duration = Duration::from_secs(1);

/// One burst of broadcasts.
#[derive(Clone, Copy, Debug)]
pub struct Burst {
    pub start: std::time::Instant,
    /// Messages per second.
    pub rate: f64,
    pub count: u64,
    pub first_seq: u64,
}

/// How a burst went.
#[derive(Debug, Default)]
pub struct Sent {
    /// The burst this is about.
    pub first_seq: u64,
    pub sent: u64,
    /// The longest wait of a message past its due time.
    pub max_lag: Duration,
    /// Why the burst stopped short, if it did.
    pub error: Option<String>,
}

/// The handle the main thread drives the sender with.
pub struct Sender {
    bursts: tokio_mpsc::UnboundedSender<Burst>,
    results: mpsc::Receiver<Sent>,
}

impl Sender {
    /// Starts the sender's thread and waits (at most `connect_timeout`) for it to connect.
    pub fn launch(target: Target, clock: Clock, connect_timeout: Duration) -> Result<Sender, String> {
        let (bursts, burst_rx) = tokio_mpsc::unbounded_channel();
        let (result_tx, results) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        // Never joined, like the load threads: the process ends without waiting for it.
        thread::Builder::new()
            .name("sender".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot build a runtime: {e}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let sources = Sources::default();
                    let connecting = connect(&target, &sources);
                    let ws = match tokio::time::timeout(connect_timeout, connecting).await {
                        Ok(Ok(ws)) => ws,
                        Ok(Err(e)) => return drop(ready_tx.send(Err(e.to_string()))),
                        Err(_) => return drop(ready_tx.send(Err("connect timed out".into()))),
                    };
                    let _ = ready_tx.send(Ok(()));
                    serve(ws, clock, burst_rx, result_tx).await;
                });
            })
            .map_err(|e| format!("cannot start the sender thread: {e}"))?;
        match ready_rx.recv_timeout(connect_timeout + SLACK) {
            Ok(Ok(())) => Ok(Sender { bursts, results }),
            Ok(Err(e)) => Err(format!("sender: {e}")),
            Err(_) => Err("sender: no connection in time".into()),
        }
    }

    /// Starts `burst`; [`Sender::wait`] tells how it went.
    pub fn start(&self, burst: Burst) -> Result<(), String> {
        self.bursts.send(burst).map_err(|_| "the sender has stopped".to_string())
    }

    /// Waits until the burst starting at `first_seq` is done, or `deadline`.
    pub fn wait(&self, first_seq: u64, deadline: std::time::Instant) -> Sent {
        loop {
            let wait = deadline.saturating_duration_since(std::time::Instant::now());
            match self.results.recv_timeout(wait) {
                Ok(sent) if sent.first_seq == first_seq => return sent,
                // The end of an earlier burst that overran its wait.
                Ok(_) => {}
                Err(_) => {
                    let error = Some("the sender did not finish in time".into());
                    return Sent { first_seq, error, ..Sent::default() };
                }
            }
        }
    }
}

/// Runs bursts as they come; stops when the handle is dropped or the connection fails.
async fn serve(
    mut ws: Ws,
    clock: Clock,
    mut bursts: tokio_mpsc::UnboundedReceiver<Burst>,
    results: mpsc::Sender<Sent>,
) {
    loop {
        let burst = tokio::select! {
            burst = bursts.recv() => match burst {
                Some(burst) => burst,
                None => return,
            },
            read = ws.read_more() => {
                let answered = match read.and_then(|()| drain(&mut ws)) {
                    Ok(()) => ws.flush().await,
                    Err(e) => Err(e),
                };
                match answered {
                    Ok(()) => continue,
                    Err(e) => return eprintln!("tpcio-loadtest: sender: {e}"),
                }
            },
        };
        let mut sent = Sent { first_seq: burst.first_seq, ..Sent::default() };
        if let Err(e) = send_burst(&mut ws, clock, &burst, &mut sent).await {
            sent.error = Some(e.to_string());
        }
        let failed = sent.error.is_some();
        if results.send(sent).is_err() || failed {
            return;
        }
    }
}

async fn send_burst(ws: &mut Ws, clock: Clock, burst: &Burst, sent: &mut Sent) -> Result<(), LoadError> {
    let start = Instant::from_std(burst.start);
    let due = |k: u64| start + Duration::from_secs_f64(k as f64 / burst.rate);
    let start_ns = clock.ns_at(burst.start);
    let give_up = due(burst.count) + SLACK;
    while sent.sent < burst.count {
        let due_at = due(sent.sent);
        let wake = tokio::time::sleep_until(due_at);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                biased;
                () = &mut wake => break,
                read = ws.read_more() => {
                    read?;
                    drain(ws)?;
                }
            }
        }
        let now = Instant::now();
        if now >= give_up {
            return Err(LoadError::Behind(SLACK));
        }
        sent.max_lag = sent.max_lag.max(now - due_at);
        let elapsed = (now - start).as_secs_f64();
        let due_now = ((elapsed * burst.rate).floor() as u64).saturating_add(1).min(burst.count);
        while sent.sent < due_now {
            let seq = burst.first_seq + sent.sent;
            ws.queue_text(broadcast_packet(seq, due_ns(start_ns, sent.sent, burst.rate)).as_bytes());
            sent.sent += 1;
        }
        match tokio::time::timeout_at(give_up, ws.flush()).await {
            Ok(result) => result?,
            Err(_) => return Err(LoadError::Behind(SLACK)),
        }
    }
    Ok(())
}

/// The stamp of message `k` of a burst starting at `start_ns`: its due time on the [`Clock`].
fn due_ns(start_ns: u64, k: u64, rate: f64) -> u64 {
    start_ns.saturating_add((k as f64 * 1e9 / rate) as u64)
}

/// Goes through the frames received: pings are answered (queued), broadcasts dropped.
fn drain(ws: &mut Ws) -> Result<(), LoadError> {
    while let Some((_, range)) = ws.frame()? {
        match Packet::parse(ws.payload(range))? {
            Packet::Ping => ws.queue_text(b"3"),
            Packet::Closed(why) => return Err(LoadError::Closed(why)),
            Packet::Event(_) | Packet::Ack(_) | Packet::Other => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_each_message_with_its_due_time() {
        let clock = Clock::new();
        let start = std::time::Instant::now() + Duration::from_millis(5);
        let start_ns = clock.ns_at(start);
        assert!((5_000_000..6_000_000).contains(&start_ns), "{start_ns}");
        assert_eq!(due_ns(start_ns, 0, 100.0), start_ns);
        assert_eq!(due_ns(start_ns, 3, 100.0), start_ns + 30_000_000);
        assert_eq!(due_ns(u64::MAX - 1, 5, 1.0), u64::MAX);
    }
}
