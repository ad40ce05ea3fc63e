//! The loop of one WebSocket connection: frames in to its session, the
//! session's queued packets out in as few writes as Node's flushing allows (the first packet
//! for an idle connection alone, then everything sent meanwhile in one write), data frames
//! compressed when `permessage-deflate` was negotiated.
//!
//! The loop is a task of its own, apart from the HTTP task that upgraded it, so an idle
//! WebSocket costs only this loop's small state: the request handling it came through is gone,
//! the connection's buffers go back to the shard between messages (see [`Conn`]), frames
//! are gathered in a scratch list of the shard, and the rarely taken close paths are boxed.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::conn::{Conn, read_into};
use crate::engine::{TransportKind, WsId, WsStatus};
use crate::metrics::{Direction, ShardMetrics};
use crate::protocol::Frame;
use crate::protocol::sid::Sid;
use crate::shard::state::{ConnGuard, Shard, SlotKey};
use crate::transport::deflate::{DeflateParams, Deflater, Inflater};
use crate::transport::ws_codec::{self, WsDecoder, WsMessage, WsWriter};

/// What woke the loop.
enum Woke {
    Output(WsStatus),
    Read(std::io::Result<usize>),
}

/// How the client's side of the loop ended.
enum Ending {
    /// Its close frame, with this payload.
    Close(Bytes),
    /// Frames that cannot be read: close with this code.
    Error(u16),
}

