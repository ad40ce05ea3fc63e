//! One client of the `recovery` scenario, as a task of the scenario's runtime: connected and
//! in its room, it holds its session (answering pings, checking every `to` event) until the
//! phase says [`Phase::Cut`]; then it drops its connection (the TCP connection closes, no
//! Socket.IO or Engine.IO close is sent), waits for [`Phase::Reconnect`], and comes back as
//! socket.io-client does, with its pid and last offset. What it saw is kept in its [`State`],
//! which the scenario reads.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{SeqCheck, connect_packet, parse_connected, parse_event, room_name, sid_shard};
use crate::eio::parse_open;
use crate::error::{LoadError, excerpt};
use crate::net::{Sources, Target};
use crate::sio::{Packet, Ws};
use crate::ws_client::WsClient;

/// What every client shares.
pub struct Config {
    pub target: Target,
    pub sources: Arc<Sources>,
    /// How long one (re)connection may take, answer and missed packets included.
    pub timeout: Duration,
    /// The server's shard count, when it is tpcio: which shard a connection landed on is
    /// then read from its Engine.IO sid.
    pub shards: Option<usize>,
}

/// What the scenario tells its clients, in this order, round after round.
#[derive(Clone, Debug)]
pub enum Phase {
    Hold,
    /// Drop the connection.
    Cut,
    /// Reconnect for round `.0`; `.1` is how many `to` events each room got in all.
    Reconnect(usize, Arc<Vec<u64>>),
    Stop,
}

/// How one reconnection went.
#[derive(Clone, Debug)]
pub struct Reconnection {
    pub round: usize,
    /// The CONNECT answer gave the same socket id back.
    pub recovered: bool,
    /// From the reconnection's start (before the TCP connect) to the CONNECT answer.
    pub answer_after: Duration,
    /// To the CONNECT answer and every event the client missed, once it is there.
    pub complete_after: Option<Duration>,
    /// Events received before the CONNECT answer (the replayed ones).
    pub replayed: u64,
    /// Events a fresh (not recovered) socket lost.
    pub lost: u64,
    /// Whether the new connection landed on another shard than the last one (tpcio only).
    pub other_shard: Option<bool>,
}

/// What one client knows and saw.
#[derive(Debug)]
pub struct State {
    pub room: usize,
    pub sid: Option<String>,
    pub pid: Option<String>,
    /// The last offset received (socket.io-client's `_lastOffset`).
    pub offset: Option<String>,
    pub engine_sid: Option<String>,
    pub check: SeqCheck,
    /// Every reconnection that completed, in order.
    pub reconnections: Vec<Reconnection>,
    pub error: Option<String>,
}

impl State {
    pub fn new(room: usize) -> State {
        State {
            room,
            sid: None,
            pid: None,
            offset: None,
            engine_sid: None,
            check: SeqCheck::new(room),
            reconnections: Vec::new(),
            error: None,
        }
    }

    /// Takes one event (the JSON array after `42`), as socket.io-client would.
    pub fn on_event(&mut self, json: &[u8]) -> Result<(), LoadError> {
        let event = parse_event(json)?;
        if self.pid.is_some()
            && let Some(offset) = event.last_string
        {
            self.offset = Some(offset);
        }
        if let Some((room, seq)) = event.to {
            self.check.receive(room, seq);
        }
        Ok(())
    }
}

/// Connects a new client of `room` and joins it.
pub async fn connect(config: &Config, room: usize) -> Result<(Ws, Rc<RefCell<State>>), LoadError> {
    let state = Rc::new(RefCell::new(State::new(room)));
    let ws = establish(config, &state, 0, 0, Instant::now()).await?;
    Ok((ws, state))
}

/// The client's life after [`connect`], until [`Phase::Stop`] or a failure (kept in
/// [`State::error`]).
pub async fn run(
    config: Rc<Config>,
    state: Rc<RefCell<State>>,
    mut ws: Ws,
    mut phase: watch::Receiver<Phase>,
) {
    let failed = |e: String| state.borrow_mut().error = Some(e);
    loop {
        match hold(&mut ws, &state, &mut phase).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return failed(e.to_string()),
        }
        // The cut: the socket is closed, as when a network drops (the server sees the TCP
        // connection end, a "transport close").
        drop(ws);
        let (round, sent) = loop {
            if phase.changed().await.is_err() {
                return;
            }
            match phase.borrow_and_update().clone() {
                Phase::Reconnect(round, sent) => break (round, sent),
                Phase::Stop => return,
                Phase::Hold | Phase::Cut => {}
            }
        };
        let target = sent.get(state.borrow().room).copied().unwrap_or(0);
        let start = Instant::now();
        let reconnecting = establish(&config, &state, target, round, start);
        ws = match tokio::time::timeout(config.timeout, reconnecting).await {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => return failed(format!("round {round}: {e}")),
            Err(_) => return failed(format!("round {round}: not back within {:?}", config.timeout)),
        };
    }
}

