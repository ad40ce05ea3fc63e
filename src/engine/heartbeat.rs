//! The heartbeat (engine.io-protocol "Heartbeat"), with engine.io 6.6's timer rules
//! (`lib/socket.ts` `schedulePing`, `resetPingTimeout`, `onPacket`):
//!
//! - v4: the server pings `ping_interval` after the open packet; the ping arms a
//!   `ping_timeout` deadline. A pong clears it and restarts the interval *from the pong*
//!   (`pingIntervalTimer.refresh()`), so the next ping is `ping_interval` after the pong; an
//!   unsolicited pong also postpones the next ping. A ping from a v4 client is a transport
//!   error.
//! - v3: the client pings; each ping is answered with an empty pong (`3`, even for `2probe`)
//!   and restarts a `ping_interval + ping_timeout` deadline, first armed at open. A pong from
//!   a v3 client is a transport error.
//!
//! Deliberate difference: Node clears the pong deadline when a polling session upgrades
//! (`clearTransport`), which for v3 disables the timeout for good. We keep it armed, so a
//! silent upgraded client still times out.

use std::time::Instant;

use super::session::Session;
use super::{DisconnectReason, EngineConfig};
use crate::protocol::{EioVersion, Packet, PacketType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Heartbeat {
    /// v4: the next ping is due then.
    PingAt(Instant),
    /// v4: a ping is out; without a pong by then the session times out.
    PongBy(Instant),
    /// v3: without a client ping by then the session times out.
    ClientPingBy(Instant),
}

impl Heartbeat {
    pub(super) fn start(version: EioVersion, config: &EngineConfig, now: Instant) -> Self {
        match version {
            EioVersion::V4 => Heartbeat::PingAt(now + config.ping_interval),
            EioVersion::V3 => Heartbeat::ClientPingBy(now + config.ping_interval + config.ping_timeout),
        }
    }

    pub(super) fn deadline(&self) -> Instant {
        match *self {
            Heartbeat::PingAt(t) | Heartbeat::PongBy(t) | Heartbeat::ClientPingBy(t) => t,
        }
    }
}

impl Session {
    /// A `2` from the client (the session is open).
    pub(super) fn on_client_ping(&mut self, now: Instant) {
        match self.version {
            EioVersion::V4 => self.close_with(DisconnectReason::TransportError, now),
            EioVersion::V3 => {
                let config = &self.config;
                self.heartbeat = Heartbeat::ClientPingBy(now + config.ping_interval + config.ping_timeout);
                self.send_control(Packet::empty(PacketType::Pong));
            }
        }
    }

    /// A `3` from the client (the session is open).
    pub(super) fn on_client_pong(&mut self, now: Instant) {
        match self.version {
            EioVersion::V3 => self.close_with(DisconnectReason::TransportError, now),
            EioVersion::V4 => self.heartbeat = Heartbeat::PingAt(now + self.config.ping_interval),
        }
    }

    /// The heartbeat deadline passed.
    pub(super) fn on_heartbeat_due(&mut self, now: Instant) {
        match self.heartbeat {
            Heartbeat::PingAt(at) => {
                // While closing the ping itself is dropped, but the timeout still runs (Node).
                // The timeout counts from when the ping was due, not from when the timer ran:
                // a client waiting `ping_interval + ping_timeout` finds the session closed.
                self.send_control(Packet::empty(PacketType::Ping));
                self.heartbeat = Heartbeat::PongBy(at + self.config.ping_timeout);
            }
            Heartbeat::PongBy(_) | Heartbeat::ClientPingBy(_) => {
                self.close_with(DisconnectReason::PingTimeout, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::sim::Sim;
    use crate::engine::{EngineEvent, PostReply, ReadyState};

    const TIMEOUT: EngineEvent = EngineEvent::Closed(DisconnectReason::PingTimeout);

    #[test]
    fn v4_pings_at_the_interval_and_times_out_after_the_timeout() {
        let mut sim = Sim::polling(EioVersion::V4);
        let t0 = sim.now;
        sim.get_now();
        let parked = sim.park();
        sim.ms(24_999);
        assert_eq!(sim.answer(parked), None);
        sim.ms(1);
        assert_eq!(sim.answer(parked).as_deref(), Some("2"));
        assert_eq!(sim.session.next_deadline(), Some(t0 + Duration::from_millis(45_000)));
        sim.ms(19_999);
        assert_eq!(sim.session.ready_state(), ReadyState::Open);
        assert!(sim.events().is_empty());
        sim.ms(1);
        assert_eq!(sim.events(), [TIMEOUT]);
    }

    #[test]
    fn v4_pong_restarts_the_interval_from_the_pong() {
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        sim.ms(25_000);
        assert_eq!(sim.get_now(), "2");
        sim.ms(5_000);
        assert_eq!(sim.post("3"), PostReply::Ok);
        // The old timeout (45 s) is gone; the next ping is 25 s after the pong, at 55 s.
        let parked = sim.park();
        sim.ms(24_999);
        assert_eq!(sim.answer(parked), None);
        assert!(sim.events().is_empty());
        sim.ms(1);
        assert_eq!(sim.answer(parked).as_deref(), Some("2"));
        // An unsolicited pong postpones the next ping too.
        assert_eq!(sim.post("3"), PostReply::Ok);
        sim.ms(20_000);
        assert_eq!(sim.session.ready_state(), ReadyState::Open);
        assert_eq!(sim.post("3"), PostReply::Ok);
        sim.ms(24_999);
        assert_eq!(sim.session.queued(), 0);
        sim.ms(1);
        assert_eq!(sim.get_now(), "2");
    }

    #[test]
    fn v4_client_ping_is_a_transport_error() {
        let mut sim = Sim::polling(EioVersion::V4);
        assert_eq!(sim.post("2"), PostReply::Ok);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);
    }

    #[test]
    fn v3_client_pings_and_server_waits_interval_plus_timeout() {
        let mut sim = Sim::polling(EioVersion::V3);
        sim.get_now();
        sim.ms(25_000);
        // No server ping in v3.
        let parked = sim.park();
        assert_eq!(sim.answer(parked), None);
        assert_eq!(sim.post("1:2"), PostReply::Ok);
        assert_eq!(sim.answer(parked).as_deref(), Some("1:3"));
        // `2probe` outside an upgrade is a plain ping: the pong carries no data.
        assert_eq!(sim.post("6:2probe"), PostReply::Ok);
        assert_eq!(sim.get_now(), "1:3");
        sim.ms(44_999);
        assert!(sim.events().is_empty());
        sim.ms(1);
        assert_eq!(sim.events(), [TIMEOUT]);
    }

    #[test]
    fn v3_without_pings_times_out_at_interval_plus_timeout() {
        let mut sim = Sim::polling(EioVersion::V3);
        sim.ms(44_999);
        assert_eq!(sim.session.ready_state(), ReadyState::Open);
        sim.ms(1);
        assert_eq!(sim.events(), [TIMEOUT]);
    }

    #[test]
    fn v3_client_pong_is_a_transport_error() {
        let mut sim = Sim::polling(EioVersion::V3);
        assert_eq!(sim.post("1:3"), PostReply::Ok);
        assert_eq!(sim.events(), [EngineEvent::Closed(DisconnectReason::TransportError)]);
    }

    #[test]
    fn timeout_while_closing() {
        // A closing session ignores pongs and may still time out, as in Node.
        let mut sim = Sim::polling(EioVersion::V4);
        sim.get_now();
        sim.ms(20_000);
        // Polling's close timeout (30 s) would end it at 50 s; the ping at 25 s times out at 45 s.
        sim.session.close(DisconnectReason::ForcedClose, sim.now);
        sim.ms(5_000);
        assert_eq!(sim.post("3"), PostReply::Ok);
        sim.ms(20_000);
        assert_eq!(sim.events(), [TIMEOUT]);
    }
}
