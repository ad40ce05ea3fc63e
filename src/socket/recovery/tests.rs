use super::*;

fn store(max_packets: usize, max_sessions: usize) -> RecoveryStore {
    let opts = ConnectionStateRecovery::default()
        .max_disconnection_duration(Duration::from_secs(10))
        .max_packets(max_packets)
        .max_sessions(max_sessions);
    RecoveryStore::new(opts, 3)
}

fn packet(n: usize) -> Arc<EncodedPacket> {
    Arc::new(EncodedPacket::from_text(ByteString::from(format!("2[\"p\",{n}]")), Vec::new()))
}

fn opts(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
    let mut o = BroadcastOptions::new();
    for r in rooms {
        o = o.to(ByteString::from(*r));
    }
    for r in except {
        o = o.except(ByteString::from(*r));
    }
    o
}

fn session(sid: Sid, pid: Sid, rooms: &[&str]) -> Session {
    let mut all = vec![ByteString::from(sid.as_str())];
    all.extend(rooms.iter().map(|r| ByteString::from(*r)));
    Session { sid, pid, nsp: "/".into(), rooms: all, data: Rc::new(()) }
}

fn texts(take: Take) -> Option<Vec<String>> {
    match take {
        Take::Found(_, missed) => Some(missed.iter().map(|p| p.text().to_string()).collect()),
        _ => None,
    }
}

#[test]
fn offsets_are_unique_short_and_name_the_shard() {
    let s = store(10, 10);
    assert_eq!(s.next_offset(0), "0.3");
    assert_eq!(s.next_offset(64), "10.3");
    assert_eq!(s.next_offset(64), "10.3.1");
    assert_eq!(s.next_offset(63), "10.3.2", "the clock went back: still after");
    let o = s.next_offset(1_767_225_600_000);
    assert_eq!(o.len(), 9, "{o}");
    assert!(o.ends_with(".3"));
}

