//! Requests and responses between servers, against what Node's adapter wrote and answered.

use super::*;

#[test]
fn requests_as_node_writes_them() {
    let ack_broadcast = Request::Broadcast {
        uid: "AbCdEf".into(),
        request_id: "Io56Pa".into(),
        packet: event("/", vec![s("ev7"), s("a")]),
        opts: opts(&[], &[]).timeout(Duration::from_secs(5)),
    };
    let join = |uid: Option<&str>, o, rooms: &[&str]| Request::RemoteJoin {
        uid: uid.map(str::to_owned),
        opts: o,
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
    };
    let leave = |uid: Option<&str>, o, rooms: &[&str]| Request::RemoteLeave {
        uid: uid.map(str::to_owned),
        opts: o,
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
    };
    let disconnect = |uid: Option<&str>, o, close| Request::RemoteDisconnect {
        uid: uid.map(str::to_owned),
        opts: o,
        close,
    };
    let table: Vec<(Vec<u8>, Request)> = vec![
        (hex(IO_TIMEOUT_5000_EMIT_WITH_ACK), ack_broadcast),
        (
            FETCHSOCKETS.into(),
            Request::RemoteFetch {
                uid: "AbCdEf".into(),
                request_id: "Sd78Fg".into(),
                opts: opts(&["room1"], &["x"]),
            },
        ),
        (ALLROOMS.into(), Request::AllRooms { uid: "AbCdEf".into(), request_id: "Hj90Kl".into() }),
        (
            SERVERSIDEEMITWITHACK.into(),
            Request::ServerSideEmit {
                uid: "AbCdEf".into(),
                request_id: Some("Zx12Cv".into()),
                data: vec![s("ping"), 1.into()],
            },
        ),
        (SOCKETSJOIN.into(), join(Some("AbCdEf"), opts(&["room1"], &["x"]), &["r1", "r2"])),
        (SOCKETSLEAVE.into(), leave(Some("AbCdEf"), opts(&[], &[]), &["r1"])),
        (DISCONNECTSOCKETS_TRUE.into(), disconnect(Some("AbCdEf"), opts(&["nobody"], &[]), true)),
        (DISCONNECTSOCKETS_FALSE.into(), disconnect(Some("AbCdEf"), opts(&["nobody"], &[]), false)),
        // The emitter: no uid on 2–4.
        (EMITTER_OF_CHAT_SOCKETSJOIN.into(), join(None, opts(&[], &[]), &["r"])),
        (EMITTER_IN_ROOM_SOCKETSLEAVE.into(), leave(None, opts(&["room1"], &["sid9"]), &["r", "s"])),
        (EMITTER_DISCONNECTSOCKETS_TRUE.into(), disconnect(None, opts(&[], &[]), true)),
        (EMITTER_DISCONNECTSOCKETS_DEFAULT.into(), disconnect(None, opts(&["a"], &[]), false)),
        // 7.x legacy forms.
        (
            V7_REMOTEJOIN.into(),
            Request::LegacyJoin {
                uid: "OlDv7x".into(),
                request_id: "Lg0002".into(),
                sid: "SiD0000000000000000x".into(),
                room: "room9".into(),
            },
        ),
        (
            V7_REMOTELEAVE.into(),
            Request::LegacyLeave {
                uid: "OlDv7x".into(),
                request_id: "Lg0003".into(),
                sid: "SiD0000000000000000x".into(),
                room: "room9".into(),
            },
        ),
        (
            V7_REMOTEDISCONNECT.into(),
            Request::LegacyDisconnect {
                uid: "OlDv7x".into(),
                request_id: "Lg0004".into(),
                sid: "SiD0000000000000000x".into(),
                close: true,
            },
        ),
        (
            V7_SOCKETS.into(),
            Request::Sockets {
                uid: "OlDv7x".into(),
                request_id: "ZZZZZZ".into(),
                rooms: vec!["room1".into()],
            },
        ),
    ];
    for (bytes, request) in table {
        assert_eq!(
            String::from_utf8_lossy(&request.encode()),
            String::from_utf8_lossy(&bytes),
            "{request:?}"
        );
        assert_eq!(Request::decode(&bytes).unwrap(), request);
    }
}

