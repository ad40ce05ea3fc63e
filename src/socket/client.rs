//! The Socket.IO side of one Engine.IO session: which namespaces it joined, which socket serves
//! each, and what every incoming packet means (Node socket.io 4.8 `lib/client.ts`, the packet
//! dispatch of `lib/socket.ts`, `Namespace._add`'s connect answers; socket.io-protocol
//! "Connection to a namespace", "Disconnection from a namespace").
//!
//! Pure, like the engine session under it: messages and `now` go in, [`Action`]s are pulled with
//! [`SioClient::poll_action`], and [`SioClient::next_deadline`] says when to call
//! [`SioClient::on_timeout`]. Whether a namespace exists and what its middlewares say is the
//! application's business: a CONNECT becomes [`Action::Connect`], answered later with
//! [`SioClient::accept`] or [`SioClient::refuse`].
//!
//! Node's strictness (since 4.5) is kept: a packet that does not fit the connection's state — a
//! second CONNECT for a joined namespace, any other packet for a namespace not joined, a
//! CONNECT_ERROR from the client — closes the connection, and its sockets see
//! `"forced server close"`. A packet that does not decode closes it too, after each socket got
//! [`Action::Error`]; they then see the engine's own close reason.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;

use crate::engine::DisconnectReason;
use crate::protocol::sid::Sid;
use crate::protocol::sio::msgpack::{self, Order};
use crate::protocol::sio::{
    DecodeOptions, Decoded, Decoder, Packet, PacketKind, ParseError, Parser, SioVersion, v4,
};

#[cfg(test)]
mod msgpack_tests;
#[cfg(test)]
mod tests;

thread_local! {
    /// The action queue of the last connection that emptied its own: each message's actions
    /// are pushed and pulled within one step, so a queue passed from connection to connection
    /// spares an allocation per message, and an idle connection still keeps none.
    static SPARE_ACTIONS: std::cell::Cell<VecDeque<Action>> = const { std::cell::Cell::new(VecDeque::new()) };
}

/// The largest action queue kept as the shard's spare.
const SPARE_ACTIONS_MAX: usize = 16;

/// Per-connection limits (Node's `connectTimeout` server option, socket.io-parser's
/// `maxAttachments`).
#[derive(Clone, Copy, Debug)]
pub struct ClientOptions {
    /// How long a connection may stay without any namespace joined before it is closed.
    pub connect_timeout: Duration,
    /// Most attachments a binary packet may announce.
    pub max_attachments: usize,
    /// Most messages waiting for one peer shard ([`super::SocketIo::shard_outbox_capacity`]).
    pub outbox_capacity: usize,
    /// Node's `cleanupEmptyChildNamespaces`: a dynamic child namespace is forgotten when its
    /// last socket leaves.
    pub cleanup_empty_child_namespaces: bool,
    /// Node's `connectionStateRecovery` (off by default).
    pub recovery: Option<super::recovery::ConnectionStateRecovery>,
    /// Node's `parser`: JSON text packets (default) or `socket.io-msgpack-parser`.
    pub parser: Parser,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(45),
            max_attachments: 10,
            outbox_capacity: 16 * 1024,
            cleanup_empty_child_namespaces: false,
            recovery: None,
            parser: Parser::Json,
        }
    }
}

/// One Engine.IO message to send: a Socket.IO packet's text, or one binary attachment (which
/// follows its packet's text, in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnginePayload {
    Text(ByteString),
    Binary(Bytes),
}

/// Why the application turns down a CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectRefusal {
    /// No such namespace: `{"message":"Invalid namespace"}` in both protocol versions.
    InvalidNamespace,
    /// A middleware failed with `message` and, optionally, `data` (raw JSON). v5 sends both in an
    /// object; v4 sends `data` when it is truthy, else `message` as a string.
    Middleware { message: String, data: Option<String> },
}

