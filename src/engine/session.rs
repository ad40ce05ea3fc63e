//! One Engine.IO session: its ready state, its current transport, the outgoing queue and the
//! events for the Socket.IO layer. This file mirrors engine.io 6.6 `lib/socket.ts` (`sendPacket`,
//! `flush`, `close`, `onClose`, `onPacket`); the transport sides live in [`polling`],
//! [`websocket`] and [`upgrade`], the heartbeat in [`heartbeat`].
//!
//! Nothing here blocks or reads a clock: every input carries `now`, outputs are pulled
//! ([`Session::poll_event`], the parked GET's answer, [`Session::drain_ws`]) and the runtime
//! is told when to call [`Session::on_timeout`] by [`Session::next_deadline`]. The runtime is
//! woken through the `Waker`s it registers for a parked GET or a WebSocket writer.
//!
//! [`polling`]: super::polling
//! [`websocket`]: super::websocket
//! [`upgrade`]: super::upgrade
//! [`heartbeat`]: super::heartbeat

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytestring::ByteString;

use super::heartbeat::Heartbeat;
use super::polling::{PollAnswer, PollTicket, PollingSide};
use super::queue::OutQueue;
use super::upgrade::Upgrade;
use super::websocket::{WsConn, WsId, WsRole};
use super::{DisconnectReason, EngineConfig};
use crate::protocol::{Data, EioVersion, Packet, PacketType};

/// What the session tells the Socket.IO layer above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineEvent {
    /// A message packet's data.
    Message(Data),
    /// The session moved from polling to its WebSocket.
    Upgraded,
    /// The session ended; nothing more will come. Always the last event.
    Closed(DisconnectReason),
}

/// Which transport carries the session now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

/// Node's `readyState` of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadyState {
    Open,
    /// `close()` was called on polling; the close packet waits for the client's next GET.
    Closing,
    Closed,
}

/// A packet [`Session::send`] did not queue, handed back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session's outgoing queue is full (`max_buffered_packets` or `max_buffered_bytes`).
    #[error("the outgoing queue is full")]
    Full(Packet),
    /// The session is closing or closed.
    #[error("the session is closing or closed")]
    Closed(Packet),
}

impl SendError {
    /// The packet that could not be sent.
    pub fn into_packet(self) -> Packet {
        match self {
            SendError::Full(p) | SendError::Closed(p) => p,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    Open,
    Closing {
        reason: DisconnectReason,
        stage: Closing,
    },
    /// `linger` is when the table may drop the session even if outputs were never collected;
    /// `None` once that happened.
    Closed {
        linger: Option<Instant>,
    },
}

/// Node's two steps of a polling close: `close()` waits for the queue to drain (`"drain"`),
/// then the transport's `shouldClose` waits for a GET to carry the close packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Closing {
    AwaitDrain,
    AwaitPoll {
        deadline: Instant,
    },
    /// The client POSTed a close packet while no GET was parked: a GET may still be on its
    /// way ([`EngineConfig::reorder_window`]); it gets a noop, then the session closes.
    ClientClosed {
        deadline: Instant,
    },
}

/// One Engine.IO session (one sid).
#[derive(Debug)]
pub struct Session {
    pub(super) config: Rc<EngineConfig>,
    pub(super) version: EioVersion,
    pub(super) state: State,
    pub(super) transport: TransportKind,
    pub(super) upgraded: bool,
    /// Node's `writeBuffer`: packets not yet handed to a transport.
    pub(super) queue: OutQueue,
    pub(super) heartbeat: Heartbeat,
    pub(super) events: VecDeque<EngineEvent>,
    /// Boxed, and only once the session polls: a session opened on its WebSocket never has one.
    pub(super) polling: Option<Box<PollingSide>>,
    /// The active WebSocket, a probing one, and ones still to be told to close.
    pub(super) sockets: Vec<WsConn>,
    /// Boxed: only while a polling session probes its WebSocket.
    pub(super) upgrade: Option<Box<Upgrade>>,
    next_ws: u32,
    /// Node's `writable` for the WebSocket: the active WebSocket's writer is between writes
    /// (it found nothing to write the last time it drained), so the next packet goes out at
    /// once and alone, and what is sent after it waits for the next write.
    pub(super) ws_idle: bool,
    /// How many packets at the head of the queue went out at once (as Node hands its whole
    /// `writeBuffer` to an idle transport): the next drain takes only those.
    pub(super) ws_batch: Option<usize>,
    /// A pause the writer takes after writing the current batch ([`Session::write_boundary`]).
    pub(super) ws_batch_pause: Option<Duration>,
    /// The pause to take once what was drained last is written.
    pub(super) ws_pause: Option<Duration>,
}

impl Session {
    /// A session opened by a polling handshake (`transport=polling`, no sid). `open` is the
    /// open packet's JSON ([`Handshake::to_json`]); it is queued, so the handshake GET itself
    /// is answered by [`Session::on_poll_get`]. `supports_binary` is false when the query
    /// has `b64`.
    ///
    /// [`Handshake::to_json`]: crate::protocol::handshake::Handshake::to_json
    pub fn polling(
        config: Rc<EngineConfig>,
        version: EioVersion,
        supports_binary: bool,
        open: ByteString,
        now: Instant,
    ) -> Session {
        let mut session = Session::new(config, version, TransportKind::Polling, now);
        session.polling_mut().supports_binary = supports_binary;
        session.queue.push(Packet::text(PacketType::Open, open));
        session
    }