#[test]
fn server_side_emits_write_buffers_as_node_json() {
    // Sent with Value::Binary, read back as the plain object JSON.parse makes.
    let sent = |data| Request::ServerSideEmit { uid: "AbCdEf".into(), request_id: None, data };
    let ours = sent(vec![s("hello"), 1.into(), s("two"), bin(&[3])]);
    assert_eq!(String::from_utf8(ours.encode()).unwrap(), SERVERSIDEEMIT);
    let back = Request::decode(SERVERSIDEEMIT.as_bytes()).unwrap();
    assert_eq!(back, sent(vec![s("hello"), 1.into(), s("two"), buffer_json(&[3])]));
    assert_eq!(back.encode(), SERVERSIDEEMIT.as_bytes());
    let emitter = Request::ServerSideEmit {
        uid: EMITTER_UID.into(),
        request_id: None,
        data: vec![s("hello"), 1.into(), obj(&[("a", bin(&[3]))])],
    };
    assert_eq!(String::from_utf8(emitter.encode()).unwrap(), EMITTER_SERVERSIDEEMIT);
    assert_eq!(emitter.uid(), Some(EMITTER_UID));
}

#[test]
fn requests_a_node_answers() {
    let table: Vec<(Vec<u8>, Request)> = vec![
        (
            RESP_SOCKETS_REQUEST_IN.into(),
            Request::Sockets {
                uid: "PeEr01".into(),
                request_id: "Rq0001".into(),
                rooms: vec!["room1".into()],
            },
        ),
        (
            RESP_ALL_ROOMS_REQUEST_IN.into(),
            Request::AllRooms { uid: "PeEr01".into(), request_id: "Rq0002".into() },
        ),
        (
            RESP_REMOTE_FETCH_REQUEST_IN.into(),
            Request::RemoteFetch {
                uid: "PeEr01".into(),
                request_id: "Rq0003".into(),
                opts: opts(&["room1"], &[]),
            },
        ),
        (
            RESP_REMOTE_FETCH_EMPTY_REQUEST_IN.into(),
            Request::RemoteFetch {
                uid: "PeEr01".into(),
                request_id: "Rq0004".into(),
                opts: opts(&["none"], &[]),
            },
        ),
        (
            RESP_SERVER_SIDE_EMIT_ACK_UNDEFINED_REQUEST_IN.into(),
            Request::ServerSideEmit {
                uid: "PeEr01".into(),
                request_id: Some("Rq0006".into()),
                data: vec![s("noarg")],
            },
        ),
        (
            RESP_SERVER_SIDE_EMIT_ACK_REQUEST_IN.into(),
            Request::ServerSideEmit {
                uid: "PeEr01".into(),
                request_id: Some("Rq0005".into()),
                data: vec![s("ping")],
            },
        ),
        (
            hex(RESP_BROADCAST_NO_ARG_REQUEST_IN),
            Request::Broadcast {
                uid: "PeEr01".into(),
                request_id: "Rq0008".into(),
                packet: event("/", vec![s("ev7b")]),
                opts: opts(&["room1"], &[]).timeout(Duration::from_secs(5)),
            },
        ),
        (
            RESP_LEGACY_REMOTE_JOIN_REQUEST_IN.into(),
            Request::LegacyJoin {
                uid: "PeEr01".into(),
                request_id: "Rq0010".into(),
                sid: SID.into(),
                room: "lr".into(),
            },
        ),
    ];
    for (bytes, request) in table {
        assert_eq!(request.encode(), bytes, "{request:?}");
        assert_eq!(Request::decode(&bytes).unwrap(), request);
        assert_eq!(request.uid(), Some("PeEr01"));
        assert!(request.request_id().is_some());
    }
    for bytes in [RESP_BROADCAST_REQUEST_IN, RESP_BROADCAST_NO_CLIENTS_REQUEST_IN] {
        let request = Request::decode(&hex(bytes)).unwrap();
        assert!(matches!(request, Request::Broadcast { .. }));
        assert_eq!(request.encode(), hex(bytes));
    }
}