/// What the connection asks of the application and the engine, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The client wants to join `nsp`; answer with [`SioClient::accept`] or
    /// [`SioClient::refuse`]. `auth` is a JSON object: the CONNECT data (v5), or the
    /// namespace's query as an object of strings (v4); `{}` when there is none.
    Connect { nsp: ByteString, auth: ByteString },
    /// An EVENT or BINARY_EVENT for a joined namespace, with its attachments. An ack is wanted
    /// when `packet.id` is set.
    Event { nsp: ByteString, socket: Sid, packet: Packet, attachments: Vec<Bytes> },
    /// An ACK or BINARY_ACK for a joined namespace.
    Ack { nsp: ByteString, socket: Sid, id: u64, packet: Packet, attachments: Vec<Bytes> },
    /// The socket of `nsp` is gone; nothing more comes for it.
    Disconnect { nsp: ByteString, socket: Sid, reason: DisconnectReason },
    /// A message did not decode (Node's `socket._onerror`, the socket's `"error"` event). The
    /// connection is being closed.
    Error { nsp: ByteString, socket: Sid, error: ParseError },
    /// Hand this message to the engine session.
    Send(EnginePayload),
    /// Close the engine session cleanly (engine.io `socket.close()`: flush, then the close
    /// packet). The reason is why, for logs: sockets still connected are told by
    /// [`SioClient::on_engine_close`] with the engine's own reason.
    CloseEngine(DisconnectReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// The engine was asked to close after a parse error: incoming messages are dropped and
    /// writes are ignored (Node's engine `readyState` is `"closing"`), but the sockets stay
    /// until the engine reports its close.
    Closing,
    /// Nothing is left to do; every input is ignored.
    Closed,
}

/// The Socket.IO state of one Engine.IO session.
#[derive(Debug)]
pub struct SioClient {
    version: SioVersion,
    engine_sid: Sid,
    /// The decoder while it collects a binary packet's attachments; between packets it holds
    /// nothing, so none is kept (an idle connection's client stays small).
    assembling: Option<Box<Decoder>>,
    decode: DecodeOptions,
    parser: Parser,
    state: State,
    /// Joined namespaces and their socket ids. Clients join a handful, so a list beats a map.
    sockets: Vec<(ByteString, Sid)>,
    /// CONNECTs handed to the application and not answered yet.
    pending: Vec<ByteString>,
    connect_timeout: Duration,
    /// Until the first namespace is joined.
    deadline: Option<Instant>,
    auto_connected: bool,
    actions: VecDeque<Action>,
}

impl SioClient {
    pub fn new(version: SioVersion, engine_sid: Sid, opts: &ClientOptions, now: Instant) -> Self {
        let decode = DecodeOptions { max_attachments: opts.max_attachments };
        SioClient {
            version,
            engine_sid,
            assembling: None,
            decode,
            parser: opts.parser,
            state: State::Open,
            sockets: Vec::new(),
            pending: Vec::new(),
            connect_timeout: opts.connect_timeout,
            deadline: Some(now + opts.connect_timeout),
            auto_connected: false,
            actions: VecDeque::new(),
        }
    }

    pub fn version(&self) -> SioVersion {
        self.version
    }

    /// The Engine.IO session id (Node's `client.id`).
    pub fn engine_sid(&self) -> Sid {
        self.engine_sid
    }