    /// A session opened directly on a WebSocket; the open packet is its first frame.
    pub fn websocket(
        config: Rc<EngineConfig>,
        version: EioVersion,
        supports_binary: bool,
        open: ByteString,
        now: Instant,
    ) -> (Session, WsId) {
        let mut session = Session::new(config, version, TransportKind::WebSocket, now);
        let ws = session.add_socket(supports_binary, WsRole::Active);
        session.queue.push(Packet::text(PacketType::Open, open));
        // The open packet is written alone, as Node's first send on an idle transport.
        session.ws_idle = false;
        session.ws_batch = Some(1);
        (session, ws)
    }

    fn new(config: Rc<EngineConfig>, version: EioVersion, transport: TransportKind, now: Instant) -> Self {
        Session {
            heartbeat: Heartbeat::start(version, &config, now),
            config,
            version,
            state: State::Open,
            transport,
            upgraded: false,
            queue: OutQueue::default(),
            events: VecDeque::new(),
            polling: None,
            sockets: Vec::new(),
            upgrade: None,
            next_ws: 0,
            ws_idle: true,
            ws_batch: None,
            ws_batch_pause: None,
            ws_pause: None,
        }
    }

    pub fn version(&self) -> EioVersion {
        self.version
    }

    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    pub fn ready_state(&self) -> ReadyState {
        match self.state {
            State::Open => ReadyState::Open,
            State::Closing { .. } => ReadyState::Closing,
            State::Closed { .. } => ReadyState::Closed,
        }
    }

    /// A WebSocket is probing and the session may still move to it.
    pub fn is_upgrading(&self) -> bool {
        self.upgrade.is_some()
    }

    /// Number of packets queued and not yet handed to a transport.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Bytes queued and not yet handed to a transport (see [`EngineConfig::max_buffered_bytes`]).
    pub fn queued_bytes(&self) -> usize {
        self.queue.bytes()
    }

