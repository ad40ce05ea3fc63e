//! One client connection, from its first byte to its close: its buffers, the loop that reads
//! requests with Node's two timeouts, and what happens to a connection cut short. Each request
//! goes to [`super::route`].

use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use glommio::net::TcpStream;

use super::limits::IpSlot;
use super::route::{handle, responder};
use super::stream::Io;
use crate::engine::DisconnectReason;
use crate::http::error::write_http_error;
use crate::http::{self, EngineQuery, HttpError, ReplyInfo, Request};
use crate::protocol::sid::Sid;
use crate::shard::ShardMsg;
use crate::shard::mesh::Mesh;
use crate::shard::state::Shard;

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 64 * 1024;

/// The smallest read buffer a connection is given.
const READ_MIN: usize = 512;

/// The output buffer a connection is given when it starts writing.
const OUT_MIN: usize = 1024;

/// Spare buffers up to this capacity go back to the shard; larger ones are freed.
const SPARE_MAX: usize = 16 * 1024;

/// Spare buffers the shard keeps of each kind.
const SPARE_COUNT: usize = 16;

/// A connection being served on this shard.
///
/// Its buffers are lent by the shard while it has bytes in them: `buf` from the read that
/// filled it until it is consumed, `out` from the first write until it is flushed. An idle
/// connection holds neither.
pub(crate) struct Conn {
    pub(crate) stream: Io,
    pub(crate) buf: BytesMut,
    pub(crate) out: BytesMut,
    /// The client's address, read once at accept.
    pub(crate) peer: SocketAddr,
    /// Counts the connection against its address while it lives ([`super::limits`]).
    _ip: Option<IpSlot>,
}

/// What became of the connection after one request.
pub(super) enum Next {
    KeepAlive(Conn),
    Close(Conn),
    /// Moved to another shard, or became a WebSocket.
    Gone,
}

impl Conn {
    pub(crate) fn new(stream: Io, buf: BytesMut, peer: SocketAddr, ip: Option<IpSlot>) -> Self {
        Conn { stream, buf, out: BytesMut::new(), peer, _ip: ip }
    }

    /// A connection just accepted: plain, or TLS (its handshake still to come) when the
    /// listener serves `tls`.
    pub(crate) fn accepted(
        tcp: TcpStream,
        tls: Option<&super::tls::Acceptor>,
        peer: SocketAddr,
        ip: Option<IpSlot>,
    ) -> Option<Self> {
        let stream = match tls {
            None => Io::plain(tcp),
            Some(acceptor) => Io::tls(tcp, Box::new(acceptor.session()?)),
        };
        Some(Conn::new(stream, BytesMut::new(), peer, ip))
    }

    /// Reads more bytes; `Ok(0)` at end of stream.
    pub(crate) async fn read_more(&mut self) -> std::io::Result<usize> {
        read_into(&mut self.stream, &mut self.buf).await
    }

    /// The output buffer, to write into.
    pub(crate) fn out(&mut self) -> &mut BytesMut {
        Self::out_buffer(&mut self.out)
    }

    /// `out`, given a spare buffer of the shard if it has none.
    pub(crate) fn out_buffer(out: &mut BytesMut) -> &mut BytesMut {
        if out.capacity() == 0 {
            *out = SPARE
                .with_borrow_mut(|spare| spare.out.pop())
                .unwrap_or_else(|| BytesMut::with_capacity(OUT_MIN));
        }
        out
    }

    /// Writes what is pending, then closes the connection.
    pub(crate) async fn finish(mut self) {
        let _ = self.flush().await;
        let _ = self.stream.close().await;
    }

    /// Writes what is pending; the emptied buffer goes back to the shard.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        if self.out.capacity() != 0 {
            give_back(|spare| &mut spare.out, std::mem::take(&mut self.out));
        }
        Ok(())
    }

    /// Gives the read buffer back to the shard once everything in it was consumed. A buffer
    /// still shared with received messages is left to them.
    pub(crate) fn release_read(&mut self) {
        if !self.buf.is_empty() || self.buf.capacity() == 0 {
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        // Asking for more than it has makes it check that no message still points into it.
        let wanted = buf.capacity() + 1;
        if buf.try_reclaim(wanted) {
            give_back(|spare| &mut spare.read, buf);
        }
    }
}

