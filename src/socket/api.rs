//! The Socket.IO API an application calls: the [`Socket`] handle its [`Handler`] receives,
//! the [`Event`]s it handles, acks, and the errors of emitting.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;

pub use super::handler::Handler;
use super::io::Io;
use super::layer::Layer;
use super::namespace::NamespaceState;
use crate::protocol::sid::Sid;
use crate::protocol::sio::{Packet, ParseError, Parser};
use crate::protocol::value::{self, Value};
use crate::server::EngineSocket;

/// What the connect middleware sees.
#[derive(Debug)]
pub struct ConnectInfo {
    /// The namespace the client asks to join.
    pub namespace: ByteString,
    /// The CONNECT payload (v5 `auth`; for v4 clients the namespace's query), `{}` when none.
    pub auth: Value,
    /// The Engine.IO handshake request (headers, query) and the client's address.
    pub handshake: Option<Rc<crate::server::Handshake>>,
}

/// A refusal from the connect middleware: `44{"message":…,"data":…}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectError {
    /// The message the client gets (`err.message`).
    pub message: String,
    /// Data the client gets beside it (`err.data`).
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with `message` and no data.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError { message: message.into(), data: None }
    }

    /// Adds `data` (the client's `err.data`).
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// Why an emit with an ack got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// No answer came in time (Node's "operation has timed out").
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected before it answered.
    #[error("the socket disconnected before acknowledging")]
    Disconnected,
    /// The event name is reserved (`connect`, `disconnect`, …).
    #[error("reserved event name")]
    Reserved,
    /// The arguments could not be serialized (a map with keys that are not strings, a
    /// `Serialize` impl that failed); nothing was sent.
    #[error("arguments not serializable")]
    Unserializable,
    /// The answer did not deserialize into the requested type.
    #[error("the answer did not deserialize into the requested type")]
    InvalidAnswer,
}

/// Why a broadcast's acks ([`Broadcast::emit_with_ack`](super::Broadcast::emit_with_ack))
/// did not all come.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BroadcastAckError {
    /// The event name is reserved (`connect`, `disconnect`, …).
    #[error("reserved event name")]
    Reserved,
    /// Node's `new Error("operation has timed out")`; `responses` are the acks that did come
    /// (Node's second callback argument, `err.responses` of `emitWithAck`), in arrival order.
    #[error("operation has timed out")]
    Timeout {
        /// The acks that came, in arrival order.
        responses: Vec<Value>,
    },
    /// The arguments could not be serialized; nothing was sent.
    #[error("arguments not serializable")]
    Unserializable,
    /// An answer did not deserialize into the requested type (`responses`: all of them).
    #[error("an answer did not deserialize into the requested type")]
    InvalidAnswer {
        /// Every answer, as received.
        responses: Vec<Value>,
    },
}

/// Why a packet could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The socket is disconnected.
    #[error("the socket is disconnected")]
    Disconnected,
    /// The socket's outgoing queue is full (`max_buffered_packets`, `max_buffered_bytes`).
    #[error("the socket's outgoing queue is full")]
    Full,
    /// The event name is reserved (`connect`, `disconnect`, …).
    #[error("reserved event name")]
    Reserved,
    /// With the msgpack parser: raw arguments that are not JSON, so no MessagePack either.
    #[error("arguments that are not valid JSON")]
    InvalidArgs,
    /// The arguments could not be serialized (a map with keys that are not strings, a
    /// `Serialize` impl that failed); nothing was sent.
    #[error("arguments not serializable")]
    Unserializable,
}

/// An event received from a client.
#[derive(Debug)]
pub struct Event {
    pub(crate) packet: Packet,
    pub(crate) attachments: Vec<Bytes>,
    pub(crate) name: ByteString,
    pub(crate) args: Vec<ByteString>,
    pub(crate) ack: Option<AckSender>,
}

