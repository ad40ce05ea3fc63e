//! [`Router`]: a namespace's handlers by event name, with typed arguments — Node's
//! `socket.on(event, (a, b, callback) => …)` — built on the raw [`Handler`] trait.

use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::debug;

use super::args::{Shape, decode};
use crate::engine::DisconnectReason;
use crate::socket::api::{AckSender, ConnectError, ConnectInfo, EmitError, Event, ServerSideEvent, Socket};
use crate::socket::handler::{Handler, LocalFuture};
use crate::socket::io::Io;

/// The acknowledgement a client may have asked for (`socket.emit("ev", data, (answer) => …)`),
/// handed to handlers registered with [`Router::on_ack`].
#[derive(Debug)]
pub struct Ack(Option<AckSender>);

impl Ack {
    /// Whether the client asked for an answer.
    pub fn wanted(&self) -> bool {
        self.0.is_some()
    }

    /// Answers with `args`, an argument list as for [`SocketRef::emit`] (`&count` is one
    /// argument, `&("ok", 3)` two). Nothing is sent when the client did not ask.
    ///
    /// [`SocketRef::emit`]: crate::socket::SocketRef::emit
    pub fn send<A: Serialize + ?Sized>(self, args: &A) -> Result<(), EmitError> {
        match self.0 {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }
}

/// What an event handler becomes: its arguments read, its future made, or the arguments'
/// error.
type Entry<D> = Box<dyn Fn(Socket<D>, Event) -> Result<LocalFuture<()>, super::args::ArgsError>>;
type Authorize<D> = Box<dyn for<'a> Fn(&'a ConnectInfo) -> BorrowedFuture<'a, Result<D, ConnectError>>>;
type BorrowedFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + 'a>>;
/// An optional callback taking `A`, whose future is boxed.
type Hook<A> = Option<Box<dyn Fn(A) -> LocalFuture<()>>>;
type PacketMiddleware<D> = Option<Box<dyn Fn(&Socket<D>, &Event) -> Result<(), String>>>;
type Disconnecting<D> = Option<Box<dyn Fn(&Socket<D>, DisconnectReason)>>;

/// A namespace's handlers, by event name, each with the argument type it wants: the typed way
/// to write a [`Handler`]. Give it to [`SocketIo::namespace`](crate::socket::SocketIo::namespace)
/// from the shard factory (each shard makes its own, so handlers may hold `Rc` state).
///
/// - [`Router::on`] / [`Router::on_ack`]: a handler for one event name; its arguments are read
///   as its type `T` (see below), with the client's ack for `on_ack`.
/// - [`Router::fallback`]: the events no handler is registered for, raw.
/// - [`Router::authorize`]: the connect middleware, which makes each socket's data `D`
///   (without it, `D::default()`, see [`Router::new`]).
/// - [`Router::on_connect`], [`Router::on_disconnect`], [`Router::on_start`],
///   [`Router::on_server_side_event`]: as the [`Handler`] methods of the same names.
///
/// **Arguments.** A tuple (or `Vec`, `serde_json::Value`, `()`) gets all the arguments: `(String,
/// u32)` for `socket.emit("ev", "a", 1)`. Any other type gets the first argument: a struct
/// for `socket.emit("ev", {text: "hi"})`, a `String` for `socket.emit("ev", "hi")`. Buffers
/// the client sent deserialize into `Bytes` (or `Vec<u8>`, `serde_bytes`). See
/// [`args`](super::args).
///
/// **Arguments that do not fit.** The event is dropped: its handler does not run, its ack is
/// not sent, a `debug` line names the event, the socket and the error, and
/// `tpcio_events_rejected_total` counts it. Nothing panics; the socket stays connected (Node
/// has no types: its listener would get the values as they are).
///
/// **Cost.** One hash lookup by event name, the arguments read straight from the received
/// JSON (simd-json, no intermediate tree for events without buffers), and the handler's
/// future, boxed once: the same one allocation as a raw [`Handler::on_event`].
///
/// ```no_run
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use tpcio::prelude::{Ack, ConnectError, ConnectInfo, Router, ServerConfig, Socket, SocketIo};
///
/// struct Member { nick: String }
///
/// #[derive(serde::Deserialize)]
/// struct Say { room: String, text: String }
///
/// let io = SocketIo::new().namespace("/", |_shard| {
///     let online = Rc::new(Cell::new(0usize));
///     Router::with_authorize(async |connect: &ConnectInfo| {
///         match connect.auth.get("nick").and_then(|n| n.as_str()) {
///             Some(nick) => Ok(Member { nick: nick.to_owned() }),
///             None => Err(ConnectError::new("a nick is required")),
///         }
///     })
///     .on("join", async |socket: Socket<Member>, room: String| socket.join(room))
///     .on("say", async |socket: Socket<Member>, say: Say| {
///         let nick = socket.with_data(|m| m.nick.clone());
///         let _ = socket.to(say.room).emit("said", &(nick, say.text));
///     })
///     .on_ack("online", async move |_socket: Socket<Member>, (): (), ack: Ack| {
///         let _ = ack.send(&online.get());
///     })
/// });
/// io.start(ServerConfig::default())?.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Router<D: 'static> {
    events: foldhash::HashMap<Box<str>, Entry<D>>,
    fallback: Hook<(Socket<D>, Event)>,
    authorize: Authorize<D>,
    packet: PacketMiddleware<D>,
    connect: Hook<Socket<D>>,
    disconnecting: Disconnecting<D>,
    disconnect: Hook<(Socket<D>, DisconnectReason)>,
    start: Option<Box<dyn Fn(Io)>>,
    server_side: Hook<(Io, ServerSideEvent)>,
}

