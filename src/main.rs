//! The `tpcio` server binary: the chat demo by default, and the conformance and benchmark
//! servers as modes. Every flag has an environment variable (`--help` lists them).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

use tpcio::prelude::{
    AdminMode, AdminUi, AdminUiError, ConnectionStateRecovery, CpuPlacement, RedisAdapterConfig, RedisError,
    RedisUrl, RunningServer, ServerConfig, ServerError, SocketIo, StreamsOptions, SubscriptionMode,
    TlsConfig,
};

mod cli;
use cli::{bench, conformance, demo};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// A thread-per-core Engine.IO / Socket.IO server (the Node `socket.io` 4.8 protocol).
///
/// With no mode it serves a chat demo at `/` on 0.0.0.0:3000: open it in two browser tabs.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Debug, Clone)]
struct Common {
    /// Address to listen on.
    #[arg(long, env = "TPCIO_HOST", default_value = "0.0.0.0", global = true)]
    host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "TPCIO_PORT", default_value_t = 3000, global = true)]
    port: u16,
    /// Number of shards, one thread each (default: one per CPU the process may run on, so
    /// `taskset` is respected).
    #[arg(long, env = "TPCIO_SHARDS", global = true)]
    shards: Option<usize>,
    /// Pin the shards to these CPUs, one each, in order (e.g. `0,2`). Default: the CPUs of
    /// the process's affinity mask.
    #[arg(long, env = "TPCIO_CPUS", value_delimiter = ',', global = true, conflicts_with = "no_pin")]
    cpus: Option<Vec<usize>>,
    /// Do not pin shards to CPUs (on a machine shared with other busy processes).
    #[arg(long, env = "TPCIO_NO_PIN", global = true)]
    no_pin: bool,
    /// Path of the Socket.IO endpoint (Node `path`). The demo page expects `/socket.io/`.
    #[arg(long, env = "TPCIO_PATH", default_value = "/socket.io/", global = true)]
    path: String,
    /// Milliseconds between heartbeats (Node `pingInterval`; default 25000, 300 in conformance).
    #[arg(long, env = "TPCIO_PING_INTERVAL", global = true)]
    ping_interval: Option<u64>,
    /// Milliseconds to wait for a heartbeat's answer (Node `pingTimeout`; default 20000, 200 in
    /// conformance).
    #[arg(long, env = "TPCIO_PING_TIMEOUT", global = true)]
    ping_timeout: Option<u64>,
    /// Largest message or polling body accepted, in bytes (Node `maxHttpBufferSize`, 1e6).
    #[arg(long, env = "TPCIO_MAX_PAYLOAD", global = true)]
    max_payload: Option<usize>,
    /// Milliseconds a connection may stay without joining a namespace (Node `connectTimeout`,
    /// 45000; 1000 in conformance).
    #[arg(long, env = "TPCIO_CONNECT_TIMEOUT", global = true)]
    connect_timeout: Option<u64>,
    /// Most connections open at once, over all shards (each takes its share); the one over it
    /// is answered 503 (Node `httpServer.maxConnections`). Default: the open-file limit minus
    /// 1024.
    #[arg(long, env = "TPCIO_MAX_CONNECTIONS", global = true)]
    max_connections: Option<usize>,
    /// Most connections open at once from one client address (default: no limit).
    #[arg(long, env = "TPCIO_MAX_CONNECTIONS_PER_IP", global = true)]
    max_connections_per_ip: Option<usize>,
    /// Milliseconds for a request to arrive before Node's 408 (Node `headersTimeout`, 60000).
    #[arg(long, env = "TPCIO_HEADER_TIMEOUT", global = true)]
    header_timeout: Option<u64>,
    /// Milliseconds a keep-alive connection may stay idle between requests (Node
    /// `keepAliveTimeout`, 5000; 0 keeps it).
    #[arg(long, env = "TPCIO_KEEP_ALIVE_TIMEOUT", global = true)]
    keep_alive_timeout: Option<u64>,
    /// Milliseconds within which two requests of one client on different connections are
    /// answered in the order it sent them, when that order matters (a close, an upgrade): not
    /// in Node, whose one thread reads every connection (default 100; 0 turns it off)
    #[arg(long, env = "TPCIO_REORDER_WINDOW", global = true)]
    reorder_window: Option<u64>,
    /// Milliseconds at least between a WebSocket's 101 and its open packet, and between a
    /// Socket.IO CONNECT answer and what the connect handler sends, so that a client reading
    /// one message at a time gets them apart: not in Node (default 2; 0 turns it off)
    #[arg(long, env = "TPCIO_FIRST_WRITE_GAP", global = true)]
    first_write_gap: Option<u64>,
    /// Most packets queued for one client before a broadcast drops (volatile) or disconnects it
    /// as a slow consumer (default 4096; Node has no bound).
    #[arg(long, env = "TPCIO_MAX_BUFFERED_PACKETS", global = true)]
    max_buffered_packets: Option<usize>,
    /// Most bytes queued for one client, likewise (default 4194304; Node has no bound).
    #[arg(long, env = "TPCIO_MAX_BUFFERED_BYTES", global = true)]
    max_buffered_bytes: Option<usize>,
    /// Most messages one shard keeps waiting for another; past it they are dropped and counted
    /// (default 16384).
    #[arg(long, env = "TPCIO_SHARD_OUTBOX_CAPACITY", global = true)]
    shard_outbox_capacity: Option<usize>,
    /// Remove a dynamic child namespace when its last socket leaves (Node
    /// `cleanupEmptyChildNamespaces`).
    #[arg(long, env = "TPCIO_CLEANUP_EMPTY_CHILD_NAMESPACES", global = true)]
    cleanup_empty_child_namespaces: bool,
    /// Connection state recovery (Node `connectionStateRecovery`, off by default): a client
    /// that lost its connection gets its socket back, with the packets it missed, when it
    /// returns in time. Within this process only (not across servers of a Redis cluster).
    #[arg(long, env = "TPCIO_RECOVERY", global = true)]
    recovery: bool,
    /// Milliseconds a disconnected client's session and missed packets are kept (Node
    /// `maxDisconnectionDuration`, 120000); implies `--recovery`.
    #[arg(long, env = "TPCIO_RECOVERY_MAX_DISCONNECTION_DURATION", global = true)]
    recovery_max_disconnection_duration: Option<u64>,
    /// Origins allowed by CORS, comma-separated, or `*` for any (Node `cors.origin`). Default:
    /// no CORS headers (same-origin pages only), as Node; conformance mode allows `*`.
    #[arg(long, env = "TPCIO_CORS_ORIGIN", value_delimiter = ',', global = true)]
    cors_origin: Option<Vec<String>>,
    /// Serve Prometheus metrics at `/metrics` (per-shard sessions, messages, bytes, broadcasts,
    /// cross-shard messages, queue drops, handshake errors).
    #[arg(long, env = "TPCIO_METRICS", global = true)]
    metrics: bool,
    /// Serve Engine.IO v3 clients (Socket.IO 2.x; Node `allowEIO3`). Default: on in every
    /// mode of this binary (Node's default is off); `--allow-eio3=false` refuses them with
    /// Node's `400 {"code":5,"message":"Unsupported protocol version"}`.
    #[arg(long, env = "TPCIO_ALLOW_EIO3", global = true, num_args = 0..=1, default_missing_value = "true")]
    allow_eio3: Option<bool>,
    /// Join a cluster on this Redis server, as Node's `@socket.io/redis-adapter` 8 does
    /// (`redis://[user:pass@]host:port[/db]`): broadcasts, fetches, room changes, disconnects
    /// and server-side emits then reach every server on it, Node's and ours.
    #[arg(long, env = "TPCIO_REDIS", global = true)]
    redis: Option<String>,
    /// The prefix of the cluster's Redis channels (Node's `key`, default `socket.io`).
    #[arg(long, env = "TPCIO_REDIS_KEY", default_value = "socket.io", global = true)]
    redis_key: String,
    /// Milliseconds to wait for the other servers' answers (Node's `requestsTimeout`; default
    /// 5000, 3000 in bench mode as its Node reference).
    #[arg(long, env = "TPCIO_REDIS_REQUESTS_TIMEOUT", global = true)]
    redis_requests_timeout: Option<u64>,
    /// Which adapter protocol the cluster speaks: `classic` (Node's `createAdapter`, the
    /// default) or `sharded` (`createShardedAdapter`, Redis 7 sharded pub/sub; `--redis-key`
    /// is its `channelPrefix`), or `streams` (`@socket.io/redis-streams-adapter` 0.3:
    /// `--redis-key` is its `channelPrefix`, `--redis-stream` its `streamName`).
    #[arg(long, env = "TPCIO_REDIS_ADAPTER", default_value = "classic", global = true)]
    redis_adapter: RedisAdapterArg,
    /// The sharded adapter's `subscriptionMode`: `dynamic` (default), `dynamic-private` or
    /// `static`.
    #[arg(long, env = "TPCIO_REDIS_SUBSCRIPTION_MODE", default_value = "dynamic", global = true)]
    redis_subscription_mode: SubscriptionModeArg,
    /// The Socket.IO packet encoding (Node's `parser` option): `json` (socket.io-parser, the
    /// default) or `msgpack` (`socket.io-msgpack-parser` 3: binary packets, buffers inline).
    /// Clients must use the same parser (the demo page then loads the client's msgpack build).
    #[arg(long, env = "TPCIO_PARSER", default_value = "json", global = true)]
    parser: ParserArg,
    /// The streams adapter's `streamName` (default `socket.io`).
    #[arg(long, env = "TPCIO_REDIS_STREAM", default_value = "socket.io", global = true)]
    redis_stream: String,
    /// The streams adapter's `maxLen` (default 10000).
    #[arg(long, env = "TPCIO_REDIS_STREAM_MAX_LEN", default_value_t = 10_000, global = true)]
    redis_stream_max_len: u64,
    /// Serve HTTPS and `wss://` (HTTP/1.1) with this certificate chain, a PEM file, leaf first;
    /// needs `--tls-key`. `SIGHUP` reloads both files (new connections get the new certificate;
    /// a bad one is logged and the old one kept).
    #[arg(long, env = "TPCIO_TLS_CERT", global = true)]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert`, a PEM file (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TPCIO_TLS_KEY", global = true)]
    tls_key: Option<PathBuf>,
    /// Serve the Socket.IO Admin UI (`@socket.io/admin-ui`): its `/admin` namespace and the
    /// dashboard at `/admin/`. With `user:password`, the dashboard must log in with them (the
    /// password in clear, or its bcrypt hash as the npm package takes it); without, anyone
    /// may (Node's `auth: false`). Give it after the mode (`tpcio bench --admin-ui`) or with `=`.
    #[arg(long, env = "TPCIO_ADMIN_UI", global = true, num_args = 0..=1, default_missing_value = "")]
    admin_ui: Option<String>,
    /// The Admin UI's `mode`: `development` (default: every socket, room and event) or
    /// `production` (server stats only).
    #[arg(long, env = "TPCIO_ADMIN_UI_MODE", default_value = "development", global = true)]
    admin_ui_mode: AdminModeArg,
    /// Log filter: a level (`error`, `warn`, `info`, `debug`, `trace`) or a `tracing` filter
    /// such as `tpcio=debug`.
    #[arg(long, env = "TPCIO_LOG", default_value = "info", global = true)]
    log: String,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// The default: a chat demo page at / (rooms, nick names, typing, live user count, the
    /// transport in use) over Socket.IO at /socket.io/, with Node's default timings.
    Serve,
    /// The load tester's target: /socket.io/ where `echo` is emitted back (or acked when the
    /// client asks) and `broadcast` is re-emitted to every socket; pingInterval 25 s, pingTimeout 20 s.
    Bench,
    /// The conformance server: /engine.io/ echoes every message; /socket.io/ serves `/` and
    /// `/custom` (emits `auth`, answers `message` and `message-with-ack`); pingInterval 300 ms,
    /// pingTimeout 200 ms, connectTimeout 1 s, maxPayload 1e6, CORS *, EIO=3 and EIO=4.
    Conformance,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let c = &cli.common;
    if let Err(e) = init_logs(&c.log) {
        eprintln!("tpcio: bad --log filter {:?}: {e}", c.log);
        return ExitCode::FAILURE;
    }
    // Checked here rather than by clap, whose `requires` misses a global flag given as an
    // environment variable beside one given after the mode.
    if c.tls_cert.is_some() != c.tls_key.is_some() {
        eprintln!("tpcio: --tls-cert and --tls-key go together");
        return ExitCode::FAILURE;
    }
    let addr = SocketAddr::new(c.host, c.port);
    let mode = cli.mode.unwrap_or(Mode::Serve);
    let config = match mode {
        Mode::Conformance => conformance::config(addr, c.shards, placement(c)),
        _ => ServerConfig { addr, shards: c.shards, placement: placement(c), ..ServerConfig::default() },
    };
    let admin = match admin_ui(c) {
        Ok(admin) => admin,
        Err(e) => {
            eprintln!("tpcio: --admin-ui: {e}");
            return ExitCode::FAILURE;
        }
    };
    let redis = match redis_adapter(c, matches!(mode, Mode::Bench)) {
        Ok(redis) => redis,
        Err(e) => {
            eprintln!("tpcio: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The flags go through the builder's methods, over the mode's defaults.
    let io = |io: SocketIo| {
        let mut io = apply(c, socket_io(c, io.server_config(config.clone())));
        if let Some(admin) = &admin {
            io = io.admin_ui(admin.clone());
        }
        match &redis {
            Some(config) => io.redis_adapter(config.clone()),
            None => io,
        }
    };
    let server = match mode {
        Mode::Serve => demo::pages_for(io(demo::socket_io()).into_server(), c.parser.into()),
        Mode::Bench => io(bench::socket_io()).into_server(),
        Mode::Conformance => {
            io(conformance::socket_io()).into_server().endpoint("/engine.io/", |_shard| conformance::Echo)
        }
    };
    match server.start() {
        Ok(running) => {
            announce(&running);
            match run_until_signal(running) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tpcio: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            error!("cannot start on {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(filter: &str) -> Result<(), tracing_subscriber::filter::ParseError> {
    let filter = EnvFilter::try_new(filter)?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).init();
    Ok(())
}

fn placement(c: &Common) -> CpuPlacement {
    match (&c.cpus, c.no_pin) {
        (_, true) => CpuPlacement::Unpinned,
        (Some(cpus), false) => CpuPlacement::Cpus(cpus.clone()),
        (None, false) => CpuPlacement::PinPerCpu,
    }
}

/// The flags given explicitly override the mode's defaults.
fn apply(c: &Common, mut io: SocketIo) -> SocketIo {
    let ms = Duration::from_millis;
    if let Some(t) = c.ping_interval {
        io = io.ping_interval(ms(t));
    }
    if let Some(t) = c.ping_timeout {
        io = io.ping_timeout(ms(t));
    }
    if let Some(bytes) = c.max_payload {
        io = io.max_http_buffer_size(bytes);
    }
    io = io.allow_eio3(c.allow_eio3.unwrap_or(true));
    if let Some(packets) = c.max_buffered_packets {
        io = io.max_buffered_packets(packets);
    }
    if let Some(bytes) = c.max_buffered_bytes {
        io = io.max_buffered_bytes(bytes);
    }
    if let Some(max) = c.max_connections {
        io = io.max_connections(max);
    }
    if let Some(max) = c.max_connections_per_ip {
        io = io.max_connections_per_ip(max);
    }
    if let Some(t) = c.header_timeout {
        io = io.headers_timeout(ms(t));
    }
    if let Some(t) = c.reorder_window {
        io = io.reorder_window(ms(t));
    }
    if let Some(t) = c.first_write_gap {
        io = io.first_write_gap(ms(t));
    }
    if let Some(t) = c.keep_alive_timeout {
        io = io.keep_alive_timeout(ms(t));
    }
    if let (Some(cert), Some(key)) = (&c.tls_cert, &c.tls_key) {
        io = io.tls(TlsConfig::new(cert, key));
    }
    if c.metrics {
        io = io.metrics("/metrics");
    }
    if let Some(origins) = &c.cors_origin {
        io = io.cors_origins(origins.iter().cloned());
    }
    io
}

fn socket_io(c: &Common, io: SocketIo) -> SocketIo {
    let mut io = io.path(c.path.clone()).cleanup_empty_child_namespaces(c.cleanup_empty_child_namespaces);
    io = io.parser(c.parser.into());
    if let Some(capacity) = c.shard_outbox_capacity {
        io = io.shard_outbox_capacity(capacity);
    }
    if c.recovery || c.recovery_max_disconnection_duration.is_some() {
        let mut recovery = ConnectionStateRecovery::default();
        if let Some(ms) = c.recovery_max_disconnection_duration {
            recovery = recovery.max_disconnection_duration(Duration::from_millis(ms));
        }
        io = io.connection_state_recovery(recovery);
    }
    match c.connect_timeout {
        Some(ms) => io.connect_timeout(Duration::from_millis(ms)),
        None => io,
    }
}

/// The Admin UI the flags ask for, if any: `--admin-ui` alone, or with `user:password`.
fn admin_ui(c: &Common) -> Result<Option<AdminUi>, String> {
    let Some(credentials) = &c.admin_ui else { return Ok(None) };
    let mode = match c.admin_ui_mode {
        AdminModeArg::Development => AdminMode::Development,
        AdminModeArg::Production => AdminMode::Production,
    };
    let admin = AdminUi::new().mode(mode);
    let Some((user, password)) = credentials.split_once(':') else {
        if credentials.is_empty() {
            return Ok(Some(admin));
        }
        return Err(format!(
            "expected `user:password`, got {credentials:?} (a mode? give --admin-ui after the mode, \
             or as --admin-ui=user:password)"
        ));
    };
    // A bcrypt hash is taken as is, as the npm package takes it.
    match password.parse::<bcrypt::HashParts>() {
        Ok(_) => Ok(Some(admin.basic_auth(user, password))),
        Err(_) => {
            admin.basic_auth_password(user, password).map(Some).map_err(|e: AdminUiError| e.to_string())
        }
    }
}

/// `--admin-ui-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum AdminModeArg {
    Development,
    Production,
}

/// The cluster adapter the flags ask for, if any.
fn redis_adapter(c: &Common, bench: bool) -> Result<Option<RedisAdapterConfig>, RedisError> {
    let Some(url) = &c.redis else { return Ok(None) };
    let default_timeout = if bench { 3000 } else { 5000 };
    let timeout = Duration::from_millis(c.redis_requests_timeout.unwrap_or(default_timeout));
    let mut config =
        RedisAdapterConfig::new(RedisUrl::parse(url)?).key(c.redis_key.clone()).requests_timeout(timeout);
    if c.redis_adapter == RedisAdapterArg::Sharded {
        config = config.sharded(match c.redis_subscription_mode {
            SubscriptionModeArg::Dynamic => SubscriptionMode::Dynamic,
            SubscriptionModeArg::DynamicPrivate => SubscriptionMode::DynamicPrivate,
            SubscriptionModeArg::Static => SubscriptionMode::Static,
        });
    }
    if c.redis_adapter == RedisAdapterArg::Streams {
        let options =
            StreamsOptions::default().stream_name(c.redis_stream.clone()).max_len(c.redis_stream_max_len);
        config = config.streams(options);
    }
    Ok(Some(config))
}

/// `--parser`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ParserArg {
    Json,
    Msgpack,
}

impl From<ParserArg> for tpcio::prelude::Parser {
    fn from(arg: ParserArg) -> Self {
        match arg {
            ParserArg::Json => tpcio::prelude::Parser::Json,
            ParserArg::Msgpack => tpcio::prelude::Parser::MsgPack,
        }
    }
}

/// `--redis-adapter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum RedisAdapterArg {
    Classic,
    Sharded,
    Streams,
}

/// `--redis-subscription-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SubscriptionModeArg {
    Dynamic,
    DynamicPrivate,
    Static,
}