impl Event {
    /// An event as the layer makes it from a received packet (for benchmarks and tests).
    #[doc(hidden)]
    pub fn from_packet(packet: Packet, attachments: Vec<Bytes>) -> Option<Event> {
        let event = packet.event()?;
        Some(Event { name: event.name, args: event.args, packet, attachments, ack: None })
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments as values, binary attachments put back in place of their placeholders.
    pub fn values(&self) -> Result<Vec<Value>, ParseError> {
        self.args.iter().map(|raw| value::reconstruct(raw, &self.attachments)).collect()
    }

    /// The arguments deserialized into `T` (a tuple, a `Vec`, …) with simd-json; for events without binary.
    pub fn args<T: serde::de::DeserializeOwned>(&self) -> Result<T, value::JsonError> {
        value::from_json_args(&self.args)
    }

    /// The arguments exactly as received, for forwarding without parsing them.
    pub fn raw_args(&self) -> RawArgs {
        RawArgs { json: self.args.clone(), attachments: self.attachments.clone() }
    }

    /// [`Event::raw_args`] for an event that is done with: its arguments move out, not copied
    /// (take its ack first).
    pub fn into_raw_args(self) -> RawArgs {
        RawArgs { json: self.args, attachments: self.attachments }
    }

    /// Whether the client asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Takes the acknowledgement to answer (once).
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }

    /// The packet as decoded, for inspection.
    pub fn packet(&self) -> &Packet {
        &self.packet
    }
}

/// Arguments kept as received: JSON texts and the binary attachments their placeholders name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawArgs {
    /// Each argument's JSON text, as received.
    pub json: Vec<ByteString>,
    /// The binary attachments, in order.
    pub attachments: Vec<Bytes>,
}

/// Answers one client ack request (`socket.emit("ev", data, callback)` in the client).
#[derive(Debug)]
pub struct AckSender {
    pub(crate) engine: EngineSocket,
    pub(crate) nsp: ByteString,
    pub(crate) id: u64,
    pub(crate) parser: Parser,
}

impl AckSender {
    /// Answers with `args`, an argument list as for [`SocketRef::emit`]: `&("ok", 3)` is two
    /// arguments, `&count` one, `&()` none.
    pub fn send<A: serde::Serialize + ?Sized>(self, args: &A) -> Result<(), EmitError> {
        let (packet, attachments) = super::typed::encode::ack_packet(self.nsp.clone(), self.id, args)?;
        super::send::send_packet(&self.engine, &packet, &attachments, self.parser)
    }

    /// Acknowledges with arguments exactly as received elsewhere (no re-encoding).
    pub fn send_raw(self, args: &RawArgs) -> Result<(), EmitError> {
        if self.parser != Parser::MsgPack {
            let text = super::send::raw_text(true, self.nsp, None, Some(self.id), args);
            return super::send::send_raw_text(&self.engine, text, &args.attachments);
        }
        let packet = super::send::raw_packet(true, self.nsp.clone(), None, Some(self.id), args);
        super::send::send_packet(&self.engine, &packet, &args.attachments, self.parser)
    }
}

/// An event another server of the cluster sent with `serverSideEmit` (Node's
/// `io.serverSideEmit(event, ...args)`, received by `io.on(event, ...)`).
pub struct ServerSideEvent {
    /// The event's name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Value>,
    /// Present when the sender waits for answers (`serverSideEmit` with a callback): send one.
    pub ack: Option<ServerSideAck>,
}

impl std::fmt::Debug for ServerSideEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSideEvent")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("ack", &self.ack.is_some())
            .finish()
    }
}

/// The answer to a server-side emit: Node keeps only the first argument of each server's
/// callback, so an answer is one value.
pub struct ServerSideAck(Box<dyn FnOnce(Value)>);

impl ServerSideAck {
    pub(crate) fn new(send: Box<dyn FnOnce(Value)>) -> Self {
        ServerSideAck(send)
    }

    /// Publishes the answer to the server that asked.
    pub fn send(self, value: Value) {
        (self.0)(value)
    }
}

/// A connected socket of a namespace, as its handler sees it. Cheap to clone.
pub struct Socket<D> {
    pub(crate) inner: SocketRef,
    pub(crate) data: Rc<RefCell<D>>,
}

impl<D> Clone for Socket<D> {
    fn clone(&self) -> Self {
        Socket { inner: self.inner.clone(), data: self.data.clone() }
    }
}

impl<D: 'static> Socket<D> {
    pub(crate) fn from_ref(inner: SocketRef, data: Rc<dyn Any>) -> Option<Self> {
        let data = data.downcast::<RefCell<D>>().ok()?;
        Some(Socket { inner, data })
    }
}

impl<D> std::ops::Deref for Socket<D> {
    type Target = SocketRef;
    fn deref(&self) -> &SocketRef {
        &self.inner
    }
}

