//! Socket.IO as a raw client sees it: Engine.IO sessions on `/socket.io/` over WebSocket
//! ([`Client`]) and long-polling ([`Polling`]), where every Socket.IO packet is written and
//! read as the exact engine message text (`40`, `42["message",1]`, `451-[…]` + a binary
//! frame); a server on 127.0.0.1:0 with two unpinned shards serving any [`SocketIo`]
//! ([`SioServer`]); and [`probe`], a namespace handler whose events drive rooms, broadcasts,
//! disconnects and server acks, reporting what it saw back to the test.
//!
//! Every wait has a deadline ([`TIMEOUT`]); engine pings are answered along the way.

pub mod probe;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::cli::conformance;
use tpcio::prelude::Sid;
use tpcio::prelude::SocketIo;
use tpcio::prelude::{CpuPlacement, RunningServer, ServerConfig};
use tungstenite::Message;

use super::TIMEOUT;
use super::engine::{Eio, sid_of};
use super::http::Conn;
use super::server::{PING_INTERVAL, PING_TIMEOUT};
use super::ws::{Event, Ws};

/// The shards every Socket.IO test server runs.
pub const SHARDS: usize = 2;

/// A server serving one [`SocketIo`] endpoint, stopped (without waiting) when dropped.
pub struct SioServer {
    running: Option<RunningServer>,
    pub addr: SocketAddr,
}

impl SioServer {
    /// `io` on two unpinned shards with Node's default heartbeat, so that a silent test client
    /// is never timed out by the engine.
    pub fn start(io: SocketIo) -> SioServer {
        Self::start_with(io, |_| {})
    }

    /// [`SioServer::start`] with the configuration changed by `configure` first.
    pub fn start_with(io: SocketIo, configure: impl FnOnce(&mut ServerConfig)) -> SioServer {
        let addr = "127.0.0.1:0".parse().expect("a socket address");
        let mut config = conformance::config(addr, Some(SHARDS), CpuPlacement::Unpinned);
        config.engine.ping_interval = PING_INTERVAL;
        config.engine.ping_timeout = PING_TIMEOUT;
        config.shutdown_timeout = Duration::from_secs(1);
        configure(&mut config);
        let shards = config.shards;
        let running = io.start(config).expect("the server starts");
        assert_eq!(Some(running.shards()), shards);
        let addr = running.local_addr();
        SioServer { running: Some(running), addr }
    }

    pub fn running(&self) -> &RunningServer {
        self.running.as_ref().expect("the server is running")
    }

    /// Requests moved to the shard owning their session so far.
    pub fn handoffs(&self) -> u64 {
        self.running.as_ref().expect("the server is running").stats().handoffs.load(Ordering::Relaxed)
    }
}

impl SioServer {
    /// The server, for a test that shuts it down itself.
    pub fn take(mut self) -> RunningServer {
        self.running.take().expect("the server is running")
    }
}

impl Drop for SioServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop_flag().store(true, Ordering::Release);
        }
    }
}

/// The shard owning an engine session, from its sid.
pub fn owner_shard(engine_sid: &str) -> usize {
    Sid::parse(engine_sid.as_bytes()).expect("a well-formed sid").shard(SHARDS)
}

