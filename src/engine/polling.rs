//! The HTTP long-polling side of a session, as engine.io 6.6 `lib/transports/polling.ts`
//! (`onPollRequest`, `onDataRequest`, `onData`, `onClose`, `doClose`) and the transport check
//! of `lib/server.ts` `verify`.
//!
//! GET: the queue is answered at once if it holds anything, else the request is parked
//! ([`PollGet::Wait`]) until a packet is sent, the upgrade's noop is due or the session closes.
//! The runtime then awaits [`Session::poll_response`], which registers its `Waker`. At most one
//! GET is parked: a second one closes the session ("transport error"), the parked one gets the
//! close packet and the second a bare 400.
//!
//! POST: [`Session::begin_post`] when the headers arrive, [`Session::finish_post`] with the body
//! (or [`Session::on_post`] for both at once). Packets before a malformed one are delivered,
//! then the session closes with "parse error" and the POST still gets `ok`, as in Node. A body
//! over `max_payload` gets 413 and closes the session ("transport error"): Node answers 413 and
//! only drops the body, but its client closes the session on that answer, so both ends agree
//! at once instead of after a ping timeout.

use std::task::{Poll, Waker};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use super::DisconnectReason;
use super::session::{Closing, Session, State, TransportKind};
use crate::protocol::payload::{self, PayloadFormat, V3BinaryPackets, V3TextPackets, V4Packets};
use crate::protocol::{DecodeError, EioVersion, Packet, PacketType};

/// Names one parked GET.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PollTicket(u32);

/// A polling response body: `200`, `Content-Type: {content_type()}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollBody {
    pub format: PayloadFormat,
    pub body: Bytes,
}

impl PollBody {
    pub fn content_type(&self) -> &'static str {
        self.format.content_type()
    }
}

/// What a parked GET gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollAnswer {
    /// `200` with this body.
    Body(PollBody),
    /// `400 {"code":3,"message":"Bad request"}`: the session upgraded to its WebSocket, and
    /// the GET is answered as if it had come after the upgrade (see
    /// [`EngineConfig::reorder_window`](super::EngineConfig::reorder_window)).
    BadRequest,
}

impl From<PollAnswer> for PollGet {
    fn from(answer: PollAnswer) -> PollGet {
        match answer {
            PollAnswer::Body(body) => PollGet::Respond(body),
            PollAnswer::BadRequest => PollGet::BadRequest,
        }
    }
}

/// How to answer a polling GET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollGet {
    /// Answer now with this body.
    Respond(PollBody),
    /// Park the request and await [`Session::poll_response`] with this ticket.
    Wait(PollTicket),
    /// `400` with an empty body: another GET was parked. The session is closed ("transport
    /// error") and the parked GET gets a close packet.
    Overlap,
    /// `400 {"code":3,"message":"Bad request"}`: the session is on its WebSocket now.
    BadRequest,
    /// `400 {"code":1,"message":"Session ID unknown"}`: the session is closed.
    UnknownSession,
}

/// How to answer a polling POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostReply {
    /// `200`, `Content-Type: text/html`, `Content-Length: 2`, body `ok` (see [`PostReply::OK_BODY`]).
    Ok,
    /// `413` with an empty body; the session is closed ("transport error").
    PayloadTooLarge,
    /// `400` with an empty body: a POST was already in flight, or a v4 binary body. The
    /// session is closed ("transport error").
    Rejected,
    /// `400 {"code":3,"message":"Bad request"}`: the session is on its WebSocket now.
    BadRequest,
    /// `400 {"code":1,"message":"Session ID unknown"}`: the session is closed.
    UnknownSession,
    /// The session closed or upgraded while the body was read: drop the connection without
    /// an answer (Node destroys the request).
    Aborted,
}

