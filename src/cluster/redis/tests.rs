use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::conn::{jittered, next_backoff};
use super::resp::{self, Frame};
use super::*;

fn url(s: &str) -> RedisUrl {
    RedisUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn url_defaults() {
    let u = url("redis://localhost");
    assert_eq!(u.host, "localhost");
    assert_eq!(u.port, 6379);
    assert_eq!(u.db, 0);
    assert_eq!(u.username, None);
    assert_eq!(u.password, None);
    assert_eq!(url("redis://localhost/"), u);
    assert_eq!(url("redis://localhost:6379/0"), u);
}

#[test]
fn url_port_and_db() {
    let u = url("redis://10.0.0.7:7000/3");
    assert_eq!((u.host.as_str(), u.port, u.db), ("10.0.0.7", 7000, 3));
}

#[test]
fn url_password_only() {
    let u = url("redis://:secret@host:1234");
    assert_eq!(u.username, None);
    assert_eq!(u.password.as_deref(), Some("secret"));
    assert_eq!((u.host.as_str(), u.port), ("host", 1234));
}

#[test]
fn url_user_and_percent_decoded_password() {
    let u = url("redis://al%69ce:p%40ss%3Aw%2Fd@h:1/2");
    assert_eq!(u.username.as_deref(), Some("alice"));
    assert_eq!(u.password.as_deref(), Some("p@ss:w/d"));
    assert_eq!((u.host.as_str(), u.port, u.db), ("h", 1, 2));
    // An unescaped '@' in the password: the host follows the last one.
    let u = url("redis://:a@b@h");
    assert_eq!(u.password.as_deref(), Some("a@b"));
    assert_eq!(u.host, "h");
}

#[test]
fn url_ipv6() {
    let u = url("redis://[::1]:6380/1");
    assert_eq!((u.host.as_str(), u.port, u.db), ("::1", 6380, 1));
    assert_eq!(url("redis://[::1]").port, 6379);
    assert_eq!(format!("{u:?}"), "redis://[::1]:6380/1");
}

#[test]
fn url_rejects() {
    for bad in [
        "rediss://host",
        "http://host:6379",
        "unix:///tmp/redis.sock",
        "host:6379",
        "redis://",
        "redis://:6379",
        "redis://host:",
        "redis://host:0",
        "redis://host:65536",
        "redis://host:port",
        "redis://host/db",
        "redis://host/-1",
        "redis://host?db=1",
        "redis://:bad%zzescape@host",
        "redis://:trunc%4@host",
        "redis://[::1",
        "redis://[::1]x",
    ] {
        match RedisUrl::parse(bad) {
            Err(RedisError::Url(_)) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn url_debug_hides_the_password() {
    let u = url("redis://bob:hunter2@h:1/2");
    let shown = format!("{u:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(shown, "redis://bob:***@h:1/2");
    let e = RedisUrl::parse("redis://bob:hunter2@h:bad").unwrap_err().to_string();
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn encode_is_an_array_of_bulk_strings() {
    let mut out = BytesMut::new();
    resp::encode_command(&mut out, &[&b"SET"[..], b"k", b"a\r\nb"]).unwrap();
    assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
}

#[test]
fn handshake_commands() {
    let mut out = BytesMut::new();
    assert_eq!(resp::handshake(&url("redis://h"), false, &mut out).unwrap(), 0);
    assert!(out.is_empty());
    assert_eq!(resp::handshake(&url("redis://u:p@h/2"), true, &mut out).unwrap(), 3);
    assert_eq!(
        &out[..],
        &b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n"[..]
    );
}

fn decode_all(input: &[u8], resp3: bool) -> Vec<Frame> {
    let mut buf = BytesMut::from(input);
    let mut frames = Vec::new();
    while let Some(f) = resp::decode(&mut buf, resp3, 1 << 20).unwrap() {
        frames.push(f);
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    frames
}

#[test]
fn decode_resp2() {
    let frames =
        decode_all(b"+OK\r\n:42\r\n$-1\r\n$3\r\na\r\n\r\n*2\r\n$1\r\nx\r\n:1\r\n-ERR bad\r\n", false);
    assert_eq!(
        frames,
        vec![
            Frame::Reply(Reply::Simple("OK".into())),
            Frame::Reply(Reply::Int(42)),
            Frame::Reply(Reply::Nil),
            Frame::Reply(Reply::Bulk(Bytes::from_static(b"a\r\n"))),
            Frame::Reply(Reply::Array(vec![Reply::Bulk(Bytes::from_static(b"x")), Reply::Int(1)])),
            Frame::Error("ERR bad".into()),
        ]
    );
}

#[test]
fn decode_resp3() {
    let frames = decode_all(
        b"%1\r\n+a\r\n:1\r\n>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\np\r\n#t\r\n,1.5\r\n_\r\n!3\r\nbad\r\n",
        true,
    );
    assert_eq!(
        frames,
        vec![
            Frame::Reply(Reply::Map(vec![(Reply::Simple("a".into()), Reply::Int(1))])),
            Frame::Push(vec![
                Reply::Bulk(Bytes::from_static(b"message")),
                Reply::Bulk(Bytes::from_static(b"ch")),
                Reply::Bulk(Bytes::from_static(b"p")),
            ]),
            Frame::Reply(Reply::Bool(true)),
            Frame::Reply(Reply::Double(1.5)),
            Frame::Reply(Reply::Nil),
            Frame::Error("bad".into()),
        ]
    );
}

#[test]
fn decode_a_nested_error_is_an_error() {
    assert_eq!(decode_all(b"*2\r\n:1\r\n-ERR inner\r\n", false), vec![Frame::Error("ERR inner".into())]);
}

#[test]
fn decode_waits_for_the_whole_frame() {
    let whole = b"$10\r\n0123456789\r\n";
    let mut buf = BytesMut::new();
    for (i, b) in whole.iter().enumerate() {
        assert_eq!(resp::decode(&mut buf, false, 1 << 20).unwrap(), None, "after {i} bytes");
        buf.extend_from_slice(&[*b]);
    }
    assert_eq!(
        resp::decode(&mut buf, false, 1 << 20).unwrap(),
        Some(Frame::Reply(Reply::Bulk(Bytes::from_static(b"0123456789"))))
    );
}

#[test]
fn decode_rejects_garbage_and_oversized_frames() {
    for resp3 in [false, true] {
        let mut buf = BytesMut::from(&b"hello\r\n"[..]);
        assert!(matches!(resp::decode(&mut buf, resp3, 1 << 20), Err(RedisError::Protocol(_))));
        let mut buf = BytesMut::from(&b"$1000\r\n"[..]);
        buf.extend_from_slice(&[b'x'; 600]);
        assert!(matches!(resp::decode(&mut buf, resp3, 512), Err(RedisError::Protocol(_))));
        let mut buf = BytesMut::from(&b":notanumber\r\n"[..]);
        assert!(matches!(resp::decode(&mut buf, resp3, 1 << 20), Err(RedisError::Protocol(_))));
    }
}

#[test]
fn reply_helpers() {
    assert_eq!(Reply::Int(3).as_int(), Some(3));
    assert_eq!(Reply::Bulk(Bytes::from_static(b"12")).as_int(), Some(12));
    assert_eq!(Reply::Nil.as_int(), None);
    assert_eq!(Reply::Simple("OK".into()).as_bytes(), Some(&b"OK"[..]));
}

#[test]
fn backoff_doubles_within_bounds() {
    let (min, max) = (Duration::from_millis(50), Duration::from_secs(2));
    let mut d = min;
    let mut seen = vec![d];
    for _ in 0..8 {
        d = next_backoff(d, min, max);
        seen.push(d);
    }
    assert_eq!(seen[1], Duration::from_millis(100));
    assert_eq!(seen[5], Duration::from_millis(1600));
    assert_eq!(seen[6], max);
    assert_eq!(seen[8], max);
    assert_eq!(next_backoff(Duration::MAX, min, max), max);
    assert_eq!(jittered(Duration::from_millis(100), 0.0), Duration::from_millis(100));
    assert_eq!(jittered(Duration::from_millis(100), 0.2), Duration::from_millis(120));
    assert_eq!(jittered(Duration::from_millis(100), 7.0), Duration::from_millis(200));
}

#[test]
fn errors_duplicate() {
    let e = RedisError::Io(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone"));
    match e.duplicate() {
        RedisError::Io(d) => assert_eq!(d.kind(), std::io::ErrorKind::BrokenPipe),
        other => panic!("{other:?}"),
    }
    assert!(matches!(RedisError::Timeout(Duration::from_secs(1)).duplicate(), RedisError::Timeout(_)));
}

#[test]
fn decode_refuses_deep_nesting_instead_of_overflowing_the_stack() {
    for resp3 in [false, true] {
        for (opener, depth) in [
            (&b"*1\r\n"[..], 100_000),
            (b">1\r\n", 1000),
            (b"%1\r\n+k\r\n", 1000),
            (b"|1\r\n+a\r\n+b\r\n*1\r\n", 300),
        ] {
            if !resp3 && opener[0] != b'*' {
                continue;
            }
            let mut buf = BytesMut::new();
            for _ in 0..depth {
                buf.extend_from_slice(opener);
            }
            buf.extend_from_slice(b":1\r\n");
            match resp::decode(&mut buf, resp3, 1 << 30) {
                Err(RedisError::Protocol(e)) => assert!(e.contains("deep"), "{e}"),
                other => panic!("{other:?}"),
            }
            // Still incomplete: refused as soon as the depth shows.
            let mut buf = BytesMut::new();
            for _ in 0..depth {
                buf.extend_from_slice(opener);
            }
            assert!(resp::decode(&mut buf, resp3, 1 << 30).is_err());
        }
    }
    // Nesting as deep as the limit is fine, and bulk payloads that look like headers are
    // skipped, not walked.
    let mut buf = BytesMut::new();
    for _ in 0..resp::MAX_DEPTH {
        buf.extend_from_slice(b"*2\r\n$8\r\n*1\r\n*1\r\n\r\n");
    }
    buf.extend_from_slice(b"_\r\n");
    assert!(matches!(resp::decode(&mut buf, true, 1 << 30), Ok(Some(Frame::Reply(Reply::Array(_))))));
}
