//! Upgrading a polling session to a WebSocket (engine.io-protocol "Upgrade"), as engine.io
//! 6.6 `lib/socket.ts` `_maybeUpgrade`:
//!
//! 1. the probe WebSocket sends `2probe` and gets `3probe`; from then on, every 100 ms, a
//!    parked GET is released with a noop (`6`) so the client can pause polling (Node's
//!    `check` interval);
//! 2. `5` on the probe completes the upgrade: the polling transport is discarded (a GET
//!    still parked gets the close packet `1`, or, if it arrived within the reorder window,
//!    the `400` Node gives a GET that comes after the upgrade), the probe becomes the
//!    transport and the queue flushes to it;
//! 3. any other packet on the probe, its closing, or `upgrade_timeout` without `5` drops the
//!    probe and the session stays on polling.

use std::time::{Duration, Instant};

use bytestring::ByteString;

use super::EngineEvent;
use super::polling::PollAnswer;
use super::session::{Session, State, TransportKind};
use super::websocket::{WsId, WsRole};
use crate::protocol::{Data, DecodeError, Frame, Packet, PacketType};

/// Node's `setInterval(check, 100)`.
const NOOP_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Upgrade {
    probe: WsId,
    deadline: Instant,
    /// Next noop check, once the probe was answered.
    check_at: Option<Instant>,
}

impl Upgrade {
    pub(super) fn next_deadline(&self) -> Instant {
        self.check_at.map_or(self.deadline, |c| c.min(self.deadline))
    }
}

impl Session {
    pub(super) fn start_upgrade(&mut self, probe: WsId, now: Instant) {
        self.upgrade =
            Some(Box::new(Upgrade { probe, deadline: now + self.config.upgrade_timeout, check_at: None }));
    }

    pub(super) fn on_probe_frame(&mut self, packet: Result<Option<Packet>, DecodeError>, now: Instant) {
        let Some(upgrade) = self.upgrade.as_mut() else {
            return;
        };
        match packet {
            Ok(Some(Packet { kind: PacketType::Ping, data: Data::Text(probe), .. })) if probe == "probe" => {
                upgrade.check_at = Some(now + NOOP_INTERVAL);
                let probe = upgrade.probe;
                let pong = Frame::Text(ByteString::from_static("3probe"));
                if let Some(conn) = self.socket_mut(probe) {
                    conn.out.push(pong);
                    conn.wake();
                }
            }
            Ok(Some(Packet { kind: PacketType::Upgrade, .. }))
                if !matches!(self.state, State::Closed { .. }) =>
            {
                self.complete_upgrade(now);
            }
            _ => self.drop_probe(),
        }
    }

    fn complete_upgrade(&mut self, now: Instant) {
        let Some(upgrade) = self.upgrade.take() else {
            return;
        };
        if let Some(polling) = self.polling.as_deref_mut()
            && let Some(ticket) = polling.parked.take()
        {
            let recent = polling.parked_at.is_some_and(|at| now < at + self.config.reorder_window);
            if recent {
                polling.answer(ticket, PollAnswer::BadRequest);
            } else {
                self.answer_poll(ticket, &[Packet::empty(PacketType::Close)]);
            }
        }
        self.cancel_post();
        self.upgraded = true;
        self.transport = TransportKind::WebSocket;
        if let Some(conn) = self.socket_mut(upgrade.probe) {
            conn.role = WsRole::Active;
        }
        self.events.push_back(EngineEvent::Upgraded);
        match self.state {
            State::Closing { reason, .. } => {
                // Node: the queue flushes to the WebSocket, which is then closed.
                self.queue_to_active_socket();
                self.close_with(reason, now);
            }
            State::Open | State::Closed { .. } => {
                self.wake_active_socket();
            }
        }
    }

    /// Node's upgrade `cleanup()` + `transport.close()`.
    pub(super) fn drop_probe(&mut self) {
        if let Some(upgrade) = self.upgrade.take()
            && let Some(conn) = self.socket_mut(upgrade.probe)
        {
            conn.role = WsRole::Closing;
            conn.wake();
        }
    }