impl PostReply {
    pub const OK_BODY: &'static [u8] = b"ok";
    /// text/html, not text/plain, so that old user agents do not offer a download (engine.io GH-43).
    pub const OK_CONTENT_TYPE: &'static str = "text/html";
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum PostState {
    #[default]
    Idle,
    InFlight(PayloadFormat),
    /// The transport was closed under the POST: its body is not read.
    Cancelled,
}

#[derive(Debug, Default)]
pub(super) struct PollingSide {
    pub(super) supports_binary: bool,
    /// Node's `writable`: a GET waits for data.
    pub(super) parked: Option<PollTicket>,
    /// When the parked GET arrived.
    pub(super) parked_at: Option<Instant>,
    /// Answers decided for GETs the runtime has not collected yet.
    pub(super) answered: Vec<(PollTicket, PollAnswer)>,
    pub(super) post: PostState,
    waker: Option<Waker>,
    next_ticket: u32,
}

impl PollingSide {
    pub(super) fn encode(&self, version: EioVersion, packets: &[Packet]) -> PollBody {
        let format = PayloadFormat::for_response(version, self.supports_binary, packets);
        let mut out = BytesMut::new();
        payload::encode(format, packets, &mut out);
        PollBody { format, body: out.freeze() }
    }

    pub(super) fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    pub(super) fn cancel_post(&mut self) {
        if matches!(self.post, PostState::InFlight(_)) {
            self.post = PostState::Cancelled;
        }
    }

    /// Decides the answer of the GET `ticket` and wakes its runtime task.
    pub(super) fn answer(&mut self, ticket: PollTicket, answer: PollAnswer) {
        self.answered.push((ticket, answer));
        self.wake();
    }

    fn take_answer(&mut self, ticket: PollTicket) -> Option<PollAnswer> {
        let i = self.answered.iter().position(|(t, _)| *t == ticket)?;
        Some(self.answered.swap_remove(i).1)
    }
}

impl Session {
    /// A polling GET for this session (including the handshake GET).
    pub fn on_poll_get(&mut self, now: Instant) -> PollGet {
        self.catch_up(now);
        if matches!(self.state, State::Closed { .. }) {
            return PollGet::UnknownSession;
        }
        if self.transport != TransportKind::Polling {
            return PollGet::BadRequest;
        }
        if self.polling.parked.is_some() {
            self.close_with(DisconnectReason::TransportError, now);
            return PollGet::Overlap;
        }
        let ticket = PollTicket(self.polling.next_ticket);
        self.polling.next_ticket = self.polling.next_ticket.wrapping_add(1);
        self.polling.parked = Some(ticket);
        self.polling.parked_at = Some(now);
        match self.state {
            State::Closing { reason, stage: Closing::AwaitDrain } => {
                let packets = std::mem::take(&mut self.queue);
                self.polling.parked = None;
                self.answer_poll(ticket, &packets);
                self.await_closing_poll(reason, now);
            }
            State::Closing { reason, stage: Closing::ClientClosed { .. } } => {
                self.polling.parked = None;
                self.answer_poll(ticket, &[Packet::empty(PacketType::Noop)]);
                self.close_with(reason, now);
            }
            State::Closing { reason, stage: Closing::AwaitPoll { .. } } => {
                self.polling.parked = None;
                let last = [Packet::empty(PacketType::Noop), Packet::empty(PacketType::Close)];
                self.answer_poll(ticket, &last);
                self.close_with(reason, now);
            }
            State::Open | State::Closed { .. } => self.flush(),
        }
        self.polling.take_answer(ticket).map_or(PollGet::Wait(ticket), PollGet::from)
    }

    /// The answer for a parked GET: `Ready(Some(body))` once decided, `Pending` (with `waker`
    /// registered) until then, `Ready(None)` if the ticket is unknown (aborted, or the session
    /// was dropped): close the connection.
    pub fn poll_response(&mut self, ticket: PollTicket, waker: &Waker) -> Poll<Option<PollAnswer>> {
        if let Some(body) = self.polling.take_answer(ticket) {
            return Poll::Ready(Some(body));
        }
        if self.polling.parked != Some(ticket) {
            return Poll::Ready(None);
        }
        match &mut self.polling.waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        Poll::Pending
    }

    /// The parked GET's connection closed before its answer (Node: "poll connection closed
    /// prematurely", a transport error).
    pub fn on_poll_aborted(&mut self, ticket: PollTicket, now: Instant) {
        if self.polling.parked == Some(ticket) {
            self.polling.parked = None;
            self.polling.waker = None;
            self.close_with(DisconnectReason::TransportError, now);
        } else {
            self.polling.take_answer(ticket);
        }
    }

