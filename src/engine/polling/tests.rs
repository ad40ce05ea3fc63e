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
    assert_eq!(sim.session.on_post(octets, Bytes::from_static(b"\x00\x02\xff4a"), sim.now), PostReply::Ok);
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