/// Holds the session until the phase says cut (`true`) or stop (`false`).
async fn hold(
    ws: &mut Ws,
    state: &RefCell<State>,
    phase: &mut watch::Receiver<Phase>,
) -> Result<bool, LoadError> {
    loop {
        match *phase.borrow_and_update() {
            Phase::Cut => return Ok(true),
            Phase::Stop => return Ok(false),
            Phase::Hold | Phase::Reconnect(..) => {}
        }
        while let Some((_, range)) = ws.frame()? {
            read(ws, state, range)?;
        }
        ws.flush().await?;
        tokio::select! {
            changed = phase.changed() => if changed.is_err() { return Ok(false) },
            more = ws.read_more() => more?,
        }
    }
}

/// Handles one received frame of an established session.
fn read(ws: &mut Ws, state: &RefCell<State>, range: std::ops::Range<usize>) -> Result<(), LoadError> {
    let text = ws.payload(range);
    match Packet::parse(text)? {
        Packet::Ping => ws.queue_text(b"3"),
        Packet::Event(json) => state.borrow_mut().on_event(json)?,
        Packet::Closed(why) => return Err(LoadError::Closed(why)),
        Packet::Ack(_) | Packet::Other => {}
    }
    Ok(())
}

/// Opens a session, sends the CONNECT (with the pid and offset when there are), and reads
/// until the socket is back with every event of its room up to `target` (recovered), or is
/// fresh and has joined its room again. Round 0 is the first connection.
async fn establish(
    config: &Config,
    state: &RefCell<State>,
    target: u64,
    round: usize,
    start: Instant,
) -> Result<Ws, LoadError> {
    let mut ws = WsClient::connect(&config.target, &config.sources, "EIO=4&transport=websocket").await?;
    let open = ws.next_text().await?;
    let engine_sid = parse_open(ws.payload(open))?;
    let other_shard = config.shards.and_then(|shards| {
        let before = state.borrow().engine_sid.as_deref().and_then(|sid| sid_shard(sid, shards))?;
        Some(sid_shard(&engine_sid, shards)? != before)
    });
    {
        let s = state.borrow();
        ws.queue_text(&connect_packet(s.pid.as_deref(), s.offset.as_deref()));
    }
    state.borrow_mut().engine_sid = Some(engine_sid);
    let mut outcome: Option<Reconnection> = None;
    let mut replayed = 0;
    let mut joined = false;
    loop {
        if let Some(done) = &mut outcome {
            let complete = if done.recovered { state.borrow().check.complete(target) } else { joined };
            if complete {
                done.complete_after = Some(start.elapsed());
                if round > 0 {
                    state.borrow_mut().reconnections.push(done.clone());
                }
                return Ok(ws);
            }
        }
        let range = ws.next_text().await?;
        let text = ws.payload(range.clone());
        match text {
            [b'4', b'0', json @ ..] if outcome.is_none() => {
                let answer = parse_connected(json)?;
                let mut s = state.borrow_mut();
                let recovered = s.sid.as_deref() == Some(answer.sid.as_str());
                let lost = if recovered { 0 } else { s.check.restart_at(target) };
                (s.sid, s.pid) = (Some(answer.sid), answer.pid);
                if !recovered {
                    // A fresh socket: socket.io-client forgets the old offset with the old pid.
                    s.offset = None;
                    let join = format!("421[\"join\",\"{}\"]", room_name(s.room));
                    ws.queue_text(join.as_bytes());
                }
                let answer_after = start.elapsed();
                outcome = Some(Reconnection {
                    round,
                    recovered,
                    answer_after,
                    complete_after: None,
                    replayed,
                    lost,
                    other_shard,
                });
            }
            [b'4', b'3', b'1', b'[', ..] if outcome.as_ref().is_some_and(|o| !o.recovered) => joined = true,
            [b'4', b'4', ..] => return Err(LoadError::ConnectRefused(excerpt(text))),
            _ => {
                let replay = outcome.is_none() && text.starts_with(b"42");
                read(&mut ws, state, range)?;
                replayed += u64::from(replay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    use super::*;

    #[test]
    fn keeps_offsets_as_socket_io_client() {
        let mut s = State::new(1);
        s.on_event(br#"["to",1,0,"a"]"#).expect("valid");
        assert_eq!((s.offset.as_deref(), s.check.violations.total()), (None, 0), "no pid, no offset kept");
        s.pid = Some("p".into());
        s.on_event(br#"["to",1,1,"b"]"#).expect("valid");
        assert_eq!(s.offset.as_deref(), Some("b"));
        s.on_event(br#"["echo",5]"#).expect("valid");
        assert_eq!(s.offset.as_deref(), Some("b"), "a number last: the offset stays");
        s.on_event(br#"["hello"]"#).expect("valid");
        assert_eq!(s.offset.as_deref(), Some("hello"), "the event name counts, as in the client");
        s.on_event(br#"["to",1,1,"c"]"#).expect("valid");
        assert_eq!(s.check.violations.repeated, 1);
    }

    /// A scripted server: the open packet, then what the client sends is checked against
    /// `expect` and `answers` are written, in turn.
    async fn scripted(
        expect: Vec<String>,
        answers: Vec<Vec<&'static str>>,
    ) -> (Config, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/socket.io/", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
            ws.send(Message::text(r#"0{"sid":"AAAAAAAAAAAAAAAAAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#))
                .await
                .expect("open");
            for (want, answer) in expect.into_iter().zip(answers) {
                let got = ws.next().await.expect("frame").expect("ok");
                assert_eq!(got.into_text().expect("text").as_str(), want);
                for text in answer {
                    ws.send(Message::text(text)).await.expect("send");
                }
            }
            // Hold until the client is done.
            let _ = ws.next().await;
        });
        let target = Target::parse(&url).expect("url");
        let config =
            Config { target, sources: Arc::default(), timeout: Duration::from_secs(5), shards: Some(2) };
        (config, server)
    }

    #[tokio::test]
    async fn recovers_with_the_missed_events_before_the_answer() {
        let expect = vec![r#"40{"pid":"p1","offset":"o1"}"#.to_string()];
        let answers =
            vec![vec![r#"42["to",0,1,"o2"]"#, "2", r#"42["to",0,2,"o3"]"#, r#"40{"sid":"s1","pid":"p1"}"#]];
        let (config, server) = scripted(expect, answers).await;
        let state = RefCell::new(State::new(0));
        {
            let mut s = state.borrow_mut();
            (s.sid, s.pid, s.offset) = (Some("s1".into()), Some("p1".into()), Some("o1".into()));
            s.engine_sid = Some("_w__________________".into());
            s.check.receive(0, 0);
        }
        let ws = establish(&config, &state, 3, 1, Instant::now()).await.expect("recovered");
        drop(ws);
        server.await.expect("server");
        let s = state.borrow();
        let r = s.reconnections.last().expect("one reconnection");
        assert!(r.recovered && r.complete_after.is_some());
        assert_eq!((r.round, r.replayed, r.lost, r.other_shard), (1, 2, 0, Some(true)));
        assert_eq!((s.offset.as_deref(), s.check.violations.total()), (Some("o3"), 0));
    }

    #[tokio::test]
    async fn a_fresh_socket_rejoins_and_counts_what_it_lost() {
        let expect = vec![r#"40{"pid":"p1","offset":"o1"}"#.to_string(), r#"421["join","r0"]"#.to_string()];
        let answers = vec![vec![r#"40{"sid":"s2","pid":"p2"}"#], vec!["431[]"]];
        let (config, server) = scripted(expect, answers).await;
        let state = RefCell::new(State::new(0));
        {
            let mut s = state.borrow_mut();
            (s.sid, s.pid, s.offset) = (Some("s1".into()), Some("p1".into()), Some("o1".into()));
            s.check.receive(0, 0);
        }
        let ws = establish(&config, &state, 5, 2, Instant::now()).await.expect("fresh");
        drop(ws);
        server.await.expect("server");
        let s = state.borrow();
        let r = s.reconnections.last().expect("one reconnection");
        assert!(!r.recovered);
        assert_eq!((r.lost, r.replayed, r.other_shard), (4, 0, None));
        assert_eq!((s.sid.as_deref(), s.pid.as_deref(), s.offset.as_deref()), (Some("s2"), Some("p2"), None));
    }
}
