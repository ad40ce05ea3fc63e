//! One Engine.IO session straight over WebSocket (`?EIO=4&transport=websocket`, no polling
//! first): every packet is one text frame. Framing and the opening handshake are tungstenite's.

use std::collections::VecDeque;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use super::{EchoConfig, bounded, parse_open};
use crate::error::{LoadError, excerpt};
use crate::net::{self, Sources, Target};
use crate::stats::Recorder;

pub struct WsClient {
    ws: WebSocketStream<TcpStream>,
}

/// Opens the WebSocket and reads the open packet.
pub async fn connect(config: &EchoConfig) -> Result<WsClient, LoadError> {
    let ws = open(&config.target, &config.sources, config.packet.len()).await?;
    Ok(WsClient { ws })
}

/// An Engine.IO v4 session straight over WebSocket at `target`, its open packet read, for
/// messages of about `message_len` bytes.
async fn open(
    target: &Target,
    sources: &Sources,
    message_len: usize,
) -> Result<WebSocketStream<TcpStream>, LoadError> {
    let tcp = net::connect(target, sources).await?;
    let url = format!("ws://{}{}?EIO=4&transport=websocket", target.authority, target.path);
    // tungstenite zero-fills its read buffer up to `read_buffer_size` before every read; at
    // the 128 KiB default that memset was most of the load generator's CPU.
    let read_buffer = (message_len + 64).next_power_of_two().clamp(4 << 10, 128 << 10);
    let ws_config = WebSocketConfig::default().read_buffer_size(read_buffer);
    let (mut ws, _response) = client_async_with_config(url, tcp, Some(ws_config)).await?;
    match next(&mut ws).await? {
        Message::Text(open) => parse_open(open.as_bytes())?,
        other => return Err(LoadError::UnexpectedPacket(format!("{other:?}"))),
    };
    Ok(ws)
}

/// Keeps `config.pipeline` messages in flight until `end`, recording each round trip.
pub async fn echo_loop(
    mut client: WsClient,
    config: &EchoConfig,
    end: Instant,
    rec: &Recorder,
) -> Result<(), LoadError> {
    let ws = &mut client.ws;
    let message = Message::Text(config.packet.clone());
    let mut in_flight: VecDeque<Instant> = VecDeque::with_capacity(config.pipeline);
    let mut pong_due = false;
    loop {
        let mut fed = in_flight.len() < config.pipeline;
        while in_flight.len() < config.pipeline {
            ws.feed(message.clone()).await?;
            in_flight.push_back(Instant::now());
        }
        if pong_due {
            ws.feed(Message::text("3")).await?;
            (pong_due, fed) = (false, true);
        }
        if fed {
            ws.flush().await?;
        }
        let Some(frame) = bounded(next(ws), end, config.op_timeout).await? else { return Ok(()) };
        let mut arrived = frame;
        // Take every frame already buffered before writing again, so pipelined echoes are
        // answered with one write.
        loop {
            match on_frame(arrived, config, &mut in_flight, rec)? {
                Seen::Echo if Instant::now() >= end => return Ok(()),
                Seen::Ping => pong_due = true,
                Seen::Echo | Seen::Other => {}
            }
            if in_flight.is_empty() {
                break;
            }
            match next(ws).now_or_never() {
                Some(frame) => arrived = frame?,
                None => break,
            }
        }
    }
}

enum Seen {
    Echo,
    Ping,
    Other,
}

/// The next message of `ws`; the end of the stream is an error.
async fn next(ws: &mut WebSocketStream<TcpStream>) -> Result<Message, LoadError> {
    match ws.next().await {
        Some(Ok(message)) => Ok(message),
        Some(Err(e)) => Err(e.into()),
        None => Err(LoadError::Closed("end of stream")),
    }
}

fn on_frame(
    frame: Message,
    config: &EchoConfig,
    in_flight: &mut VecDeque<Instant>,
    rec: &Recorder,
) -> Result<Seen, LoadError> {
    let text = match frame {
        Message::Text(text) => text,
        // Control frames: tungstenite answers pings itself.
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Ok(Seen::Other),
        Message::Close(_) => return Err(LoadError::Closed("close frame")),
        Message::Binary(data) => return Err(LoadError::UnexpectedPacket(excerpt(&data))),
    };
    match text.as_bytes().first() {
        Some(b'4') => {
            if text.as_bytes() != config.packet.as_bytes() {
                return Err(LoadError::EchoMismatch);
            }
            let sent = in_flight.pop_front().ok_or(LoadError::EchoMismatch)?;
            rec.record(sent.elapsed());
            Ok(Seen::Echo)
        }
        Some(b'2') => Ok(Seen::Ping),
        Some(b'6') => Ok(Seen::Other),
        Some(b'1') => Err(LoadError::Closed("Engine.IO close packet")),
        _ => Err(LoadError::UnexpectedPacket(excerpt(text.as_bytes()))),
    }
}