    /// Queues a packet for the current transport (Node `sendPacket`): a parked GET is answered
    /// at once with everything queued; a WebSocket writer is woken.
    pub fn send(&mut self, packet: Packet) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed(packet));
        }
        if self.queue.is_full_for(&packet, &self.config) {
            return Err(SendError::Full(packet));
        }
        self.queue.push(packet);
        self.flush();
        Ok(())
    }

    /// Queues several packets, then flushes once: they share one polling response, where
    /// [`Session::send`] in a loop would answer a parked GET with the first one alone (as Node
    /// does). Stops at the first refused packet and returns it with the ones after it.
    pub fn send_batch(
        &mut self,
        packets: impl IntoIterator<Item = Packet>,
    ) -> Result<(), (SendError, Vec<Packet>)> {
        let mut packets = packets.into_iter();
        let mut refused = None;
        for packet in packets.by_ref() {
            if self.state != State::Open {
                refused = Some(SendError::Closed(packet));
                break;
            }
            if self.queue.is_full_for(&packet, &self.config) {
                refused = Some(SendError::Full(packet));
                break;
            }
            self.queue.push(packet);
        }
        self.flush();
        match refused {
            None => Ok(()),
            Some(e) => Err((e, packets.collect())),
        }
    }

    /// Heartbeat packets: never refused by the bound, dropped unless open (Node `sendPacket`).
    pub(super) fn send_control(&mut self, packet: Packet) {
        if self.state == State::Open {
            self.queue.push(packet);
            self.flush();
        }
    }

    /// Node `flush`: hands the whole queue to the transport if it can take it now.
    pub(super) fn flush(&mut self) {
        if self.queue.is_empty() || matches!(self.state, State::Closed { .. }) {
            return;
        }
        match self.transport {
            TransportKind::Polling => {
                if let Some(ticket) = self.take_parked() {
                    let packets = std::mem::take(&mut self.queue);
                    self.answer_poll(ticket, &packets);
                }
            }
            TransportKind::WebSocket => {
                if self.ws_idle {
                    self.ws_idle = false;
                    self.ws_batch = Some(self.queue.len());
                }
                self.wake_active_socket();
            }
        }
    }

    /// Server-side close (Node `socket.close()`): over polling the queue is delivered first,
    /// then a close packet (`1`) rides on the next GET; a WebSocket gets the queue and is
    /// closed. `reason` is what [`EngineEvent::Closed`] reports (engine.io says "forced close";
    /// the Socket.IO layer passes its own reason).
    pub fn close(&mut self, reason: DisconnectReason, now: Instant) {
        if self.state != State::Open {
            return;
        }
        match self.transport {
            TransportKind::WebSocket => {
                self.queue_to_active_socket();
                self.close_with(reason, now);
            }
            TransportKind::Polling if !self.queue.is_empty() => {
                self.state = State::Closing { reason, stage: Closing::AwaitDrain };
            }
            TransportKind::Polling => {
                if let Some(ticket) = self.take_parked() {
                    self.answer_poll(ticket, &[Packet::empty(PacketType::Close)]);
                    self.close_with(reason, now);
                } else {
                    self.await_closing_poll(reason, now);
                }
            }
        }
    }

    /// Immediate close for a server shutdown (Node `socket.close(true)`): the queue is dropped,
    /// a parked GET gets the close packet, a WebSocket is closed.
    pub fn close_now(&mut self, reason: DisconnectReason, now: Instant) {
        self.close_with(reason, now);
    }

    pub(super) fn await_closing_poll(&mut self, reason: DisconnectReason, now: Instant) {
        let deadline = now + self.config.polling_close_timeout;
        self.state = State::Closing { reason, stage: Closing::AwaitPoll { deadline } };
        self.cancel_post();
    }

    /// Node `onClose` + `clearTransport`: the end of the session, whatever the cause.
    pub(super) fn close_with(&mut self, reason: DisconnectReason, now: Instant) {
        if matches!(self.state, State::Closed { .. }) {
            return;
        }
        self.state = State::Closed { linger: Some(now + self.config.closed_linger) };
        if let Some(ticket) = self.take_parked() {
            self.answer_poll(ticket, &[Packet::empty(PacketType::Close)]);
        }
        self.cancel_post();
        self.upgrade = None;
        for conn in &mut self.sockets {
            conn.role = WsRole::Closing;
            conn.wake();
        }
        self.queue.clear();
        self.events.push_back(EngineEvent::Closed(reason));
    }

    /// The next event for the Socket.IO layer. Call after every input.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() != 0 {
            // An idle session keeps no event queue.
            self.events = VecDeque::new();
        }
        event
    }

    /// Every pending event at once, in order: [`Session::poll_event`] until `None`, with the
    /// queue's storage handed over rather than kept.
    pub fn take_events(&mut self) -> VecDeque<EngineEvent> {
        std::mem::take(&mut self.events)
    }

    /// When [`Session::on_timeout`] must run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let closing = match self.state {
            State::Closed { linger } => return linger,
            State::Closing {
                stage: Closing::AwaitPoll { deadline } | Closing::ClientClosed { deadline },
                ..
            } => Some(deadline),
            State::Closing { .. } | State::Open => None,
        };
        let upgrade = self.upgrade.as_deref().map(Upgrade::next_deadline);
        [Some(self.heartbeat.deadline()), closing, upgrade].into_iter().flatten().min()
    }

    /// Runs whatever is due at `now`: pings, timeouts, the upgrade's noop and timeout.
    pub fn on_timeout(&mut self, now: Instant) {
        match self.state {
            State::Closed { linger: Some(at) } if at <= now => {
                // Nobody collected the last outputs in time: drop them.
                self.sockets.clear();
                if let Some(polling) = self.polling.as_deref_mut() {
                    polling.answered.clear();
                }
                self.state = State::Closed { linger: None };
                return;
            }
            State::Closed { .. } => return,
            State::Closing {
                reason,
                stage: Closing::AwaitPoll { deadline } | Closing::ClientClosed { deadline },
            } if deadline <= now => {
                self.close_with(reason, now);
                return;
            }
            State::Closing { .. } | State::Open => {}
        }
        if self.heartbeat.deadline() <= now {
            self.on_heartbeat_due(now);
        }
        self.on_upgrade_timers(now);
    }

    /// Runs what fell due before an input that arrives at `now`, as Node's event loop runs due
    /// timers before it reads new requests: a request never finds the session alive past its
    /// ping timeout because the shard's timer had not run yet.
    pub(super) fn catch_up(&mut self, now: Instant) {
        // A few rounds at most: a ping due, then its timeout; an upgrade check, then the rest.
        for _ in 0..4 {
            if self.next_deadline().is_none_or(|deadline| deadline > now) {
                return;
            }
            self.on_timeout(now);
        }
    }

    /// The client closed (its close packet came when no GET was parked), and a GET it sent
    /// before may still be on its way: wait for it within the reorder window.
    pub(super) fn is_client_closed(&self) -> bool {
        matches!(self.state, State::Closing { stage: Closing::ClientClosed { .. }, .. })
    }

    /// Closed, and every output and event collected: the table may forget the session.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Closed { .. })
            && self.events.is_empty()
            && self.polling.as_ref().is_none_or(|p| p.answered.is_empty())
            && self.sockets.is_empty()
    }

    pub(super) fn add_socket(&mut self, supports_binary: bool, role: WsRole) -> WsId {
        let id = WsId(self.next_ws);
        self.next_ws = self.next_ws.wrapping_add(1);
        // Mostly one socket for the session's life: no spare room until a second one comes.
        self.sockets.reserve_exact(1);
        self.sockets.push(WsConn::new(id, supports_binary, role));
        id
    }

    pub(super) fn answer_poll(&mut self, ticket: PollTicket, packets: &[Packet]) {
        let version = self.version;
        let polling = self.polling_mut();
        let body = polling.encode(version, packets);
        polling.answer(ticket, PollAnswer::Body(body));
    }

    /// The polling side, made on first use.
    pub(super) fn polling_mut(&mut self) -> &mut PollingSide {
        self.polling.get_or_insert_default()
    }

    /// The parked GET, taken; `None` when none is (or the session never polled).
    pub(super) fn take_parked(&mut self) -> Option<PollTicket> {
        self.polling.as_deref_mut()?.parked.take()
    }

    pub(super) fn cancel_post(&mut self) {
        if let Some(polling) = self.polling.as_deref_mut() {
            polling.cancel_post();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;
    use std::time::Duration;

    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::engine::sim::Sim;
    use crate::engine::{PollGet, WsId};
    use crate::protocol::Frame;

    #[derive(Clone, Debug)]
    enum Op {
        Get,
        Post(Vec<u8>, bool),
        Attach,
        Frame(u8, Vec<u8>, bool),
        WsGone(u8, bool),
        Drain(u8),
        Send,
        Close(bool),
        Advance(u16),
        Abort,
    }

    fn op() -> impl Strategy<Value = Op> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..24);
        let text =
            || proptest::sample::select(vec!["2probe", "5", "3", "2", "4hi", "1", "6", "bAQID", "3probe"]);
        prop_oneof![
            Just(Op::Get),
            (bytes(), any::<bool>()).prop_map(|(b, bin)| Op::Post(b, bin)),
            text().prop_map(|t| Op::Post(t.as_bytes().to_vec(), false)),
            Just(Op::Attach),
            (0u8..3, bytes(), any::<bool>()).prop_map(|(w, b, t)| Op::Frame(w, b, t)),
            (0u8..3, text()).prop_map(|(w, t)| Op::Frame(w, t.as_bytes().to_vec(), true)),
            (0u8..3, any::<bool>()).prop_map(|(w, e)| Op::WsGone(w, e)),
            (0u8..3).prop_map(Op::Drain),
            Just(Op::Send),
            any::<bool>().prop_map(Op::Close),
            any::<u16>().prop_map(Op::Advance),
            Just(Op::Abort),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_inputs_never_panic(v3 in any::<bool>(), ops in proptest::collection::vec(op(), 0..40)) {
            let version = if v3 { EioVersion::V3 } else { EioVersion::V4 };
            let mut sim = Sim::polling(version);
            let mut tickets = Vec::new();
            let mut closed = 0;
            for op in ops {
                let now = sim.now;
                let s = &mut sim.session;
                match op {
                    Op::Get => {
                        if let PollGet::Wait(t) = s.on_poll_get(now) {
                            tickets.push(t);
                        }
                    }
                    Op::Post(body, bin) => {
                        let ct = bin.then_some(&b"application/octet-stream"[..]);
                        s.on_post(ct, Bytes::from(body), now);
                    }
                    Op::Attach => {
                        let _ = s.attach_websocket(true, now);
                    }
                    Op::Frame(w, b, text) => {
                        let frame = match String::from_utf8(b) {
                            Ok(t) if text => Frame::Text(t.into()),
                            Ok(t) => Frame::Binary(Bytes::from(t.into_bytes())),
                            Err(e) => Frame::Binary(Bytes::from(e.into_bytes())),
                        };
                        s.on_ws_frame(WsId(w.into()), frame, now);
                    }
                    Op::WsGone(w, true) => s.on_ws_error(WsId(w.into()), now),
                    Op::WsGone(w, false) => s.on_ws_closed(WsId(w.into()), now),
                    Op::Drain(w) => {
                        s.drain_ws(WsId(w.into()), &mut Vec::new());
                    }
                    Op::Send => {
                        let _ = s.send(Packet::message("x"));
                    }
                    Op::Close(true) => s.close(DisconnectReason::ForcedClose, now),
                    Op::Close(false) => s.close_now(DisconnectReason::ServerShuttingDown, now),
                    Op::Advance(ms) => sim.advance(Duration::from_millis(u64::from(ms) * 10)),
                    Op::Abort => {
                        if let Some(t) = tickets.pop() {
                            s.on_poll_aborted(t, now);
                        }
                    }
                }
                for t in &tickets {
                    let _ = sim.session.poll_response(*t, Waker::noop());
                }
                for event in sim.events() {
                    prop_assert_eq!(closed, 0, "an event after Closed");
                    if matches!(event, EngineEvent::Closed(_)) {
                        closed += 1;
                    }
                }
                if let Some(deadline) = sim.session.next_deadline() {
                    prop_assert!(deadline > sim.now, "a deadline left in the past");
                }
            }
        }
    }
}