/// The socket's own data ([`Handler::Data`]) is reached through a closure, so no borrow of it
/// can be held across an `.await` (where another callback of the same socket may run).
/// Calling [`Socket::with_data_mut`] inside either closure panics, as a second `RefCell`
/// borrow does; like any panic in a callback, it disconnects the socket.
///
/// A borrow of the data cannot leave the closure, so it cannot be held across an `.await`:
///
/// ```compile_fail
/// # async fn later() {}
/// async fn handler(socket: tpcio::prelude::Socket<String>) {
///     let nick: &String = socket.with_data(|nick| nick); // error: the borrow escapes
///     later().await;
///     println!("{nick}");
/// }
/// ```
///
/// Copy out what is needed instead: `let nick = socket.with_data(|nick| nick.clone());`.
impl<D> Socket<D> {
    /// Reads the socket's data: `let nick = socket.with_data(|d| d.nick.clone());`.
    pub fn with_data<R>(&self, f: impl FnOnce(&D) -> R) -> R {
        f(&self.data.borrow())
    }

    /// Changes the socket's data: `socket.with_data_mut(|d| d.nick = nick);`.
    pub fn with_data_mut<R>(&self, f: impl FnOnce(&mut D) -> R) -> R {
        f(&mut self.data.borrow_mut())
    }
}

/// A socket without its typed data: what every operation needs.
#[derive(Clone)]
pub struct SocketRef {
    pub(crate) layer: Rc<Layer>,
    pub(crate) ns: Rc<NamespaceState>,
    pub(crate) id: Sid,
    pub(crate) engine: EngineSocket,
}

impl std::fmt::Debug for SocketRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").field("id", &self.id).field("nsp", &self.ns.name).finish()
    }
}

impl SocketRef {
    /// The socket's id (distinct from the Engine.IO session id, as in Node).
    pub fn id(&self) -> Sid {
        self.id
    }

    /// The namespace the socket is connected to.
    pub fn namespace(&self) -> &str {
        &self.ns.name
    }

    /// Whether connection state recovery restored this socket (Node's `socket.recovered`):
    /// same id, rooms and data as before its client lost the connection, the packets it
    /// missed sent before its CONNECT answer.
    pub fn recovered(&self) -> bool {
        self.ns.recovery_of(self.id).is_some_and(|(_, recovered)| recovered)
    }

    /// The CONNECT payload (Node's `socket.handshake.auth`) as received: a JSON object, `{}` when none.
    pub fn auth_json(&self) -> ByteString {
        self.ns.auth_of(self.id).unwrap_or_else(|| ByteString::from_static("{}"))
    }

    /// The CONNECT payload as a value.
    pub fn auth(&self) -> Value {
        value::from_json(&self.auth_json()).unwrap_or(Value::Object(Vec::new()))
    }

    /// The Engine.IO handshake: headers, query, remote address.
    pub fn handshake(&self) -> Option<Rc<crate::server::Handshake>> {
        self.engine.handshake()
    }

    /// The server of this shard, to emit from outside the socket's callbacks.
    pub fn io(&self) -> Io {
        Io::new(self.layer.clone())
    }

    /// Emits an event to this socket (Node's `socket.emit(event, ...args)`). `args` is the
    /// argument list, any `serde::Serialize` value, written as `JSON.stringify` writes it: a
    /// tuple, array, slice or `Vec` spreads into one argument per element (`&("room", 3)` is
    /// two arguments), `()` is none, anything else is one argument (`&msg`, `&"text"`; a list
    /// as one argument: `&(names,)`). Buffers (`Bytes`, `serde_bytes`) become binary
    /// attachments. See [`crate::protocol::value::ser`].
    ///
    /// ```no_run
    /// # fn f(socket: tpcio::prelude::SocketRef) -> Result<(), tpcio::prelude::EmitError> {
    /// #[derive(serde::Serialize)]
    /// struct Said<'a> { nick: &'a str, text: &'a str }
    /// socket.emit("said", &Said { nick: "ann", text: "hi" })?; // said {"nick":"ann","text":"hi"}
    /// socket.emit("moved", &("lobby", 3))?; // moved "lobby" 3
    /// socket.emit("file", &bytes::Bytes::from_static(b"\x01\x02"))?; // one binary attachment
    /// # Ok(()) }
    /// ```
    pub fn emit<A: serde::Serialize + ?Sized>(&self, event: &str, args: &A) -> Result<(), EmitError> {
        if super::send::is_reserved(event) {
            return Err(EmitError::Reserved);
        }
        let (packet, attachments) =
            super::typed::encode::event_packet(self.ns.name.clone(), event, args, None)?;
        self.ns.handler.on_outgoing(self, event);
        if let Some(tap) = &self.ns.tap {
            tap.sent(&self.ns.name, self.id, &packet, &attachments);
        }
        if self.layer.recovery().is_some() {
            let encoded = crate::adapter::EncodedPacket::new(&packet, attachments);
            return self.layer.unicast(self, encoded);
        }
        super::send::send_packet(&self.engine, &packet, &attachments, self.layer.parser())
    }

