use super::*;
use proptest::prelude::*;

fn parse_all(wire: &[u8]) -> (Vec<Request>, Result<(), HttpError>, BytesMut) {
    let mut buf = BytesMut::from(wire);
    let mut out = Vec::new();
    loop {
        match parse(&mut buf, &Limits::default()) {
            Ok(Some(req)) => out.push(req),
            Ok(None) => return (out, Ok(()), buf),
            Err(e) => return (out, Err(e), buf),
        }
    }
}

fn one(wire: &[u8]) -> Result<Option<Request>, HttpError> {
    parse(&mut BytesMut::from(wire), &Limits::default())
}

fn err(wire: &[u8]) -> HttpError {
    one(wire).err().unwrap_or_else(|| panic!("accepted {:?}", String::from_utf8_lossy(wire)))
}

const POLL: &[u8] = b"GET /engine.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\nHost: localhost:3000\r\n\
    User-Agent: test\r\nAccept: */*\r\nOrigin: http://example.com\r\n\r\n";
const POST: &[u8] = b"POST /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\n\
    Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 13\r\n\r\n4hello\x1e4world";
const CHUNKED: &[u8] = b"POST /engine.io/?sid=abc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
    6;name=value\r\n4hello\r\n1\r\n\x1e\r\n6\r\n4world\r\n0\r\nTrailer: t\r\n\r\n";

#[test]
fn polling_get() {
    let req = one(POLL).unwrap().unwrap();
    assert_eq!(req.method(), Method::Get);
    assert_eq!(req.raw_method(), b"GET");
    assert_eq!(req.version(), Version::Http11);
    assert!(req.keep_alive());
    assert!(!req.is_upgrade() && !req.expects_continue());
    assert_eq!(req.target(), b"/engine.io/?EIO=4&transport=polling&t=N8hyd6w");
    assert_eq!(req.path(), b"/engine.io/");
    assert_eq!(req.query(), b"EIO=4&transport=polling&t=N8hyd6w");
    assert_eq!(req.header("host"), Some(&b"localhost:3000"[..]));
    assert_eq!(req.header("ORIGIN"), Some(&b"http://example.com"[..]));
    assert_eq!(req.header("cookie"), None);
    assert_eq!(req.headers().count(), 4);
    assert_eq!(req.head().len(), POLL.len());
    assert!(req.body().is_empty());
    // Zero-copy: the header value is a view of the head.
    let origin = req.header_bytes("origin").unwrap();
    assert_eq!(origin.as_ptr(), req.header("origin").unwrap().as_ptr());
}

#[test]
fn owned_heads_find_their_fields_again() {
    for wire in [POLL, POST, CHUNKED] {
        let req = one(wire).unwrap().unwrap();
        let owned = req.to_owned_head();
        assert!(owned.body().is_empty());
        assert_eq!(owned.headers().collect::<Vec<_>>(), req.headers().collect::<Vec<_>>());
        assert_eq!(owned.target(), req.target());
        assert_eq!(owned.to_owned_head(), owned);
        assert_ne!(owned.head().as_ptr(), req.head().as_ptr(), "copied out of the read buffer");
        // Kept as bytes alone, it reads back as the same request.
        assert_eq!(super::parse_kept_head(owned.head().clone()), Some(owned));
    }
    assert_eq!(super::parse_kept_head(Bytes::from_static(b"GET / HTTP/1.1\r\nHost: a\r\n")), None);
    assert_eq!(super::parse_kept_head(Bytes::from_static(b"GET / HTTP/1.1\r\n\r\nmore")), None);
}

#[test]
fn bodies() {
    let req = one(POST).unwrap().unwrap();
    assert_eq!((req.method(), &req.body()[..]), (Method::Post, &b"4hello\x1e4world"[..]));
    let req = one(CHUNKED).unwrap().unwrap();
    assert_eq!(&req.body()[..], b"4hello\x1e4world");
    assert_eq!(req.header("trailer"), None, "trailer fields are not header fields");
}

