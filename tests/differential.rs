//! Differential test: the same scripted raw HTTP and WebSocket exchanges against the Node
//! reference (`loadtest/node-reference/conformance.mjs`: engine.io 6.6 and socket.io 4.8, from
//! the committed lockfile) and against tpcio in its conformance configuration (two shards), with
//! the answers compared byte for byte: status line, every header in wire order and case, body
//! (chunk framing included). Only the `Date` value and session ids are masked
//! (`common::script`), and only the deviations listed in [`DELIBERATE`] (README: "Deliberate
//! deviations from Node") are tolerated. A difference prints the step and both answers.
//!
//! Over WebSocket the unit is the message, not the TCP write: Node writes some consecutive
//! messages in separate writes that we coalesce, which no client can observe.
//!
//! The scripts run with Node's default heartbeat (25 s, 20 s) so that no ping lands in the middle
//! of an exchange, except the heartbeat scripts, which use the conformance interval (300 ms) with
//! a 1 s timeout on both servers.

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use common::node_reference::NodeReference;
use common::script::{
    Entry, Script, differences, end, get, park_get, post, post_binary, read, request, run, script, ws_binary,
    ws_close, ws_close_reply, ws_open, ws_recv, ws_text,
};
use common::server::TestServer;

/// Differences between Node and tpcio that are on purpose, each with its reason (the README's
/// "Deliberate deviations from Node" lists the same): in script `script`, at each of `steps`
/// (1-based), Node's answer contains `node` and ours contains `ours`. Nothing else is tolerated.
struct Deviation {
    script: &'static str,
    steps: &'static [usize],
    node: &'static str,
    ours: &'static str,
    why: &'static str,
}

const DELIBERATE: &[Deviation] = &[
    Deviation {
        script: "session: a POST over maxHttpBufferSize",
        steps: &[2],
        node: "Connection: keep-alive",
        ours: "Connection: close",
        why: "a body announced over maxHttpBufferSize is refused before it is read, so the \
              connection closes instead of reading and dropping up to the whole body as Node does",
    },
    Deviation {
        script: "session: a POST over maxHttpBufferSize",
        steps: &[3, 4],
        node: "200 OK",
        ours: r#"{\"code\":1,\"message\":\"Session ID unknown\"}"#,
        why: "the session of a refused oversize POST is closed at once (the client drops it on a \
              413 anyway); Node leaves it open",
    },
    Deviation {
        script: "polling v4: handshake, echo, a batch, close",
        steps: &[9],
        node: "Session ID unknown",
        ours: r#"body: "6""#,
        why: CLOSE_THEN_GET,
    },
    Deviation {
        script: "polling v3: length-prefixed text, UTF-16 lengths, b4 base64, binary payloads",
        steps: &[13],
        node: "Session ID unknown",
        ours: r#"body: "1:6""#,
        why: CLOSE_THEN_GET,
    },
    Deviation {
        script: "session: a POST of exactly maxHttpBufferSize",
        steps: &[4],
        node: "Session ID unknown",
        ours: r#"body: "6""#,
        why: CLOSE_THEN_GET,
    },
    Deviation {
        script: "Socket.IO v5 over polling: namespaces, events, acks, attachments",
        steps: &[23],
        node: "Session ID unknown",
        ours: r#"body: "6""#,
        why: CLOSE_THEN_GET,
    },
];

/// The reorder window (README: "Timing, as Node's event loop has it").
const CLOSE_THEN_GET: &str = "a GET that comes within the reorder window after a close packet POSTed while no GET was \
                              parked is taken for the GET the client sent with it: it gets the noop a parked GET gets";

const WEBSOCKET_UPGRADE: &[(&str, &str)] =
    &[("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")];

/// A sid of the right shape that no session has.
const UNKNOWN_SID: &str = "AAAAAAAAAAAAAAAAAAAA";

/// `{eio}` in `target` replaced, for scripts written once for both protocol revisions.
fn at(target: &str, eio: u8) -> String {
    target.replace("{eio}", &eio.to_string())
}

/// A v3 payload: each packet prefixed by its length in UTF-16 code units and `:`.
fn v3(packets: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    for packet in packets {
        let _ = write!(out, "{}:{packet}", packet.encode_utf16().count());
    }
    out.into_bytes()
}

