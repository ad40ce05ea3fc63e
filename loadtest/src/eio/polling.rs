//! One Engine.IO session over HTTP long-polling (engine.io-protocol, "HTTP long-polling"):
//! a `GET` handshake, then messages `POST`ed as a v4 payload (packets joined by the record
//! separator `\x1e`) on one keep-alive connection, and echoes collected by `GET` on another,
//! so a `GET` is never pending while we `POST`. Pings arrive in `GET` bodies; pongs are
//! `POST`ed at once.

use tokio::time::Instant;

use super::{EchoConfig, SEPARATOR, bounded, expect_ok, parse_open};
use crate::error::{LoadError, excerpt};
use crate::http::HttpConn;
use crate::stats::Recorder;

pub struct PollClient {
    post: HttpConn,
    get: HttpConn,
    /// Whole requests, built once: the `POST` of `pipeline` messages, the pong, the `GET`.
    post_messages: Vec<u8>,
    post_pong: Vec<u8>,
    get_packets: Vec<u8>,
}

/// Does the handshake on what becomes the `GET` connection, then opens the `POST` one.
pub async fn connect(config: &EchoConfig) -> Result<PollClient, LoadError> {
    let target = &config.target;
    let (path, host) = (&target.path, &target.authority);
    let mut get = HttpConn::connect(target.addr).await?;
    let handshake = format!("GET {path}?EIO=4&transport=polling HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let response = get.request(handshake.as_bytes()).await?;
    if response.status != 200 {
        return Err(LoadError::Status(response.status));
    }
    let open = response.body.split(|&b| b == SEPARATOR).next().unwrap_or_default();
    let sid = parse_open(open)?;
    let post = HttpConn::connect(target.addr).await?;

    let query = format!("{path}?EIO=4&transport=polling&sid={sid}");
    let mut messages = Vec::new();
    for i in 0..config.pipeline {
        if i > 0 {
            messages.push(SEPARATOR);
        }
        messages.extend_from_slice(config.packet.as_bytes());
    }
    let post_request = |body: &[u8]| {
        let mut request = format!(
            "POST {query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain;charset=UTF-8\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        request
    };
    Ok(PollClient {
        post_messages: post_request(&messages),
        post_pong: post_request(b"3"),
        get_packets: format!("GET {query} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        post,
        get,
    })
}

/// POSTs `config.pipeline` messages, GETs until all come back, and again, until `end`.
pub async fn echo_loop(
    mut client: PollClient,
    config: &EchoConfig,
    end: Instant,
    rec: &Recorder,
) -> Result<(), LoadError> {
    let timeout = config.op_timeout;
    let expected = config.packet.as_bytes();
    loop {
        let sent = Instant::now();
        if sent >= end {
            return Ok(());
        }
        let Some(response) = bounded(client.post.request(&client.post_messages), end, timeout).await? else {
            return Ok(());
        };
        expect_ok(&response)?;
        let mut awaiting = config.pipeline;
        while awaiting > 0 {
            let Some(response) = bounded(client.get.request(&client.get_packets), end, timeout).await? else {
                return Ok(());
            };
            if response.status != 200 {
                return Err(LoadError::Status(response.status));
            }
            let mut pong_due = false;
            for packet in response.body.split(|&b| b == SEPARATOR) {
                match packet.first() {
                    Some(b'4') if packet == expected && awaiting > 0 => {
                        awaiting -= 1;
                        rec.record(sent.elapsed());
                    }
                    Some(b'4') => return Err(LoadError::EchoMismatch),
                    Some(b'2') => pong_due = true,
                    Some(b'6') => {}
                    Some(b'1') => return Err(LoadError::Closed("Engine.IO close packet")),
                    _ => return Err(LoadError::UnexpectedPacket(excerpt(packet))),
                }
            }
            if pong_due {
                let Some(response) = bounded(client.post.request(&client.post_pong), end, timeout).await?
                else {
                    return Ok(());
                };
                expect_ok(&response)?;
            }
        }
    }
}