#[test]
fn every_split_point_waits_then_parses_the_same() {
    for wire in [POLL, POST, CHUNKED] {
        let whole = one(wire).unwrap().unwrap();
        for cut in 0..wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            assert_eq!(parse(&mut buf, &Limits::default()), Ok(None), "cut {cut}");
            assert_eq!(&buf[..], &wire[..cut], "nothing consumed");
            buf.extend_from_slice(&wire[cut..]);
            assert_eq!(parse(&mut buf, &Limits::default()), Ok(Some(whole.clone())));
            assert!(buf.is_empty());
        }
    }
}

#[test]
fn pipelined_requests_leave_the_rest() {
    let wire = [POST, CHUNKED, POLL, &POST[..20]].concat();
    let (reqs, result, rest) = parse_all(&wire);
    assert_eq!(result, Ok(()));
    assert_eq!(reqs.len(), 3);
    assert_eq!(&reqs[1].body()[..], b"4hello\x1e4world");
    assert_eq!(reqs[2].path(), b"/engine.io/");
    assert_eq!(&rest[..], &POST[..20]);
}

#[test]
fn upgrade_leaves_frames_in_the_buffer() {
    let wire = b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
        Connection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n\x81\x05hello";
    let (reqs, _, rest) = parse_all(wire);
    assert!(reqs[0].is_upgrade() && reqs[0].is_websocket_upgrade());
    assert_eq!(&rest[..], b"\x81\x05hello");
}

#[test]
fn connection_management() {
    let cases: &[(&[u8], bool, bool, bool)] = &[
        // (version + fields, keep_alive, upgrade, websocket)
        (b"HTTP/1.1\r\n", true, false, false),
        (b"HTTP/1.1\r\nConnection: close\r\n", false, false, false),
        (b"HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n", false, false, false),
        (b"HTTP/1.0\r\n", false, false, false),
        (b"HTTP/1.0\r\nConnection: keep-alive\r\n", true, false, false),
        (b"HTTP/1.1\r\nUpgrade: websocket\r\n", true, false, false),
        (b"HTTP/1.1\r\nConnection: upgrade\r\n", true, false, false),
        (b"HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n", true, true, false),
        (b"HTTP/1.1\r\nconnection: x,,upgrade \r\nupgrade: websocket\r\n", true, true, true),
        (b"HTTP/1.1\r\nConnection: upgraded\r\nUpgrade: websocket\r\n", true, false, false),
    ];
    for (tail, keep_alive, upgrade, websocket) in cases {
        let wire = [b"GET / ".as_slice(), tail, b"\r\n"].concat();
        let req = one(&wire).unwrap().unwrap();
        let got = (req.keep_alive(), req.is_upgrade(), req.is_websocket_upgrade());
        assert_eq!(got, (*keep_alive, *upgrade, *websocket), "{:?}", String::from_utf8_lossy(tail));
    }
}

