//! One client connection, from its first byte to its close: read requests,
//! route each to the session's owner shard, answer polling requests, and hand
//! an upgraded connection to the WebSocket loop.
//!
//! Routing follows Node's `engine.io` `Server.verify` and `handshake`, in order:
//! path, transport, `sid` (→ owner shard, → known session), handshake method,
//! protocol revision, `allow_request`.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use glommio::net::TcpStream;

use super::handler::{Handshake, PlainHttp};
use super::limits::IpSlot;
use super::polling;
use super::stream::Io;
use super::websocket::spawn_websocket;
use crate::engine::DisconnectReason;
use crate::http::error::{write_http_error, write_upgrade_error, write_upgrade_error_message};
use crate::http::websocket::write_switching_protocols;
use crate::http::{self, EngineError, EngineQuery, HttpError, Method, ReplyInfo, Request, Responder};
use crate::protocol::EioVersion;
use crate::protocol::sid::Sid;
use crate::shard::mesh::Mesh;
use crate::shard::state::{Opening, Shard};
use crate::shard::{Handoff, ShardMsg};
use crate::transport::deflate::{self, DeflateParams, ExtensionError};

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
enum Next {
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

/// The server-wide response settings, with the `Date` formatted into `date`.
pub(super) fn responder<'a>(shard: &'a Shard, date: &'a mut [u8; 29]) -> Responder<'a> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    *date = http::date::http_date(secs);
    // Node announces whole seconds (`Math.floor`), and nothing when the timeout is off.
    let keep_alive = shard.config.keep_alive_timeout;
    let keep_alive_timeout =
        (!keep_alive.is_zero()).then(|| keep_alive.as_secs().min(u64::from(u32::MAX)) as u32);
    Responder { cors: shard.config.cors.as_ref(), date: Some(&date[..]), keep_alive_timeout }
}