thread_local! {
    /// Frames drained from a session on their way to its connection: filled and emptied
    /// within one synchronous step, so one list serves the whole shard.
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the shard's frame list (a fresh one if it is in use: never expected).
fn with_frames<R>(f: impl FnOnce(&mut Vec<Frame>) -> R) -> R {
    FRAMES.with(|frames| match frames.try_borrow_mut() {
        Ok(mut frames) => f(&mut frames),
        Err(_) => f(&mut Vec::new()),
    })
}

/// Serves the WebSocket `ws` of session `sid` in a task of its own until either side closes
/// it. `conn.out` may already hold the `101 Switching Protocols` head, which accepted `deflate`.
pub(crate) fn spawn_websocket(
    shard: &Rc<Shard>,
    conn: Conn,
    sid: Sid,
    ws: WsId,
    deflate: Option<DeflateParams>,
) {
    let max_payload = shard.engine.max_payload;
    let (decoder, writer) = match (&deflate, shard.config.per_message_deflate) {
        (Some(params), Some(threshold)) => (
            WsDecoder::with_deflate(max_payload, Inflater::new(params)),
            WsWriter::new(Some(Deflater::new(params, threshold))),
        ),
        _ => (WsDecoder::new(max_payload), WsWriter::new(None)),
    };
    // Counted from here, so the shard never sees the connection gone between the two tasks.
    let open = shard.conn_opened();
    let task = run_websocket(open, conn, sid, ws, decoder, writer);
    glommio::spawn_local(task).detach();
}

/// The loop. An `async` block rather than an `async fn`, whose arguments would be stored twice
/// in the future (once as arguments, once moved into the body).
#[allow(clippy::manual_async_fn)]
fn run_websocket(
    open: ConnGuard,
    mut conn: Conn,
    sid: Sid,
    ws: WsId,
    mut decoder: WsDecoder,
    mut writer: WsWriter,
) -> impl Future<Output = ()> {
    async move {
        let shard = open.shard();
        // Where the session is kept: every drive below starts there rather than at its sid's hash.
        let key = shard.key_of(sid);
        let mut status = WsStatus::Open;
        // The `101` goes out on its own, before the first frame, as the `ws` server writes it:
        // a client that reads them together may see the open packet before it listens for it.
        if !conn.out.is_empty() {
            if conn.flush().await.is_err() {
                shard.drive_at(sid, key, |s| s.on_ws_error(ws, Instant::now()));
                return;
            }
            // A session opened on this WebSocket: its open packet comes a little later (see
            // `EngineConfig::first_write_gap`).
            let opening = shard.with_session(sid, |s| s.transport() == TransportKind::WebSocket);
            let gap = shard.engine.first_write_gap;
            if opening == Some(true) && !gap.is_zero() {
                glommio::timer::sleep(gap).await;
            }
        }
        loop {
            if let Some(ending) = receive(shard, sid, key, ws, &mut decoder, &mut conn) {
                return Box::pin(client_ended(shard, conn, sid, ws, ending)).await;
            }
            // What the session has for this socket, in one write, and the pause to take after
            // it (asked for by whichever drain took the batch that ends before a write boundary).
            let mut pause = None;
            if status == WsStatus::Open {
                status = with_frames(|frames| {
                    let drained = shard.drive_at(sid, key, |s| (s.drain_ws(ws, frames), s.take_ws_pause()));
                    let (status, after) = drained.unwrap_or((WsStatus::Close, None));
                    pause = after;
                    encode(frames, &mut writer, &mut conn.out, &shard.metrics);
                    status
                });
            }
            if status == WsStatus::Close {
                return Box::pin(server_close(conn, decoder)).await;
            }
            if conn.flush().await.is_err() {
                shard.drive_at(sid, key, |s| s.on_ws_error(ws, Instant::now()));
                return;
            }
            if let Some(pause) = pause {
                glommio::timer::sleep(pause).await;
            }
            // Nothing received is pending: an idle connection keeps no read buffer.
            conn.release_read();
            let woke = {
                let Conn { stream, buf, out, .. } = &mut conn;
                let output = std::future::poll_fn(|cx| {
                    with_frames(|frames| {
                        let polled = shard.drive_at(sid, key, |s| s.poll_ws(ws, cx.waker(), frames));
                        encode(frames, &mut writer, out, &shard.metrics);
                        match polled {
                            Some(Poll::Ready(status)) => Poll::Ready(Woke::Output(status)),
                            Some(Poll::Pending) => Poll::Pending,
                            None => Poll::Ready(Woke::Output(WsStatus::Close)),
                        }
                    })
                });
                let read = async { Woke::Read(read_into(stream, buf).await) };
                futures_lite::future::or(output, read).await
            };
            match woke {
                Woke::Output(s) => status = s,
                Woke::Read(Ok(n)) if n > 0 => {}
                Woke::Read(Ok(_)) => {
                    shard.drive_at(sid, key, |s| s.on_ws_closed(ws, Instant::now()));
                    return;
                }
                Woke::Read(Err(_)) => {
                    shard.drive_at(sid, key, |s| s.on_ws_error(ws, Instant::now()));
                    return;
                }
            }
        }
    }
}

/// Hands everything already received to the session, in order, and answers pings; `Some` when
/// the client closed or sent what cannot be read.
fn receive(
    shard: &Rc<Shard>,
    sid: Sid,
    key: SlotKey,
    ws: WsId,
    decoder: &mut WsDecoder,
    conn: &mut Conn,
) -> Option<Ending> {
    // One reading of the clock for everything read at once, taken at the first message.
    let mut now = None;
    loop {
        match decoder.decode(&mut conn.buf) {
            Ok(Some(WsMessage::Text(text))) => {
                received(&shard.metrics, text.len());
                let now = *now.get_or_insert_with(Instant::now);
                shard.drive_at(sid, key, |s| s.on_ws_frame(ws, Frame::Text(text), now));
            }
            Ok(Some(WsMessage::Binary(data))) => {
                received(&shard.metrics, data.len());
                let now = *now.get_or_insert_with(Instant::now);
                shard.drive_at(sid, key, |s| s.on_ws_frame(ws, Frame::Binary(data), now));
            }
            Ok(Some(WsMessage::Ping(data))) => ws_codec::write_pong(&data, conn.out()),
            Ok(Some(WsMessage::Pong(_))) => {}
            Ok(Some(WsMessage::Close(payload))) => return Some(Ending::Close(payload)),
            Ok(None) => return None,
            Err(e) => return Some(Ending::Error(e.close_code())),
        }
    }
}

/// The client closed, or broke the framing: answer, close, and tell the session.
async fn client_ended(shard: &Rc<Shard>, mut conn: Conn, sid: Sid, ws: WsId, ending: Ending) {
    match ending {
        Ending::Close(payload) => {
            // Answer the close handshake with the client's own code and reason, as `ws`
            // does, then the session learns the transport closed.
            ws_codec::write_close_payload(&payload, conn.out());
            conn.finish().await;
            shard.drive(sid, |s| s.on_ws_closed(ws, Instant::now()));
        }
        Ending::Error(code) => {
            ws_codec::write_close(code, "", conn.out());
            conn.finish().await;
            shard.drive(sid, |s| s.on_ws_error(ws, Instant::now()));
        }
    }
}

/// Node's `ws.close()`: a close frame without a status code, then the client's own close frame
/// is awaited (briefly) so the TCP close does not reset frames in flight.
async fn server_close(mut conn: Conn, mut decoder: WsDecoder) {
    ws_codec::write_close_empty(conn.out());
    if conn.flush().await.is_ok() {
        let _ = glommio::timer::timeout(CLOSE_WAIT, await_close(&mut conn, &mut decoder)).await;
    }
    conn.finish().await;
}

/// How long a server-initiated close waits for the client's close frame (`ws` waits 30 s).
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Reads until the client's close frame, the end of the stream, or bad input.
async fn await_close(conn: &mut Conn, decoder: &mut WsDecoder) -> glommio::Result<(), ()> {
    loop {
        loop {
            match decoder.decode(&mut conn.buf) {
                Ok(Some(WsMessage::Close(_))) | Err(_) => return Ok(()),
                Ok(Some(_)) => {}
                Ok(None) => break,
            }
        }
        if !matches!(conn.read_more().await, Ok(n) if n > 0) {
            return Ok(());
        }
    }
}

fn received(metrics: &ShardMetrics, len: usize) {
    metrics.transfer(TransportKind::WebSocket, Direction::In, 1, len as u64);
}

/// Writes `frames` (emptied) into `out`, taken from the shard's spare buffers when it has none.
fn encode(frames: &mut Vec<Frame>, writer: &mut WsWriter, out: &mut BytesMut, metrics: &ShardMetrics) {
    if frames.is_empty() {
        return;
    }
    let out = Conn::out_buffer(out);
    let (count, mut bytes) = (frames.len() as u64, 0);
    for frame in frames.drain(..) {
        match frame {
            Frame::Text(text) => {
                bytes += text.len();
                writer.text(&text, out);
            }
            Frame::Binary(data) => {
                bytes += data.len();
                writer.binary(&data, out);
            }
            Frame::Message(text) => {
                bytes += 1 + text.len();
                writer.message(&text, out);
            }
            Frame::Prebuilt(frame) => {
                bytes += ws_codec::server_frame_payload(&frame).len();
                writer.prebuilt_text(&frame, out);
            }
        }
    }
    metrics.transfer(TransportKind::WebSocket, Direction::Out, count, bytes as u64);
}
