//! The WebSocket side of a session, as engine.io 6.6 `lib/transports/websocket.ts` and the
//! WebSocket checks of `lib/server.ts` (`onWebSocket`).
//!
//! A session knows each of its WebSockets by a [`WsId`]: the active one, a probing one during
//! an upgrade, and ones that must still be told to close. Frames arrive de-framed
//! ([`Session::on_ws_frame`]); outgoing frames are pulled in batches with [`Session::drain_ws`]
//! (or [`Session::poll_ws`], which registers the writer's `Waker`), so the runtime writes
//! everything queued with one syscall. A WebSocket is closed by the server with a plain close
//! frame (Node's `ws.close()`), never with an Engine.IO close packet.

use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::DisconnectReason;
use super::session::{Session, State, TransportKind};
use crate::protocol::Frame;
use crate::protocol::ws_message;

/// Names one WebSocket of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WsId(pub(super) u32);

/// What the writer of a WebSocket does after sending the drained frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsStatus {
    /// Keep the WebSocket open.
    Open,
    /// Send a close frame (no status code, as `ws.close()`) and shut it down. The id is dead.
    Close,
}

/// Why a WebSocket with a sid is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WsRefusal {
    /// The session is gone: answer the upgrade request with
    /// `400 {"code":1,"message":"Session ID unknown"}`.
    #[error("session ID unknown")]
    UnknownSession,
    /// Another WebSocket is probing, or the session already is on a WebSocket: complete the
    /// WebSocket handshake and close it at once, as Node does.
    #[error("the session is already upgrading or upgraded")]
    Busy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WsRole {
    Active,
    Probe,
    /// To be closed once its last frames are written.
    Closing,
}

#[derive(Debug)]
pub(super) struct WsConn {
    pub(super) id: WsId,
    pub(super) supports_binary: bool,
    pub(super) role: WsRole,
    /// Frames for this WebSocket alone (`3probe`, the final packets of a graceful close),
    /// written before the session queue.
    pub(super) out: Vec<Frame>,
    waker: Option<Waker>,
}

impl WsConn {
    pub(super) fn new(id: WsId, supports_binary: bool, role: WsRole) -> Self {
        WsConn { id, supports_binary, role, out: Vec::new(), waker: None }
    }

