//! RESP framing over `redis-protocol`: commands out (always RESP2 arrays of bulk strings, which
//! RESP3 servers read too) and frames in (decoded as RESP2 or RESP3) turned into [`Reply`]s.

use bytes::BytesMut;
use redis_protocol::resp2::types::{BorrowedFrame as Borrowed, BytesFrame as Resp2};
use redis_protocol::resp3::types::BytesFrame as Resp3;
use redis_protocol::{resp2, resp3};

use super::{RedisError, RedisUrl, Reply};

/// One frame read from the server.
#[derive(Debug, PartialEq)]
pub(super) enum Frame {
    /// An answer to a command (or, in RESP2, a pub/sub message, which is an array).
    Reply(Reply),
    /// An error reply, top-level or nested in an aggregate.
    Error(String),
    /// A RESP3 out-of-band push (pub/sub messages and confirmations, invalidations).
    Push(Vec<Reply>),
}

/// Appends one command to `out`.
pub(super) fn encode_command<A: AsRef<[u8]>>(out: &mut BytesMut, args: &[A]) -> Result<(), RedisError> {
    let items: Vec<Borrowed<'_>> = args.iter().map(|a| Borrowed::BulkString(a.as_ref())).collect();
    resp2::encode::extend_encode_borrowed(out, &Borrowed::Array(&items), false)
        .map_err(|e| RedisError::Protocol(format!("encode: {e:?}")))?;
    Ok(())
}

/// Appends the commands that open a connection (`AUTH`, `HELLO 3`, `SELECT`) to `out`;
/// returns how many replies they will get.
pub(super) fn handshake(url: &RedisUrl, resp3: bool, out: &mut BytesMut) -> Result<usize, RedisError> {
    let mut replies = 0;
    if let Some(password) = &url.password {
        match &url.username {
            Some(user) => encode_command(out, &[&b"AUTH"[..], user.as_bytes(), password.as_bytes()])?,
            None => encode_command(out, &[&b"AUTH"[..], password.as_bytes()])?,
        }
        replies += 1;
    }
    if resp3 {
        encode_command(out, &["HELLO", "3"])?;
        replies += 1;
    }
    if url.db != 0 {
        encode_command(out, &["SELECT".to_string(), url.db.to_string()])?;
        replies += 1;
    }
    Ok(replies)
}

/// Takes the first complete frame off `buf`; `Ok(None)` when more bytes are needed, an error
/// when the bytes are not RESP or the incomplete frame already exceeds `max_frame` bytes.
///
/// Bulk strings of the frame are slices of `buf`'s allocation (no copy).
pub(super) fn decode(buf: &mut BytesMut, resp3: bool, max_frame: usize) -> Result<Option<Frame>, RedisError> {
    let protocol =
        |e: redis_protocol::error::RedisProtocolError| RedisError::Protocol(e.details().to_string());
    check_depth(buf)?;
    let decoded = if resp3 {
        resp3::decode::complete::decode_bytes_mut(buf)
            .map_err(protocol)?
            .map(|(frame, _, _)| from_resp3(frame))
    } else {
        resp2::decode::decode_bytes_mut(buf).map_err(protocol)?.map(|(frame, _, _)| Ok(from_resp2(frame)))
    };
    match decoded {
        Some(frame) => frame.map(Some),
        None if buf.len() > max_frame => {
            Err(RedisError::Protocol(format!("a reply is larger than {max_frame} bytes")))
        }
        None => Ok(None),
    }
}

/// The deepest nesting of aggregates accepted in a frame (Redis's own replies nest a few
/// levels at most).
pub(super) const MAX_DEPTH: usize = 64;

