//! The Socket.IO layer on top of Engine.IO sessions (socket.io-protocol v5, and v4 for Engine.IO
//! v3 clients): namespaces, sockets, events, acks, rooms and broadcasts.
//!
//! - [`client`]: the pure per-connection state machine (Node socket.io 4.8 `lib/client.ts` and
//!   the protocol half of `lib/socket.ts`): text and binary messages in, packets routed to
//!   namespace sockets out, with an explicit clock for the connect timeout.
//! - `handler`: what an application implements ([`Handler`]: callbacks and hooks), the raw
//!   form; [`typed`]: handlers by event name with serde arguments ([`typed::Router`]), built
//!   on it, and the `Serialize` emits.
//! - [`api`]: what it uses ([`Socket`], [`Event`], acks, errors).
//! - [`broadcast`]: room selections and what they do on every shard: emit (with acks too),
//!   fetch the sockets ([`RemoteSocket`], `adapter::remote`), join, leave, disconnect.
//! - `io`: the server outside any callback ([`Io`]) and parent namespaces' emits
//!   ([`ParentBroadcast`]).
//! - `namespace` and `layer`: one shard's namespaces and the engine handler that drives them;
//!   `inbound`: what other shards sent, arriving in order (large broadcasts in chunks with
//!   yields); `acks`: ack ids and collecting a broadcast's acks; `send`: writing a packet to
//!   a session in the server's parser. What the layers of two shards
//!   tell each other, waiting for their answers and the bounded, batched outbox live in
//!   `crate::adapter` (`peer`, `requests`, `outbox`); the official browser client served
//!   under the path (Node's `serveClient`) in `crate::server::bundle`.
//! - [`admin`]: the Socket.IO Admin UI (`@socket.io/admin-ui`'s `instrument`): the `/admin`
//!   namespace and the dashboard's files.
//! - [`recovery`]: connection state recovery (Node's `connectionStateRecovery`): sessions,
//!   offsets and the log of packets to replay, across shards.
//!
//! ```no_run
//! use tpcio::prelude::{ConnectError, ConnectInfo, Event, Handler, ServerConfig, Socket, SocketIo};
//!
//! struct Chat;
//! impl Handler for Chat {
//!     type Data = ();
//!     async fn authorize(&self, _: &ConnectInfo) -> Result<(), ConnectError> {
//!         Ok(())
//!     }
//!     async fn on_event(&self, socket: Socket<()>, event: Event) {
//!         if event.name() == "chat message" {
//!             // Everyone else in the namespace gets the same arguments, encoded once.
//!             let _ = socket.broadcast().emit_raw("chat message", &event.raw_args());
//!         }
//!     }
//! }
//!
//! let running = SocketIo::new().namespace("/", |_shard| Chat).start(ServerConfig::default())?;
//! running.wait()?; // Err: a shard died
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod acks;
pub mod admin;
pub mod api;
pub mod broadcast;
mod builder;
pub mod client;
mod handler;
mod inbound;
mod io;
pub(crate) mod layer;
pub(crate) mod namespace;
pub mod recovery;
pub(crate) mod send;
pub mod typed;

pub use crate::adapter::remote::RemoteSocket;
pub use crate::adapter::requests::ClusterRequestError;
pub use crate::protocol::sio::Parser;
pub use admin::{AdminMode, AdminUi};
pub use api::{
    AckError, AckSender, BroadcastAckError, ConnectError, ConnectInfo, EmitError, Event, Handler, RawArgs,
    ServerSideAck, ServerSideEvent, Socket, SocketRef,
};
pub use broadcast::Broadcast;
pub use builder::SocketIo;
pub use io::{Io, ParentBroadcast};
pub use recovery::ConnectionStateRecovery;
