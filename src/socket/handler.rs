//! What an application implements for a namespace: the [`Handler`] trait, whose callbacks
//! stand for the listeners and middlewares of Node socket.io 4.8 (`namespace.use`,
//! `"connection"`, `socket.on(…)`, `socket.use`, `socket.onAnyOutgoing`, `"disconnecting"`,
//! `"disconnect"`), and the type-erased form the namespace table keeps.
//!
//! Handlers are made per shard by a factory, so they may hold `Rc` state; `async` callbacks
//! run as tasks on the shard that owns the connection, the others run inline and must not
//! block.
//!
//! Every callback runs under a panic guard (`server::guard`): a panic is logged once (with
//! the namespace, the callback and the event), counted in `tpcio_handler_panics_total`, and
//! disconnects only that socket, as `socket.disconnect()` does (the client gets a DISCONNECT,
//! `on_disconnect` the reason "server namespace disconnect"). A panic in `authorize` refuses
//! the connection with a `CONNECT_ERROR` whose message is "server error"; one in
//! `on_disconnecting` or `on_disconnect` is only logged and counted, the socket being gone.

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use super::api::{ConnectError, ConnectInfo, Event, ServerSideEvent, Socket, SocketRef};
use super::io::Io;
use super::layer::Site;
use crate::engine::DisconnectReason;

/// What a namespace does with its sockets: the raw form, one `on_event` for every event
/// (Node's `socket.onAny`), arguments as received. [`Router`](super::typed::Router) is built on
/// it: handlers per event name with typed arguments. `authorize` and `on_event` are required.
pub trait Handler: 'static {
    /// Per-socket state, made by [`Handler::authorize`] when a socket connects (Node's
    /// `socket.data`, set by a middleware), reached with [`Socket::with_data`].
    type Data: 'static;

    /// The server started on this shard (once per shard for each [`SocketIo::namespace`] and
    /// each [`SocketIo::dynamic_namespace`]): keep `io` to emit from outside any socket's
    /// callback, and [`Io::spawn`] timers or feeds with it.
    ///
    /// [`SocketIo::namespace`]: super::SocketIo::namespace
    /// [`SocketIo::dynamic_namespace`]: super::SocketIo::dynamic_namespace
    fn on_start(&self, _io: Io) {}

    /// Connect middleware (Node's `namespace.use`), which makes the socket's data: `Ok(data)`
    /// accepts the socket with it, `Err` refuses it with a `CONNECT_ERROR`. With no data to
    /// make (`type Data = ()`): `async fn authorize(&self, _: &ConnectInfo) -> Result<(),
    /// ConnectError> { Ok(()) }`.
    fn authorize(&self, connect: &ConnectInfo) -> impl Future<Output = Result<Self::Data, ConnectError>>;

    /// A socket joined the namespace (its connect ack is already queued).
    fn on_connect(&self, _socket: Socket<Self::Data>) -> impl Future<Output = ()> {
        async {}
    }

    /// Packet middleware (Node's `socket.use`), run inline for each incoming event before
    /// [`Handler::on_event`]. `Err` drops the event: no `on_event`, no ack. (Node then emits
    /// the message as the socket's server-side `"error"` event, which has no counterpart here.)
    fn on_packet(&self, _socket: &Socket<Self::Data>, _event: &Event) -> Result<(), String> {
        Ok(())
    }

    /// An event from the client.
    fn on_event(&self, socket: Socket<Self::Data>, event: Event) -> impl Future<Output = ()>;

    /// Each event the server sends a socket of this namespace (Node's `socket.onAnyOutgoing`),
    /// inline, just before it is written: its own emits and every broadcast that reaches it,
    /// from any shard. Acks are not events and do not come here.
    fn on_outgoing(&self, _socket: &SocketRef, _event: &str) {
        // Tells the erased handler that the default runs, so broadcasts stop calling it.
        DEFAULT_OUTGOING.set(true);
    }

    /// An event another server of a cluster emitted with `serverSideEmit` to this namespace
    /// (Node's `io.on(event, …)` / `namespace.on(event, …)`). It runs on one shard of this
    /// process (shard 0), as the process is one server to the cluster; answer
    /// `event.ack` when the sender waits for answers.
    fn on_server_side_event(&self, _io: Io, _event: ServerSideEvent) -> impl Future<Output = ()> {
        async {}
    }

    /// The socket is leaving (Node's `"disconnecting"`): it is still in its rooms. Inline.
    fn on_disconnecting(&self, _socket: &Socket<Self::Data>, _reason: DisconnectReason) {}

    /// Connection state recovery ([`SocketIo::connection_state_recovery`]): the data of a
    /// socket whose session is restored on another shard, as a value (Node's `socket.data`
    /// travels as JSON in its cluster adapters). A Rust value does not cross shards; with the
    /// default, `None`, the restored socket's data is made by [`Handler::authorize`] again. A
    /// session restored on the shard where it closed keeps its data as it was, without this. With the streams
    /// adapter it is the session's `data` in Redis, read back on any node, Node's included
    /// (`{}` when `None`).
    ///
    /// [`SocketIo::connection_state_recovery`]: super::SocketIo::connection_state_recovery
    fn export_data(&self, _data: &Self::Data) -> Option<crate::protocol::value::Value> {
        None
    }

    /// The data of a socket restored on another shard from what [`Handler::export_data`]
    /// gave (`None` when it gave nothing); `None` (the default) has [`Handler::authorize`]
    /// make it, as for a new socket — except for `type Data = ()`, restored as is.
    fn import_data(&self, _exported: Option<crate::protocol::value::Value>) -> Option<Self::Data> {
        None
    }

    /// The socket left, with Node's reason (`client namespace disconnect`, `transport close`, …).
    fn on_disconnect(
        &self,
        _socket: Socket<Self::Data>,
        _reason: DisconnectReason,
    ) -> impl Future<Output = ()> {
        async {}
    }

    /// The future that handles one event: [`Handler::on_event`]'s, boxed. A handler that
    /// dispatches to boxed futures of its own ([`Router`](super::typed::Router)) returns
    /// theirs, so that an event costs one allocation either way.
    #[doc(hidden)]
    fn event_future(self: Rc<Self>, socket: Socket<Self::Data>, event: Event) -> LocalFuture<()>
    where
        Self: Sized,
    {
        Box::pin(async move { self.on_event(socket, event).await })
    }
}

