//! # tpcio: a thread-per-core Engine.IO / Socket.IO server runtime
//!
//! The Node.js `engine.io` 6.6 and `socket.io` 4.8 servers are the reference: a client
//! must not be able to tell this server from them.
//!
//! ## The path of a request
//!
//! 1. Each shard is a glommio executor pinned to one CPU, with its own `SO_REUSEPORT`
//!    listener ([`server::executors`]). The kernel spreads new connections over them; each
//!    shard takes its share of the connection limits and answers the rest with a 503
//!    ([`server::limits`]).
//! 2. The shard's connection task reads bytes and splits requests off them with
//!    [`http::parse`] (httparse underneath), then routes them as Node's `Server.verify`
//!    does: path, transport, sid, handshake method, `EIO`, `allow_request`.
//! 3. A request that names a session ([`protocol::sid::Sid`]) is served by the shard the
//!    sid names. If that is another shard, the connection itself moves there: its file
//!    descriptor, the parsed request and any bytes read after it travel as one
//!    [`shard::ShardMsg::Handoff`] over the channel mesh. No lock, no shared table. Over
//!    TLS ([`server::tls`]) the connection's rustls session travels with it.
//! 4. The owner applies the request to the session's pure state machine
//!    ([`engine::Session`]): a polling GET gets every queued packet batched into one body
//!    ([`protocol::payload`]), a POST is decoded packet by packet, a WebSocket frame
//!    ([`transport::ws_codec`]) goes in whole.
//! 5. What the session produced — messages, an upgrade, a close with Node's reason — is
//!    handed to the application's [`server::EngineHandler`], made per shard so it may hold
//!    `Rc` state. Its replies queue on the session and leave in one write. Every callback
//!    runs under a panic guard (`server::guard`): a panicking handler costs its socket or
//!    session, never the shard.
//!
//! ## Where state lives
//!
//! Every session belongs to one shard's [`engine::SessionTable`], which also keeps one
//! timer wheel for all of that shard's heartbeats: one sleep per shard, not one timer per
//! session. The pure layers (`protocol`, `http`, `engine`, `transport`) take `now` as an
//! argument and never import glommio; `server` is the only module that spawns tasks.

#![warn(missing_docs, unreachable_pub)]

pub mod prelude;

/// The crate's modules, for this crate's benches, tests and load tester: not part of the API.
///
/// Everything an embedder needs is in [`prelude`]; what is here may change with any commit.
#[doc(hidden)]
#[path = "."]
pub mod __private {
    pub mod adapter;
    pub mod cluster;
    pub mod engine;
    pub mod http;
    pub mod metrics;
    pub mod protocol;
    pub mod server;
    pub mod shard;
    pub mod socket;
    pub mod transport;
}

pub(crate) use __private::{
    adapter, cluster, engine, http, metrics, protocol, server, shard, socket, transport,
};