impl<D: Default + 'static> Router<D> {
    /// A router whose sockets all get `D::default()` as their data, until
    /// [`Router::authorize`] says otherwise.
    pub fn new() -> Self {
        Self::with_authorize(async |_: &ConnectInfo| Ok(D::default()))
    }
}

impl<D: Default + 'static> Default for Router<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: 'static> Router<D> {
    /// A router whose connect middleware is `authorize` (see [`Router::authorize`]); `D` need
    /// not be `Default`.
    pub fn with_authorize<F>(authorize: F) -> Self
    where
        F: AsyncFn(&ConnectInfo) -> Result<D, ConnectError> + 'static,
    {
        Router {
            events: foldhash::HashMap::default(),
            fallback: None,
            authorize: boxed_authorize(authorize),
            packet: None,
            connect: None,
            disconnecting: None,
            disconnect: None,
            start: None,
            server_side: None,
        }
    }

    /// The connect middleware (Node's `namespace.use((socket, next) => …)` setting
    /// `socket.data`): `Ok(data)` accepts the socket with `data` as its own
    /// ([`Socket::with_data`]), `Err` refuses it with a `CONNECT_ERROR`
    /// (`{"message":…,"data":…}`).
    pub fn authorize<F>(mut self, authorize: F) -> Self
    where
        F: AsyncFn(&ConnectInfo) -> Result<D, ConnectError> + 'static,
    {
        self.authorize = boxed_authorize(authorize);
        self
    }

    /// Handles the event `name` (Node's `socket.on(name, (...args) => …)`): `handler` gets the
    /// socket and the arguments read as `T` (see [`Router`]). A second handler for the same
    /// name replaces the first.
    pub fn on<T, F>(mut self, name: &str, handler: F) -> Self
    where
        T: DeserializeOwned + 'static,
        F: AsyncFn(Socket<D>, T) + 'static,
    {
        let handler = Rc::new(handler);
        let shape = Shape::of::<T>();
        let entry: Entry<D> = Box::new(move |socket, event| {
            let args: T = decode(&event, shape)?;
            let handler = handler.clone();
            Ok(Box::pin(async move { handler(socket, args).await }))
        });
        self.events.insert(name.into(), entry);
        self
    }

    /// Handles the event `name` with the client's acknowledgement (Node's `socket.on(name,
    /// (...args, callback) => …)`): `handler` gets the socket, the arguments read as `T`, and
    /// the [`Ack`] to answer.
    pub fn on_ack<T, F>(mut self, name: &str, handler: F) -> Self
    where
        T: DeserializeOwned + 'static,
        F: AsyncFn(Socket<D>, T, Ack) + 'static,
    {
        let handler = Rc::new(handler);
        let shape = Shape::of::<T>();
        let entry: Entry<D> = Box::new(move |socket, mut event| {
            let args: T = decode(&event, shape)?;
            let ack = Ack(event.take_ack());
            let handler = handler.clone();
            Ok(Box::pin(async move { handler(socket, args, ack).await }))
        });
        self.events.insert(name.into(), entry);
        self
    }

    /// The events no handler is registered for, as received (raw arguments, the ack to take).
    pub fn fallback<F>(mut self, handler: F) -> Self
    where
        F: AsyncFn(Socket<D>, Event) + 'static,
    {
        let handler = Rc::new(handler);
        self.fallback = Some(Box::new(move |(socket, event)| {
            let handler = handler.clone();
            Box::pin(async move { handler(socket, event).await })
        }));
        self
    }