#[test]
fn targets_and_methods() {
    // (request line, method, path, query, has_query)
    type Case = (&'static [u8], Method, &'static [u8], &'static [u8], bool);
    let cases: &[Case] = &[
        (b"GET /a HTTP/1.1", Method::Get, b"/a", b"", false),
        (b"OPTIONS /a? HTTP/1.1", Method::Options, b"/a", b"", true),
        (b"HEAD /a?x=1#frag HTTP/1.1", Method::Head, b"/a", b"x=1", true),
        (b"PUT /a?b?c HTTP/1.1", Method::Other, b"/a", b"b?c", true),
        (b"get / HTTP/1.1", Method::Other, b"/", b"", false),
    ];
    for (line, method, path, query, has_query) in cases {
        let wire = [*line, b"\r\n\r\n"].concat();
        let req = one(&wire).unwrap().unwrap();
        assert_eq!((req.method(), req.path(), req.query()), (*method, *path, *query));
        assert_eq!(req.has_query(), *has_query);
    }
}

#[test]
fn repeated_fields_are_all_kept() {
    let wire = b"GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nX-B:\r\n\r\n";
    let req = one(wire).unwrap().unwrap();
    assert_eq!(req.header("x-a"), Some(&b"1"[..]));
    assert_eq!(req.header_values("X-A").collect::<Vec<_>>(), [&b"1"[..], b"2"]);
    assert_eq!(req.header("x-b"), Some(&b""[..]));
}

#[test]
fn malformed_requests() {
    let cases: &[(&[u8], Malformed)] = &[
        (
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            Malformed::TransferEncoding,
        ),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", Malformed::TransferEncoding),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Malformed::TransferEncoding),
        (
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            Malformed::TransferEncoding,
        ),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", Malformed::TransferEncoding),
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", Malformed::ContentLength),
        (b"GET / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", Malformed::ContentLength),
        (b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", Malformed::ContentLength),
        (b"GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", Malformed::ContentLength),
        (b"GET / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", Malformed::ContentLength),
        (b"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", Malformed::ContentLength),
        (b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", Malformed::ContentLength),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Malformed::Chunk),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", Malformed::Syntax),
        (b"GET / HTTP/1.1\r\nX : y\r\n\r\n", Malformed::Syntax),
        (b"GET / HTTP/2.0\r\n\r\n", Malformed::Syntax),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Malformed::Syntax),
        (b"GET /a b HTTP/1.1\r\n\r\n", Malformed::Syntax),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", Malformed::Syntax),
    ];
    for (wire, why) in cases {
        assert_eq!(err(wire), HttpError::BadRequest(*why), "{:?}", String::from_utf8_lossy(wire));
        assert_eq!(err(wire).status(), 400);
    }
}

#[test]
fn head_limits() {
    let limits = Limits { max_header_bytes: 64, max_headers: 2, max_body_bytes: 10 };
    let run = |wire: &[u8]| parse(&mut BytesMut::from(wire), &limits);
    let head = |n: usize| [b"GET / HTTP/1.1\r\nX: ".as_slice(), &vec![b'a'; n], b"\r\n\r\n"].concat();
    let exact = head(41);
    assert_eq!(exact.len(), 64);
    assert!(run(&exact).is_ok_and(|r| r.is_some()));
    let over = head(42);
    assert_eq!(run(&over), Err(HttpError::HeaderTooLarge));
    // Refused as soon as the limit is passed, without waiting for the end of the head.
    assert_eq!(run(&over[..64]), Err(HttpError::HeaderTooLarge));
    assert_eq!(run(&over[..63]), Ok(None));
    assert_eq!(run(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), Err(HttpError::HeaderTooLarge));
    assert_eq!(HttpError::HeaderTooLarge.status(), 431);
    let default = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 17_000]].concat();
    assert_eq!(one(&default), Err(HttpError::HeaderTooLarge));
}

#[test]
fn large_heads_wait_for_their_blank_line() {
    let head = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 6000], b"\r\n\r\n"].concat();
    for cut in [EAGER_PARSE + 1, 6000, head.len() - 1] {
        assert_eq!(one(&head[..cut]), Ok(None), "cut {cut}");
    }
    assert!(one(&head).is_ok_and(|r| r.is_some()));
    // Garbage is still refused once its blank line arrives.
    let garbage = [&[b'\x16'; 5000][..], b"\n\n"].concat();
    assert_eq!(one(&garbage), Err(HttpError::BadRequest(Malformed::Syntax)));
    assert!(has_blank_line(b"a\n\r\n") && has_blank_line(b"\n\n") && !has_blank_line(b"a\r\nb\r\n\r"));
}