async fn handle(shard: &Rc<Shard>, mesh: &Rc<Mesh>, mut conn: Conn, req: Request) -> Next {
    let mut date = [0u8; 29];
    let resp = responder(shard, &mut date);
    let to = ReplyInfo::from_request(&req);
    let keep = |conn| if to.keep_alive { Next::KeepAlive(conn) } else { Next::Close(conn) };
    let Some(endpoint) = shard.endpoints.iter().position(|(path, _)| req.path() == path.as_bytes()) else {
        if !plain_http(shard, &req, resp, &to, conn.out()) {
            resp.empty(conn.out(), &to, 404);
        }
        return keep(conn);
    };
    let upgrade = req.is_websocket_upgrade();
    let query = EngineQuery::parse(req.query());

    if req.method() == Method::Options && !upgrade && resp.preflight(conn.out(), &req) {
        return keep(conn);
    }
    let refuse = |mut conn: Conn, error: EngineError| {
        shard.metrics.engine_error(error);
        if upgrade {
            write_upgrade_error(conn.out(), error);
            Next::Close(conn)
        } else {
            resp.engine_error(conn.out(), &to, error);
            keep(conn)
        }
    };
    // Node runs a polling upgrade request through `verify` like any other, lets `ws` complete
    // the handshake, then closes the WebSocket at once (`handlesUpgrades` is false).
    let transport = match query.transport() {
        Some("polling") => Opening::Polling,
        Some("websocket") => Opening::WebSocket,
        _ => return refuse(conn, EngineError::UnknownTransport),
    };
    if let Some(raw_sid) = query.sid() {
        let Some(sid) = Sid::parse(raw_sid.as_bytes()) else {
            return refuse(conn, EngineError::UnknownSid);
        };
        let owner = shard.owner(&sid);
        if owner != shard.id {
            return hand_off(mesh, owner, conn, req).await;
        }
        if !shard.contains(&sid) {
            return refuse(conn, EngineError::UnknownSid);
        }
        // Node's `verify` also refuses a request in another revision than the session's
        // (`PROTOCOL_MISMATCH`), upgrades included.
        if shard.with_session(sid, |s| s.version()) != Some(EioVersion::from_query(query.eio())) {
            return refuse(conn, EngineError::BadRequest);
        }
        return match (transport, upgrade) {
            (Opening::WebSocket, true) => upgrade_session(shard, conn, req, sid).await,
            (Opening::WebSocket, false) => refuse(conn, EngineError::BadRequest),
            (Opening::Polling, true) => open_and_close_websocket(shard, conn, &req).await,
            (Opening::Polling, false) => match polling::answer(shard, &mut conn, &req, &to, sid).await {
                true => keep(conn),
                false => Next::Close(conn),
            },
        };
    }
    // A handshake.
    if req.method() != Method::Get {
        return refuse(conn, EngineError::BadHandshakeMethod);
    }
    if transport == Opening::WebSocket && !upgrade {
        return refuse(conn, EngineError::BadRequest);
    }
    let verdict = match &shard.config.allow_request {
        Some(allow) => allow(&req, conn.peer).await,
        None => Ok(()),
    };
    if let Err(message) = verdict {
        shard.metrics.engine_error(EngineError::Forbidden);
        if upgrade {
            write_upgrade_error_message(conn.out(), EngineError::Forbidden, &message);
            return Next::Close(conn);
        }
        resp.engine_error_with_message(conn.out(), &to, EngineError::Forbidden, &message);
        return keep(conn);
    }
    if transport == Opening::Polling && upgrade {
        return open_and_close_websocket(shard, conn, &req).await;
    }
    // Node asks `allowRequest` in `verify`, before `handshake` looks at the protocol revision:
    // `EIO=4` is v4, anything else (absent included) v3, served only with `allowEIO3`.
    let version = match query.protocol() {
        4 => EioVersion::V4,
        _ if shard.config.engine.allow_eio3 => EioVersion::V3,
        _ => return refuse(conn, EngineError::UnsupportedProtocolVersion),
    };
    if shard.closing.get() {
        return refuse(conn, EngineError::BadRequest);
    }
    let supports_binary = query.supports_binary();
    match transport {
        Opening::Polling => {
            let handshake = Handshake { request: req.to_owned_head(), remote: Some(conn.peer) };
            let (sid, _) =
                shard.open(endpoint, Opening::Polling, version, supports_binary, handshake, Instant::now());
            let answered = polling::answer(shard, &mut conn, &req, &to, sid).await;
            shard.announce(sid);
            match answered {
                true => keep(conn),
                false => Next::Close(conn),
            }
        }
        Opening::WebSocket => {
            let Ok(accept) = http::websocket::check(&req) else {
                return reject_ws(conn, &req);
            };
            let Ok(deflate) = negotiate_deflate(shard, &req) else {
                return reject_extensions(conn);
            };
            write_switching_protocols(
                conn.out(),
                &accept,
                deflate.as_ref().map(DeflateParams::response),
                shard.config.cors.as_ref(),
                to.origin.as_deref(),
                &[],
            );
            let handshake = Handshake { request: req.to_owned_head(), remote: Some(conn.peer) };
            let (sid, ws) =
                shard.open(endpoint, Opening::WebSocket, version, supports_binary, handshake, Instant::now());
            let ws = ws.expect("a WebSocket session has a socket");
            shard.announce(sid);
            spawn_websocket(shard, conn, sid, ws, deflate);
            Next::Gone
        }
    }
}

/// A request below an endpoint's path that the endpoint answers itself, as Node's `serveClient`
/// listener does before engine.io sees it; `false` when none does. Upgrades go to Node's
/// `upgrade` event, never to that listener.
fn plain_http(
    shard: &Shard,
    req: &Request,
    responder: Responder<'_>,
    reply: &ReplyInfo,
    out: &mut BytesMut,
) -> bool {
    if req.is_upgrade() {
        return false;
    }
    let under_endpoint = shard.endpoints.iter().any(|(path, handler)| {
        let Some(subpath) = req.path().strip_prefix(path.as_bytes()) else { return false };
        handler.on_http(&mut PlainHttp { request: req, subpath, responder, reply, out: &mut *out })
    });
    under_endpoint
        || shard.routes.iter().any(|(path, route)| {
            req.path() == path.as_bytes()
                && route(
                    shard.id,
                    &mut PlainHttp { request: req, subpath: b"", responder, reply, out: &mut *out },
                )
        })
}