#[test]
fn offset_is_the_last_argument() {
    let p = EncodedPacket::from_text("2/chat,[\"a\",1]".into(), Vec::new());
    assert_eq!(with_offset(&p, "x.0").text(), "2/chat,[\"a\",1,\"x.0\"]");
    let b = EncodedPacket::event("/", "up", &[Value::from(vec![1u8])], None);
    let b = with_offset(&b, "y.1");
    assert_eq!(b.text(), r#"51-["up",{"_placeholder":true,"num":0},"y.1"]"#);
    assert_eq!(b.attachments().len(), 1);
    assert!(is_eligible(&b, &BroadcastOptions::new()));
    let mut volatile = BroadcastOptions::new();
    volatile.flags.volatile = true;
    assert!(!is_eligible(&b, &volatile));
}

#[test]
fn missed_packets_follow_the_offset_and_match_the_rooms() {
    let s = store(100, 10);
    let now = Instant::now();
    let (sid, pid) = (Sid::generate(0, 1), Sid::generate(0, 1));
    let me = sid.as_str();
    s.log("o0", &"/".into(), &opts(&[], &[]), packet(0), now);
    s.log("o1", &"/".into(), &opts(&[], &[]), packet(1), now);
    s.log("o2", &"/".into(), &opts(&["room"], &[]), packet(2), now);
    s.log("o3", &"/".into(), &opts(&["other"], &[]), packet(3), now);
    s.log("o4", &"/".into(), &opts(&[], &["room"]), packet(4), now);
    s.log("o5", &"/chat".into(), &opts(&[], &[]), packet(5), now);
    s.log("o6", &"/".into(), &opts(&[me], &[]), packet(6), now);
    s.log("o7", &"/".into(), &opts(&["other", "room"], &[me]), packet(7), now);
    s.log("o8", &"/".into(), &opts(&[], &["x"]), packet(8), now);
    s.persist(session(sid, pid, &["room"]), now);
    let want = ["2[\"p\",2]", "2[\"p\",6]", "2[\"p\",8]"];
    assert_eq!(texts(s.take(pid, "/", "o1", now)).unwrap(), want);
    // Taken: a session restores once.
    assert!(texts(s.take(pid, "/", "o1", now)).is_none());
    s.persist(session(sid, pid, &["room"]), now);
    assert!(texts(s.take(pid, "/", "nope", now)).is_none(), "an unknown offset");
    s.persist(session(sid, pid, &["room"]), now);
    assert!(texts(s.take(pid, "/chat", "o1", now)).is_none(), "another namespace");
    s.persist(session(sid, pid, &[]), now);
    assert_eq!(texts(s.take(pid, "/", "o8", now)).unwrap(), Vec::<String>::new());
}

#[test]
fn the_log_is_capped_and_sessions_too() {
    let s = store(3, 2);
    let now = Instant::now();
    for i in 0..5 {
        s.log(&format!("o{i}"), &"/".into(), &BroadcastOptions::new(), packet(i), now);
    }
    assert_eq!(s.logged(), 3);
    let ids: Vec<(Sid, Sid)> = (0..3).map(|_| (Sid::generate(0, 1), Sid::generate(0, 1))).collect();
    for (sid, pid) in &ids {
        s.persist(session(*sid, *pid, &[]), now);
    }
    assert_eq!(s.kept(), 2);
    assert!(texts(s.take(ids[0].1, "/", "o2", now)).is_none(), "the oldest went");
    assert!(texts(s.take(ids[1].1, "/", "o1", now)).is_none(), "its offset fell off");
    assert_eq!(texts(s.take(ids[2].1, "/", "o2", now)).unwrap(), ["2[\"p\",3]", "2[\"p\",4]"]);
}

#[test]
fn a_recent_offset_in_a_full_log_gives_only_what_followed() {
    let (s, now, pid) = (store(1000, 10), Instant::now(), Sid::generate(0, 1));
    (0..1500).for_each(|i| s.log(&format!("o{i}"), &"/".into(), &BroadcastOptions::new(), packet(i), now));
    for (offset, missed) in [("o1497", Some(2)), ("o500", Some(999)), ("o499", None)] {
        s.persist(session(Sid::generate(0, 1), pid, &[]), now);
        assert_eq!(texts(s.take(pid, "/", offset, now)).map(|m| m.len()), missed, "{offset}");
    }
}

#[test]
fn everything_expires() {
    let s = store(100, 100);
    let t0 = Instant::now();
    let (sid, pid) = (Sid::generate(0, 1), Sid::generate(0, 1));
    s.log("a", &"/".into(), &BroadcastOptions::new(), packet(0), t0);
    s.persist(session(sid, pid, &[]), t0);
    let (other, other_pid) = (Sid::generate(0, 1), Sid::generate(0, 1));
    let t5 = t0 + Duration::from_secs(5);
    s.log("b", &"/".into(), &BroadcastOptions::new(), packet(1), t5);
    s.persist(session(other, other_pid, &[]), t5);
    s.forward(Sid::generate(0, 1), 1, t5);
    assert_eq!(s.sweep(t0 + Duration::from_secs(9)), Some(t0 + Duration::from_secs(10)));
    assert_eq!((s.logged(), s.kept()), (2, 3));
    assert_eq!(s.sweep(t0 + Duration::from_secs(11)), Some(t5 + Duration::from_secs(10)));
    assert_eq!((s.logged(), s.kept()), (1, 2));
    // An expired session does not restore even before the sweep.
    assert!(texts(s.take(other_pid, "/", "b", t5 + Duration::from_secs(11))).is_none());
    assert_eq!(s.sweep(t5 + Duration::from_secs(11)), None);
    assert_eq!((s.logged(), s.kept()), (0, 0));
}

#[test]
fn a_forward_stays_until_it_expires() {
    let s = store(10, 10);
    let now = Instant::now();
    let pid = Sid::generate(0, 1);
    s.forward(pid, 2, now);
    assert!(matches!(s.take(pid, "/", "x", now), Take::Forward(2)));
    assert!(matches!(s.take(pid, "/", "x", now), Take::Forward(2)));
    assert!(matches!(s.take(pid, "/", "x", now + Duration::from_secs(11)), Take::None));
}

#[test]
fn recoverable_reasons_are_nodes() {
    use DisconnectReason::*;
    for r in [TransportError, TransportClose, ForcedClose, PingTimeout, ServerShuttingDown, ForcedServerClose]
    {
        assert!(is_recoverable(r), "{r:?}");
    }
    for r in [ClientNamespaceDisconnect, ServerNamespaceDisconnect, ParseError, SlowConsumer] {
        assert!(!is_recoverable(r), "{r:?}");
    }
}