/// A v3 binary payload: per packet, `0` (text) or `1` (binary), the length as decimal digit
/// bytes, `0xff`, the packet (a binary packet's type is the byte `4`).
fn v3_binary(packets: &[Result<&str, &[u8]>]) -> Vec<u8> {
    let mut out = Vec::new();
    for packet in packets {
        let (kind, bytes) = match packet {
            Ok(text) => (0, text.as_bytes().to_vec()),
            Err(data) => (1, [&[4u8][..], data].concat()),
        };
        out.push(kind);
        out.extend(bytes.len().to_string().bytes().map(|d| d - b'0'));
        out.push(0xff);
        out.extend_from_slice(&bytes);
    }
    out
}

fn engine_polling() -> Vec<Script> {
    let v4 = "/engine.io/?EIO=4&transport=polling";
    let v4s = "/engine.io/?EIO=4&transport=polling&sid={sid}";
    let v3s = "/engine.io/?EIO=3&transport=polling&sid={sid}";
    let b64s = "/engine.io/?EIO=3&transport=polling&b64=1&sid={sid}";
    vec![
        script(
            "polling v4: handshake, echo, a batch, close",
            vec![
                get(0, v4),
                post(0, v4s, b"4hello"),
                get(0, v4s),
                // Several packets in one POST: text, UTF-8, binary as base64; one GET answers all.
                post(0, v4s, "4a\u{1e}4é😀\u{1e}bAQID\u{1e}4".as_bytes()),
                get(0, v4s),
                // A POST on another connection of the same session, then the close packet.
                post(1, v4s, b"4other"),
                get(1, v4s),
                post(0, v4s, b"1"),
                get(0, v4s),
            ],
        ),
        script(
            "polling v3: length-prefixed text, UTF-16 lengths, b4 base64, binary payloads",
            vec![
                get(0, "/engine.io/?EIO=3&transport=polling"),
                post(0, v3s, &v3(&["4hello"])),
                get(0, v3s),
                post(0, v3s, &v3(&["4a", "4é", "4😀", "4"])),
                get(0, v3s),
                // Base64 in a text payload; the echo goes back as a v3 binary payload.
                post(0, v3s, &v3(&["b4AQID"])),
                get(0, v3s),
                // A binary payload mixing a text and a binary packet.
                post_binary(0, v3s, &v3_binary(&[Ok("4hello"), Err(&[1, 2, 3])])),
                get(0, v3s),
                post_binary(0, v3s, &v3_binary(&[Ok("4only text")])),
                get(0, v3s),
                post(0, v3s, &v3(&["1"])),
                get(0, v3s),
            ],
        ),
        script(
            "polling v3 b64=1: binary as base64 text",
            vec![
                get(0, "/engine.io/?EIO=3&transport=polling&b64=1"),
                post(0, b64s, &v3(&["b4AQID", "4text"])),
                get(0, b64s),
            ],
        ),
        script("polling v3 JSONP", vec![get(0, "/engine.io/?EIO=3&transport=polling&j=0")]),
        script(
            "HTTP: Connection: close, Origin on an upgrade, Expect: 100-continue",
            vec![
                get(0, v4),
                // `100 Continue` comes first, even with the body at hand, then the answer.
                request(0, "POST", v4s, &[("Expect", "100-continue")], b"4continued"),
                read(0),
                get(0, v4s),
                post(1, v4s, b"4closing"),
                request(1, "GET", v4s, &[("Connection", "close")], b""),
                end(1),
                request(
                    2,
                    "GET",
                    "/engine.io/?EIO=4&transport=websocket",
                    &[
                        ("Connection", "Upgrade"),
                        ("Upgrade", "websocket"),
                        ("Sec-WebSocket-Version", "13"),
                        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                        ("Origin", "https://example.com"),
                    ],
                    b"",
                ),
                ws_recv(2),
                ws_close(2, 1001),
                ws_recv(2),
                end(2),
            ],
        ),
        script(
            "CORS: preflights, headers on answers, old Internet Explorer",
            vec![
                request(
                    0,
                    "OPTIONS",
                    v4,
                    &[
                        ("Origin", "https://example.com"),
                        ("Access-Control-Request-Method", "POST"),
                        ("Access-Control-Request-Headers", "content-type, x-custom"),
                    ],
                    b"",
                ),
                request(0, "OPTIONS", v4, &[], b""),
                request(0, "GET", v4, &[("Origin", "https://example.com")], b""),
                request(0, "OPTIONS", v4s, &[("Origin", "https://example.com")], b""),
                request(
                    0,
                    "POST",
                    v4s,
                    &[("Origin", "https://example.com"), ("Content-Type", "text/plain;charset=UTF-8")],
                    b"4x",
                ),
                request(
                    0,
                    "GET",
                    v4s,
                    &[("User-Agent", "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)")],
                    b"",
                ),
                request(
                    0,
                    "GET",
                    "/engine.io/?EIO=4&transport=flash",
                    &[("Origin", "https://example.com")],
                    b"",
                ),
            ],
        ),
    ]
}