fn announce(running: &RunningServer) {
    let addr = running.local_addr();
    let host = if addr.ip().is_unspecified() { "localhost".to_string() } else { addr.ip().to_string() };
    let scheme = if running.tls_reloader().is_some() { "https" } else { "http" };
    info!("tpcio listening on {scheme}://{host}:{}/ with {} shard(s)", addr.port(), running.shards());
}

/// Stops gracefully on SIGINT or SIGTERM; `Err` when a shard died (the others are stopped).
fn run_until_signal(running: RunningServer) -> Result<(), ServerError> {
    let stop = running.stop_flag();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
            error!("cannot handle signal {signal}: {e}");
        }
    }
    reload_tls_on_sighup(&running);
    running.wait()?;
    if stop.load(Ordering::Acquire) {
        info!("shut down");
    }
    Ok(())
}

/// Reloads the TLS certificate and key on each SIGHUP, when the server serves TLS.
fn reload_tls_on_sighup(running: &RunningServer) {
    let Some(reloader) = running.tls_reloader() else { return };
    let mut signals = match signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => return error!("cannot handle SIGHUP, the TLS certificate will not reload: {e}"),
    };
    std::thread::spawn(move || {
        for _ in signals.forever() {
            match reloader.reload() {
                Ok(()) => info!("TLS certificate reloaded"),
                Err(e) => error!("TLS certificate not reloaded, the previous one stays: {e}"),
            }
        }
    });
}