    pub(super) fn on_upgrade_timers(&mut self, now: Instant) {
        let Some(upgrade) = self.upgrade.as_mut() else {
            return;
        };
        if upgrade.deadline <= now {
            self.drop_probe();
            return;
        }
        if upgrade.check_at.is_some_and(|at| at <= now) {
            upgrade.check_at = Some(now + NOOP_INTERVAL);
            if self.transport == TransportKind::Polling
                && let Some(ticket) = self.take_parked()
            {
                self.answer_poll(ticket, &[Packet::empty(PacketType::Noop)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sim::Sim;
    use crate::engine::{DisconnectReason, PollGet, PostReply, WsRefusal, WsStatus};
    use crate::protocol::EioVersion;

    fn upgraded_session() -> (Sim, WsId) {
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        let ws = sim.session.attach_websocket(true, sim.now).unwrap();
        sim.frame(ws, "2probe");
        sim.frame(ws, "5");
        (sim, ws)
    }

    #[test]
    fn happy_path() {
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        let parked = sim.park();
        let ws = sim.session.attach_websocket(true, sim.now).unwrap();
        assert!(sim.session.is_upgrading());
        sim.frame(ws, "2probe");
        assert_eq!(sim.drain(ws), (vec!["3probe".to_string()], WsStatus::Open));
        // Node's 100 ms check releases the parked GET with a noop.
        sim.ms(99);
        assert_eq!(sim.answer(parked), None);
        sim.ms(1);
        assert_eq!(sim.answer(parked).as_deref(), Some("6"));
        // Messages still flow over polling until `5`.
        sim.session.send(Packet::message("before")).unwrap();
        sim.frame(ws, "5");
        assert_eq!(sim.events(), [EngineEvent::Upgraded]);
        assert_eq!(sim.session.transport(), TransportKind::WebSocket);
        sim.session.send(Packet::message("after")).unwrap();
        assert_eq!(sim.drain(ws), (vec!["4before".to_string(), "4after".to_string()], WsStatus::Open));
        assert_eq!(sim.get(), PollGet::BadRequest);
        assert_eq!(sim.post("4x"), PostReply::BadRequest);
        // The heartbeat continues on the WebSocket.
        sim.ms(25_000);
        assert_eq!(sim.drain(ws).0, ["2"]);
        sim.frame(ws, "3");
        sim.frame(ws, "4hi");
        assert_eq!(sim.events(), [EngineEvent::Message(Data::Text(ByteString::from_static("hi")))]);
    }

    #[test]
    fn probe_and_upgrade_back_to_back() {
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        let parked = sim.park();
        sim.advance(sim.session.config.reorder_window);
        let ws = sim.session.attach_websocket(true, sim.now).unwrap();
        sim.frame(ws, "2probe");
        sim.frame(ws, "5");
        // Discarding polling while a GET is parked answers it with a close packet (doClose).
        assert_eq!(sim.answer(parked).as_deref(), Some("1"));
        assert_eq!(sim.events(), [EngineEvent::Upgraded]);
        assert_eq!(sim.drain(ws), (vec!["3probe".to_string()], WsStatus::Open));

        // A GET parked within the reorder window before `5` may have been sent after it (it
        // came on another connection): it gets the answer of a GET after the upgrade.
        let mut sim = Sim::polling(EioVersion::V3);
        sim.get_now();
        let ws = sim.session.attach_websocket(true, sim.now).unwrap();
        sim.frame(ws, "2probe");
        sim.ms(10);
        let parked = sim.park();
        sim.ms(1);
        sim.frame(ws, "5");
        assert_eq!(sim.answer(parked).as_deref(), Some("400 Bad request"));
        assert_eq!(sim.events(), [EngineEvent::Upgraded]);
        assert_eq!(sim.get(), PollGet::BadRequest);

        // Packets queued while no GET was parked flush to the WebSocket after the pong.
        let mut sim = Sim::polling(EioVersion::V3);
        sim.session.send(Packet::message("q")).unwrap();
        let ws = sim.session.attach_websocket(true, sim.now).unwrap();
        sim.frame(ws, "2probe");
        sim.frame(ws, "5");
        let frames = vec!["3probe".to_string(), r#"0{"sid":"s"}"#.to_string(), "4q".to_string()];
        assert_eq!(sim.drain(ws), (frames, WsStatus::Open));
    }

    #[test]
    fn a_second_websocket_is_refused() {
        let mut sim = Sim::polling(EioVersion::V4);
        let _probe = sim.session.attach_websocket(true, sim.now).unwrap();
        assert_eq!(sim.session.attach_websocket(true, sim.now), Err(WsRefusal::Busy));
        let (mut sim, _) = upgraded_session();
        assert_eq!(sim.session.attach_websocket(true, sim.now), Err(WsRefusal::Busy));
        let (mut sim, _) = Sim::websocket(EioVersion::V4);
        assert_eq!(sim.session.attach_websocket(true, sim.now), Err(WsRefusal::Busy));
        sim.session.close_now(DisconnectReason::ForcedClose, sim.now);
        assert_eq!(sim.session.attach_websocket(true, sim.now), Err(WsRefusal::UnknownSession));
    }

    #[test]
    fn upgrade_timeout_drops_the_probe() {
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        let ws = sim.session.attach_websocket(true, sim.now).unwrap();
        sim.frame(ws, "2probe");
        sim.drain(ws);
        sim.ms(9_999);
        assert!(sim.session.is_upgrading());
        sim.ms(1);
        assert!(!sim.session.is_upgrading());
        assert_eq!(sim.drain(ws), (vec![], WsStatus::Close));
        // Polling goes on, and a new upgrade may start.
        sim.session.send(Packet::message("still")).unwrap();
        assert_eq!(sim.get_now(), "4still");
        assert!(sim.events().is_empty());
        let again = sim.session.attach_websocket(true, sim.now).unwrap();
        assert_ne!(again, ws);
    }

    #[test]
    fn anything_but_probe_or_upgrade_drops_the_probe() {
        for bad in ["4hello", "2", "3probe", "x"] {
            let mut sim = Sim::polling(EioVersion::V4);
            let ws = sim.session.attach_websocket(true, sim.now).unwrap();
            sim.frame(ws, bad);
            assert!(!sim.session.is_upgrading(), "{bad}");
            assert_eq!(sim.drain(ws).1, WsStatus::Close, "{bad}");
            assert!(sim.events().is_empty(), "{bad}: the session is unaffected");
        }
        // The probe going away ends the upgrade too.
        let mut sim = Sim::polling(EioVersion::V4);
        let ws = sim.session.attach_websocket(true, sim.now).unwrap();
        sim.session.on_ws_closed(ws, sim.now);
        assert!(!sim.session.is_upgrading());
        assert!(sim.events().is_empty());
    }

    #[test]
    fn closing_during_an_upgrade_closes_the_probe() {
        let mut sim = Sim::polling(EioVersion::V4);
        let ws = sim.session.attach_websocket(true, sim.now).unwrap();
        sim.frame(ws, "2probe");
        sim.session.close_now(DisconnectReason::ForcedClose, sim.now);
        assert_eq!(sim.drain(ws), (vec!["3probe".to_string()], WsStatus::Close));

        // `5` while closing: the queue moves to the WebSocket, which is then closed.
        let mut sim = Sim::polling(EioVersion::V4);
        let ws = sim.session.attach_websocket(true, sim.now).unwrap();
        sim.session.close(DisconnectReason::ForcedClose, sim.now);
        sim.frame(ws, "5");
        let closed = EngineEvent::Closed(DisconnectReason::ForcedClose);
        assert_eq!(sim.events(), [EngineEvent::Upgraded, closed]);
        assert_eq!(sim.drain(ws), (vec![r#"0{"sid":"s"}"#.to_string()], WsStatus::Close));
        assert!(sim.session.is_finished());
    }
}