    /// A polling POST's headers arrived. `Ok` means: read the body (at most `max_payload`
    /// bytes, else answer [`PostReply::PayloadTooLarge`] via [`Session::finish_post`] or
    /// directly) and call [`Session::finish_post`] or [`Session::abort_post`].
    pub fn begin_post(&mut self, content_type: Option<&[u8]>, now: Instant) -> Result<(), PostReply> {
        self.catch_up(now);
        if matches!(self.state, State::Closed { .. }) || self.is_client_closed() {
            return Err(PostReply::UnknownSession);
        }
        if self.transport != TransportKind::Polling {
            return Err(PostReply::BadRequest);
        }
        let binary = content_type.is_some_and(|v| v.trim_ascii() == b"application/octet-stream");
        if matches!(self.polling.post, PostState::InFlight(_)) || (binary && self.version == EioVersion::V4) {
            self.close_with(DisconnectReason::TransportError, now);
            return Err(PostReply::Rejected);
        }
        self.polling.post = PostState::InFlight(PayloadFormat::for_request(self.version, content_type));
        Ok(())
    }

    /// The body of the POST begun with [`Session::begin_post`].
    pub fn finish_post(&mut self, body: Bytes, now: Instant) -> PostReply {
        let format = match std::mem::take(&mut self.polling.post) {
            PostState::InFlight(format) => format,
            PostState::Cancelled | PostState::Idle => return PostReply::Aborted,
        };
        if body.len() > self.config.max_payload {
            self.close_now(DisconnectReason::TransportError, now);
            return PostReply::PayloadTooLarge;
        }
        for item in PostPackets::new(format, body) {
            match item {
                Ok(p) if p.kind == PacketType::Close => {
                    self.on_polling_client_close(now);
                    break;
                }
                Ok(p) => self.on_packet(p, now),
                Err(_) => {
                    if self.state == State::Open {
                        self.close_with(DisconnectReason::ParseError, now);
                    }
                    break;
                }
            }
        }
        PostReply::Ok
    }

    /// The POST's connection failed while its body was read (Node: "data request connection
    /// closed prematurely", a transport error).
    pub fn abort_post(&mut self, now: Instant) {
        if matches!(std::mem::take(&mut self.polling.post), PostState::InFlight(_)) {
            self.close_with(DisconnectReason::TransportError, now);
        }
    }

    /// [`Session::begin_post`] and [`Session::finish_post`] at once, for a body already read.
    pub fn on_post(&mut self, content_type: Option<&[u8]>, body: Bytes, now: Instant) -> PostReply {
        match self.begin_post(content_type, now) {
            Ok(()) => self.finish_post(body, now),
            Err(reply) => reply,
        }
    }

    /// A close packet in a POST (polling `onClose`): a parked GET is released with a noop,
    /// then the session closes with "transport close" (even while closing). With no GET
    /// parked, one may be on its way ([`EngineConfig::reorder_window`]): the session waits for
    /// it that long, refusing everything else.
    ///
    /// [`EngineConfig::reorder_window`]: super::EngineConfig::reorder_window
    fn on_polling_client_close(&mut self, now: Instant) {
        let reason = DisconnectReason::TransportClose;
        if let Some(ticket) = self.polling.parked.take() {
            self.answer_poll(ticket, &[Packet::empty(PacketType::Noop)]);
        } else if self.state == State::Open && !self.config.reorder_window.is_zero() {
            let deadline = now + self.config.reorder_window;
            self.state = State::Closing { reason, stage: Closing::ClientClosed { deadline } };
            self.queue.clear();
            return;
        }
        self.close_with(reason, now);
    }

