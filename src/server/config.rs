//! Server options, with Node's defaults. Each shard keeps its own `Rc` copy.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::executors::CpuPlacement;
use crate::engine::EngineConfig;
use crate::http::{Cors, Limits, Request};

/// Decides whether a handshake may proceed (Node's `allowRequest(req, callback)`), given the
/// request and the client's address (Node's `req.socket.remoteAddress`). It is asked on the
/// shard that read the request, after the transport, sid and method checks, as Node's
/// `verify` asks it, and may wait (a lookup elsewhere) without holding up the shard.
/// `Err(message)` refuses with `403 {"code":4,"message":…}` (for a WebSocket upgrade, the raw
/// 400 with the message as body that Node's `abortUpgrade` sends). The future cannot borrow
/// the request: copy what it needs first. [`allow_request`] and [`allow_request_async`] make
/// one from a function.
pub type AllowRequest = Arc<dyn Fn(&Request, SocketAddr) -> AllowFuture + Send + Sync>;

/// The answer of an [`AllowRequest`], awaited on the shard that asked (so it need not be `Send`).
pub type AllowFuture = Pin<Box<dyn Future<Output = Result<(), String>>>>;

/// An [`AllowRequest`] that answers at once.
pub fn allow_request(
    decide: impl Fn(&Request, SocketAddr) -> Result<(), String> + Send + Sync + 'static,
) -> AllowRequest {
    Arc::new(move |req, peer| Box::pin(std::future::ready(decide(req, peer))))
}

/// An [`AllowRequest`] from an async decision.
pub fn allow_request_async<F>(
    decide: impl Fn(&Request, SocketAddr) -> F + Send + Sync + 'static,
) -> AllowRequest
where
    F: Future<Output = Result<(), String>> + 'static,
{
    Arc::new(move |req, peer| Box::pin(decide(req, peer)))
}

/// Everything the runtime needs to know, set once before start.
#[derive(Clone)]
pub struct ServerConfig {
    /// Listening address (default `0.0.0.0:3000`).
    pub addr: SocketAddr,
    /// Number of shards; `None` means one per CPU in the process's affinity mask.
    pub shards: Option<usize>,
    /// Where the shards run (`--cpus`, `--no-pin`).
    pub placement: CpuPlacement,
    /// The Engine.IO options: heartbeat, payload size, buffers, upgrades.
    pub engine: EngineConfig,
    /// CORS headers; `None` sends none, as Node without the `cors` option.
    pub cors: Option<Cors>,
    /// Request head limits; the body limit of Engine.IO requests is `engine.max_payload`.
    pub limits: Limits,
    /// Node's `headersTimeout` (60 s): time allowed for a request to arrive, from a new
    /// connection's accept or from the first byte of a later request. A request not complete
    /// by then is answered as Node answers it, `HTTP/1.1 408 Request Timeout` with
    /// `Connection: close`, and the connection closed (a POST cut short is a transport error
    /// for its session).
    pub header_timeout: Duration,
    /// Node's `keepAliveTimeout` (5 s): a connection idle after a response, with no byte of a
    /// next request, is closed without a word; its responses announce it
    /// (`Keep-Alive: timeout=5`, whole seconds). Zero, as in Node, keeps idle connections and
    /// announces nothing. A parked long-poll GET is not idle.
    pub keep_alive_timeout: Duration,
    /// Open connections (HTTP, long-polling and WebSocket) the process takes; each shard takes
    /// its share (rounded up) and refuses past it with a `503` (see [`super::limits`]).
    /// `None` (the default) derives it from the open-file limit: `RLIMIT_NOFILE` minus
    /// [`super::limits::FD_HEADROOM`], so the server refuses before the kernel does (18 976
    /// with 20 000 descriptors). Node's `httpServer.maxConnections`, unbounded by default.
    pub max_connections: Option<usize>,
    /// Open connections from one client address; off (`None`) by default, as in Node, which
    /// has none. Enforced like `max_connections`, by each shard on its share: leave room for
    /// the kernel's spread (a browser opens one or two at a time per tab).
    pub max_connections_per_ip: Option<usize>,
    /// A check of each handshake request before a session opens (Node's `allowRequest`).
    pub allow_request: Option<AllowRequest>,
    /// Node's `httpCompression`: polling responses of at least this many bytes are gzip- or
    /// deflate-compressed when the client accepts it (default 1 KiB); `None` turns it off.
    pub http_compression: Option<usize>,
    /// Node's `perMessageDeflate`: WebSocket `permessage-deflate` (RFC 7692) is negotiated when a
    /// client offers it; `Some(threshold)` is engine.io's `{ threshold }` (1024 for `true`). `ws`
    /// compresses every data message, except those under the threshold when the client asked for
    /// `server_no_context_takeover`. `None` (the default, as Node's) ignores the offers.
    pub per_message_deflate: Option<usize>,
    /// How long shutdown waits for sessions to flush their close packets.
    pub shutdown_timeout: Duration,
    /// Capacity of each shard-to-shard channel.
    pub mesh_capacity: usize,
    /// The path of the Prometheus scrape endpoint (e.g. `/metrics`); `None` (the default)
    /// serves none. The counters run either way ([`super::RunningServer::metrics`]).
    pub metrics: Option<String>,
    /// Serve HTTPS and `wss://` with this certificate and key instead of plain HTTP (Node's
    /// `https.createServer({ cert, key })`); `None` (the default) serves plain HTTP. See
    /// [`super::tls`].
    pub tls: Option<super::tls::TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([0, 0, 0, 0], 3000)),
            shards: None,
            placement: CpuPlacement::PinPerCpu,
            engine: EngineConfig::default(),
            cors: None,
            limits: Limits::default(),
            header_timeout: Duration::from_secs(60),
            keep_alive_timeout: Duration::from_secs(5),
            max_connections: None,
            max_connections_per_ip: None,
            allow_request: None,
            http_compression: Some(crate::http::compression::DEFAULT_THRESHOLD),
            per_message_deflate: None,
            shutdown_timeout: Duration::from_secs(5),
            mesh_capacity: 1024,
            metrics: None,
            tls: None,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("addr", &self.addr)
            .field("shards", &self.shards)
            .field("placement", &self.placement)
            .field("engine", &self.engine)
            .field("cors", &self.cors)
            .field("limits", &self.limits)
            .field("header_timeout", &self.header_timeout)
            .field("keep_alive_timeout", &self.keep_alive_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("allow_request", &self.allow_request.is_some())
            .field("http_compression", &self.http_compression)
            .field("per_message_deflate", &self.per_message_deflate)
            .field("metrics", &self.metrics)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}