thread_local! {
    /// Set by the default [`Handler::on_outgoing`]: Rust cannot ask whether a trait method is
    /// overridden, and calling a no-op for every recipient of every broadcast is not free.
    static DEFAULT_OUTGOING: Cell<bool> = const { Cell::new(false) };
}

/// A boxed future of this shard (not `Send`).
pub(crate) type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A [`Handler`] with its types erased, so namespaces of different handlers share one table.
pub(crate) trait ErasedHandler {
    fn on_start(&self, io: Io);
    /// The socket's data (a `RefCell<Handler::Data>`), or the refusal.
    fn authorize(&self, info: ConnectInfo) -> LocalFuture<Result<Rc<dyn Any>, ConnectError>>;
    fn export_data(&self, data: &Rc<dyn Any>) -> Option<crate::protocol::value::Value>;
    fn import_data(&self, exported: Option<crate::protocol::value::Value>) -> Option<Rc<dyn Any>>;
    fn on_connect(&self, socket: SocketRef, data: Rc<dyn Any>) -> LocalFuture<()>;
    fn on_packet(&self, socket: &SocketRef, data: &Rc<dyn Any>, event: &Event) -> Result<(), String>;
    fn on_event(&self, socket: SocketRef, data: Rc<dyn Any>, event: Event) -> LocalFuture<()>;
    /// Whether [`ErasedHandler::on_outgoing`] may do anything: `false` once the default ran.
    fn wants_outgoing(&self) -> bool;
    fn on_outgoing(&self, socket: &SocketRef, event: &str);
    fn on_server_side_event(&self, io: Io, event: ServerSideEvent) -> LocalFuture<()>;
    fn on_disconnecting(&self, socket: &SocketRef, data: &Rc<dyn Any>, reason: DisconnectReason);
    fn on_disconnect(
        &self,
        socket: SocketRef,
        data: Rc<dyn Any>,
        reason: DisconnectReason,
    ) -> LocalFuture<()>;
}