/// The spare buffers of one shard.
struct Spare {
    read: Vec<BytesMut>,
    out: Vec<BytesMut>,
}

/// Keeps an empty, unshared `buf` for another connection, if it is not too large and the shard
/// does not have enough already.
fn give_back(kind: impl FnOnce(&mut Spare) -> &mut Vec<BytesMut>, buf: BytesMut) {
    if buf.capacity() <= SPARE_MAX {
        SPARE.with_borrow_mut(|spare| {
            let list = kind(spare);
            if list.len() < SPARE_COUNT {
                list.push(buf);
            }
        });
    }
}

thread_local! {
    /// One read buffer per shard, zeroed once: every read lands here and only the bytes
    /// received are copied to the connection. (Zero-filling each connection's spare room
    /// before every read cost more than the copy; a buffer per connection would cost memory.)
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_CHUNK]);

    static SPARE: std::cell::RefCell<Spare> =
        const { std::cell::RefCell::new(Spare { read: Vec::new(), out: Vec::new() }) };
}

/// Reads into the end of `buf` (given a spare buffer of the shard if it has none). Cancel-safe:
/// the bytes are appended within the poll that received them, so a read raced against session
/// output and dropped loses nothing.
pub(crate) async fn read_into(stream: &mut Io, buf: &mut BytesMut) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        SCRATCH.with_borrow_mut(|scratch| {
            let polled = stream.poll_read(cx, scratch);
            if let Poll::Ready(Ok(n)) = polled {
                if buf.capacity() == 0 && n > 0 {
                    *buf = SPARE
                        .with_borrow_mut(|spare| spare.read.pop())
                        .unwrap_or_else(|| BytesMut::with_capacity(n.max(READ_MIN)));
                }
                buf.extend_from_slice(&scratch[..n]);
            }
            polled
        })
    })
    .await
}

/// Serves a connection until it closes, moves to another shard, or becomes a WebSocket.
pub(crate) async fn serve(shard: Rc<Shard>, mesh: Rc<Mesh>, mut conn: Conn, mut first: Option<Request>) {
    let _open = shard.conn_opened();
    // Node's `headersTimeout` bounds the TLS handshake too: a client that opens the connection
    // and never completes it is closed without a word, as Node's `tls.Server` destroys it.
    if conn.stream.handshaking() {
        let handshake = glommio::timer::timeout(shard.config.header_timeout, async {
            conn.stream.handshake().await.map_err(glommio::GlommioError::IoError)
        });
        if let Err(e) = handshake.await {
            tracing::debug!(shard = shard.id, peer = %conn.peer, "TLS handshake failed: {e}");
            return;
        }
    }
    let mut fresh = first.is_none();
    loop {
        let req = match first.take() {
            Some(req) => req,
            None => match next_request(&shard, &mesh, &mut conn, std::mem::take(&mut fresh)).await {
                Some(req) => req,
                None => return,
            },
        };
        conn = match handle(&shard, &mesh, conn, req).await {
            Next::KeepAlive(mut conn) => {
                if conn.flush().await.is_err() {
                    return;
                }
                conn
            }
            Next::Close(conn) => return conn.finish().await,
            Next::Gone => return,
        };
    }
}