/// Requests refused before any session: one connection each (a refused upgrade closes it).
fn engine_refusals() -> Vec<Script> {
    let mut steps = Vec::new();
    let mut conn = 0;
    let mut next = || {
        conn += 1;
        conn
    };
    for eio in [4, 3] {
        for target in [
            "/engine.io/?EIO={eio}&transport=flash",
            "/engine.io/?EIO={eio}",
            "/engine.io/?EIO={eio}&transport=",
            "/engine.io/?EIO={eio}&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA",
            "/engine.io/?EIO={eio}&transport=polling&sid=nope",
            "/engine.io/?EIO={eio}&transport=websocket",
            "/engine.io/?EIO={eio}&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA",
        ] {
            steps.push(get(next(), at(target, eio)));
        }
        let polling = at("/engine.io/?EIO={eio}&transport=polling", eio);
        let unknown = format!("{polling}&sid={UNKNOWN_SID}");
        steps.push(post(next(), unknown.clone(), b"1:6"));
        // A handshake must be a GET.
        steps.push(post(next(), polling.clone(), b""));
        for method in ["PUT", "DELETE", "PATCH", "HEAD"] {
            steps.push(request(next(), method, polling.clone(), &[], b""));
        }
        // Methods polling does not know, on a session that does not exist.
        steps.push(request(next(), "PUT", unknown, &[], b""));
    }
    for target in [
        "/engine.io/?EIO=5&transport=polling",
        "/engine.io/?EIO=abc&transport=polling",
        "/engine.io/?EIO=&transport=polling",
        "/engine.io/?transport=polling",
    ] {
        steps.push(get(next(), target));
    }
    let mut upgrades = Vec::new();
    for target in [
        "/engine.io/?EIO=4&transport=flash",
        "/engine.io/?EIO=4",
        "/engine.io/?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA",
        "/engine.io/?EIO=4&transport=websocket&sid=nope",
        "/engine.io/?EIO=3&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA",
    ] {
        let c = next();
        upgrades.push(ws_open(c, target));
        upgrades.push(end(c));
    }
    // Broken WebSocket handshakes: no key, an old version.
    let c = next();
    upgrades.push(request(c, "GET", "/engine.io/?EIO=4&transport=websocket", WEBSOCKET_UPGRADE, b""));
    upgrades.push(end(c));
    let c = next();
    upgrades.push(request(
        c,
        "GET",
        "/engine.io/?EIO=4&transport=websocket",
        &[
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "8"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        b"",
    ));
    upgrades.extend([ws_recv(c), ws_close(c, 1000), ws_recv(c), end(c)]);
    vec![
        script("refused before a session: polling", steps),
        script("refused before a session: WebSocket upgrades", upgrades),
        script(
            "refused: a WebSocket upgrade for the polling transport",
            vec![ws_open(0, "/engine.io/?EIO=4&transport=polling"), ws_recv(0), ws_close_reply(0), end(0)],
        ),
        script(
            "refused: unsupported protocol revisions over WebSocket",
            vec![
                ws_open(0, "/engine.io/?EIO=5&transport=websocket"),
                ws_recv(0),
                ws_close(0, 1000),
                ws_recv(0),
            ],
        ),
    ]
}

/// Bad requests and payloads on an open session: one session per script.
fn engine_session_errors() -> Vec<Script> {
    let v4 = "/engine.io/?EIO=4&transport=polling";
    let v4s = "/engine.io/?EIO=4&transport=polling&sid={sid}";
    let v3 = "/engine.io/?EIO=3&transport=polling";
    let v3s = "/engine.io/?EIO=3&transport=polling&sid={sid}";
    let mut scripts = vec![
        script(
            "session: methods polling does not know",
            vec![
                get(0, v4),
                request(0, "PUT", v4s, &[], b""),
                request(0, "DELETE", v4s, &[], b"x"),
                request(0, "HEAD", v4s, &[], b""),
            ],
        ),
        script(
            "session: the wrong transport for a polling sid",
            vec![
                get(0, v4),
                get(0, "/engine.io/?EIO=4&transport=websocket&sid={sid}"),
                get(0, "/engine.io/?EIO=4&transport=flash&sid={sid}"),
                // Another revision than the session's.
                post(0, "/engine.io/?EIO=3&transport=polling&sid={sid}", b"1:6"),
                post(0, v4s, b"4still open"),
                get(0, v4s),
            ],
        ),
        script(
            "session: a POST over maxHttpBufferSize",
            vec![get(0, v4), post(0, v4s, &[b'4'; 1_000_001]), post(1, v4s, b"4after"), get(1, v4s)],
        ),
        script(
            "session: a POST of exactly maxHttpBufferSize",
            vec![get(0, v4), post(0, v4s, &[b'4'; 1_000_000]), post(0, v4s, b"1"), get(0, v4s)],
        ),
        script(
            "session: a binary POST on a v4 session",
            vec![get(0, v4), post_binary(0, v4s, &v3_binary(&[Ok("4x")])), get(1, v4s)],
        ),
        script(
            "session: a WebSocket session's sid over polling",
            vec![
                ws_open(0, "/engine.io/?EIO=4&transport=websocket"),
                ws_recv(0),
                get(1, v4s),
                post(1, v4s, b"4x"),
                ws_text(0, "4still open"),
                ws_recv(0),
            ],
        ),
    ];
    for (name, body) in [
        ("an unknown packet type", b"9".to_vec()),
        ("a packet type that is not a digit", b"garbage".to_vec()),
        ("an empty body", b"".to_vec()),
        ("bad base64", b"b!!!".to_vec()),
        ("a batch with an empty packet", b"4a\x1e\x1e4b".to_vec()),
        ("a batch ending in a separator", b"4a\x1e".to_vec()),
    ] {
        scripts.push(script(
            format!("bad v4 payload: {name}"),
            // A message after it: echoed if the session lives on.
            vec![get(0, v4), post(0, v4s, &body), post(0, v4s, b"4after"), get(0, v4s)],
        ));
    }
    for (name, body) in [
        ("a length that is not a number", b"abc:4x".to_vec()),
        ("a length past the end", b"5:4x".to_vec()),
        ("no length", b"4hello".to_vec()),
        ("a zero length", b"0:".to_vec()),
        ("an unknown packet type", b"1:9".to_vec()),
        ("a truncated binary payload", vec![1, 4, 0xff, 4, 1]),
    ] {
        let post_it = if body.first() == Some(&1) { post_binary(0, v3s, &body) } else { post(0, v3s, &body) };
        let after = post(0, v3s, b"6:4after");
        scripts
            .push(script(format!("bad v3 payload: {name}"), vec![get(0, v3), post_it, after, get(0, v3s)]));
    }
    scripts
}

fn engine_websocket() -> Vec<Script> {
    vec![
        script(
            "WebSocket v4: echo text, UTF-8, binary, base64, then the close packet",
            vec![
                ws_open(0, "/engine.io/?EIO=4&transport=websocket"),
                ws_recv(0),
                ws_text(0, "4hello"),
                ws_recv(0),
                ws_text(0, "4é😀"),
                ws_recv(0),
                ws_binary(0, &[1, 2, 3]),
                ws_recv(0),
                ws_text(0, "bAQID"),
                ws_recv(0),
                ws_text(0, "4"),
                ws_recv(0),
                // Neither server answers the close packet by a close frame of its own: the client's
                // close frame ends the connection.
                ws_text(0, "1"),
                ws_close(0, 1000),
                ws_recv(0),
                end(0),
            ],
        ),
        script(
            "WebSocket v4: a close frame",
            vec![
                ws_open(0, "/engine.io/?EIO=4&transport=websocket"),
                ws_recv(0),
                ws_close(0, 1000),
                ws_recv(0),
                end(0),
            ],
        ),
        script(
            "WebSocket v4: a ping from the client",
            vec![
                ws_open(0, "/engine.io/?EIO=4&transport=websocket"),
                ws_recv(0),
                ws_text(0, "2"),
                ws_recv(0),
                ws_close_reply(0),
                end(0),
            ],
        ),
        script(
            "WebSocket v4: an unknown packet type",
            vec![
                ws_open(0, "/engine.io/?EIO=4&transport=websocket"),
                ws_recv(0),
                ws_text(0, "9"),
                ws_recv(0),
                ws_close_reply(0),
                end(0),
            ],
        ),
        script(
            "WebSocket v3: echo, binary with its type byte, client pings",
            vec![
                ws_open(0, "/engine.io/?EIO=3&transport=websocket"),
                ws_recv(0),
                ws_text(0, "4hi"),
                ws_recv(0),
                ws_binary(0, &[4, 1, 2, 3]),
                ws_recv(0),
                ws_text(0, "b4AQID"),
                ws_recv(0),
                ws_text(0, "2"),
                ws_recv(0),
                ws_text(0, "2probe"),
                ws_recv(0),
                // Neither server answers the close packet by a close frame of its own: the client's
                // close frame ends the connection.
                ws_text(0, "1"),
                ws_close(0, 1000),
                ws_recv(0),
                end(0),
            ],
        ),
        script(
            "WebSocket v3 b64=1: binary sent back as base64",
            vec![
                ws_open(0, "/engine.io/?EIO=3&transport=websocket&b64=1"),
                ws_recv(0),
                ws_binary(0, &[4, 1, 2, 3]),
                ws_recv(0),
                ws_close(0, 1000),
                ws_recv(0),
            ],
        ),
    ]
}

/// polling → WebSocket: probe, the noop to the parked GET, a message queued meanwhile, upgrade.
fn engine_upgrade() -> Vec<Script> {
    [4u8, 3]
        .into_iter()
        .map(|eio| {
            let polling = at("/engine.io/?EIO={eio}&transport=polling", eio);
            let session = format!("{polling}&sid={{sid}}");
            let enc = |packet: &str| if eio == 3 { v3(&[packet]) } else { packet.as_bytes().to_vec() };
            script(
                format!("upgrade v{eio}: 2probe, 3probe, noop to the parked GET, 5"),
                vec![
                    get(0, polling.clone()),
                    park_get(0, session.clone()),
                    ws_open(1, at("/engine.io/?EIO={eio}&transport=websocket&sid={sid}", eio)),
                    ws_text(1, "2probe"),
                    ws_recv(1),
                    // Node's 100 ms check answers the GET with a noop once it is parked, whether
                    // it arrived before the probe or after: no timing needed here.
                    read(0),
                    // Echoed while neither transport can carry it: sent after the upgrade.
                    post(2, session.clone(), &enc("4queued")),
                    ws_text(1, "5"),
                    ws_recv(1),
                    ws_text(1, "4after"),
                    ws_recv(1),
                    // The session is on WebSocket now.
                    get(2, session.clone()),
                    post(2, session, &enc("4late")),
                    ws_close(1, 1000),
                    ws_recv(1),
                ],
            )
        })
        .collect()
}

fn socket_io() -> Vec<Script> {
    let p4 = "/socket.io/?EIO=4&transport=polling";
    let p4s = "/socket.io/?EIO=4&transport=polling&sid={sid}";
    let p3 = "/socket.io/?EIO=3&transport=polling";
    let p3s = "/socket.io/?EIO=3&transport=polling&sid={sid}";
    let attachment = r#"{"_placeholder":true,"num":0}"#;
    let mut scripts = vec![
        script(
            "Socket.IO v5 over polling: namespaces, events, acks, attachments",
            vec![
                get(0, p4),
                post(0, p4s, b"40"),
                get(0, p4s),
                post(0, p4s, br#"40/custom,{"token":"abc"}"#),
                get(0, p4s),
                post(0, p4s, b"40/nope,"),
                get(0, p4s),
                post(0, p4s, br#"42["message","hi",1,{"a":[true,null]}]"#),
                get(0, p4s),
                // Two events in one POST, answered in one GET.
                post(0, p4s, "42[\"message\",1]\u{1e}42[\"message\",\"é😀\"]".as_bytes()),
                get(0, p4s),
                post(0, p4s, br#"421["message-with-ack",1,"two"]"#),
                get(0, p4s),
                post(0, p4s, format!("451-[\"message\",{attachment}]\u{1e}bAQID").as_bytes()),
                get(0, p4s),
                post(
                    0,
                    p4s,
                    format!("451-7[\"message-with-ack\",{attachment},\"x\"]\u{1e}bAQIDBA==").as_bytes(),
                ),
                get(0, p4s),
                // Nothing answers on /custom; the next GET carries only what / sends.
                post(0, p4s, br#"42/custom,["message","x"]"#),
                post(0, p4s, br#"42["message","last"]"#),
                get(0, p4s),
                post(0, p4s, b"41/custom,\x1e41"),
                post(0, p4s, b"1"),
                get(0, p4s),
            ],
        ),
        script(
            "Socket.IO v5 over WebSocket: namespaces, events, acks, attachments",
            vec![
                ws_open(0, "/socket.io/?EIO=4&transport=websocket"),
                ws_recv(0),
                ws_text(0, "40"),
                ws_recv(0),
                ws_recv(0),
                ws_text(0, r#"40/custom,{"token":[1,2]}"#),
                ws_recv(0),
                ws_recv(0),
                ws_text(0, "40/nope,"),
                ws_recv(0),
                ws_text(0, r#"42["message","hi"]"#),
                ws_recv(0),
                ws_text(0, r#"4212["message-with-ack",{"a":1}]"#),
                ws_recv(0),
                ws_text(0, format!("451-[\"message\",{attachment}]")),
                ws_binary(0, &[1, 2, 3]),
                ws_recv(0),
                ws_recv(0),
                ws_text(0, format!("451-3[\"message-with-ack\",{attachment}]")),
                ws_binary(0, &[9]),
                ws_recv(0),
                ws_recv(0),
                // Nothing answers a DISCONNECT; what follows it would race with it.
                ws_text(0, "41"),
                ws_close(0, 1000),
                ws_recv(0),
                end(0),
            ],
        ),
        script(
            "Socket.IO v4 (EIO=3) over polling: implicit connect, events, attachments",
            vec![
                get(0, p3),
                get(0, p3s),
                post(0, p3s, &v3(&["40/custom,"])),
                get(0, p3s),
                post(0, p3s, &v3(&[r#"42["message","hé"]"#, r#"423["message-with-ack",true]"#])),
                get(0, p3s),
                post_binary(
                    0,
                    p3s,
                    &v3_binary(&[Ok(&format!("451-[\"message\",{attachment}]")), Err(&[1, 2, 3])]),
                ),
                get(0, p3s),
                post(0, p3s, &v3(&["2"])),
                get(0, p3s),
            ],
        ),
        script(
            "Socket.IO v4 (EIO=3) over WebSocket: implicit connect, events, attachments",
            vec![
                ws_open(0, "/socket.io/?EIO=3&transport=websocket"),
                ws_recv(0),
                ws_recv(0),
                ws_recv(0),
                ws_text(0, r#"42["message","hi"]"#),
                ws_recv(0),
                ws_text(0, format!("451-[\"message\",{attachment}]")),
                ws_binary(0, &[4, 1, 2, 3]),
                ws_recv(0),
                ws_recv(0),
                ws_text(0, "2"),
                ws_recv(0),
                ws_close(0, 1000),
                ws_recv(0),
            ],
        ),
        script(
            "Socket.IO: upgrade to WebSocket after connecting over polling",
            vec![
                get(0, p4),
                post(0, p4s, b"40"),
                get(0, p4s),
                park_get(0, p4s),
                ws_open(1, "/socket.io/?EIO=4&transport=websocket&sid={sid}"),
                ws_text(1, "2probe"),
                ws_recv(1),
                read(0),
                ws_text(1, "5"),
                ws_text(1, r#"42["message","upgraded"]"#),
                ws_recv(1),
                ws_close(1, 1000),
                ws_recv(1),
            ],
        ),
    ];
    // Packets Socket.IO refuses (most close the connection, a few are ignored), each with the
    // number of answers it gets first: the next step waits for them, so that the event after
    // it is not raced against them.
    for (bad, answers) in [
        ("9", 0),
        ("4", 0),
        ("42", 0),
        (r#"42{"not":"an array"}"#, 0),
        (r#"42["message""#, 0),
        ("42[]", 0),
        ("42[1]", 0),
        (r#"43["no id"]"#, 0),
        (r#"40"not an object""#, 0),
        ("40[]", 0),
        (r#"45-["message"]"#, 0),
        (r#"451-["message",{"_placeholder":true,"num":0}"#, 0),
        // No comma: the namespace runs to the end, and is unknown.
        (r#"40/custom{"a":1}"#, 1),
    ] {
        let mut steps = vec![
            ws_open(0, "/socket.io/?EIO=4&transport=websocket"),
            ws_recv(0),
            ws_text(0, "40"),
            ws_recv(0),
            ws_recv(0),
            ws_text(0, bad),
        ];
        steps.extend((0..answers).map(|_| ws_recv(0)));
        steps.extend([
            // An event after it: answered if the packet was ignored, not if it closed all.
            ws_text(0, r#"42["message","after"]"#),
            ws_recv(0),
            ws_close(0, 1000),
            ws_recv(0),
            end(0),
        ]);
        scripts.push(script(format!("Socket.IO: the invalid packet {bad:?} over WebSocket"), steps));
    }
    scripts.push(script(
        "Socket.IO: an event for a namespace not joined",
        vec![
            ws_open(0, "/socket.io/?EIO=4&transport=websocket"),
            ws_recv(0),
            ws_text(0, "40/custom,"),
            ws_recv(0),
            ws_recv(0),
            ws_text(0, r#"42["message","not joined"]"#),
            ws_recv(0),
            ws_close_reply(0),
            end(0),
        ],
    ));
    scripts.push(script(
        "Socket.IO: an invalid packet over polling",
        vec![get(0, p4), post(0, p4s, b"40"), get(0, p4s), post(0, p4s, b"42{}"), get(0, p4s), get(0, p4s)],
    ));
    scripts.push(script(
        "Socket.IO v4 (EIO=3) over polling with b64=1: attachments as base64",
        vec![
            get(0, "/socket.io/?EIO=3&transport=polling&b64=1"),
            get(0, "/socket.io/?EIO=3&transport=polling&b64=1&sid={sid}"),
            post(
                0,
                "/socket.io/?EIO=3&transport=polling&b64=1&sid={sid}",
                &v3(&[&format!("451-[\"message\",{attachment}]"), "b4AQID"]),
            ),
            get(0, "/socket.io/?EIO=3&transport=polling&b64=1&sid={sid}"),
        ],
    ));
    scripts.push(script(
        "Socket.IO: CONNECT twice, DISCONNECT, CONNECT again, refusals on the Socket.IO path",
        vec![
            get(0, p4),
            post(0, p4s, b"40"),
            get(0, p4s),
            post(0, p4s, b"40"),
            post(0, p4s, br#"42["message","twice"]"#),
            get(0, p4s),
            post(0, p4s, b"41"),
            post(0, p4s, b"40"),
            get(0, p4s),
            request(1, "OPTIONS", p4, &[("Origin", "https://example.com")], b""),
            get(1, "/socket.io/?EIO=4&transport=flash"),
            get(1, "/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA"),
            post(1, p4, b""),
        ],
    ));
    scripts.push(script(
        "Socket.IO: an event before any CONNECT",
        vec![get(0, p4), post(0, p4s, br#"42["message","early"]"#), get(0, p4s), get(0, p4s)],
    ));
    scripts
}

/// A short heartbeat (300 ms + 1 s), on both servers.
fn heartbeat() -> Vec<Script> {
    let p4 = "/engine.io/?EIO=4&transport=polling";
    let p4s = "/engine.io/?EIO=4&transport=polling&sid={sid}";
    let p3s = "/engine.io/?EIO=3&transport=polling&sid={sid}";
    vec![
        script(
            "heartbeat v4 polling: ping, pong",
            vec![get(0, p4), get(0, p4s), post(0, p4s, b"3"), get(0, p4s)],
        ),
        script("heartbeat v4 polling: no pong", vec![get(0, p4), get(0, p4s), get(0, p4s), get(0, p4s)]),
        script(
            "heartbeat v3 polling: the client pings",
            vec![get(0, "/engine.io/?EIO=3&transport=polling"), post(0, p3s, &v3(&["2"])), get(0, p3s)],
        ),
        script(
            "heartbeat v4 WebSocket: ping, pong, no pong",
            vec![
                ws_open(0, "/engine.io/?EIO=4&transport=websocket"),
                ws_recv(0),
                ws_recv(0),
                ws_text(0, "3"),
                ws_recv(0),
                ws_recv(0),
                ws_close_reply(0),
                end(0),
            ],
        ),
        script(
            "heartbeat v3 WebSocket: no ping from the client",
            vec![
                ws_open(0, "/engine.io/?EIO=3&transport=websocket"),
                ws_recv(0),
                ws_recv(0),
                ws_close_reply(0),
                end(0),
            ],
        ),
    ]
}

/// Runs every script against both servers; fails with every unexpected difference.
fn compare(scripts: &[Script], node: &NodeReference, ours: &TestServer) {
    let mut report = String::new();
    let mut failed = 0;
    for script in scripts {
        let node_answers = run(script, node.addr);
        let our_answers = run(script, ours.addr);
        let (node_answers, our_answers) = tolerate(script, node_answers, our_answers);
        let diff = differences(script, &node_answers, &our_answers);
        if let Some(diff) = &diff {
            failed += 1;
            report.push_str(diff);
            report.push('\n');
        }
        // TPCIO_DIFF_FULL=1 prints both whole transcripts of every script (with --nocapture).
        if std::env::var_os("TPCIO_DIFF_FULL").is_some() {
            let verdict = if diff.is_some() { "DIFFERS" } else { "same" };
            let mut full = format!("script {:?}: {verdict}\n", script.name);
            let indent = |answer: &str| answer.trim_end().replace('\n', "\n          ");
            for (i, (n, o)) in node_answers.iter().zip(&our_answers).enumerate() {
                let (n_answer, o_answer) = (indent(&n.answer), indent(&o.answer));
                let _ = writeln!(full, "  {}. {}\n    node: {n_answer}\n    ours: {o_answer}", i + 1, n.step);
            }
            println!("{full}");
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} scripts answered differently from Node (- Node, + tpcio):\n\n{report}",
        scripts.len()
    );
}

/// The transcripts with the deliberate deviations of this script made equal (Node's answer
/// stands for both), each checked to be exactly the listed one.
fn tolerate(script: &Script, node: Vec<Entry>, mut ours: Vec<Entry>) -> (Vec<Entry>, Vec<Entry>) {
    for deviation in DELIBERATE.iter().filter(|d| d.script == script.name) {
        for &step in deviation.steps {
            let (Some(n), Some(o)) = (node.get(step - 1), ours.get(step - 1)) else { continue };
            if n != o && n.answer.contains(deviation.node) && o.answer.contains(deviation.ours) {
                println!("tolerated in {:?}, step {step}: {}", script.name, deviation.why);
                ours[step - 1] = n.clone();
            }
        }
    }
    (node, ours)
}

#[test]
fn engine_io_answers_as_node_does() {
    let node = NodeReference::start(25_000, 20_000);
    let ours = TestServer::start();
    let scripts: Vec<Script> =
        [engine_polling(), engine_refusals(), engine_session_errors(), engine_websocket(), engine_upgrade()]
            .into_iter()
            .flatten()
            .collect();
    compare(&scripts, &node, &ours);
}

#[test]
fn socket_io_answers_as_node_does() {
    let node = NodeReference::start(25_000, 20_000);
    let ours = TestServer::start();
    compare(&socket_io(), &node, &ours);
}

#[test]
fn heartbeat_answers_as_node_does() {
    // The conformance interval, and a pingTimeout of 1 s instead of 200 ms: the scripts answer
    // (or not) within it even on a loaded machine, and the answers do not depend on the rest.
    let node = NodeReference::start(300, 1_000);
    let ours = TestServer::start_with(|config| {
        config.engine.ping_interval = Duration::from_millis(300);
        config.engine.ping_timeout = Duration::from_millis(1_000);
    });
    compare(&heartbeat(), &node, &ours);
}
