//! The `polling` scenario: the Socket.IO echo of [`super::echo`] over Engine.IO v4 HTTP
//! long-polling (engine.io-protocol, "HTTP long-polling"), the way a client that never
//! upgrades talks: a `GET` handshake, `POST 40` (CONNECT), `GET` until `40{"sid":…}`, then
//! rounds of one `POST` carrying `pipeline` events (packets joined by `\x1e`) and `GET`s
//! until every answer is in. Each client keeps two keep-alive connections, one for `GET`
//! and one for `POST`, so a `POST` never waits behind a pending `GET`. Pings come in `GET`
//! bodies and are answered with a `POST 3` at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::echo::{Exchange, Messages, Seen};
use super::parse_connect;
use crate::eio::{SEPARATOR, bounded, expect_ok, parse_open};
use crate::error::{LoadError, excerpt};
use crate::http::HttpConn;
use crate::net::{Sources, Target};
use crate::run::{Scenario, Window};
use crate::stats::Recorder;

/// The scenario, shared by every client (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct SioPolling(Arc<Config>);

struct Config {
    target: Target,
    sources: Arc<Sources>,
    messages: Messages,
    op_timeout: Duration,
}

impl SioPolling {
    pub fn new(target: Target, sources: Arc<Sources>, messages: Messages, op_timeout: Duration) -> Self {
        SioPolling(Arc::new(Config { target, sources, messages, op_timeout }))
    }
}

pub struct PollClient {
    pub get: HttpConn,
    /// The `GET` of the session, built once.
    pub get_request: Vec<u8>,
    pub post: Poster,
}

/// The `POST` side of a session: its own connection, so a `POST` never waits behind a `GET`.
pub struct Poster {
    conn: HttpConn,
    /// `POST <path>?…&sid=… HTTP/1.1` and the fixed headers, up to `Content-Length`.
    head: String,
    /// The request being written.
    out: Vec<u8>,
}

impl Poster {
    /// POSTs `body` (packets already joined) and checks the `ok`.
    pub async fn post(&mut self, body: &[u8]) -> Result<(), LoadError> {
        self.out.clear();
        self.out.extend_from_slice(self.head.as_bytes());
        self.out.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        self.out.extend_from_slice(body);
        expect_ok(&self.conn.request(&self.out).await?)
    }
}

impl PollClient {
    /// Opens a session at `target` (handshake `GET`, then a second connection for `POST`s)
    /// and connects it to the main namespace.
    pub async fn open(target: &Target, sources: &Sources) -> Result<PollClient, LoadError> {
        let (path, host) = (&target.path, &target.authority);
        let mut get = HttpConn::connect_from(target, sources).await?;
        let handshake = format!("GET {path}?EIO=4&transport=polling HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let response = get.request(handshake.as_bytes()).await?;
        if response.status != 200 {
            return Err(LoadError::Status(response.status));
        }
        let open = response.body.split(|&b| b == SEPARATOR).next().unwrap_or_default();
        let sid = parse_open(open)?;
        let query = format!("{path}?EIO=4&transport=polling&sid={sid}");
        let post = Poster {
            conn: HttpConn::connect_from(target, sources).await?,
            head: format!(
                "POST {query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain;charset=UTF-8\r\n\
                 Content-Length: "
            ),
            out: Vec::new(),
        };
        let get_request = format!("GET {query} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes();
        let mut client = PollClient { get, get_request, post };
        client.post(b"40").await?;
        // The run's connect timeout bounds this loop.
        loop {
            let response = client.get.request(&client.get_request).await?;
            if response.status != 200 {
                return Err(LoadError::Status(response.status));
            }
            let (mut connected, mut pong_due) = (false, false);
            for packet in response.body.split(|&b| b == SEPARATOR) {
                match packet {
                    [b'4', b'0', json @ ..] => {
                        parse_connect(json)?;
                        connected = true;
                    }
                    [b'4', b'4', ..] => return Err(LoadError::ConnectRefused(excerpt(packet))),
                    // An event sent to every socket may follow the CONNECT answer in one payload.
                    [b'4', b'2', ..] if connected => {}
                    [b'2'] => pong_due = true,
                    [b'6'] | [] => {}
                    _ => return Err(LoadError::UnexpectedPacket(excerpt(packet))),
                }
            }
            if pong_due {
                client.post(b"3").await?;
            }
            if connected {
                return Ok(client);
            }
        }
    }

    /// POSTs `body` (packets already joined) and checks the `ok`.
    async fn post(&mut self, body: &[u8]) -> Result<(), LoadError> {
        self.post.post(body).await
    }
}

impl Scenario for SioPolling {
    type Client = PollClient;

    async fn connect(&self) -> Result<PollClient, LoadError> {
        PollClient::open(&self.0.target, &self.0.sources).await
    }

    async fn run(&self, client: PollClient, window: Window, rec: &Recorder) -> Result<(), LoadError> {
        echo_loop(client, &self.0, Instant::from_std(window.end), rec).await
    }
}

/// POSTs `pipeline` events, GETs until every answer is in, and again, until `end`.
async fn echo_loop(
    mut client: PollClient,
    config: &Config,
    end: Instant,
    rec: &Recorder,
) -> Result<(), LoadError> {
    let timeout = config.op_timeout;
    let mut exchange = Exchange::new(&config.messages);
    let mut body = Vec::new();
    loop {
        if Instant::now() >= end {
            return Ok(());
        }
        body.clear();
        exchange.refill(|packet| {
            if !body.is_empty() {
                body.push(SEPARATOR);
            }
            body.extend_from_slice(packet);
        });
        if bounded(client.post(&body), end, timeout).await?.is_none() {
            return Ok(());
        }
        while !exchange.idle() {
            let Some(response) = bounded(client.get.request(&client.get_request), end, timeout).await? else {
                return Ok(());
            };
            if response.status != 200 {
                return Err(LoadError::Status(response.status));
            }
            let mut pong_due = false;
            for packet in response.body.split(|&b| b == SEPARATOR).filter(|p| !p.is_empty()) {
                if let Seen::Ping = exchange.on_packet(packet, rec)? {
                    pong_due = true;
                }
            }
            if pong_due && bounded(client.post(b"3"), end, timeout).await?.is_none() {
                return Ok(());
            }
        }
    }
}
