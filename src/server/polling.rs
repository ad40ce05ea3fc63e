//! A polling request for a session of this shard, answered as engine.io 6.6's polling
//! transport answers it: a POST's packets handed to the session, a GET answered at once or
//! parked until the session has something to send, both over XHR or JSONP.

use std::rc::Rc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::conn::{Conn, read_into};
use super::route::responder;
use crate::engine::{PollAnswer, PollGet, PollTicket, PostReply, TransportKind};
use crate::http::compression;
use crate::http::{EngineError, Method, ReplyInfo, Request};
use crate::metrics::Direction;
use crate::protocol::payload::PayloadFormat;
use crate::protocol::sid::Sid;
use crate::shard::state::Shard;
use crate::transport::jsonp;

/// Answers a polling GET or POST; `false` when the connection must close.
pub(super) async fn answer(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    req: &Request,
    to: &ReplyInfo,
    sid: Sid,
) -> bool {
    let mut date = [0u8; 29];
    let resp = responder(shard, &mut date);
    // As in Node, the handshake's query decided, once for the session, whether it polls by
    // JSONP (`j`) or XHR.
    let jsonp = shard.jsonp(sid);
    match req.method() {
        Method::Get => {}
        Method::Post => {
            let content_type = req.header("content-type");
            let body = match &jsonp {
                // An oversized body is refused as it is; an absent `d` is ignored ("ok").
                Some(_) if req.body().len() > shard.engine.max_payload => req.body().clone(),
                Some(_) => match jsonp::unwrap(req.body()) {
                    Some(payload) => Bytes::from(payload),
                    None => {
                        resp.post_ok(conn.out(), to);
                        return true;
                    }
                },
                None => req.body().clone(),
            };
            let reply = shard.drive(sid, |s| s.on_post(content_type, body, Instant::now()));
            let refuse = |out: &mut BytesMut, error| {
                shard.metrics.engine_error(error);
                resp.engine_error(out, to, error);
            };
            match reply.unwrap_or(PostReply::UnknownSession) {
                PostReply::Ok => {
                    let len = req.body().len() as u64;
                    shard.metrics.transfer(TransportKind::Polling, Direction::In, 1, len);
                    resp.post_ok(conn.out(), to)
                }
                PostReply::PayloadTooLarge => resp.empty(conn.out(), to, 413),
                PostReply::Rejected => resp.empty(conn.out(), to, 400),
                PostReply::BadRequest => refuse(conn.out(), EngineError::BadRequest),
                PostReply::UnknownSession => refuse(conn.out(), EngineError::UnknownSid),
                PostReply::Aborted => return false,
            }
            return true;
        }
        // Node's polling transport answers other methods with 500, `HEAD` included (not a poll).
        _ => {
            resp.empty(conn.out(), to, 500);
            return true;
        }
    }
    let outcome = match shard.drive(sid, |s| s.on_poll_get(Instant::now())) {
        Some(PollGet::Wait(ticket)) => {
            let _parked = shard.metrics.get_parked();
            match wait_for_poll(shard, conn, sid, ticket).await {
                Some(answer) => PollGet::from(answer),
                None => return false,
            }
        }
        Some(outcome) => outcome,
        None => PollGet::UnknownSession,
    };
    // The wait may have crossed a second boundary: date the response when it is written.
    let mut date = [0u8; 29];
    let resp = responder(shard, &mut date);
    let body = match outcome {
        PollGet::Respond(body) => body,
        PollGet::Wait(_) => unreachable!("a parked GET was waited for above"),
        PollGet::Overlap => {
            resp.empty(conn.out(), to, 400);
            return true;
        }
        PollGet::BadRequest => {
            shard.metrics.engine_error(EngineError::BadRequest);
            resp.engine_error(conn.out(), to, EngineError::BadRequest);
            return true;
        }
        PollGet::UnknownSession => {
            shard.metrics.engine_error(EngineError::UnknownSid);
            resp.engine_error(conn.out(), to, EngineError::UnknownSid);
            return true;
        }
    };
    shard.metrics.transfer(TransportKind::Polling, Direction::Out, 1, body.body.len() as u64);
    let script;
    let (content_type, payload) = match &jsonp {
        Some(index) => {
            script = jsonp::wrap(index, &body.body, body.format == PayloadFormat::V3Binary);
            (jsonp::CONTENT_TYPE.as_bytes(), &script[..])
        }
        None => (body.content_type().as_bytes(), &body.body[..]),
    };
    let encoding =
        shard.config.http_compression.filter(|&threshold| payload.len() >= threshold).and_then(|_| {
            compression::negotiate(req.header_values("accept-encoding"), &compression::POLLING)
        });
    match encoding {
        Some(encoding) => {
            let compressed = encoding.compress(payload);
            resp.ok_encoded(conn.out(), to, content_type, Some(encoding.name().as_bytes()), &compressed, &[]);
        }
        None => resp.ok(conn.out(), to, content_type, payload, &[]),
    }
    true
}

/// Parks a long-poll GET until the session has something to send; watches the connection
/// meanwhile, so a client that goes away closes the session as Node does.
async fn wait_for_poll(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    sid: Sid,
    ticket: PollTicket,
) -> Option<PollAnswer> {
    enum Woke {
        Body(Option<PollAnswer>),
        Read(std::io::Result<usize>),
    }
    loop {
        conn.release_read();
        let answer =
            std::future::poll_fn(|cx| match shard.drive(sid, |s| s.poll_response(ticket, cx.waker())) {
                Some(std::task::Poll::Pending) => std::task::Poll::Pending,
                Some(std::task::Poll::Ready(body)) => std::task::Poll::Ready(Woke::Body(body)),
                None => std::task::Poll::Ready(Woke::Body(None)),
            });
        let Conn { stream, buf, .. } = conn;
        let read = async { Woke::Read(read_into(stream, buf).await) };
        match futures_lite::future::or(answer, read).await {
            Woke::Body(body) => return body,
            // A pipelined request behind a parked GET: keep it for later.
            Woke::Read(Ok(n)) if n > 0 => continue,
            Woke::Read(_) => {
                shard.drive(sid, |s| s.on_poll_aborted(ticket, Instant::now()));
                return None;
            }
        }
    }
}