    /// Node `socket.onPacket`, for both transports.
    pub(super) fn on_packet(&mut self, packet: Packet, now: Instant) {
        if self.state != State::Open {
            return;
        }
        match packet.kind {
            PacketType::Ping => self.on_client_ping(now),
            PacketType::Pong => self.on_client_pong(now),
            PacketType::Message => self.events.push_back(super::EngineEvent::Message(packet.data)),
            PacketType::Open | PacketType::Close | PacketType::Upgrade | PacketType::Noop => {}
        }
    }
}

/// The packets of a POST body, decoded lazily so that the ones before an error count.
enum PostPackets {
    V4(V4Packets),
    V3Text(V3TextPackets),
    V3Binary(V3BinaryPackets),
}

impl PostPackets {
    fn new(format: PayloadFormat, body: Bytes) -> Self {
        match format {
            PayloadFormat::V4 => PostPackets::V4(payload::decode_v4(text_body(body))),
            PayloadFormat::V3Text => PostPackets::V3Text(payload::decode_v3_text(text_body(body))),
            PayloadFormat::V3Binary => PostPackets::V3Binary(payload::decode_v3_binary(body)),
        }
    }
}

impl Iterator for PostPackets {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            PostPackets::V4(it) => it.next(),
            PostPackets::V3Text(it) => it.next(),
            PostPackets::V3Binary(it) => it.next(),
        }
    }
}