#[test]
fn responses_as_node_writes_them() {
    let table: Vec<(Vec<u8>, Response)> = vec![
        (RESP_SOCKETS.into(), Response::Sockets { request_id: "Rq0001".into(), sockets: vec![SID.into()] }),
        (
            RESP_ALL_ROOMS.into(),
            Response::AllRooms { request_id: "Rq0002".into(), rooms: vec![SID.into(), "room1".into()] },
        ),
        (
            RESP_REMOTE_FETCH_EMPTY.into(),
            Response::FetchSockets { request_id: "Rq0004".into(), sockets: vec![] },
        ),
        (
            RESP_SERVER_SIDE_EMIT_ACK.into(),
            Response::ServerSideEmit {
                request_id: "Rq0005".into(),
                data: obj(&[("pong", buffer_json(&[5]))]),
            },
        ),
        (RESP_BROADCAST.into(), Response::ClientCount { request_id: "Rq0007".into(), count: 1 }),
        (
            hex(RESP_BROADCAST_2),
            Response::BroadcastAck {
                request_id: "Rq0007".into(),
                packet: obj(&[("ok", 1.into()), ("b", bin(&[4]))]),
            },
        ),
        (RESP_BROADCAST_NO_CLIENTS.into(), Response::ClientCount { request_id: "Rq0009".into(), count: 0 }),
        (RESP_LEGACY_REMOTE_JOIN.into(), Response::Legacy { request_id: "Rq0010".into() }),
    ];
    for (bytes, response) in table {
        assert_eq!(
            String::from_utf8_lossy(&response.encode()),
            String::from_utf8_lossy(&bytes),
            "{response:?}"
        );
        assert_eq!(Response::decode(&bytes).unwrap(), response);
    }
    // A buffer we send in an ack is written as Node writes one.
    let ours = Response::ServerSideEmit { request_id: "Rq0005".into(), data: obj(&[("pong", bin(&[5]))]) };
    assert_eq!(ours.encode(), RESP_SERVER_SIDE_EMIT_ACK.as_bytes());
}

#[test]
fn responses_without_an_ack_argument() {
    // Node drops the `undefined` key: we read it as Null (and would write null / nil).
    let r = Response::decode(RESP_SERVER_SIDE_EMIT_ACK_UNDEFINED.as_bytes()).unwrap();
    assert_eq!(r, Response::ServerSideEmit { request_id: "Rq0006".into(), data: Value::Null });
    assert_eq!(Response::decode(RESP_BROADCAST_NO_ARG.as_bytes()).unwrap().request_id(), "Rq0008");
    let r = Response::decode(&hex(RESP_BROADCAST_NO_ARG_2)).unwrap();
    assert_eq!(r, Response::BroadcastAck { request_id: "Rq0008".into(), packet: Value::Null });
}

#[test]
fn fetched_sockets_round_trip_byte_for_byte() {
    let r = Response::decode(RESP_REMOTE_FETCH.as_bytes()).unwrap();
    let Response::FetchSockets { request_id, sockets } = &r else { panic!("{r:?}") };
    assert_eq!(request_id, "Rq0003");
    assert_eq!(sockets.len(), 1);
    let socket = &sockets[0];
    assert_eq!(socket.id, SID);
    assert_eq!(socket.rooms, [SID, "room1"]);
    assert_eq!(socket.handshake.get("auth"), Some(&obj(&[("token", s("t"))])));
    assert_eq!(socket.handshake.get("issued").and_then(Value::as_u64), Some(1796303415179));
    assert_eq!(socket.data, obj(&[("user", s("u1")), ("n", 1.5.into()), ("buf", buffer_json(&[9, 8]))]));
    assert_eq!(String::from_utf8(r.encode()).unwrap(), RESP_REMOTE_FETCH);
    // Our own socket data with a buffer is written as Node writes that one.
    let mut ours = socket.clone();
    ours.data = obj(&[("user", s("u1")), ("n", 1.5.into()), ("buf", bin(&[9, 8]))]);
    let ours = Response::FetchSockets { request_id: "Rq0003".into(), sockets: vec![ours] };
    assert_eq!(String::from_utf8(ours.encode()).unwrap(), RESP_REMOTE_FETCH);
}
