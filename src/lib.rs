//! # tpcio: a thread-per-core Engine.IO / Socket.IO server runtime
//!
//! The Node.js `engine.io` 6.6 and `socket.io` 4.8 servers are the reference: a client
//! must not be able to tell this server from them.
//!
//! Everything an embedder uses is in [`prelude`]: the [`SocketIo`](prelude::SocketIo)
//! builder, handlers by event name ([`Router`](prelude::Router)) or the raw
//! [`Handler`](prelude::Handler) trait, the [`Socket`](prelude::Socket) handle and its emits,
//! and the cluster options ([`RedisAdapterConfig`](prelude::RedisAdapterConfig)).
//!
//! ```no_run
//! use tpcio::prelude::*;
//!
//! let running = SocketIo::new()
//!     .namespace("/", |_shard| {
//!         Router::new().on("chat message", async |socket: Socket<()>, text: String| {
//!             // Everyone else, on every shard, gets the message, encoded once.
//!             let _ = socket.broadcast().emit("chat message", &text);
//!         })
//!     })
//!     .listen("0.0.0.0:3000")?;
//! running.wait()?; // Err names a shard that died
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The path of a request
//!
//! 1. Each shard is a glommio executor pinned to one CPU, with its own `SO_REUSEPORT`
//!    listener (`server/executors.rs`). The kernel spreads new connections over them; each
//!    shard takes its share of the connection limits and answers the rest with a 503
//!    (`server/limits.rs`).
//! 2. The shard's connection task (`server/conn.rs`) reads bytes and splits requests off
//!    them (`http/`, httparse underneath), then routes them as Node's `Server.verify` does
//!    (`server/route.rs`): path, transport, sid, handshake method, `EIO`, `allow_request`.
//! 3. A request that names a session is served by the shard the sid names
//!    (`protocol/sid.rs`). If that is another shard, the connection itself moves there: its
//!    file descriptor, the parsed request and any bytes read after it travel as one
//!    `ShardMsg::Handoff` over the channel mesh (`shard/`). No lock, no shared table. Over
//!    TLS (`server/tls.rs`) the connection's rustls session travels with it.
//! 4. The owner applies the request to the session's pure state machine (`engine/`): a
//!    polling GET gets every queued packet batched into one body (`protocol/payload/`), a
//!    POST is decoded packet by packet, a WebSocket frame (`transport/ws_codec.rs`) goes in
//!    whole.
//! 5. What the session produced — messages, an upgrade, a close with Node's reason — is
//!    handed to the endpoint's [`EngineHandler`](prelude::EngineHandler), made per shard so it
//!    may hold `Rc` state. For Socket.IO that is the layer of `socket/`, which decodes the
//!    packets, runs the namespace's middleware and calls your [`Handler`](prelude::Handler)
//!    (or [`Router`](prelude::Router)) on the same shard. Replies queue on the session and
//!    leave in one write. Every callback runs under a panic guard (`server/guard.rs`): a
//!    panicking handler costs its socket or session, never the shard.
//! 6. A broadcast is encoded once (`adapter/encoded.rs`), delivered to this shard's sockets
//!    in the selected rooms (`adapter/rooms.rs`), and sent as one message to each other shard
//!    (`adapter/peer.rs`, batched by `adapter/outbox.rs`) and, with a Redis adapter, to the
//!    other servers (`cluster/`).
//!
//! ## Where state lives
//!
//! Every session belongs to one shard's session table (`engine/table.rs`), which also keeps
//! one timer wheel for all of that shard's heartbeats: one sleep per shard, not one timer per
//! session. A shard's sessions, sockets, rooms and counters are touched by its thread only
//! (`shard/state.rs`). The pure layers (`protocol`, `http`, `engine`, `transport`) take `now`
//! as an argument and never import glommio; `server` is the only module that spawns tasks.
//!
//! ## The tree
//!
//! ```text
//! protocol/   pure codecs: engine packets, polling payloads (v3, v4), Socket.IO packets,
//!             binary attachments, msgpack, sids, the JSON value
//! http/       the HTTP/1.1 we need, on httparse: requests, responses, CORS, compression, Node's errors
//! transport/  WebSocket frames and permessage-deflate, JSONP
//! engine/     the Engine.IO session state machine and the per-shard session table
//! socket/     namespaces, sockets, acks, middleware, the handler trait, the typed router, the builder
//! adapter/    rooms, selectors, encode-once broadcasts, and what shards ask each other
//!             (peer messages, requests and their answers, the outbox, remote sockets)
//! cluster/    the Redis adapters (classic, sharded, streams), their wire format, the emitter
//! shard/      thread-per-core plumbing: shard ids, CPU placement, messages, the mesh, a shard's state
//! server/     the only place that spawns: executors, listeners, connections, routing,
//!             polling and WebSocket loops, TLS, limits, the client bundle
//! metrics/    the counters and their Prometheus text
//! ```
//!
//! These modules are not part of the API: they are reachable (for this crate's benches,
//! tests and load tester) under a hidden `__private` module that may change with any commit.

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