/// Refuses a frame whose aggregates nest deeper than [`MAX_DEPTH`].
///
/// `redis-protocol` decodes by recursion, one level per nested aggregate, with no limit: a
/// broken or hostile server could overflow the stack (an abort, not a panic) with a few
/// kilobytes of `*1\r\n`. This walks only the headers of the first frame in `buf`, skipping
/// bulk payloads, to count the depth; it frames nothing. Whatever it cannot make sense of (an
/// unknown type, a bad length, an incomplete frame) is left for the decoder to judge.
fn check_depth(buf: &[u8]) -> Result<(), RedisError> {
    // Elements still to come at each open level; the outermost "level" holds the one frame.
    let mut levels: Vec<u64> = vec![1];
    let mut pos = 0usize;
    while let Some(left) = levels.last_mut() {
        if *left == 0 {
            levels.pop();
            continue;
        }
        *left -= 1;
        let Some(&kind) = buf.get(pos) else { return Ok(()) };
        let Some(end) = buf.get(pos + 1..).and_then(|rest| memchr::memmem::find(rest, b"\r\n")) else {
            return Ok(());
        };
        let header = &buf[pos + 1..pos + 1 + end];
        pos += end + 3;
        let len = || std::str::from_utf8(header).ok().and_then(|h| h.parse::<i64>().ok());
        match kind {
            // Blob string, blob error, verbatim string: skip the payload.
            b'$' | b'!' | b'=' => match len() {
                Some(n) if n >= 0 => pos = pos.saturating_add(n as usize).saturating_add(2),
                Some(_) => {}
                None => return Ok(()),
            },
            // Array, set, push; map and attribute (pairs). An attribute decorates the frame
            // after it, which is one more element at the current level.
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let Some(n) = len() else { return Ok(()) };
                if kind == b'|'
                    && let Some(left) = levels.last_mut()
                {
                    *left += 1;
                }
                if n > 0 {
                    let n = n as u64;
                    levels.push(if matches!(kind, b'%' | b'|') { n.saturating_mul(2) } else { n });
                    if levels.len() > MAX_DEPTH + 1 {
                        return Err(RedisError::Protocol(format!(
                            "a reply nests deeper than {MAX_DEPTH} levels"
                        )));
                    }
                }
            }
            // One-line types.
            b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => {}
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// A frame as the caller of a command sees it.
pub(super) fn into_result(frame: Frame) -> Result<Reply, RedisError> {
    match frame {
        Frame::Reply(r) => Ok(r),
        Frame::Error(e) => Err(RedisError::Server(e)),
        Frame::Push(_) => Err(RedisError::Protocol("a push frame where a reply was due".into())),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn from_resp2(frame: Resp2) -> Frame {
    fn reply(frame: Resp2) -> Result<Reply, String> {
        Ok(match frame {
            Resp2::SimpleString(s) => Reply::Simple(text(&s)),
            Resp2::Error(e) => return Err(e.to_string()),
            Resp2::Integer(i) => Reply::Int(i),
            Resp2::BulkString(b) => Reply::Bulk(b),
            Resp2::Array(items) => Reply::Array(items.into_iter().map(reply).collect::<Result<_, _>>()?),
            Resp2::Null => Reply::Nil,
        })
    }
    match reply(frame) {
        Ok(r) => Frame::Reply(r),
        Err(e) => Frame::Error(e),
    }
}

fn from_resp3(frame: Resp3) -> Result<Frame, RedisError> {
    fn reply(frame: Resp3) -> Result<Result<Reply, String>, RedisError> {
        Ok(Ok(match frame {
            Resp3::BlobString { data, .. } | Resp3::BigNumber { data, .. } => Reply::Bulk(data),
            Resp3::VerbatimString { data, .. } => Reply::Bulk(data),
            Resp3::SimpleString { data, .. } => Reply::Simple(text(&data)),
            Resp3::BlobError { data, .. } => return Ok(Err(text(&data))),
            Resp3::SimpleError { data, .. } => return Ok(Err(data.to_string())),
            Resp3::Boolean { data, .. } => Reply::Bool(data),
            Resp3::Null => Reply::Nil,
            Resp3::Number { data, .. } => Reply::Int(data),
            Resp3::Double { data, .. } => Reply::Double(data),
            Resp3::Array { data, .. } | Resp3::Push { data, .. } => match list(data)? {
                Ok(items) => Reply::Array(items),
                Err(e) => return Ok(Err(e)),
            },
            Resp3::Set { data, .. } => match list(data)? {
                Ok(items) => Reply::Array(items),
                Err(e) => return Ok(Err(e)),
            },
            Resp3::Map { data, .. } => {
                let mut pairs = Vec::with_capacity(data.len());
                for (k, v) in data {
                    match (reply(k)?, reply(v)?) {
                        (Ok(k), Ok(v)) => pairs.push((k, v)),
                        (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
                    }
                }
                Reply::Map(pairs)
            }
            Resp3::Hello { .. } | Resp3::ChunkedString(_) => {
                return Err(RedisError::Protocol("a frame a server does not send".into()));
            }
        }))
    }
    fn list(frames: impl IntoIterator<Item = Resp3>) -> Result<Result<Vec<Reply>, String>, RedisError> {
        let mut items = Vec::new();
        for f in frames {
            match reply(f)? {
                Ok(r) => items.push(r),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(items))
    }
    if let Resp3::Push { data, .. } = frame {
        return Ok(match list(data)? {
            Ok(items) => Frame::Push(items),
            Err(e) => Frame::Error(e),
        });
    }
    Ok(match reply(frame)? {
        Ok(r) => Frame::Reply(r),
        Err(e) => Frame::Error(e),
    })
}

impl Reply {
    /// The bytes of a bulk or simple string reply.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// An integer reply (or a bulk/simple string holding one).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            other => std::str::from_utf8(other.as_bytes()?).ok()?.parse().ok(),
        }
    }
}