/// Checks a v5 connect ack (`40{"sid":"…"}` or `40/nsp,{"sid":"…"}`) byte for byte and returns
/// the socket id (20 base64url characters).
pub fn connect_ack_sid(text: &str, nsp: &str) -> String {
    let prefix = if nsp == "/" { "40".to_string() } else { format!("40{nsp},") };
    let json = text.strip_prefix(&prefix).unwrap_or_else(|| panic!("not a connect ack for {nsp}: {text:?}"));
    // An open packet's shape check: `0{"sid":"<20 chars>"`.
    let sid = sid_of(&format!("0{json}"));
    assert_eq!(text, format!(r#"{prefix}{{"sid":"{sid}"}}"#), "a connect ack carries the sid alone");
    sid
}

/// One Engine.IO session over WebSocket on `/socket.io/`.
pub struct Client {
    pub ws: Ws,
    pub eio: Eio,
    pub engine_sid: String,
}

impl Client {
    /// Completes the WebSocket handshake and reads the engine's open packet.
    pub fn open(addr: SocketAddr, eio: Eio) -> Client {
        let stream = std::net::TcpStream::connect(addr).expect("connect to the server");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream.set_read_timeout(Some(TIMEOUT)).expect("a read timeout");
        let url = format!("ws://{addr}/socket.io/?{}&transport=websocket", eio.query());
        let (socket, response) = tungstenite::client(url, stream).expect("the WebSocket handshake");
        assert_eq!(response.status(), 101);
        let mut ws = Ws { socket };
        let open = match ws.next() {
            Event::Text(text) => text,
            other => panic!("expected the open packet, got {other:?}"),
        };
        let engine_sid = sid_of(&open);
        Client { ws, eio, engine_sid }
    }

    /// A v5 client (EIO=4) joined to `/`; returns it and its socket id.
    pub fn connect(addr: SocketAddr) -> (Client, String) {
        let mut client = Client::open(addr, Eio::V4);
        client.send("40");
        let sid = connect_ack_sid(&client.text(), "/");
        (client, sid)
    }

    /// A v4 client (EIO=3), joined to `/` by the server as soon as the engine opened.
    pub fn connect_v4(addr: SocketAddr) -> Client {
        let mut client = Client::open(addr, Eio::V3);
        client.expect_text("40");
        client
    }

    /// The shard owning this engine session.
    pub fn shard(&self) -> usize {
        owner_shard(&self.engine_sid)
    }

    /// Sends one engine text message, exactly as given (`42["x"]` is a Socket.IO EVENT).
    pub fn send(&mut self, text: &str) {
        self.ws.send_text(text);
    }

    /// Sends one Socket.IO attachment: the bare bytes (EIO=4), or after the engine's message
    /// type byte `4` (EIO=3).
    pub fn send_attachment(&mut self, data: &[u8]) {
        match self.eio {
            Eio::V4 => self.ws.send_binary(data),
            Eio::V3 => self.ws.send_binary(&[&[4u8][..], data].concat()),
        }
    }

    /// The next text, binary or close within `wait`, engine pings answered on the way.
    pub fn next_within(&mut self, wait: Duration) -> Event {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ws.next_within(left) {
                Event::Text(ping) if ping == "2" && self.eio == Eio::V4 => {
                    let _ = self.ws.socket.send(Message::text("3"));
                }
                other => return other,
            }
        }
    }

    pub fn next(&mut self) -> Event {
        self.next_within(TIMEOUT)
    }

    /// The next text message; panics on anything else.
    pub fn text(&mut self) -> String {
        match self.next() {
            Event::Text(text) => text,
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    pub fn expect_text(&mut self, expected: &str) {
        assert_eq!(self.text(), expected);
    }

    /// The next Socket.IO attachment (its engine framing removed); panics on anything else.
    pub fn attachment(&mut self) -> Vec<u8> {
        match (self.next(), self.eio) {
            (Event::Binary(data), Eio::V4) => data,
            (Event::Binary(data), Eio::V3) => {
                assert_eq!(data.first(), Some(&4), "a v3 binary message starts with its type: {data:?}");
                data[1..].to_vec()
            }
            (other, _) => panic!("expected a binary message, got {other:?}"),
        }
    }

    /// Asserts that nothing arrives for `wait`. For the few properties without an event to
    /// wait for (a timer that must not fire early).
    pub fn expect_silence(&mut self, wait: Duration) {
        match self.next_within(wait) {
            Event::Timeout => {}
            other => panic!("expected silence, got {other:?}"),
        }
    }

    /// Asserts that the server closes the WebSocket; returns what came before the close, and
    /// the close frame's code and reason (`None` for end of stream without a close frame).
    pub fn closed(&mut self) -> (Vec<Event>, Option<Option<(u16, String)>>) {
        let mut before = Vec::new();
        loop {
            match self.next() {
                Event::Close(code) => {
                    // Sends the close reply tungstenite queued, as a browser would at once.
                    let _ = self.ws.socket.flush();
                    return (before, Some(code));
                }
                Event::Eof => return (before, None),
                Event::Timeout => panic!("the server did not close the WebSocket; got {before:?}"),
                other => before.push(other),
            }
        }
    }

    /// Asserts the server closes the connection as Node's engine does (`socket.close()`: an
    /// empty close frame), with nothing sent before.
    pub fn expect_engine_close(&mut self) {
        assert_eq!(self.closed(), (vec![], Some(None)), "an engine close, nothing before it");
    }

    /// Sends the event `event_json` (`["name",…]`) on `/` as `42<id>[…]` and returns the
    /// arguments of its ack (`43<id>[…]` → `[…]`).
    pub fn call(&mut self, id: u64, event_json: &str) -> String {
        self.send(&format!("42{id}{event_json}"));
        let text = self.text();
        let prefix = format!("43{id}");
        text.strip_prefix(&prefix).unwrap_or_else(|| panic!("expected ack {id}, got {text:?}")).to_string()
    }
}

/// One Engine.IO session over long-polling on `/socket.io/`; every request on a fresh TCP
/// connection, so requests land on either shard and reach the owner by hand-off.
#[derive(Clone, Debug)]
pub struct Polling {
    pub addr: SocketAddr,
    pub eio: Eio,
    pub engine_sid: String,
    /// Packets that came with the handshake after the open packet (Node sends none), not yet
    /// taken by [`Polling::recv_n`].
    pub handshake_rest: Vec<String>,
}

impl Polling {
    /// The handshake GET.
    pub fn handshake(addr: SocketAddr, eio: Eio) -> Polling {
        let target = format!("/socket.io/?{}&transport=polling", eio.query());
        let response = Conn::connect(addr).get(&target);
        let body = std::str::from_utf8(response.ok_body(super::engine::TEXT)).expect("a UTF-8 body");
        let mut packets = eio.decode(body);
        let engine_sid = sid_of(&packets[0]);
        let handshake_rest = packets.split_off(1);
        Polling { addr, eio, engine_sid, handshake_rest }
    }

    pub fn target(&self) -> String {
        format!("/socket.io/?{}&transport=polling&sid={}", self.eio.query(), self.engine_sid)
    }

    pub fn shard(&self) -> usize {
        owner_shard(&self.engine_sid)
    }

    /// POSTs `packets` as one payload, asserting Node's `ok`.
    pub fn send(&self, packets: &[&str]) {
        let body = self.eio.payload(packets);
        let response = Conn::connect(self.addr).post(&self.target(), body.as_bytes());
        super::engine::assert_ok(&response);
    }

    /// One GET (waiting for data if none is queued), split into packets.
    pub fn recv(&self) -> Vec<String> {
        let response = Conn::connect(self.addr).get(&self.target());
        let body = std::str::from_utf8(response.ok_body(super::engine::TEXT)).expect("a UTF-8 payload");
        self.eio.decode(body)
    }

    /// GETs until `n` packets have arrived (a packet queued a moment after another may come
    /// with the next GET).
    pub fn recv_n(&mut self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        let mut packets = std::mem::take(&mut self.handshake_rest);
        while packets.len() < n {
            assert!(Instant::now() < deadline, "only {packets:?} of {n} packets arrived");
            packets.extend(self.recv());
        }
        assert_eq!(packets.len(), n, "{packets:?}");
        packets
    }
}
