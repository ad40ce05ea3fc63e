//! The loop of one WebSocket connection: frames in to its session, the
//! session's queued packets out — all of them in one write, data frames
//! compressed when `permessage-deflate` was negotiated.

use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use super::conn::{Conn, read_into};
use super::shard::Shard;
use crate::engine::{TransportKind, WsId, WsStatus};
use crate::metrics::{Direction, ShardMetrics};
use crate::protocol::Frame;
use crate::protocol::sid::Sid;
use crate::transport::deflate::{DeflateParams, Deflater, Inflater};
use crate::transport::ws_codec::{self, WsDecoder, WsMessage, WsWriter};

/// What woke the loop.
enum Woke {
    Output(WsStatus),
    Read(std::io::Result<usize>),
}

/// Serves the WebSocket `ws` of session `sid` until either side closes it.
/// `conn.out` may already hold the `101 Switching Protocols` head, which accepted `deflate`.
pub(crate) async fn run_websocket(
    shard: Rc<Shard>,
    mut conn: Conn,
    sid: Sid,
    ws: WsId,
    deflate: Option<DeflateParams>,
) {
    let max_payload = shard.engine.max_payload;
    let (mut decoder, mut writer) = match (&deflate, shard.config.per_message_deflate) {
        (Some(params), Some(threshold)) => (
            WsDecoder::with_deflate(max_payload, Inflater::new(params)),
            WsWriter::new(Some(Deflater::new(params, threshold))),
        ),
        _ => (WsDecoder::new(max_payload), WsWriter::new(None)),
    };
    let mut frames: Vec<Frame> = Vec::new();
    let mut status = WsStatus::Open;
    loop {
        // Everything already received, in order.
        loop {
            match decoder.decode(&mut conn.buf) {
                Ok(Some(WsMessage::Text(text))) => {
                    received(&shard.metrics, text.len());
                    shard.drive(sid, |s| s.on_ws_frame(ws, Frame::Text(text), Instant::now()));
                }
                Ok(Some(WsMessage::Binary(data))) => {
                    received(&shard.metrics, data.len());
                    shard.drive(sid, |s| s.on_ws_frame(ws, Frame::Binary(data), Instant::now()));
                }
                Ok(Some(WsMessage::Ping(data))) => ws_codec::write_pong(&data, &mut conn.out),
                Ok(Some(WsMessage::Pong(_))) => {}
                Ok(Some(WsMessage::Close(payload))) => {
                    // Answer the close handshake with the client's own code and reason, as `ws`
                    // does, then the session learns the transport closed.
                    ws_codec::write_close_payload(&payload, &mut conn.out);
                    conn.finish().await;
                    shard.drive(sid, |s| s.on_ws_closed(ws, Instant::now()));
                    return;
                }
                Ok(None) => break,
                Err(e) => {
                    ws_codec::write_close(e.close_code(), "", &mut conn.out);
                    conn.finish().await;
                    shard.drive(sid, |s| s.on_ws_error(ws, Instant::now()));
                    return;
                }
            }
        }
        // What the session has for this socket, in one write.
        if status == WsStatus::Open {
            status = shard.drive(sid, |s| s.drain_ws(ws, &mut frames)).unwrap_or(WsStatus::Close);
        }
        encode(&mut frames, &mut writer, &mut conn, &shard.metrics);
        if status == WsStatus::Close {
            // Node's `ws.close()`: a close frame without a status code, then the client's own
            // close frame is awaited (briefly) so the TCP close does not reset frames in flight.
            ws_codec::write_close_empty(&mut conn.out);
            if conn.flush().await.is_ok() {
                let _ = glommio::timer::timeout(CLOSE_WAIT, await_close(&mut conn, &mut decoder)).await;
            }
            conn.finish().await;
            return;
        }
        if conn.flush().await.is_err() {
            shard.drive(sid, |s| s.on_ws_error(ws, Instant::now()));
            return;
        }
        let output =
            std::future::poll_fn(|cx| match shard.drive(sid, |s| s.poll_ws(ws, cx.waker(), &mut frames)) {
                Some(Poll::Ready(status)) => Poll::Ready(Woke::Output(status)),
                Some(Poll::Pending) => Poll::Pending,
                None => Poll::Ready(Woke::Output(WsStatus::Close)),
            });
        let Conn { stream, buf, .. } = &mut conn;
        let read = async { Woke::Read(read_into(stream, buf).await) };
        match futures_lite::future::or(output, read).await {
            Woke::Output(s) => status = s,
            Woke::Read(Ok(n)) if n > 0 => {}
            Woke::Read(Ok(_)) => {
                shard.drive(sid, |s| s.on_ws_closed(ws, Instant::now()));
                return;
            }
            Woke::Read(Err(_)) => {
                shard.drive(sid, |s| s.on_ws_error(ws, Instant::now()));
                return;
            }
        }
    }
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

fn encode(frames: &mut Vec<Frame>, writer: &mut WsWriter, conn: &mut Conn, metrics: &ShardMetrics) {
    if frames.is_empty() {
        return;
    }
    let (count, mut bytes) = (frames.len() as u64, 0);
    for frame in frames.drain(..) {
        match frame {
            Frame::Text(text) => {
                bytes += text.len();
                writer.text(&text, &mut conn.out);
            }
            Frame::Binary(data) => {
                bytes += data.len();
                writer.binary(&data, &mut conn.out);
            }
            Frame::Prebuilt(frame) => {
                bytes += prebuilt_payload_len(&frame);
                writer.prebuilt_text(&frame, &mut conn.out);
            }
        }
    }
    metrics.transfer(TransportKind::WebSocket, Direction::Out, count, bytes as u64);
}

/// The payload length of a whole unmasked server frame: its header is 2 bytes, or 4 with a
/// 16-bit length (7-bit length 126), or 10 with a 64-bit one (127) — RFC 6455 §5.2.
fn prebuilt_payload_len(frame: &[u8]) -> usize {
    let header = match frame.get(1).map(|b| b & 0x7f) {
        Some(126) => 4,
        Some(127) => 10,
        _ => 2,
    };
    frame.len().saturating_sub(header)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::prebuilt_payload_len;
    use crate::transport::ws_codec;

    #[test]
    fn payload_length_of_prebuilt_frames_of_each_header_size() {
        for len in [0, 5, 125, 126, 200, 65535, 65536, 70000] {
            let mut frame = BytesMut::new();
            ws_codec::write_text(&"x".repeat(len), &mut frame);
            assert_eq!(prebuilt_payload_len(&frame), len, "{len}");
        }
        assert_eq!(prebuilt_payload_len(&[]), 0);
    }
}