    /// Packet middleware (Node's `socket.use`): see [`Handler::on_packet`].
    pub fn on_packet(
        mut self,
        middleware: impl Fn(&Socket<D>, &Event) -> Result<(), String> + 'static,
    ) -> Self {
        self.packet = Some(Box::new(middleware));
        self
    }

    /// A socket joined (Node's `"connection"`): see [`Handler::on_connect`].
    pub fn on_connect<F: AsyncFn(Socket<D>) + 'static>(mut self, handler: F) -> Self {
        let handler = Rc::new(handler);
        self.connect = Some(Box::new(move |socket| {
            let handler = handler.clone();
            Box::pin(async move { handler(socket).await })
        }));
        self
    }

    /// The socket is leaving, still in its rooms (Node's `"disconnecting"`), inline.
    pub fn on_disconnecting(mut self, handler: impl Fn(&Socket<D>, DisconnectReason) + 'static) -> Self {
        self.disconnecting = Some(Box::new(handler));
        self
    }

    /// The socket left (Node's `"disconnect"`): see [`Handler::on_disconnect`].
    pub fn on_disconnect<F: AsyncFn(Socket<D>, DisconnectReason) + 'static>(mut self, handler: F) -> Self {
        let handler = Rc::new(handler);
        self.disconnect = Some(Box::new(move |(socket, reason)| {
            let handler = handler.clone();
            Box::pin(async move { handler(socket, reason).await })
        }));
        self
    }

    /// The server started on this shard: see [`Handler::on_start`].
    pub fn on_start(mut self, handler: impl Fn(Io) + 'static) -> Self {
        self.start = Some(Box::new(handler));
        self
    }

    /// Another server's `serverSideEmit`: see [`Handler::on_server_side_event`].
    pub fn on_server_side_event<F: AsyncFn(Io, ServerSideEvent) + 'static>(mut self, handler: F) -> Self {
        let handler = Rc::new(handler);
        self.server_side = Some(Box::new(move |(io, event)| {
            let handler = handler.clone();
            Box::pin(async move { handler(io, event).await })
        }));
        self
    }

    /// The future for one event: its handler's, the fallback's, or none (a zero-sized future,
    /// not allocated) when nobody handles it or its arguments do not fit.
    fn dispatch(&self, socket: Socket<D>, event: Event) -> LocalFuture<()> {
        let Some(entry) = self.events.get(event.name()) else {
            return match &self.fallback {
                Some(fallback) => fallback((socket, event)),
                None => Box::pin(async {}),
            };
        };
        let name = event.name.clone();
        match entry(socket.clone(), event) {
            Ok(future) => future,
            Err(e) => {
                debug!(event = %name, socket = %socket.id(), nsp = socket.namespace(), "event dropped, its arguments do not fit: {e}");
                socket.layer.ctx().metrics().event_rejected();
                Box::pin(async {})
            }
        }
    }
}

fn boxed_authorize<D: 'static, F>(authorize: F) -> Authorize<D>
where
    F: AsyncFn(&ConnectInfo) -> Result<D, ConnectError> + 'static,
{
    let authorize = Rc::new(authorize);
    Box::new(move |connect| {
        let authorize = authorize.clone();
        Box::pin(async move { authorize(connect).await })
    })
}

impl<D: 'static> Handler for Router<D> {
    type Data = D;

    fn on_start(&self, io: Io) {
        if let Some(start) = &self.start {
            start(io);
        }
    }

    async fn authorize(&self, connect: &ConnectInfo) -> Result<D, ConnectError> {
        (self.authorize)(connect).await
    }

    async fn on_connect(&self, socket: Socket<D>) {
        if let Some(connect) = &self.connect {
            connect(socket).await;
        }
    }

    fn on_packet(&self, socket: &Socket<D>, event: &Event) -> Result<(), String> {
        match &self.packet {
            Some(packet) => packet(socket, event),
            None => Ok(()),
        }
    }

    async fn on_event(&self, socket: Socket<D>, event: Event) {
        self.dispatch(socket, event).await;
    }

    fn event_future(self: Rc<Self>, socket: Socket<D>, event: Event) -> LocalFuture<()> {
        self.dispatch(socket, event)
    }

    async fn on_server_side_event(&self, io: Io, event: ServerSideEvent) {
        if let Some(handler) = &self.server_side {
            handler((io, event)).await;
        }
    }

    fn on_disconnecting(&self, socket: &Socket<D>, reason: DisconnectReason) {
        if let Some(handler) = &self.disconnecting {
            handler(socket, reason);
        }
    }

    async fn on_disconnect(&self, socket: Socket<D>, reason: DisconnectReason) {
        if let Some(handler) = &self.disconnect {
            handler((socket, reason)).await;
        }
    }
}
