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
        if self.polling_mut().parked.is_some() {
            self.close_with(DisconnectReason::TransportError, now);
            return PollGet::Overlap;
        }
        let polling = self.polling_mut();
        let ticket = PollTicket(polling.next_ticket);
        polling.next_ticket = polling.next_ticket.wrapping_add(1);
        polling.parked = Some(ticket);
        polling.parked_at = Some(now);
        match self.state {
            State::Closing { reason, stage: Closing::AwaitDrain } => {
                let packets = std::mem::take(&mut self.queue);
                self.polling_mut().parked = None;
                self.answer_poll(ticket, &packets);
                self.await_closing_poll(reason, now);
            }
            State::Closing { reason, stage: Closing::ClientClosed { .. } } => {
                self.polling_mut().parked = None;
                self.answer_poll(ticket, &[Packet::empty(PacketType::Noop)]);
                self.close_with(reason, now);
            }
            State::Closing { reason, stage: Closing::AwaitPoll { .. } } => {
                self.polling_mut().parked = None;
                let last = [Packet::empty(PacketType::Noop), Packet::empty(PacketType::Close)];
                self.answer_poll(ticket, &last);
                self.close_with(reason, now);
            }
            State::Open | State::Closed { .. } => self.flush(),
        }
        self.polling_mut().take_answer(ticket).map_or(PollGet::Wait(ticket), PollGet::from)
    }

    /// The answer for a parked GET: `Ready(Some(body))` once decided, `Pending` (with `waker`
    /// registered) until then, `Ready(None)` if the ticket is unknown (aborted, or the session
    /// was dropped): close the connection.
    pub fn poll_response(&mut self, ticket: PollTicket, waker: &Waker) -> Poll<Option<PollAnswer>> {
        if let Some(body) = self.polling_mut().take_answer(ticket) {
            return Poll::Ready(Some(body));
        }
        if self.polling_mut().parked != Some(ticket) {
            return Poll::Ready(None);
        }
        match &mut self.polling_mut().waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        Poll::Pending
    }

    /// The parked GET's connection closed before its answer (Node: "poll connection closed
    /// prematurely", a transport error).
    pub fn on_poll_aborted(&mut self, ticket: PollTicket, now: Instant) {
        let polling = self.polling_mut();
        if polling.parked == Some(ticket) {
            polling.parked = None;
            polling.waker = None;
            self.close_with(DisconnectReason::TransportError, now);
        } else {
            self.polling_mut().take_answer(ticket);
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
        if matches!(self.polling_mut().post, PostState::InFlight(_))
            || (binary && self.version == EioVersion::V4)
        {
            self.close_with(DisconnectReason::TransportError, now);
            return Err(PostReply::Rejected);
        }
        self.polling_mut().post = PostState::InFlight(PayloadFormat::for_request(self.version, content_type));
        Ok(())
    }

    /// The body of the POST begun with [`Session::begin_post`].
    pub fn finish_post(&mut self, body: Bytes, now: Instant) -> PostReply {
        let format = match std::mem::take(&mut self.polling_mut().post) {
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
        if matches!(std::mem::take(&mut self.polling_mut().post), PostState::InFlight(_)) {
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
        if let Some(ticket) = self.polling_mut().parked.take() {
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
mod tests;