/// The next whole request, or `None` once the connection is done (EOF, timeout, bad input —
/// after answering it as Node would).
///
/// Two clocks, as Node's: a `fresh` connection, or one with bytes of a request, has
/// `header_timeout` for the request to complete (then `408`); a connection idle after a
/// response has `keep_alive_timeout` for a next request to start (then it just closes).
async fn next_request(shard: &Rc<Shard>, mesh: &Mesh, conn: &mut Conn, fresh: bool) -> Option<Request> {
    let limits = http::Limits { max_body_bytes: shard.engine.max_payload, ..shard.config.limits };
    let header_deadline = || Instant::now() + shard.config.header_timeout;
    let mut deadline = (fresh || !conn.buf.is_empty()).then(header_deadline);
    // Node's HTTP server answers `Expect: 100-continue` with `100 Continue` as soon as it has
    // the head, before the request is handled: once per request, even with its body at hand.
    let mut continued = false;
    loop {
        match http::parse(&mut conn.buf, &limits) {
            Ok(Some(req)) => {
                if req.expects_continue() && !continued {
                    conn.out().extend_from_slice(http::response::CONTINUE);
                }
                return Some(req);
            }
            Ok(None) if !continued && !conn.buf.is_empty() => {
                let head = http::request::peek_head(&conn.buf, &limits);
                if matches!(head, Ok(Some(ref head)) if head.expect_continue) {
                    continued = true;
                    conn.out().extend_from_slice(http::response::CONTINUE);
                    if conn.flush().await.is_err() {
                        return None;
                    }
                }
            }
            Ok(None) => {}
            Err(HttpError::PayloadTooLarge { .. }) => {
                // 413 before the body is read, so the connection cannot be reused; the session
                // is closed, as the client closes it on this answer anyway.
                if let Some(sid) = sid_of_head(&conn.buf, &limits) {
                    abort_session(shard, mesh, sid, DisconnectReason::TransportError).await;
                }
                let to = ReplyInfo { keep_alive: false, ..ReplyInfo::default() };
                responder(shard, &mut [0; 29]).empty(conn.out(), &to, 413);
                let _ = conn.flush().await;
                return None;
            }
            Err(e) => {
                write_http_error(conn.out(), e);
                let _ = conn.flush().await;
                return None;
            }
        }
        let left = match deadline {
            Some(at) => at.saturating_duration_since(Instant::now()),
            // Off: a day at a time (a timer past the clock's range would panic).
            None if shard.config.keep_alive_timeout.is_zero() => Duration::from_secs(86_400),
            None => shard.config.keep_alive_timeout,
        };
        conn.release_read();
        let read = async {
            // At shutdown an idle connection closes; one with a request under way finishes it.
            let idle = conn.buf.is_empty();
            let drained = async {
                if idle {
                    shard.drained().await;
                } else {
                    std::future::pending::<()>().await;
                }
                Ok(0)
            };
            futures_lite::future::or(conn.read_more(), drained).await.map_err(glommio::GlommioError::IoError)
        };
        match glommio::timer::timeout(left.max(Duration::from_millis(1)), read).await {
            // The client closed, or the connection failed.
            Ok(0) | Err(glommio::GlommioError::IoError(_)) => {
                abandon_partial_post(shard, mesh, conn, &limits).await;
                return None;
            }
            // Idle past the keep-alive timeout: Node destroys the socket without a word.
            Err(_) if deadline.is_none() => return None,
            Err(_) => {
                abandon_partial_post(shard, mesh, conn, &limits).await;
                // Node's answer when nothing was written on the connection yet (its
                // `socketOnError` for ERR_HTTP_REQUEST_TIMEOUT), which is always the case here.
                conn.out().extend_from_slice(REQUEST_TIMEOUT);
                let _ = conn.flush().await;
                return None;
            }
            Ok(_) => {
                deadline.get_or_insert_with(header_deadline);
            }
        }
    }
}

/// What Node's HTTP server writes when a request does not arrive within `headersTimeout`.
const REQUEST_TIMEOUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";

/// A POST whose body never fully arrived: Node's "data request connection closed
/// prematurely", a transport error for its session.
async fn abandon_partial_post(shard: &Rc<Shard>, mesh: &Mesh, conn: &Conn, limits: &http::Limits) {
    if let Some(sid) = conn.buf.starts_with(b"POST ").then(|| sid_of_head(&conn.buf, limits)).flatten() {
        abort_session(shard, mesh, sid, DisconnectReason::TransportError).await;
    }
}

/// The sid named by the request head at the front of `buf`, if any.
fn sid_of_head(buf: &[u8], limits: &http::Limits) -> Option<Sid> {
    let head = http::request::peek_head(buf, limits).ok()??;
    let target = head.target(buf);
    let query = target.iter().position(|&b| b == b'?').map_or(&[][..], |i| &target[i + 1..]);
    Sid::parse(EngineQuery::parse(query).sid()?.as_bytes())
}

/// Closes a session at once, wherever it lives.
async fn abort_session(shard: &Rc<Shard>, mesh: &Mesh, sid: Sid, reason: DisconnectReason) {
    match shard.owner(&sid) {
        owner if owner == shard.id => shard.abort(sid, reason),
        owner => {
            let _ = mesh.send(owner, ShardMsg::Abort { sid, reason }).await;
        }
    }
}
