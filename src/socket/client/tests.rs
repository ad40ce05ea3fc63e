//! Exact-bytes conversations for both protocol versions, and a property: whatever the client
//! sends, nothing panics and nothing is routed to a namespace the application did not accept.

use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use proptest::prelude::*;

use super::*;
use DisconnectReason::{
    ClientNamespaceDisconnect, ForcedClose, ForcedServerClose, PingTimeout, ServerNamespaceDisconnect,
    TransportClose,
};

const SOCKET: &str = "wZX3oN0bSVIhsaknAAAI";
const OTHER: &str = "yAkqqFkAO5V0NHFBAAAB";

fn sid(s: &str) -> Sid {
    Sid::parse(s.as_bytes()).unwrap()
}

fn client(version: SioVersion, now: Instant) -> SioClient {
    let mut c = SioClient::new(version, sid("hLOEJXN07AE0GQCNAAAB"), &ClientOptions::default(), now);
    c.on_open(now);
    c
}

fn drain(c: &mut SioClient) -> Vec<Action> {
    std::iter::from_fn(|| c.poll_action()).collect()
}

fn text(s: &str) -> Action {
    Action::Send(EnginePayload::Text(s.into()))
}

fn binary(b: &'static [u8]) -> Action {
    Action::Send(EnginePayload::Binary(Bytes::from_static(b)))
}

fn connect(nsp: &str, auth: &str) -> Action {
    Action::Connect { nsp: nsp.into(), auth: auth.into() }
}

fn disconnect(nsp: &str, socket: &str, reason: DisconnectReason) -> Action {
    Action::Disconnect { nsp: nsp.into(), socket: sid(socket), reason }
}

/// Feeds a text message and returns what came out.
fn feed(c: &mut SioClient, msg: &str) -> Vec<Action> {
    c.on_text(ByteString::from(msg));
    drain(c)
}