    /// The joined namespaces and their socket ids, in joining order.
    pub fn namespaces(&self) -> impl Iterator<Item = (&str, Sid)> + '_ {
        self.sockets.iter().map(|(nsp, sid)| (&**nsp, *sid))
    }

    pub fn is_connected(&self, nsp: &str) -> bool {
        self.socket_id(nsp).is_some()
    }

    /// The socket serving `nsp`, when joined.
    pub fn socket_id(&self, nsp: &str) -> Option<Sid> {
        self.sockets.iter().find(|(n, _)| n == nsp).map(|(_, sid)| *sid)
    }

    /// Whether the connection still reads and writes (no close requested or seen).
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// The next output, in the order the inputs produced them.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if action.is_none() && self.actions.capacity() != 0 {
            // An idle connection keeps no action queue (four actions take most of a KiB): it
            // goes back to the shard, for the next connection's next message.
            let queue = std::mem::take(&mut self.actions);
            if queue.capacity() <= SPARE_ACTIONS_MAX {
                SPARE_ACTIONS.set(queue);
            }
        }
        action
    }

    /// Queues an output, in the shard's spare queue when the connection has none.
    fn push(&mut self, action: Action) {
        if self.actions.capacity() == 0 {
            self.actions = SPARE_ACTIONS.take();
        }
        self.actions.push_back(action);
    }

    /// When [`SioClient::on_timeout`] must run: the connect timeout, until a namespace is joined.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.state == State::Open { self.deadline } else { None }
    }

    /// The engine session is open. The connect timeout counts from here (Node creates its
    /// `Client` on the engine's `connection`); a v4 client is joined to `/` without asking
    /// (Node's `onconnection`: `client.connect("/")` for `protocol === 3`).
    pub fn on_open(&mut self, now: Instant) {
        if self.state != State::Open || self.auto_connected {
            return;
        }
        self.auto_connected = true;
        if self.deadline.is_some() {
            self.deadline = Some(now + self.connect_timeout);
        }
        if self.version == SioVersion::V4 && !self.is_connected("/") {
            self.request_connect(ByteString::from_static("/"), ByteString::from_static("{}"));
        }
    }

    /// One text message from the engine: a packet, or the header of a binary one.
    pub fn on_text(&mut self, text: ByteString) {
        if self.state != State::Open {
            return;
        }
        if self.parser == Parser::MsgPack {
            // notepack cannot read a string: Node's decoder throws.
            return self.parse_error(ParseError::InvalidMsgpack);
        }
        let decoded = self.with_decoder(|decoder| decoder.push_text(text));
        match decoded {
            Ok(Some(decoded)) => self.dispatch(decoded),
            Ok(None) => {}
            Err(error) => self.parse_error(error),
        }
    }

    /// One binary message from the engine: the next attachment of the pending binary packet.
    pub fn on_binary(&mut self, data: Bytes) {
        if self.state != State::Open {
            return;
        }
        let decoded = match self.parser {
            Parser::MsgPack => msgpack::decode(&data, self.version, &self.decode).map(Some),
            _ => self.with_decoder(|decoder| decoder.push_binary(data)),
        };
        match decoded {
            Ok(Some(decoded)) => self.dispatch(decoded),
            Ok(None) => {}
            Err(error) => self.parse_error(error),
        }
    }

    /// The engine session closed: every socket is disconnected with its reason. For a server
    /// shutdown pass [`DisconnectReason::ServerShuttingDown`] before closing the engine (Node's
    /// `io.close()` closes the sockets first).
    pub fn on_engine_close(&mut self, reason: DisconnectReason) {
        if self.state == State::Closed {
            return;
        }
        self.finish(reason);
    }

    /// Runs the connect timeout when due: a connection that joined no namespace is closed.
    pub fn on_timeout(&mut self, now: Instant) {
        match self.deadline {
            Some(at) if self.state == State::Open && at <= now => {
                self.deadline = None;
                if self.sockets.is_empty() {
                    self.close();
                }
            }
            _ => {}
        }
    }

    /// Joins the pending CONNECT for `nsp` to the socket `socket_id` and sends the connect ack
    /// (`0{"sid":"…"}` in v5, `0` / `0/admin,` in v4). `false` when no CONNECT for `nsp` waits
    /// or the connection is closing (Node: "next called after client was closed").
    pub fn accept(&mut self, nsp: &str, socket_id: Sid, now: Instant) -> bool {
        self.accept_with_pid(nsp, socket_id, None, now)
    }

    /// [`SioClient::accept`] with connection state recovery's private id, which a v5 answer
    /// carries: `0{"sid":"…","pid":"…"}`.
    pub fn accept_with_pid(&mut self, nsp: &str, socket_id: Sid, pid: Option<Sid>, _now: Instant) -> bool {
        let Some(nsp) = self.take_pending(nsp) else {
            return false;
        };
        let pid = pid.as_ref().map(Sid::as_str);
        if self.parser == Parser::MsgPack && self.version == SioVersion::V5 {
            self.send_binary_packet(msgpack::connect_ok(&nsp, socket_id.as_str(), pid));
        } else {
            let ack = Packet::connect_ack(self.version, nsp.clone(), socket_id.as_str(), pid);
            self.send_packet(&ack, &[]);
        }
        // Most connections join one namespace: room for exactly one until a second comes.
        self.sockets.reserve_exact(1);
        self.sockets.push((nsp, socket_id));
        self.deadline = None;
        true
    }

    /// Turns down the pending CONNECT for `nsp` with a CONNECT_ERROR. `false` when none waits or
    /// the connection is closing.
    pub fn refuse(&mut self, nsp: &str, refusal: ConnectRefusal) -> bool {
        let Some(nsp) = self.take_pending(nsp) else {
            return false;
        };
        if self.parser == Parser::MsgPack {
            match &refusal {
                ConnectRefusal::InvalidNamespace => {
                    return self.send_binary_packet(msgpack::invalid_namespace(&nsp));
                }
                ConnectRefusal::Middleware { message, data } if self.version == SioVersion::V5 => {
                    return self.send_binary_packet(msgpack::connect_error(&nsp, message, data.as_deref()));
                }
                ConnectRefusal::Middleware { .. } => {}
            }
        }
        let packet = match refusal {
            ConnectRefusal::InvalidNamespace => {
                Packet::connect_error(nsp, "Invalid namespace", None, SioVersion::V5)
            }
            ConnectRefusal::Middleware { message, data } => {
                Packet::connect_error(nsp, &message, data.as_deref(), self.version)
            }
        };
        self.send_packet(&packet, &[]);
        true
    }

    /// The server leaves `nsp` (Node's `socket.disconnect()`): sends `1/nsp,` and yields
    /// [`Action::Disconnect`] with `"server namespace disconnect"`. `false` when not joined.
    pub fn disconnect_socket(&mut self, nsp: &str, _now: Instant) -> bool {
        let Some(i) = self.sockets.iter().position(|(n, _)| n == nsp) else {
            return false;
        };
        let (nsp, socket) = self.sockets.remove(i);
        self.send_packet(&Packet::disconnect(nsp.clone()), &[]);
        let reason = DisconnectReason::ServerNamespaceDisconnect;
        self.push(Action::Disconnect { nsp, socket, reason });
        true
    }

    /// Every socket leaves as with [`SioClient::disconnect_socket`], then the connection closes
    /// (Node's `socket.disconnect(true)`).
    pub fn disconnect_all(&mut self, now: Instant) {
        while let Some(nsp) = self.sockets.first().map(|(n, _)| n.clone()) {
            self.disconnect_socket(&nsp, now);
        }
        self.close();
    }

    /// Closes the connection from the server side (Node's `client.close()`): the engine is asked
    /// to close and every socket is disconnected with `"forced server close"`.
    pub fn close(&mut self) {
        if self.state != State::Open {
            return;
        }
        self.push(Action::CloseEngine(DisconnectReason::ForcedServerClose));
        self.finish(DisconnectReason::ForcedServerClose);
    }

    /// Queues a packet and its attachments. Ignored (`false`) once the connection is closing, as
    /// Node's `client._packet` ignores writes when the engine is not open.
    /// With the msgpack parser the packet goes as one binary message (`false` when its data
    /// does not encode).
    pub fn send_packet(&mut self, packet: &Packet, attachments: &[Bytes]) -> bool {
        if self.parser == Parser::MsgPack {
            return match msgpack::encode(packet, attachments, Order::Socket) {
                Ok(bytes) => self.send_binary_packet(bytes),
                Err(_) => false,
            };
        }
        self.send_encoded(packet.to_text(), attachments)
    }

    /// A packet already in its msgpack form: one binary message.
    fn send_binary_packet(&mut self, bytes: Bytes) -> bool {
        if self.state != State::Open {
            return false;
        }
        self.push(Action::Send(EnginePayload::Binary(bytes)));
        true
    }

    /// [`SioClient::send_packet`] for a packet already encoded, such as a broadcast encoded once
    /// for many clients (JSON parser: the text and its attachments).
    pub fn send_encoded(&mut self, text: ByteString, attachments: &[Bytes]) -> bool {
        if self.state != State::Open {
            return false;
        }
        self.push(Action::Send(EnginePayload::Text(text)));
        for data in attachments {
            self.push(Action::Send(EnginePayload::Binary(data.clone())));
        }
        true
    }

    /// Runs the decoder: the one collecting attachments, or a fresh one between packets.
    fn with_decoder<R>(&mut self, f: impl FnOnce(&mut Decoder) -> R) -> R {
        let mut decoder = match self.assembling.take() {
            Some(decoder) => decoder,
            None => {
                let mut decoder = Decoder::new(self.version, self.decode);
                let r = f(&mut decoder);
                if decoder.is_assembling() {
                    self.assembling = Some(Box::new(decoder));
                }
                return r;
            }
        };
        let r = f(&mut decoder);
        if decoder.is_assembling() {
            self.assembling = Some(decoder);
        }
        r
    }

    /// Node's `ondecoded`: a CONNECT for a namespace not joined, or a packet for a joined one;
    /// anything else is an invalid state and closes the connection.
    fn dispatch(&mut self, Decoded { packet, attachments }: Decoded) {
        let nsp = packet.nsp.clone();
        let socket = self.socket_id(&nsp);
        match (socket, packet.kind) {
            (None, PacketKind::Connect) => {
                if self.pending.contains(&nsp) {
                    // Node would start a second socket that replaces the first in its map;
                    // one answer per namespace keeps the application's view simple.
                    return;
                }
                let auth = match (self.version, &packet.query, &packet.data) {
                    (SioVersion::V4, Some(query), _) => v4::query_to_json(query).into(),
                    (SioVersion::V5, _, Some(data)) => data.clone(),
                    _ => ByteString::from_static("{}"),
                };
                self.request_connect(nsp, auth);
            }
            (Some(socket), PacketKind::Event | PacketKind::BinaryEvent) => {
                self.push(Action::Event { nsp, socket, packet, attachments });
            }
            (Some(socket), PacketKind::Ack | PacketKind::BinaryAck) => {
                // Without an id no callback can match (Node: "bad ack").
                if let Some(id) = packet.id {
                    self.push(Action::Ack { nsp, socket, id, packet, attachments });
                }
            }
            (Some(socket), PacketKind::Disconnect) => {
                self.sockets.retain(|(n, _)| *n != nsp);
                let reason = DisconnectReason::ClientNamespaceDisconnect;
                self.push(Action::Disconnect { nsp, socket, reason });
            }
            // A CONNECT for a joined namespace, a CONNECT_ERROR, anything for a namespace not
            // joined (Node: "invalid state").
            _ => self.close(),
        }
    }

    /// Node's `onerror`: each socket hears the error, then the engine is closed; the sockets
    /// leave when the engine reports its close.
    fn parse_error(&mut self, error: ParseError) {
        for i in 0..self.sockets.len() {
            let (nsp, socket) = self.sockets[i].clone();
            self.push(Action::Error { nsp, socket, error });
        }
        self.push(Action::CloseEngine(DisconnectReason::ParseError));
        self.state = State::Closing;
        self.pending.clear();
        self.deadline = None;
    }

    fn request_connect(&mut self, nsp: ByteString, auth: ByteString) {
        self.pending.push(nsp.clone());
        self.push(Action::Connect { nsp, auth });
    }

    fn take_pending(&mut self, nsp: &str) -> Option<ByteString> {
        if self.state != State::Open {
            return None;
        }
        let i = self.pending.iter().position(|n| n == nsp)?;
        let nsp = self.pending.swap_remove(i);
        if self.pending.is_empty() {
            self.pending = Vec::new();
        }
        Some(nsp)
    }

    /// Node's `onclose`: every socket leaves with `reason`, and nothing more is read.
    fn finish(&mut self, reason: DisconnectReason) {
        self.state = State::Closed;
        self.pending.clear();
        self.deadline = None;
        for (nsp, socket) in std::mem::take(&mut self.sockets) {
            self.push(Action::Disconnect { nsp, socket, reason });
        }
    }
}