/// Node reads text bodies with `setEncoding("utf8")`: bad sequences become U+FFFD.
fn text_body(body: Bytes) -> ByteString {
    ByteString::try_from(body.clone())
        .unwrap_or_else(|_| ByteString::from(String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::time::Duration;

    use super::*;
    use crate::engine::sim::Sim;
    use crate::engine::{EngineConfig, EngineEvent, ReadyState, WsRefusal};
    use crate::protocol::Data;

    fn msg(s: &'static str) -> EngineEvent {
        EngineEvent::Message(Data::Text(ByteString::from_static(s)))
    }

    #[test]
    fn handshake_get_carries_the_open_packet() {
        let mut v4 = Sim::polling(EioVersion::V4);
        assert_eq!(v4.get_now(), r#"0{"sid":"s"}"#);
        let mut v3 = Sim::polling(EioVersion::V3);
        assert_eq!(v3.get_now(), r#"12:0{"sid":"s"}"#);
    }

    #[test]
    fn queued_packets_share_one_body() {
        let mut sim = Sim::polling(EioVersion::V4);
        for m in ["a", "b", "c"] {
            sim.session.send(Packet::message(m)).unwrap();
        }
        assert_eq!(sim.get_now(), "0{\"sid\":\"s\"}\x1e4a\x1e4b\x1e4c");

        let mut v3 = Sim::polling(EioVersion::V3);
        v3.session.send(Packet::message("a")).unwrap();
        v3.session.send(Packet::binary(&[1u8, 2][..])).unwrap();
        match v3.get() {
            PollGet::Respond(body) => {
                assert_eq!(body.content_type(), "application/octet-stream");
                assert_eq!(
                    &body.body[..],
                    b"\x00\x01\x02\xff0{\"sid\":\"s\"}\x00\x02\xff4a\x01\x03\xff\x04\x01\x02"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn get_waits_until_a_packet_is_sent() {
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        let ticket = sim.park();
        assert_eq!(sim.answer(ticket), None);
        // As in Node, the parked GET takes what is queued when the first packet arrives.
        sim.session.send(Packet::message("a")).unwrap();
        sim.session.send(Packet::message("b")).unwrap();
        assert_eq!(sim.answer(ticket).as_deref(), Some("4a"));
        assert_eq!(sim.get_now(), "4b");
        // send_batch puts a whole batch in one answer.
        let ticket = sim.park();
        sim.session.send_batch([Packet::message("c"), Packet::message("d")]).unwrap();
        assert_eq!(sim.answer(ticket).as_deref(), Some("4c\x1e4d"));
    }

    #[test]
    fn concurrent_get_closes_with_transport_error() {
        for (version, close) in [(EioVersion::V4, "1"), (EioVersion::V3, "1:1")] {
            let mut sim = Sim::polling(version);
            sim.get_now();
            let first = sim.park();
            assert_eq!(sim.get(), PollGet::Overlap);
            assert_eq!(sim.answer(first).as_deref(), Some(close));
            assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);
            assert_eq!(sim.get(), PollGet::UnknownSession);
            assert!(sim.session.is_finished());
        }
    }

    #[test]
    fn oversized_post_is_413_and_closes_the_session() {
        let config = Rc::new(EngineConfig { max_payload: 8, ..EngineConfig::default() });
        let mut sim = Sim::polling_with(EioVersion::V4, config.clone());
        assert_eq!(sim.post("4abcdefg"), PostReply::Ok);
        assert_eq!(sim.events(), [msg("abcdefg")]);
        assert_eq!(sim.post("4abcdefgh"), PostReply::PayloadTooLarge);
        assert_eq!(sim.session.ready_state(), ReadyState::Closed);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);
    }

    #[test]
    fn parse_error_delivers_the_prefix_then_closes() {
        for (version, body, close) in
            [(EioVersion::V4, "4a\x1e9", "1"), (EioVersion::V3, "2:4a1:9", "1:1"), (EioVersion::V4, "", "1")]
        {
            let mut sim = Sim::polling(version);
            sim.get_now();
            let parked = sim.park();
            assert_eq!(sim.post(body), PostReply::Ok, "{body:?}");
            let mut expected =
                if body.starts_with("4a") || body.starts_with("2:4a") { vec![msg("a")] } else { vec![] };
            expected.push(EngineEvent::Closed(DisconnectReason::ParseError));
            assert_eq!(sim.events(), expected, "{body:?}");
            assert_eq!(sim.answer(parked).as_deref(), Some(close));
        }
    }

    #[test]
    fn post_messages_and_client_close() {
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        let parked = sim.park();
        assert_eq!(sim.post("4hello\x1e4world\x1e1\x1e4ignored"), PostReply::Ok);
        // Polling's onClose releases the parked GET with a noop, not a close packet.
        assert_eq!(sim.answer(parked).as_deref(), Some("6"));
        let closed = EngineEvent::Closed(DisconnectReason::TransportClose);
        assert_eq!(sim.events(), [msg("hello"), msg("world"), closed]);
        assert_eq!(sim.post("4late"), PostReply::UnknownSession);
    }

    #[test]
    fn client_close_waits_for_a_get_within_the_reorder_window() {
        let closed = EngineEvent::Closed(DisconnectReason::TransportClose);
        // The GET sent with the close packet is processed after it: it gets the noop Node
        // gives the GET that was parked, then the session is gone.
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        assert_eq!(sim.post("1"), PostReply::Ok);
        assert!(sim.events().is_empty(), "closed before the window ends");
        assert!(sim.session.send(Packet::message("late")).is_err());
        assert_eq!(sim.post("4x"), PostReply::UnknownSession);
        assert_eq!(sim.session.attach_websocket(true, sim.now), Err(WsRefusal::UnknownSession));
        sim.ms(5);
        assert_eq!(sim.get_now(), "6");
        assert_eq!(sim.events(), std::slice::from_ref(&closed));
        assert_eq!(sim.get(), PollGet::UnknownSession);

        // No GET within the window: the session closes when it ends.
        let mut sim = Sim::polling(EioVersion::V3);
        sim.get_now();
        assert_eq!(sim.post("1:1"), PostReply::Ok);
        assert_eq!(sim.session.next_deadline(), Some(sim.now + sim.session.config.reorder_window));
        sim.advance(sim.session.config.reorder_window);
        assert_eq!(sim.events(), [closed]);
        assert_eq!(sim.get(), PollGet::UnknownSession);

        // Without a window (one shard, say) the close is immediate, as in Node.
        let config = Rc::new(EngineConfig { reorder_window: Duration::ZERO, ..EngineConfig::default() });
        let mut sim = Sim::polling_with(EioVersion::V4, config);
        sim.get_now();
        assert_eq!(sim.post("1"), PostReply::Ok);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportClose)]);
        assert_eq!(sim.get(), PollGet::UnknownSession);
    }

    #[test]
    fn requests_after_a_deadline_see_it_passed() {
        // The shard's timer has not run yet when the GET comes: the GET runs it first.
        let mut sim = Sim::polling(EioVersion::V4);
        let t0 = sim.now;
        sim.get_now();
        let config = sim.session.config.clone();
        sim.now = t0 + config.ping_interval + config.ping_timeout;
        assert_eq!(sim.get(), PollGet::UnknownSession);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::PingTimeout)]);

        // A ping due before the GET is in its answer.
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        sim.now += config.ping_interval;
        assert_eq!(sim.get_now(), "2");
        // The pong deadline counts from when the ping was due, not from when it was sent.
        sim.now += Duration::from_millis(7);
        assert_eq!(sim.post("3"), PostReply::Ok);
        let mut sim = Sim::polling(EioVersion::V4);
        let t0 = sim.now;
        sim.get_now();
        sim.now = t0 + config.ping_interval + Duration::from_millis(7);
        assert_eq!(sim.get_now(), "2");
        sim.now = t0 + config.ping_interval + config.ping_timeout;
        assert_eq!(sim.post("3"), PostReply::UnknownSession);
    }

    #[test]
    fn rejected_posts_close_with_transport_error() {
        let mut sim = Sim::polling(EioVersion::V4);
        let octets = Some(&b"application/octet-stream"[..]);
        assert_eq!(sim.session.on_post(octets, Bytes::from_static(b"\x04"), sim.now), PostReply::Rejected);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);

        let mut sim = Sim::polling(EioVersion::V3);
        assert_eq!(sim.session.begin_post(None, sim.now), Ok(()));
        assert_eq!(sim.session.begin_post(None, sim.now), Err(PostReply::Rejected));
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);
        assert_eq!(sim.session.finish_post(Bytes::from_static(b"2:4a"), sim.now), PostReply::Aborted);

        let mut sim = Sim::polling(EioVersion::V3);
        assert_eq!(
            sim.session.on_post(octets, Bytes::from_static(b"\x00\x02\xff4a"), sim.now),
            PostReply::Ok
        );
        assert_eq!(sim.events(), [msg("a")]);
        sim.session.begin_post(None, sim.now).unwrap();
        sim.session.abort_post(sim.now);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);
    }

    #[test]
    fn aborted_get_is_a_transport_error() {
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        let parked = sim.park();
        sim.session.on_poll_aborted(parked, sim.now);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);
        assert!(sim.session.is_finished());
    }

    #[test]
    fn server_close_over_polling() {
        const FORCED: EngineEvent = EngineEvent::Closed(DisconnectReason::ForcedClose);
        // A parked GET carries the close packet at once.
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        let parked = sim.park();
        sim.session.close(DisconnectReason::ForcedClose, sim.now);
        assert_eq!(sim.answer(parked).as_deref(), Some("1"));
        assert_eq!(sim.events(), [FORCED]);

        // Queued packets go out first, the close packet on the GET after.
        let mut sim = Sim::polling(EioVersion::V4);
        sim.session.close(DisconnectReason::ForcedClose, sim.now);
        assert_eq!(sim.session.ready_state(), ReadyState::Closing);
        assert!(sim.session.send(Packet::message("late")).is_err());
        assert_eq!(sim.get_now(), r#"0{"sid":"s"}"#);
        assert!(sim.events().is_empty());
        assert_eq!(sim.get_now(), "6\x1e1");
        assert_eq!(sim.events(), [FORCED]);

        // v3, empty queue, no GET: the next GET gets noop + close.
        let mut sim = Sim::polling(EioVersion::V3);
        sim.get_now();
        sim.session.close(DisconnectReason::ServerShuttingDown, sim.now);
        assert_eq!(sim.get_now(), "1:61:1");
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::ServerShuttingDown)]);

        // Without a GET, the close completes after polling's 30 s close timeout.
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        sim.session.close(DisconnectReason::ForcedClose, sim.now);
        sim.ms(29_999);
        assert!(sim.events().is_empty());
        sim.ms(1);
        assert_eq!(sim.events(), [FORCED]);
    }

    #[test]
    fn full_queue_hands_the_packet_back() {
        let config = Rc::new(EngineConfig { max_buffered_packets: 2, ..EngineConfig::default() });
        let mut sim = Sim::polling_with(EioVersion::V4, config);
        sim.session.send(Packet::message("a")).unwrap();
        match sim.session.send(Packet::message("b")) {
            Err(e @ crate::engine::SendError::Full(_)) => assert_eq!(e.into_packet(), Packet::message("b")),
            other => panic!("{other:?}"),
        }
        sim.get_now();
        sim.session.send(Packet::message("b")).unwrap();
    }
}