    /// Emits an event with arguments exactly as received (no re-encoding).
    pub fn emit_raw(&self, event: &str, args: &RawArgs) -> Result<(), EmitError> {
        if super::send::is_reserved(event) {
            return Err(EmitError::Reserved);
        }
        self.ns.handler.on_outgoing(self, event);
        // Without a tap, recovery or msgpack, nothing needs the packet: only its text is made.
        if self.ns.tap.is_none() && self.layer.recovery().is_none() && self.layer.parser() != Parser::MsgPack
        {
            let text = super::send::raw_text(false, self.ns.name.clone(), Some(event), None, args);
            return super::send::send_raw_text(&self.engine, text, &args.attachments);
        }
        let packet = super::send::raw_packet(false, self.ns.name.clone(), Some(event), None, args);
        if let Some(tap) = &self.ns.tap {
            tap.sent(&self.ns.name, self.id, &packet, &args.attachments);
        }
        if self.layer.recovery().is_some() {
            let encoded = crate::adapter::EncodedPacket::new(&packet, args.attachments.clone());
            return self.layer.unicast(self, encoded);
        }
        super::send::send_packet(&self.engine, &packet, &args.attachments, self.layer.parser())
    }

    /// Emits an event and waits for the client's acknowledgement, at most `timeout` (Node's
    /// `socket.timeout(ms).emitWithAck(event, ...args)`). `args` as for [`SocketRef::emit`];
    /// the answer's arguments come as `R`: `Vec<Value>` as they came (buffers included), a
    /// tuple `(String, u32)`, or any `Deserialize` type read from the array of arguments.
    pub async fn emit_with_ack<A: serde::Serialize + ?Sized, R: serde::de::DeserializeOwned + 'static>(
        &self,
        event: &str,
        args: &A,
        timeout: Duration,
    ) -> Result<R, AckError> {
        let values = self.layer.emit_with_ack(self, event, args, timeout).await?;
        super::typed::encode::answer(values).map_err(|_| AckError::InvalidAnswer)
    }

    /// Joins a room.
    pub fn join(&self, room: impl Into<ByteString>) {
        self.ns.join(self.id, room.into());
    }

    /// Leaves a room.
    pub fn leave(&self, room: &str) {
        self.ns.leave(self.id, room);
    }

    /// The rooms this socket is in, its own id's room included.
    pub fn rooms(&self) -> Vec<ByteString> {
        self.ns.rooms_of(self.id)
    }

    /// A broadcast to everyone in `room` except this socket (Node's `socket.to(room)`).
    pub fn to(&self, room: impl Into<ByteString>) -> super::broadcast::Broadcast {
        self.broadcast().to(room)
    }

    /// A broadcast to every socket of the namespace except this one (Node's `socket.broadcast`).
    pub fn broadcast(&self) -> super::broadcast::Broadcast {
        super::broadcast::Broadcast::new(self.layer.clone(), self.ns.name.clone())
            .except(ByteString::from(self.id.as_str()))
    }

    /// A broadcast from the namespace (Node's `io.of(nsp)`), this socket included.
    pub fn namespace_ops(&self) -> super::broadcast::Broadcast {
        super::broadcast::Broadcast::new(self.layer.clone(), self.ns.name.clone())
    }

    /// Disconnects the socket from its namespace ("server namespace disconnect"); with `close`,
    /// the whole Engine.IO connection too.
    pub fn disconnect(&self, close: bool) {
        self.layer.disconnect_socket(&self.ns, self.id, close);
    }
}