fn reject_ws(mut conn: Conn, req: &Request) -> Next {
    if let Err(rejection) = http::websocket::check(req) {
        http::websocket::write_rejection(conn.out(), rejection);
    }
    Next::Close(conn)
}

/// `ws` negotiates `permessage-deflate` only when enabled, and then refuses a malformed offer.
fn negotiate_deflate(shard: &Shard, req: &Request) -> Result<Option<DeflateParams>, ExtensionError> {
    match shard.config.per_message_deflate {
        Some(_) => deflate::negotiate(req.header_values("sec-websocket-extensions")),
        None => Ok(None),
    }
}

fn reject_extensions(mut conn: Conn) -> Next {
    http::websocket::write_rejection(conn.out(), http::websocket::WsRejection::Extensions);
    Next::Close(conn)
}

/// A WebSocket upgrade that passed `verify` for a transport that takes none (`polling`): Node's
/// `ws` completes the handshake, then `onWebSocket` closes the socket at once.
async fn open_and_close_websocket(shard: &Rc<Shard>, mut conn: Conn, req: &Request) -> Next {
    let Ok(accept) = http::websocket::check(req) else {
        return reject_ws(conn, req);
    };
    let origin = req.header("origin");
    write_switching_protocols(conn.out(), &accept, None, shard.config.cors.as_ref(), origin, &[]);
    crate::transport::ws_codec::write_close_empty(conn.out());
    conn.finish().await;
    Next::Gone
}

/// A WebSocket for an existing session: the probe of an upgrade.
async fn upgrade_session(shard: &Rc<Shard>, mut conn: Conn, req: Request, sid: Sid) -> Next {
    let Ok(accept) = http::websocket::check(&req) else {
        return reject_ws(conn, &req);
    };
    let Ok(deflate) = negotiate_deflate(shard, &req) else {
        return reject_extensions(conn);
    };
    let supports_binary = EngineQuery::parse(req.query()).supports_binary();
    let origin = req.header("origin");
    let extensions = deflate.as_ref().map(DeflateParams::response);
    write_switching_protocols(conn.out(), &accept, extensions, shard.config.cors.as_ref(), origin, &[]);
    let attached = shard.drive(sid, |s| s.attach_websocket(supports_binary, Instant::now()));
    match attached {
        Some(Ok(ws)) => spawn_websocket(shard, conn, sid, ws, deflate),
        // Node completes the WebSocket handshake, then closes it at once.
        _ => {
            crate::transport::ws_codec::write_close_empty(conn.out());
            conn.finish().await;
        }
    }
    Next::Gone
}

/// Moves the connection, with the request in hand and whatever followed it, to `owner`.
async fn hand_off(mesh: &Rc<Mesh>, owner: usize, mut conn: Conn, request: Request) -> Next {
    if conn.flush().await.is_err() {
        return Next::Gone;
    }
    // SAFETY: dup of a descriptor this connection owns; the copy travels to the owner and
    // ours is closed when `conn` drops.
    let fd = unsafe { libc::dup(conn.stream.tcp.as_raw_fd()) };
    if fd < 0 {
        return Next::Close(conn);
    }
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let rest: Bytes = conn.buf.split().freeze();
    // The TLS session moves too; from here on this shard no longer touches the connection.
    let tls = conn.stream.take_tls();
    match mesh.send(owner, Handoff { fd, request, rest, tls }).await {
        Ok(()) => Next::Gone,
        Err(_) => Next::Close(conn),
    }
}
