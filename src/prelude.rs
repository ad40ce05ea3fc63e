//! Everything an embedder needs, in one import: `use tpcio::prelude::*;`.
//!
//! - Start a server: [`SocketIo`] (the one builder, every option on it), which ends in
//!   [`SocketIo::listen`] and gives a [`RunningServer`].
//! - Handle events by name with typed arguments: [`Router`], [`Ack`]; or implement the raw
//!   [`Handler`] trait for zero-parse paths ([`Event`], [`RawArgs`]).
//! - Act on sockets: [`Socket`] (and [`SocketRef`], the same without the data type), room
//!   selections ([`Broadcast`]), the server outside any callback ([`Io`]).
//! - Below Socket.IO: [`Server`] with any [`EngineHandler`] and plain HTTP routes.
//! - More than one process: [`RedisAdapterConfig`], and [`Emitter`] to emit from outside.
//! - Operate it: [`AdminUi`] (the Socket.IO Admin UI dashboard on `/admin`), [`Metrics`].
//!
//! ```no_run
//! use tpcio::prelude::*;
//!
//! let running = SocketIo::new()
//!     .namespace("/", |_shard| {
//!         Router::new().on("ping", async |socket: Socket<()>, text: String| {
//!             let _ = socket.emit("pong", &text);
//!         })
//!     })
//!     .listen("127.0.0.1:3000")?;
//! running.wait()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use bytes::Bytes;

pub use crate::adapter::{BroadcastFlags, BroadcastOptions, Room};
pub use crate::cluster::emitter::{Emitter, EmitterError};
pub use crate::cluster::redis::Options as RedisOptions;
pub use crate::cluster::streams::StreamsOptions;
pub use crate::cluster::{AdapterKind, RedisAdapterConfig, RedisError, RedisUrl, SubscriptionMode};
pub use crate::engine::{DisconnectReason, EngineConfig};
pub use crate::engine::{SendError, TransportKind};
pub use crate::http::{Cors, Limits, Method, Origins, Request};
pub use crate::metrics::Metrics;
pub use crate::protocol::sid::Sid;
pub use crate::protocol::sio::ParseError;
pub use crate::protocol::value::{JsonError, Value, ValueError};
pub use crate::protocol::{Data, DecodeError, EioVersion, Frame, Packet, PacketType};
pub use crate::server::{
    AllowFuture, AllowRequest, CpuPlacement, EngineHandler, EngineSocket, HandlerFactory, Handshake,
    PlainHttp, Route, RunningServer, Server, ServerConfig, ServerError, ShardContext, Stats, TlsConfig,
    TlsError, TlsReloader, allow_request, allow_request_async, sleep, yield_now,
};
pub use crate::shard::ShardId;
pub use crate::socket::admin::{AdminMode, AdminUi, AdminUiError};
pub use crate::socket::typed::{Ack, ArgsError, Router};
pub use crate::socket::{
    AckError, AckSender, Broadcast, BroadcastAckError, ClusterRequestError, ConnectError, ConnectInfo,
    ConnectionStateRecovery, EmitError, Event, Handler, Io, ParentBroadcast, Parser, RawArgs, RemoteSocket,
    ServerSideAck, ServerSideEvent, Socket, SocketIo, SocketRef,
};
