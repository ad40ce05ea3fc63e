//! Routing one request, as Node's `engine.io` `Server.verify` and `handshake` do, in order:
//! path, transport, `sid` (→ owner shard, → known session), handshake method, protocol
//! revision, `allow_request`; then answering it: a polling request, a WebSocket upgrade, a
//! plain HTTP route, a move to the owner shard, or one of Node's errors.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use super::conn::{Conn, Next};
use super::handler::{Handshake, PlainHttp};
use super::polling;
use super::websocket::spawn_websocket;
use crate::http::error::{write_upgrade_error, write_upgrade_error_message};
use crate::http::websocket::write_switching_protocols;
use crate::http::{self, EngineError, EngineQuery, Method, ReplyInfo, Request, Responder};
use crate::protocol::EioVersion;
use crate::protocol::sid::Sid;
use crate::shard::Handoff;
use crate::shard::mesh::Mesh;
use crate::shard::state::{Opening, Shard};
use crate::transport::deflate::{self, DeflateParams, ExtensionError};

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

/// Routes one request and answers it (or moves the connection to the shard that must).
pub(super) async fn handle(shard: &Rc<Shard>, mesh: &Rc<Mesh>, mut conn: Conn, req: Request) -> Next {
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