    pub(super) fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl Session {
    /// A WebSocket arrived with this session's sid: it becomes the probe of an upgrade.
    /// `supports_binary` is false when its query has `b64`. As in Node, `allow_upgrades` is
    /// not checked here (it only shapes the open packet).
    pub fn attach_websocket(&mut self, supports_binary: bool, now: Instant) -> Result<WsId, WsRefusal> {
        self.catch_up(now);
        if matches!(self.state, State::Closed { .. }) || self.is_client_closed() {
            return Err(WsRefusal::UnknownSession);
        }
        // Node also "upgrades" a WebSocket session to a second WebSocket; we refuse it.
        if self.upgrade.is_some() || self.upgraded || self.transport == TransportKind::WebSocket {
            return Err(WsRefusal::Busy);
        }
        let ws = self.add_socket(supports_binary, WsRole::Probe);
        self.start_upgrade(ws, now);
        Ok(ws)
    }

    /// A text or binary message from a WebSocket.
    ///
    /// The caller is the WebSocket's writer, awake, and drains it ([`Session::drain_ws`] or
    /// [`Session::poll_ws`]) once it has handed over what it read: the waker it left is
    /// dropped here, so that what the frame causes (an answer queued by the handler) does not
    /// wake the running writer to poll it again for nothing.
    pub fn on_ws_frame(&mut self, ws: WsId, frame: Frame, now: Instant) {
        self.catch_up(now);
        let Some(conn) = self.socket_mut(ws) else {
            return;
        };
        conn.waker = None;
        let role = conn.role;
        let len = frame.len();
        match role {
            WsRole::Closing => {}
            // `ws` rejects messages over `maxPayload` with an error.
            WsRole::Probe if len > self.config.max_payload => self.drop_probe(),
            WsRole::Probe => self.on_probe_frame(ws_message::decode(frame, self.version), now),
            WsRole::Active if len > self.config.max_payload => {
                self.close_with(DisconnectReason::TransportError, now);
            }
            WsRole::Active => match ws_message::decode(frame, self.version) {
                Ok(Some(packet)) => self.on_packet(packet, now),
                // A v3 binary frame with an unknown type byte: Node ignores it.
                Ok(None) => {}
                Err(_) => {
                    if self.state == State::Open {
                        self.close_with(DisconnectReason::ParseError, now);
                    }
                }
            },
        }
    }

    /// The WebSocket closed (close frame or EOF): "transport close" if it was the active one,
    /// the end of the upgrade if it was probing. The id is dead afterwards.
    pub fn on_ws_closed(&mut self, ws: WsId, now: Instant) {
        self.on_ws_gone(ws, DisconnectReason::TransportClose, now);
    }

    /// The WebSocket failed (protocol error, write error): "transport error" if it was the
    /// active one. The runtime drops the connection; the id is dead afterwards.
    pub fn on_ws_error(&mut self, ws: WsId, now: Instant) {
        self.on_ws_gone(ws, DisconnectReason::TransportError, now);
    }

    fn on_ws_gone(&mut self, ws: WsId, reason: DisconnectReason, now: Instant) {
        let Some(i) = self.sockets.iter().position(|c| c.id == ws) else {
            return;
        };
        let conn = self.sockets.swap_remove(i);
        match conn.role {
            WsRole::Active => self.close_with(reason, now),
            WsRole::Probe => self.upgrade = None,
            WsRole::Closing => {}
        }
    }

    /// Appends every frame queued for `ws` to `out`. [`WsStatus::Close`]: after writing them,
    /// close the WebSocket.
    pub fn drain_ws(&mut self, ws: WsId, out: &mut Vec<Frame>) -> WsStatus {
        let Some(i) = self.sockets.iter().position(|c| c.id == ws) else {
            return WsStatus::Close;
        };
        let conn = &mut self.sockets[i];
        let before = out.len();
        out.extend(std::mem::take(&mut conn.out));
        match conn.role {
            WsRole::Active => {
                let (version, binary) = (self.version, conn.supports_binary);
                // What went out at once to an idle writer is written alone; the rest, all of
                // it, with the next write (Node's flush after the write callback).
                let n = self.ws_batch.take().map_or(self.queue.len(), |n| n.min(self.queue.len()));
                self.ws_pause = self.ws_batch_pause.take();
                if n == self.queue.len() {
                    // The queue's storage goes with its packets: an idle session keeps none.
                    let queue = self.queue.take_all();
                    out.extend(queue.into_iter().map(|p| ws_message::encode(p, version, binary)));
                } else {
                    out.extend(self.queue.drain_front(n).map(|p| ws_message::encode(p, version, binary)));
                }
                self.ws_idle = out.len() == before;
                WsStatus::Open
            }
            WsRole::Probe => WsStatus::Open,
            WsRole::Closing => {
                self.sockets.swap_remove(i);
                WsStatus::Close
            }
        }
    }

    /// Everything queued now goes out in a write of its own, and the writer waits `gap` after
    /// it before it writes what comes next (WebSocket only; nothing queued, nothing to do).
    ///
    /// For a client that reads both writes at once and dispatches them before it gets to
    /// listen for the second, as `ws` clients awaiting one message at a time do: Node writes a
    /// Socket.IO CONNECT answer, and what the connection handler emits after it, apart.
    pub fn write_boundary(&mut self, gap: Duration) {
        if self.transport != TransportKind::WebSocket || self.queue.is_empty() || gap.is_zero() {
            return;
        }
        self.ws_idle = false;
        self.ws_batch = Some(self.queue.len());
        self.ws_batch_pause = Some(gap);
    }

    /// The pause [`Session::write_boundary`] asked for, once the batch it closed was drained:
    /// the writer takes it after writing that batch.
    pub fn take_ws_pause(&mut self) -> Option<Duration> {
        self.ws_pause.take()
    }

    /// [`Session::drain_ws`] for a writer task: `Pending` (with `waker` registered) while
    /// there is nothing to write.
    pub fn poll_ws(&mut self, ws: WsId, waker: &Waker, out: &mut Vec<Frame>) -> Poll<WsStatus> {
        let before = out.len();
        let status = self.drain_ws(ws, out);
        if status == WsStatus::Close || out.len() > before {
            return Poll::Ready(status);
        }
        if let Some(conn) = self.sockets.iter_mut().find(|c| c.id == ws) {
            match &mut conn.waker {
                Some(w) if w.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
        Poll::Pending
    }

    pub(super) fn socket_mut(&mut self, ws: WsId) -> Option<&mut WsConn> {
        self.sockets.iter_mut().find(|c| c.id == ws)
    }

    pub(super) fn wake_active_socket(&mut self) {
        if let Some(conn) = self.sockets.iter_mut().find(|c| c.role == WsRole::Active) {
            conn.wake();
        }
    }

    /// Encodes the queue into the active WebSocket's own frames, so a graceful close still
    /// delivers it.
    pub(super) fn queue_to_active_socket(&mut self) {
        let version = self.version;
        if let Some(conn) = self.sockets.iter_mut().find(|c| c.role == WsRole::Active) {
            let binary = conn.supports_binary;
            conn.out.extend(self.queue.drain(..).map(|p| ws_message::encode(p, version, binary)));
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use bytestring::ByteString;

    use super::*;
    use crate::engine::EngineEvent;
    use crate::engine::sim::Sim;
    use crate::protocol::{Data, EioVersion, Packet};

    #[test]
    fn direct_websocket_session() {
        let (mut sim, ws) = Sim::websocket(EioVersion::V4);
        assert_eq!(sim.drain(ws), (vec![r#"0{"sid":"s"}"#.to_string()], WsStatus::Open));
        sim.frame(ws, "4hello");
        sim.session.on_ws_frame(ws, Frame::Binary(Bytes::from_static(&[1, 2])), sim.now);
        let events = sim.events();
        assert_eq!(events[0], EngineEvent::Message(Data::Text(ByteString::from_static("hello"))));
        assert_eq!(events[1], EngineEvent::Message(Data::Binary(Bytes::from_static(&[1, 2]))));
        sim.ms(25_000);
        assert_eq!(sim.drain(ws).0, ["2"]);
        sim.frame(ws, "3");
        // A close packet over WebSocket is ignored by Node; the socket's closing is what counts.
        sim.frame(ws, "1");
        assert!(sim.events().is_empty());
        sim.session.on_ws_closed(ws, sim.now);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportClose)]);
        assert!(sim.session.is_finished());
    }

    #[test]
    fn server_close_flushes_then_closes_without_a_close_packet() {
        let (mut sim, ws) = Sim::websocket(EioVersion::V4);
        sim.drain(ws);
        sim.session.send(Packet::message("bye")).unwrap();
        sim.session.close(DisconnectReason::ForcedServerClose, sim.now);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::ForcedServerClose)]);
        assert_eq!(sim.drain(ws), (vec!["4bye".to_string()], WsStatus::Close));
        assert!(sim.session.is_finished());
        assert_eq!(sim.drain(ws), (vec![], WsStatus::Close));
    }

    #[test]
    fn bad_frames() {
        let (mut sim, ws) = Sim::websocket(EioVersion::V4);
        sim.frame(ws, "9");
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::ParseError)]);
        assert_eq!(sim.drain(ws).1, WsStatus::Close);

