//! Test driver for one session with simulated time (after quinn-proto's `tests/util.rs`):
//! `advance` moves a fake clock and runs every deadline exactly when it falls, so heartbeat and
//! upgrade tests never sleep.

use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;

use super::{EngineConfig, EngineEvent, PollAnswer, PollGet, PollTicket, PostReply, Session, WsId, WsStatus};
use crate::protocol::{EioVersion, Frame};

pub(super) const OPEN: &str = r#"{"sid":"s"}"#;

pub(super) struct Sim {
    pub(super) now: Instant,
    pub(super) session: Session,
}

impl Sim {
    pub(super) fn config() -> Rc<EngineConfig> {
        Rc::new(EngineConfig::default())
    }

    pub(super) fn polling(version: EioVersion) -> Sim {
        Self::polling_with(version, Self::config())
    }

    pub(super) fn polling_with(version: EioVersion, config: Rc<EngineConfig>) -> Sim {
        let now = Instant::now();
        let session = Session::polling(config, version, true, ByteString::from_static(OPEN), now);
        Sim { now, session }
    }

    pub(super) fn websocket(version: EioVersion) -> (Sim, WsId) {
        let now = Instant::now();
        let (session, ws) =
            Session::websocket(Self::config(), version, true, ByteString::from_static(OPEN), now);
        (Sim { now, session }, ws)
    }

    /// Moves the clock by `d`, firing every deadline at its exact instant on the way.
    pub(super) fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(deadline) = self.session.next_deadline().filter(|&t| t <= target) {
            self.now = self.now.max(deadline);
            self.session.on_timeout(self.now);
        }
        self.now = target;
    }

    pub(super) fn ms(&mut self, n: u64) {
        self.advance(Duration::from_millis(n));
    }

    pub(super) fn get(&mut self) -> PollGet {
        self.session.on_poll_get(self.now)
    }

    /// A GET that must be answered at once; its body as text.
    pub(super) fn get_now(&mut self) -> String {
        match self.get() {
            PollGet::Respond(body) => text(&body.body),
            other => panic!("expected an immediate answer, got {other:?}"),
        }
    }

    pub(super) fn park(&mut self) -> PollTicket {
        match self.get() {
            PollGet::Wait(ticket) => ticket,
            other => panic!("expected the GET to wait, got {other:?}"),
        }
    }

    /// The parked GET's answer, if decided.
    pub(super) fn answer(&mut self, ticket: PollTicket) -> Option<String> {
        match self.session.poll_response(ticket, Waker::noop()) {
            Poll::Ready(Some(PollAnswer::Body(body))) => Some(text(&body.body)),
            Poll::Ready(Some(PollAnswer::BadRequest)) => Some("400 Bad request".to_string()),
            Poll::Ready(None) => panic!("ticket unknown"),
            Poll::Pending => None,
        }
    }

    pub(super) fn post(&mut self, body: &'static str) -> PostReply {
        self.session.on_post(None, Bytes::from_static(body.as_bytes()), self.now)
    }

    pub(super) fn frame(&mut self, ws: WsId, text: &'static str) {
        self.session.on_ws_frame(ws, Frame::Text(ByteString::from_static(text)), self.now);
    }

    /// Everything queued for `ws`, text frames as strings.
    pub(super) fn drain(&mut self, ws: WsId) -> (Vec<String>, WsStatus) {
        let mut out = Vec::new();
        let status = self.session.drain_ws(ws, &mut out);
        let frames = out
            .into_iter()
            .map(|f| match f {
                Frame::Text(t) => t.to_string(),
                Frame::Message(t) => format!("4{t}"),
                Frame::Binary(b) => format!("<binary {b:?}>"),
                Frame::Prebuilt(f) => format!("<prebuilt {f:?}>"),
            })
            .collect();
        (frames, status)
    }

    pub(super) fn events(&mut self) -> Vec<EngineEvent> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }
}

pub(super) fn text(body: &Bytes) -> String {
    String::from_utf8(body.to_vec()).expect("test bodies are UTF-8")
}