/// Joins `nsp` the way a v5 client does and checks the ack's bytes.
fn join_v5(c: &mut SioClient, nsp: &str, socket: &str, now: Instant) {
    let header = if nsp == "/" { String::new() } else { format!("{nsp},") };
    assert_eq!(feed(c, &format!("0{header}")), [connect(nsp, "{}")]);
    assert!(c.accept(nsp, sid(socket), now));
    assert_eq!(drain(c), [text(&format!(r#"0{header}{{"sid":"{socket}"}}"#))]);
}

#[test]
fn v5_connect_accepted() {
    let now = Instant::now();
    let mut c = client(SioVersion::V5, now);
    assert_eq!(drain(&mut c), [], "v5 clients connect to / themselves");
    assert_eq!(feed(&mut c, "0"), [connect("/", "{}")]);
    assert!(!c.is_connected("/"), "not before the application answers");
    assert!(c.accept("/", sid(SOCKET), now));
    assert_eq!(drain(&mut c), [text(r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#)]);
    assert!(!c.accept("/", sid(OTHER), now), "answered already");

    assert_eq!(feed(&mut c, r#"0/admin,{"token":"abc"}"#), [connect("/admin", r#"{"token":"abc"}"#)]);
    assert!(c.accept("/admin", sid(OTHER), now));
    assert_eq!(drain(&mut c), [text(r#"0/admin,{"sid":"yAkqqFkAO5V0NHFBAAAB"}"#)]);
    assert_eq!(c.namespaces().collect::<Vec<_>>(), [("/", sid(SOCKET)), ("/admin", sid(OTHER))]);
    assert_eq!(c.version(), SioVersion::V5);
}

#[test]
fn v5_connect_refused() {
    let now = Instant::now();
    let mut c = client(SioVersion::V5, now);
    let table: &[(&str, ConnectRefusal, &str)] = &[
        ("/admin", ConnectRefusal::InvalidNamespace, r#"4/admin,{"message":"Invalid namespace"}"#),
        (
            "/",
            ConnectRefusal::Middleware {
                message: "Not authorized".into(),
                data: Some(r#"{"code":1}"#.into()),
            },
            r#"4{"message":"Not authorized","data":{"code":1}}"#,
        ),
        (
            "/chat",
            ConnectRefusal::Middleware { message: "no \"way\"".into(), data: None },
            r#"4/chat,{"message":"no \"way\""}"#,
        ),
    ];
    for (nsp, refusal, want) in table {
        let msg = if *nsp == "/" { "0".to_owned() } else { format!("0{nsp},") };
        assert_eq!(feed(&mut c, &msg), [connect(nsp, "{}")]);
        assert!(c.refuse(nsp, refusal.clone()));
        assert_eq!(drain(&mut c), [text(want)], "{nsp}");
        assert!(!c.is_connected(nsp));
    }
    // A refused namespace may be asked for again.
    assert_eq!(feed(&mut c, "0/admin,"), [connect("/admin", "{}")]);
    assert!(!c.refuse("/nope", ConnectRefusal::InvalidNamespace));
}

#[test]
fn v4_auto_connect_and_query() {
    let now = Instant::now();
    let mut c = client(SioVersion::V4, now);
    assert_eq!(drain(&mut c), [connect("/", "{}")], "Node's onconnection joins / for EIO=3");
    c.on_open(now);
    assert_eq!(drain(&mut c), [], "once");
    assert!(c.accept("/", sid(SOCKET), now));
    assert_eq!(drain(&mut c), [text("0")]);

    assert_eq!(
        feed(&mut c, "0/admin?token=abc&x=a%20b,"),
        [connect("/admin", r#"{"token":"abc","x":"a b"}"#)]
    );
    assert!(c.accept("/admin", sid(OTHER), now));
    assert_eq!(drain(&mut c), [text("0/admin,")]);
    // The query is not part of the namespace's name, in any packet.
    let got = feed(&mut c, r#"2/admin?x=1,["hi"]"#);
    assert!(matches!(&got[..], [Action::Event { nsp, .. }] if nsp == "/admin"), "{got:?}");
    // v4 ignores a CONNECT's data: its auth is the query.
    assert_eq!(feed(&mut c, r#"0/chat,{"a":1}"#), [connect("/chat", "{}")]);
}

#[test]
fn v4_connect_refused() {
    let now = Instant::now();
    let mut c = client(SioVersion::V4, now);
    drain(&mut c);
    let table: &[(&str, ConnectRefusal, &str)] = &[
        ("/", ConnectRefusal::InvalidNamespace, r#"4{"message":"Invalid namespace"}"#),
        (
            "/a",
            ConnectRefusal::Middleware { message: "Not authorized".into(), data: None },
            r#"4/a,"Not authorized""#,
        ),
        (
            "/b",
            ConnectRefusal::Middleware { message: "m".into(), data: Some(r#"{"code":1}"#.into()) },
            r#"4/b,{"code":1}"#,
        ),
        ("/c", ConnectRefusal::Middleware { message: "m".into(), data: Some("0".into()) }, r#"4/c,"m""#),
    ];
    for (nsp, refusal, want) in table {
        if *nsp != "/" {
            assert_eq!(feed(&mut c, &format!("0{nsp}?q=1,")), [connect(nsp, r#"{"q":"1"}"#)]);
        }
        assert!(c.refuse(nsp, refusal.clone()));
        assert_eq!(drain(&mut c), [text(want)], "{nsp}");
    }
}

#[test]
fn events_and_acks_are_routed() {
    let now = Instant::now();
    let mut c = client(SioVersion::V5, now);
    join_v5(&mut c, "/", SOCKET, now);
    join_v5(&mut c, "/admin", OTHER, now);

    let got = feed(&mut c, r#"2/admin,7["hello",1]"#);
    let [Action::Event { nsp, socket, packet, attachments }] = &got[..] else { panic!("{got:?}") };
    assert_eq!((&**nsp, *socket, packet.id, attachments.len()), ("/admin", sid(OTHER), Some(7), 0));
    assert_eq!(packet.event().unwrap().name, "hello");

    let got = feed(&mut c, r#"2["no ack"]"#);
    assert!(
        matches!(&got[..], [Action::Event { socket, packet, .. }] if *socket == sid(SOCKET) && packet.id.is_none())
    );

    let got = feed(&mut c, r#"3/admin,4["ok"]"#);
    let [Action::Ack { nsp, id, packet, .. }] = &got[..] else { panic!("{got:?}") };
    assert_eq!((&**nsp, *id, packet.ack_args().unwrap().len()), ("/admin", 4, 1));
    assert_eq!(feed(&mut c, "3[1]"), [], "an ack without id matches nothing");

    assert!(c.send_packet(&Packet::new_ack("/admin", 7, &["1", r#""x""#]), &[]));
    assert!(c.send_packet(&Packet::new_event("/", "news", &["{}"], Some(3)), &[]));
    assert_eq!(drain(&mut c), [text(r#"3/admin,7[1,"x"]"#), text(r#"23["news",{}]"#)]);
}

#[test]
fn binary_packets_both_ways() {
    let now = Instant::now();
    let mut c = client(SioVersion::V5, now);
    join_v5(&mut c, "/admin", OTHER, now);
    let header = r#"52-/admin,9["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    assert_eq!(feed(&mut c, header), []);
    c.on_binary(Bytes::from_static(b"\x01\x02"));
    assert_eq!(drain(&mut c), []);
    c.on_binary(Bytes::from_static(b"\x03"));
    let got = drain(&mut c);
    let [Action::Event { packet, attachments, .. }] = &got[..] else { panic!("{got:?}") };
    assert_eq!((packet.kind, packet.id), (PacketKind::BinaryEvent, Some(9)));
    assert_eq!(attachments, &[&b"\x01\x02"[..], b"\x03"]);

    let ack = r#"61-/admin,5[{"_placeholder":true,"num":0}]"#;
    assert_eq!(feed(&mut c, ack), []);
    c.on_binary(Bytes::from_static(b"z"));
    let got = drain(&mut c);
    assert!(
        matches!(&got[..], [Action::Ack { id: 5, attachments, .. }] if attachments.len() == 1),
        "{got:?}"
    );

    let (packet, buffers) =
        Packet::event_values("/admin", "file", &[Bytes::from_static(b"\xff").into()], None);
    assert!(c.send_packet(&packet, &buffers));
    assert_eq!(drain(&mut c), [text(r#"51-/admin,["file",{"_placeholder":true,"num":0}]"#), binary(b"\xff")]);
}

#[test]
fn disconnect_both_directions() {
    let now = Instant::now();
    let mut c = client(SioVersion::V5, now);
    join_v5(&mut c, "/", SOCKET, now);
    join_v5(&mut c, "/admin", OTHER, now);

    assert_eq!(feed(&mut c, "1/admin,"), [disconnect("/admin", OTHER, ClientNamespaceDisconnect)]);
    assert!(!c.is_connected("/admin"));
    join_v5(&mut c, "/admin", OTHER, now);

    assert!(c.disconnect_socket("/admin", now));
    assert_eq!(drain(&mut c), [text("1/admin,"), disconnect("/admin", OTHER, ServerNamespaceDisconnect)]);
    assert!(!c.disconnect_socket("/admin", now));
    assert!(c.disconnect_socket("/", now));
    assert_eq!(drain(&mut c), [text("1"), disconnect("/", SOCKET, ServerNamespaceDisconnect)]);
    assert!(c.is_open(), "leaving every namespace keeps the connection");
}

#[test]
fn disconnect_all_closes_the_connection() {
    let now = Instant::now();
    let mut c = client(SioVersion::V4, now);
    drain(&mut c);
    assert!(c.accept("/", sid(SOCKET), now));
    drain(&mut c);
    c.disconnect_all(now);
    assert_eq!(
        drain(&mut c),
        [
            text("1"),
            disconnect("/", SOCKET, ServerNamespaceDisconnect),
            Action::CloseEngine(ForcedServerClose)
        ]
    );
    c.on_engine_close(ForcedClose);
    assert_eq!(drain(&mut c), []);
}

#[test]
fn engine_close_disconnects_every_socket() {
    let now = Instant::now();
    let mut c = client(SioVersion::V5, now);
    join_v5(&mut c, "/", SOCKET, now);
    join_v5(&mut c, "/admin", OTHER, now);
    assert_eq!(feed(&mut c, "0/late,"), [connect("/late", "{}")]);
    c.on_engine_close(PingTimeout);
    assert_eq!(
        drain(&mut c),
        [disconnect("/", SOCKET, PingTimeout), disconnect("/admin", OTHER, PingTimeout)]
    );
    assert!(!c.accept("/late", sid(SOCKET), now), "Node: next called after client was closed");
    assert_eq!(feed(&mut c, r#"2["x"]"#), []);
    assert!(!c.send_packet(&Packet::disconnect("/"), &[]));
    c.on_engine_close(TransportClose);
    assert_eq!(drain(&mut c), []);
}

#[test]
fn connect_timeout_only_without_a_namespace() {
    let t0 = Instant::now();
    let timeout = Duration::from_secs(45);
    let mut c = client(SioVersion::V5, t0);
    assert_eq!(c.next_deadline(), Some(t0 + timeout));
    c.on_timeout(t0 + timeout - Duration::from_millis(1));
    assert_eq!(drain(&mut c), []);
    c.on_timeout(t0 + timeout);
    assert_eq!(drain(&mut c), [Action::CloseEngine(ForcedServerClose)]);
    assert_eq!(c.next_deadline(), None);

    // A pending CONNECT is not a joined namespace: it is dropped with the connection.
    let mut c = client(SioVersion::V4, t0);
    assert_eq!(drain(&mut c), [connect("/", "{}")]);
    c.on_timeout(t0 + timeout);
    assert_eq!(drain(&mut c), [Action::CloseEngine(ForcedServerClose)]);
    assert!(!c.accept("/", sid(SOCKET), t0 + timeout));

    // Joined once: the timer is gone for good, even after leaving.
    let mut c = client(SioVersion::V5, t0);
    join_v5(&mut c, "/", SOCKET, t0);
    assert_eq!(c.next_deadline(), None);
    assert!(c.disconnect_socket("/", t0));
    drain(&mut c);
    c.on_timeout(t0 + 2 * timeout);
    assert_eq!((drain(&mut c), c.next_deadline()), (vec![], None));
}

#[test]
fn parse_error_closes_and_mutes() {
    let now = Instant::now();
    let mut c = client(SioVersion::V5, now);
    join_v5(&mut c, "/", SOCKET, now);
    assert_eq!(feed(&mut c, "0/admin,"), [connect("/admin", "{}")]);
    let got = feed(&mut c, r#"2["disconnect"]"#);
    let error = ParseError::ReservedEventName;
    assert_eq!(
        got,
        [
            Action::Error { nsp: "/".into(), socket: sid(SOCKET), error },
            Action::CloseEngine(DisconnectReason::ParseError)
        ]
    );
    assert!(!c.is_open());
    assert_eq!(feed(&mut c, r#"2["fine"]"#), [], "nothing is read after the error");
    assert!(!c.send_packet(&Packet::disconnect("/"), &[]), "nor written");
    assert!(!c.accept("/admin", sid(OTHER), now));
    assert_eq!(c.next_deadline(), None);
    c.on_engine_close(ForcedClose);
    assert_eq!(drain(&mut c), [disconnect("/", SOCKET, ForcedClose)]);

    let table: &[(&str, &[u8])] = &[("x", b""), ("4abc", b""), (r#"2/a,["a""#, b""), ("", b"\x00")];
    for (msg, bin) in table {
        let mut c = client(SioVersion::V5, now);
        if msg.is_empty() {
            c.on_binary(Bytes::from_static(bin));
        } else {
            c.on_text(ByteString::from(*msg));
        }
        assert_eq!(drain(&mut c), [Action::CloseEngine(DisconnectReason::ParseError)], "{msg:?}");
    }
}

#[test]
fn invalid_state_closes() {
    let now = Instant::now();
    let cases = [
        ("unknown namespace", r#"2/admin,["x"]"#),
        ("ack for unknown namespace", "3/admin,1[]"),
        ("disconnect of unknown namespace", "1/admin,"),
        ("second CONNECT", "0"),
        ("CONNECT_ERROR from a client", r#"4{"message":"x"}"#),
    ];
    for (what, msg) in cases {
        let mut c = client(SioVersion::V5, now);
        join_v5(&mut c, "/", SOCKET, now);
        assert_eq!(
            feed(&mut c, msg),
            [Action::CloseEngine(ForcedServerClose), disconnect("/", SOCKET, ForcedServerClose)],
            "{what}"
        );
        c.on_engine_close(ForcedClose);
        assert_eq!(drain(&mut c), [], "{what}: Node's client is destroyed already");
    }
    // Before any namespace is joined, an event closes just the same.
    let mut c = client(SioVersion::V5, now);
    assert_eq!(feed(&mut c, r#"2["x"]"#), [Action::CloseEngine(ForcedServerClose)]);
}

#[test]
fn duplicate_pending_connect_is_ignored() {
    let now = Instant::now();
    let mut c = client(SioVersion::V5, now);
    assert_eq!(feed(&mut c, "0/admin,"), [connect("/admin", "{}")]);
    assert_eq!(feed(&mut c, "0/admin,"), []);
    assert!(c.accept("/admin", sid(OTHER), now));
    assert!(!c.accept("/admin", sid(SOCKET), now));
}

#[derive(Clone, Debug)]
enum Step {
    Text(String),
    Binary(Vec<u8>),
    /// A binary packet's text and its one attachment.
    WithAttachment(String),
    Accept(usize),
    Refuse(usize),
    ServerDisconnect(usize),
    EngineClose,
    Timeout(u64),
}

fn step() -> impl Strategy<Value = Step> {
    let nsp =
        prop_oneof![4 => Just(""), 4 => Just("/a,"), 1 => Just("/b?x=1,"), 1 => Just("/a?"), 1 => Just("/,")];
    // Mostly well-formed packets, so that conversations get past the first message.
    // Events outnumber the rest, as in real conversations; a CONNECT for a joined namespace
    // ends the connection.
    let template = prop::sample::select(vec![
        "0{}",
        "0{}{{}}",
        "2{}[\"e\",1]",
        "2{}[\"e\",1]",
        "2{}7[\"e\"]",
        "2{}7[\"e\"]",
        "3{}1[]",
        "3{}1[]",
        "1{}",
    ]);
    let binary = prop::sample::select(vec![
        "51-{}[\"e\",{{\"_placeholder\":true,\"num\":0}}]",
        "61-{}2[{{\"_placeholder\":true,\"num\":0}}]",
    ]);
    let fill = |t: &str, nsp: &str| t.replacen("{}", nsp, 1).replace("{{", "{").replace("}}", "}");
    let valid = (template, nsp.clone()).prop_map(move |(t, nsp)| Step::Text(fill(t, nsp)));
    let with_attachment = (binary, nsp.clone()).prop_map(move |(t, nsp)| Step::WithAttachment(fill(t, nsp)));
    let body = "[0-9\\[\\]{}\",a-z_:]{0,12}";
    let noisy = ("[0-6]", prop::sample::select(vec!["", "1-", "0-", "2-"]), nsp, body)
        .prop_map(|(t, n, nsp, body)| Step::Text(format!("{t}{n}{nsp}{body}")));
    prop_oneof![
        12 => valid,
        3 => with_attachment,
        1 => noisy,
        1 => any::<String>().prop_map(Step::Text),
        1 => proptest::collection::vec(any::<u8>(), 0..3).prop_map(Step::Binary),
        4 => any::<usize>().prop_map(Step::Accept),
        1 => any::<usize>().prop_map(Step::Refuse),
        1 => any::<usize>().prop_map(Step::ServerDisconnect),
        1 => Just(Step::EngineClose),
        1 => (0u64..60).prop_map(Step::Timeout),
    ]
}

/// What the application saw: the namespaces the client asked for, the sockets accepted and not
/// yet gone, whether the engine was told to close.
#[derive(Default)]
struct Seen {
    asked: Vec<String>,
    live: Vec<(String, Sid)>,
    closed: bool,
}

impl Seen {
    /// Checks every pending action; returns the namespaces newly asked for.
    fn absorb(&mut self, c: &mut SioClient) -> Result<Vec<String>, TestCaseError> {
        let mut new = Vec::new();
        while let Some(action) = c.poll_action() {
            let named = match &action {
                Action::Connect { nsp, auth } => {
                    prop_assert!(!self.closed);
                    prop_assert!(auth.starts_with('{'), "auth {}", auth);
                    new.push(nsp.to_string());
                    None
                }
                Action::Event { nsp, socket, .. }
                | Action::Ack { nsp, socket, .. }
                | Action::Error { nsp, socket, .. } => Some((nsp, *socket, false)),
                Action::Disconnect { nsp, socket, .. } => Some((nsp, *socket, true)),
                Action::Send(_) => {
                    prop_assert!(!self.closed, "no write after a close");
                    None
                }
                Action::CloseEngine(_) => {
                    self.closed = true;
                    None
                }
            };
            if let Some((nsp, socket, leaves)) = named {
                let at = self.live.iter().position(|(n, s)| n == &**nsp && *s == socket);
                prop_assert!(at.is_some(), "{:?} for a socket not accepted", action);
                if let (true, Some(at)) = (leaves, at) {
                    self.live.remove(at);
                }
            }
        }
        self.asked.extend(new.iter().cloned());
        Ok(new)
    }

    fn accept(&mut self, c: &mut SioClient, nsp: &str) {
        let socket = Sid::generate(0, 1);
        if c.accept(nsp, socket, Instant::now()) {
            self.live.push((nsp.to_owned(), socket));
        }
    }
}

proptest! {
    #[test]
    fn no_action_for_a_namespace_not_accepted(
        v4 in any::<bool>(),
        eager in any::<bool>(),
        steps in proptest::collection::vec(step(), 0..40),
    ) {
        let t0 = Instant::now();
        let version = if v4 { SioVersion::V4 } else { SioVersion::V5 };
        let mut c = client(version, t0);
        let mut seen = Seen::default();
        if eager {
            c.on_text(ByteString::from_static("0/a,"));
            if !v4 {
                c.on_text(ByteString::from_static("0"));
            }
        }
        for step in steps {
            match step {
                Step::Text(t) => c.on_text(t.into()),
                Step::Binary(b) => c.on_binary(b.into()),
                Step::WithAttachment(t) => {
                    c.on_text(t.into());
                    c.on_binary(Bytes::from_static(b"\x00"));
                }
                Step::Accept(i) if !seen.asked.is_empty() => {
                    let nsp = seen.asked[i % seen.asked.len()].clone();
                    seen.accept(&mut c, &nsp);
                }
                Step::Refuse(i) if !seen.asked.is_empty() => {
                    let nsp = seen.asked[i % seen.asked.len()].clone();
                    c.refuse(&nsp, ConnectRefusal::InvalidNamespace);
                }
                Step::ServerDisconnect(i) if !seen.live.is_empty() => {
                    let nsp = seen.live[i % seen.live.len()].0.clone();
                    prop_assert!(c.disconnect_socket(&nsp, t0));
                }
                Step::EngineClose => c.on_engine_close(TransportClose),
                Step::Timeout(s) => c.on_timeout(t0 + Duration::from_secs(s)),
                _ => {}
            }
            // An eager application accepts at once, so that later packets find their socket.
            loop {
                let new = seen.absorb(&mut c)?;
                if !eager || new.is_empty() {
                    break;
                }
                for nsp in new {
                    seen.accept(&mut c, &nsp);
                }
            }
            let joined: Vec<(String, Sid)> = c.namespaces().map(|(n, s)| (n.to_owned(), s)).collect();
            prop_assert_eq!(&joined, &seen.live);
        }
    }
}