        let (mut sim, ws) = Sim::websocket(EioVersion::V4);
        let big = Bytes::from(vec![0u8; sim.session.config.max_payload + 1]);
        sim.session.on_ws_frame(ws, Frame::Binary(big), sim.now);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);

        // v4 client pings and v3 unknown binary types.
        let (mut sim, ws) = Sim::websocket(EioVersion::V4);
        sim.frame(ws, "2");
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);
        let (mut sim, ws) = Sim::websocket(EioVersion::V3);
        sim.session.on_ws_frame(ws, Frame::Binary(Bytes::from_static(&[9, 9])), sim.now);
        assert!(sim.events().is_empty());
        sim.frame(ws, "2probe");
        // The open packet went out alone; what followed it, with the next write.
        assert_eq!(sim.drain(ws).0, [r#"0{"sid":"s"}"#]);
        assert_eq!(sim.drain(ws).0, ["3"]);
    }

    #[test]
    fn an_idle_writer_sends_the_first_packet_alone() {
        // As Node's `flush` on a writable transport: the first packet sent while the writer
        // is idle goes out at once, alone; what is sent while it writes waits for the next
        // write, all together.
        let (mut sim, ws) = Sim::websocket(EioVersion::V4);
        sim.session.send(Packet::message("a")).unwrap();
        assert_eq!(sim.drain(ws).0, [r#"0{"sid":"s"}"#]);
        sim.session.send(Packet::message("b")).unwrap();
        assert_eq!(sim.drain(ws).0, ["4a", "4b"]);
        assert_eq!(sim.drain(ws).0, Vec::<String>::new());
        // Idle now: a burst is cut after its first packet.
        for m in ["c", "d", "e"] {
            sim.session.send(Packet::message(m)).unwrap();
        }
        assert_eq!(sim.drain(ws).0, ["4c"]);
        sim.session.send(Packet::message("f")).unwrap();
        assert_eq!(sim.drain(ws).0, ["4d", "4e", "4f"]);
        // A batch sent at once to an idle writer stays whole.
        sim.drain(ws);
        sim.session.send_batch([Packet::message("g"), Packet::message("h")]).unwrap();
        sim.session.send(Packet::message("i")).unwrap();
        assert_eq!(sim.drain(ws).0, ["4g", "4h"]);
        assert_eq!(sim.drain(ws).0, ["4i"]);
    }

    #[test]
    fn a_write_boundary_splits_and_pauses() {
        let gap = Duration::from_millis(2);
        let (mut sim, ws) = Sim::websocket(EioVersion::V4);
        sim.drain(ws);
        sim.drain(ws);
        sim.session.send(Packet::message("connected")).unwrap();
        sim.session.send(Packet::message("more")).unwrap();
        sim.session.write_boundary(gap);
        sim.session.send(Packet::message("from the handler")).unwrap();
        assert_eq!(sim.session.take_ws_pause(), None, "the pause waits for its batch");
        assert_eq!(sim.drain(ws).0, ["4connected", "4more"]);
        assert_eq!(sim.session.take_ws_pause(), Some(gap));
        assert_eq!(sim.session.take_ws_pause(), None);
        assert_eq!(sim.drain(ws).0, ["4from the handler"]);
        assert_eq!(sim.session.take_ws_pause(), None);
        // Nothing queued, or polling: nothing to split.
        sim.drain(ws);
        sim.session.write_boundary(gap);
        sim.session.send(Packet::message("x")).unwrap();
        assert_eq!(sim.drain(ws).0, ["4x"]);
        assert_eq!(sim.session.take_ws_pause(), None);
    }

    #[test]
    fn base64_clients_get_text_frames() {
        let now = std::time::Instant::now();
        let open = ByteString::from_static("{}");
        let (mut session, ws) = Session::websocket(Sim::config(), EioVersion::V4, false, open, now);
        session.send(Packet::binary(&[1u8, 2, 3][..])).unwrap();
        let mut out = Vec::new();
        session.drain_ws(ws, &mut out);
        session.drain_ws(ws, &mut out);
        assert_eq!(out[1], Frame::Text(ByteString::from_static("bAQID")));
    }

    /// A waker that counts its wakes.
    fn counting_waker() -> (std::sync::Arc<std::sync::atomic::AtomicUsize>, Waker) {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        struct Count(Arc<AtomicUsize>);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(AtomicUsize::new(0));
        (count.clone(), Waker::from(Arc::new(Count(count))))
    }

    #[test]
    fn writer_is_woken_by_send() {
        let (count, waker) = counting_waker();
        let (mut sim, ws) = Sim::websocket(EioVersion::V4);
        let mut out = Vec::new();
        assert_eq!(sim.session.poll_ws(ws, &waker, &mut out), Poll::Ready(WsStatus::Open));
        assert_eq!(sim.session.poll_ws(ws, &waker, &mut out), Poll::Pending);
        sim.session.send(Packet::message("x")).unwrap();
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(sim.session.poll_ws(ws, &waker, &mut out), Poll::Ready(WsStatus::Open));
        assert_eq!(out.len(), 2);
    }

    /// The writer hands over what it read, then drains: what a frame causes (here v3's pong)
    /// does not wake it a second time; it finds it when it drains.
    #[test]
    fn a_frame_read_does_not_wake_its_writer() {
        let (count, waker) = counting_waker();
        let (mut sim, ws) = Sim::websocket(EioVersion::V3);
        let mut out = Vec::new();
        assert_eq!(sim.session.poll_ws(ws, &waker, &mut out), Poll::Ready(WsStatus::Open));
        assert_eq!(sim.session.poll_ws(ws, &waker, &mut out), Poll::Pending);
        sim.frame(ws, "2");
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
        out.clear();
        assert_eq!(sim.session.poll_ws(ws, &waker, &mut out), Poll::Ready(WsStatus::Open));
        assert_eq!(out, vec![Frame::Text(ByteString::from_static("3"))]);
        // Parked again, a send from elsewhere wakes it as before.
        assert_eq!(sim.session.poll_ws(ws, &waker, &mut out), Poll::Pending);
        sim.session.send(Packet::message("x")).unwrap();
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