#[test]
fn body_limits() {
    let limits = Limits { max_body_bytes: 10, ..Limits::default() };
    let run = |wire: &[u8]| parse(&mut BytesMut::from(wire), &limits);
    // The declared length is refused before any of the body has arrived.
    let head = b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
    assert_eq!(run(head), Err(HttpError::PayloadTooLarge { content_length: Some(11) }));
    let huge = b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n";
    assert_eq!(run(huge), Err(HttpError::PayloadTooLarge { content_length: Some(u64::MAX) }));
    assert!(run(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789").is_ok_and(|r| r.is_some()));
    let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n";
    assert_eq!(run(chunked), Err(HttpError::PayloadTooLarge { content_length: None }));
    assert_eq!(HttpError::PayloadTooLarge { content_length: None }.status(), 413);
}

#[test]
fn peek_sees_the_head_before_the_body() {
    let wire = b"POST /engine.io/?sid=x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n";
    let info = peek_head(wire, &Limits::default()).unwrap().unwrap();
    assert_eq!((info.head_len, info.body, info.expect_continue), (wire.len(), BodyLength::Length(5), true));
    assert_eq!(info.target(wire), b"/engine.io/?sid=x");
    assert_eq!(one(wire), Ok(None));
    assert_eq!(peek_head(&wire[..10], &Limits::default()), Ok(None));
    let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n";
    assert_eq!(peek_head(chunked, &Limits::default()).unwrap().unwrap().body, BodyLength::Chunked);
}

#[test]
fn leading_blank_lines_are_skipped() {
    let (reqs, result, _) = parse_all(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    assert_eq!((reqs.len(), result), (1, Ok(())));
}

fn encode(method: &str, target: &str, fields: &[(String, String)], body: &[u8], chunk: usize) -> Vec<u8> {
    let mut wire = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
    for (name, value) in fields {
        wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if chunk == 0 {
        wire.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        wire.extend_from_slice(body);
    } else {
        wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        for piece in body.chunks(chunk) {
            wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            wire.extend_from_slice(piece);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
    }
    wire
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(wire in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_all(&wire);
        let _ = peek_head(&wire, &Limits::default());
    }

    #[test]
    fn near_valid_bytes_never_panic(
        cut in 0usize..200,
        noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut wire = CHUNKED.to_vec();
        let at = cut.min(wire.len());
        wire.splice(at..at, noise);
        let _ = parse_all(&wire);
    }

    #[test]
    fn round_trip(
        method in "GET|POST|OPTIONS|PUT",
        path in "/[a-z0-9._~/-]{0,30}",
        query in proptest::option::of("[A-Za-z0-9=&%+._-]{0,40}"),
        fields in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,15}", "[ -~]{0,40}"), 0..10),
        body in proptest::collection::vec(any::<u8>(), 0..300),
        chunk in 0usize..50,
        split in any::<prop::sample::Index>(),
    ) {
        let fields: Vec<(String, String)> = fields
            .into_iter()
            .filter(|(n, _)| !["content-length", "transfer-encoding"].contains(&n.to_ascii_lowercase().as_str()))
            .map(|(n, v)| (n, v.trim().to_owned()))
            .collect();
        let target = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
        let wire = encode(&method, &target, &fields, &body, chunk);
        let at = split.index(wire.len());
        let mut buf = BytesMut::from(&wire[..at]);
        prop_assert_eq!(parse(&mut buf, &Limits::default()), Ok(None));
        buf.extend_from_slice(&wire[at..]);
        buf.extend_from_slice(b"GET /next HTTP/1.1\r\n");
        let req = parse(&mut buf, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(req.raw_method(), method.as_bytes());
        prop_assert_eq!(req.path(), path.as_bytes());
        prop_assert_eq!(req.query(), query.as_deref().unwrap_or("").as_bytes());
        prop_assert_eq!(&req.body()[..], &body[..]);
        for (name, value) in &fields {
            prop_assert!(req.header_values(name).any(|v| v == value.as_bytes()));
        }
        prop_assert_eq!(&buf[..], b"GET /next HTTP/1.1\r\n");
    }
}