pub(crate) struct Typed<H> {
    handler: Rc<H>,
    outgoing: Cell<bool>,
}

impl<H> Typed<H> {
    pub(crate) fn new(handler: H) -> Self {
        Typed { handler: Rc::new(handler), outgoing: Cell::new(true) }
    }
}

impl<H: Handler> ErasedHandler for Typed<H> {
    fn on_start(&self, io: Io) {
        self.handler.on_start(io);
    }

    fn authorize(&self, info: ConnectInfo) -> LocalFuture<Result<Rc<dyn Any>, ConnectError>> {
        let h = self.handler.clone();
        Box::pin(async move {
            let data = h.authorize(&info).await?;
            Ok(Rc::new(std::cell::RefCell::new(data)) as Rc<dyn Any>)
        })
    }

    fn export_data(&self, data: &Rc<dyn Any>) -> Option<crate::protocol::value::Value> {
        let data = data.downcast_ref::<std::cell::RefCell<H::Data>>()?;
        self.handler.export_data(&data.borrow())
    }

    fn import_data(&self, exported: Option<crate::protocol::value::Value>) -> Option<Rc<dyn Any>> {
        // Data that holds nothing, `()`, is restored as is: no middleware runs for it.
        let data = self.handler.import_data(exported).or_else(|| {
            let unit: Box<dyn Any> = Box::new(());
            unit.downcast::<H::Data>().ok().map(|data| *data)
        })?;
        Some(Rc::new(std::cell::RefCell::new(data)))
    }

    fn on_connect(&self, socket: SocketRef, data: Rc<dyn Any>) -> LocalFuture<()> {
        let h = self.handler.clone();
        Box::pin(async move {
            if let Some(socket) = Socket::<H::Data>::from_ref(socket, data) {
                h.on_connect(socket).await;
            }
        })
    }

    fn on_packet(&self, socket: &SocketRef, data: &Rc<dyn Any>, event: &Event) -> Result<(), String> {
        match Socket::<H::Data>::from_ref(socket.clone(), data.clone()) {
            Some(socket) => self.handler.on_packet(&socket, event),
            None => Ok(()),
        }
    }

    fn on_event(&self, socket: SocketRef, data: Rc<dyn Any>, event: Event) -> LocalFuture<()> {
        match Socket::<H::Data>::from_ref(socket, data) {
            Some(socket) => self.handler.clone().event_future(socket, event),
            // A zero-sized future: no allocation.
            None => Box::pin(async {}),
        }
    }

    fn wants_outgoing(&self) -> bool {
        self.outgoing.get()
    }

    fn on_outgoing(&self, socket: &SocketRef, event: &str) {
        if !self.outgoing.get() {
            return;
        }
        DEFAULT_OUTGOING.set(false);
        if let Err(panic) = crate::server::guard::catch(|| self.handler.on_outgoing(socket, event)) {
            let site = Site {
                event: Some(bytestring::ByteString::from(event)),
                ..Site::new(&socket.ns, Some(socket.id), "on_outgoing")
            };
            socket.layer.handler_panicked(&site, &panic);
        }
        if DEFAULT_OUTGOING.replace(false) {
            self.outgoing.set(false);
        }
    }

    fn on_server_side_event(&self, io: Io, event: ServerSideEvent) -> LocalFuture<()> {
        let h = self.handler.clone();
        Box::pin(async move { h.on_server_side_event(io, event).await })
    }

    fn on_disconnecting(&self, socket: &SocketRef, data: &Rc<dyn Any>, reason: DisconnectReason) {
        if let Some(socket) = Socket::<H::Data>::from_ref(socket.clone(), data.clone()) {
            self.handler.on_disconnecting(&socket, reason);
        }
    }

    fn on_disconnect(
        &self,
        socket: SocketRef,
        data: Rc<dyn Any>,
        reason: DisconnectReason,
    ) -> LocalFuture<()> {
        let h = self.handler.clone();
        Box::pin(async move {
            if let Some(socket) = Socket::<H::Data>::from_ref(socket, data) {
                h.on_disconnect(socket, reason).await;
            }
        })
    }
}
