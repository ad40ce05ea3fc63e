//! Every option of the server on the one builder, [`SocketIo`], each documented with the name
//! Node's `socket.io` / `engine.io` give it, and [`SocketIo::listen`] to start. The defaults
//! are the binary's (`tpcio --help`), which is built on these methods, and Node's where Node
//! has the option — except `allowEIO3`, off here as in Node and on in every mode of the binary.
//!
//! ```no_run
//! use std::time::Duration;
//! use tpcio::prelude::{Router, SocketIo};
//!
//! let running = SocketIo::new()
//!     .ping_interval(Duration::from_secs(10))
//!     .max_http_buffer_size(64 * 1024)
//!     .cors_origins(["https://example.com"])
//!     .shards(2)
//!     .namespace("/", |_shard| Router::<()>::new())
//!     .listen("127.0.0.1:3000")?;
//! running.wait()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::SocketIo;
use crate::http::Limits;
use crate::http::cors::{Cors, Origins};
use crate::server::{AllowRequest, CpuPlacement, RunningServer, Server, ServerConfig};

impl SocketIo {
    /// Starts the server on `addr` (Node's `io.listen(port)`; default in the binary
    /// `0.0.0.0:3000`; port 0 picks a free one, [`RunningServer::local_addr`] tells which).
    pub fn listen(mut self, addr: impl ToSocketAddrs) -> std::io::Result<RunningServer> {
        self.server.addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the address resolves to nothing")
        })?;
        let config = self.server.clone();
        self.attach(Server::new(config)).start()
    }

    /// Adds this endpoint to a server built with the options given here (to add other
    /// endpoints and routes before [`Server::start`]).
    pub fn into_server(self) -> Server {
        let config = self.server.clone();
        self.attach(Server::new(config))
    }

    /// All the runtime's options at once (they replace those set before).
    pub fn server_config(mut self, config: ServerConfig) -> Self {
        self.server = config;
        self
    }

    /// The runtime's options as set so far.
    pub fn config(&self) -> &ServerConfig {
        &self.server
    }

    /// The listening address used by [`SocketIo::into_server`] (default `0.0.0.0:3000`).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.server.addr = addr;
        self
    }

    /// How many shards (threads, one per core); default one per CPU the process may use.
    /// Node runs one process per core behind sticky sessions instead.
    pub fn shards(mut self, shards: usize) -> Self {
        self.server.shards = Some(shards);
        self
    }

    /// Where the shards run (`--cpus`, `--no-pin`); default one pinned per CPU.
    pub fn placement(mut self, placement: CpuPlacement) -> Self {
        self.server.placement = placement;
        self
    }

    /// Node's `pingInterval` (default 25 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.server.engine.ping_interval = interval;
        self
    }

    /// Node's `pingTimeout` (default 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.server.engine.ping_timeout = timeout;
        self
    }

    /// Node's `upgradeTimeout` (default 10 s).
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.server.engine.upgrade_timeout = timeout;
        self
    }

    /// Node's `maxHttpBufferSize` (`--max-payload`, default 1 000 000 bytes).
    pub fn max_http_buffer_size(mut self, bytes: usize) -> Self {
        self.server.engine.max_payload = bytes;
        self
    }

    /// Node's `allowUpgrades` (default `true`).
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.server.engine.allow_upgrades = allow;
        self
    }

    /// Node's `allowEIO3` (default `false`; the binary turns it on).
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.server.engine.allow_eio3 = allow;
        self
    }

    /// Packets a session may have waiting to be written (default 4 096; Node: no bound).
    pub fn max_buffered_packets(mut self, packets: usize) -> Self {
        self.server.engine.max_buffered_packets = packets;
        self
    }

    /// Bytes a session may have waiting to be written (default 4 MiB; Node: no bound).
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.server.engine.max_buffered_bytes = bytes;
        self
    }

    /// How long requests racing on different connections are reordered (default 100 ms;
    /// see the README's "Timing").
    pub fn reorder_window(mut self, window: Duration) -> Self {
        self.server.engine.reorder_window = window;
        self
    }

    /// The least time between the first write to an idle WebSocket and the next (default
    /// 2 ms; see the README's "Timing").
    pub fn first_write_gap(mut self, gap: Duration) -> Self {
        self.server.engine.first_write_gap = gap;
        self
    }

    /// Node's `cors.origin` with a list of origins (`["*"]` for any); default: no CORS headers.
    pub fn cors_origins<S: Into<String>>(mut self, origins: impl IntoIterator<Item = S>) -> Self {
        let list: Vec<String> = origins.into_iter().map(Into::into).collect();
        let origins = match list.as_slice() {
            [any] if any == "*" => Origins::Any,
            [one] => Origins::Fixed(one.clone()),
            _ => Origins::List(list),
        };
        self.server.cors = Some(Cors { origins, ..Cors::default() });
        self
    }

    /// Node's `cors` with every field.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.server.cors = Some(cors);
        self
    }

    /// Serves Prometheus metrics at `path` (`--metrics`: `/metrics`); default none.
    pub fn metrics(mut self, path: impl Into<String>) -> Self {
        self.server.metrics = Some(path.into());
        self
    }

    /// Node's `httpServer.maxConnections` (default `RLIMIT_NOFILE` − 1 024).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.server.max_connections = Some(max);
        self
    }

    /// Open connections from one client address (default: no bound, as Node).
    pub fn max_connections_per_ip(mut self, max: usize) -> Self {
        self.server.max_connections_per_ip = Some(max);
        self
    }

    /// Node's `allowRequest` (see [`crate::server::allow_request`]).
    pub fn allow_request(mut self, allow: AllowRequest) -> Self {
        self.server.allow_request = Some(allow);
        self
    }

    /// Node's `httpCompression` threshold in bytes (default 1 KiB); `None` turns it off.
    pub fn http_compression(mut self, threshold: Option<usize>) -> Self {
        self.server.http_compression = threshold;
        self
    }

    /// Node's `perMessageDeflate` threshold in bytes (default off).
    pub fn per_message_deflate(mut self, threshold: Option<usize>) -> Self {
        self.server.per_message_deflate = threshold;
        self
    }

    /// Node's `headersTimeout` (default 60 s).
    pub fn headers_timeout(mut self, timeout: Duration) -> Self {
        self.server.header_timeout = timeout;
        self
    }

    /// Serve HTTPS and `wss://` (HTTP/1.1, rustls) with a PEM certificate chain and key, as
    /// Node's `https.createServer({ cert, key })` (default: plain HTTP). The files are read at
    /// [`listen`](Self::listen); [`RunningServer::tls_reloader`] reloads them while the server runs.
    ///
    /// ```no_run
    /// let io = tpcio::prelude::SocketIo::new()
    ///     .tls(tpcio::prelude::TlsConfig::new("cert.pem", "key.pem"));
    /// ```
    pub fn tls(mut self, tls: crate::server::TlsConfig) -> Self {
        self.server.tls = Some(tls);
        self
    }

    /// The Socket.IO Admin UI (`--admin-ui [user:password]`; Node's `instrument(io, options)` of
    /// `@socket.io/admin-ui` 0.5; default off): the admin namespace (`/admin`) the dashboard
    /// connects to, across shards and servers, and the dashboard's page at `/admin/`, read at
    /// start from the npm package (`npm ci --prefix client`). See [`crate::socket::admin`].
    ///
    /// ```no_run
    /// use tpcio::prelude::{AdminMode, AdminUi, SocketIo};
    /// let admin = AdminUi::new().basic_auth_password("admin", "changeit")?.mode(AdminMode::Production);
    /// let io = SocketIo::new().admin_ui(admin);
    /// # Ok::<(), tpcio::prelude::AdminUiError>(())
    /// ```
    pub fn admin_ui(mut self, admin: crate::socket::AdminUi) -> Self {
        self.admin = Some(admin);
        self
    }

    /// Node's `keepAliveTimeout` (default 5 s).
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.server.keep_alive_timeout = timeout;
        self
    }

    /// Request head limits (Node's `--max-http-header-size`; default 16 KiB, 64 headers).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.server.limits = limits;
        self
    }

    /// How long shutdown waits for sessions to flush their close packets (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.server.shutdown_timeout = timeout;
        self
    }
}
