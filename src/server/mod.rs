//! The runtime: the only place that spawns tasks. Executors, listeners,
//! connections, timers and shutdown live here; everything they drive is pure.
//!
//! Each shard runs, on its own pinned glommio executor: an accept loop on its
//! `SO_REUSEPORT` listener, one task per connection (`conn`, then
//! `websocket` after an upgrade), one receive loop per peer shard (`mesh`),
//! and one timer task that fires every session deadline of the shard from a
//! single wheel.

pub mod bundle;
pub mod config;
pub(crate) mod conn;
pub mod executors;
pub(crate) mod guard;
pub mod handler;
pub mod limits;
mod polling;
mod route;
pub(crate) mod stream;
pub mod tls;
mod websocket;

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use glommio::channels::channel_mesh::{Full, MeshBuilder};
use glommio::net::TcpListener;

pub use config::{AllowFuture, AllowRequest, ServerConfig, allow_request, allow_request_async};
pub use executors::CpuPlacement;
pub use handler::{
    EngineHandler, EngineSocket, HandlerFactory, Handshake, PlainHttp, ShardContext, sleep, yield_now,
};
pub use tls::{TlsConfig, TlsError, TlsReloader};

use crate::engine::DisconnectReason;
use crate::metrics::{self, Metrics};
use crate::shard::mesh::Mesh;
use crate::shard::state::Shard;
use crate::shard::{ShardId, ShardMsg};
use conn::{Conn, serve};

/// How often an idle shard looks at the shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(50);

type ErasedFactory = Arc<dyn Fn(ShardId) -> Rc<dyn EngineHandler> + Send + Sync>;
type StartCheck = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// A plain HTTP route ([`Server::route`]): given the shard that read the request, writes a
/// whole response into `http.out` and returns `true`, or returns `false` for a 404.
pub type Route = Arc<dyn Fn(ShardId, &mut PlainHttp<'_>) -> bool + Send + Sync>;

/// A server to start: configuration plus the Engine.IO endpoints it serves.
pub struct Server {
    config: ServerConfig,
    endpoints: Vec<(String, ErasedFactory)>,
    routes: Vec<(String, Route)>,
    checks: Vec<StartCheck>,
}

impl Server {
    /// A server of `config` with no endpoint yet.
    pub fn new(config: ServerConfig) -> Self {
        Server { config, endpoints: Vec::new(), routes: Vec::new(), checks: Vec::new() }
    }

    /// Runs `check` when the server starts, before anything binds; an `Err` refuses the start
    /// (an endpoint that cannot serve, e.g. without its client bundle).
    pub fn before_start(mut self, check: impl FnOnce() -> io::Result<()> + Send + 'static) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    /// Serves Engine.IO at `path` (e.g. `/engine.io/`), with a handler per shard made by `factory`.
    /// A panic in one of the handler's callbacks is logged, counted and closes the session it
    /// was about; the shard keeps serving.
    pub fn endpoint<F: HandlerFactory>(mut self, path: impl Into<String>, factory: F) -> Self {
        let path = path.into();
        let at = path.clone();
        let erased: ErasedFactory = Arc::new(move |shard| {
            let handler = Rc::new(factory.make(shard)) as Rc<dyn EngineHandler>;
            Rc::new(guard::Guarded::new(&at, handler)) as Rc<dyn EngineHandler>
        });
        self.endpoints.push((path, erased));
        self
    }

    /// Answers plain HTTP requests for exactly `path` (a demo page at `/`, `/metrics`) with
    /// `route`, on whichever shard reads them. It runs inline on that shard: it must not block.
    /// A panic in it is logged and counted, and answered with an empty 500.
    /// The path of an Engine.IO endpoint is never routed here; paths below an endpoint go to
    /// its handler's [`EngineHandler::on_http`] first.
    pub fn route(
        mut self,
        path: impl Into<String>,
        route: impl Fn(ShardId, &mut PlainHttp<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.routes.push((path.into(), Arc::new(route)));
        self
    }

    /// Binds every shard's listener and starts serving.
    pub fn start(self) -> io::Result<RunningServer> {
        let Server { config, endpoints, mut routes, checks } = self;
        for check in checks {
            check()?;
        }
        guard::install_hook();
        let tls = match &config.tls {
            Some(files) => {
                Some(tls::Tls::start(files).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?)
            }
            None => None,
        };
        let acceptor = tls.as_ref().map(|tls| tls.acceptor.clone());
        let pins = executors::plan(config.shards, &config.placement);
        let shards = pins.len();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_in = stop.clone();
        let stats = Arc::new(Stats::default());
        let stats_in = stats.clone();
        let metrics = Metrics::new(shards);
        let metrics_in = metrics.clone();
        if let Some(path) = &config.metrics {
            routes.push((path.clone(), scrape(metrics.clone())));
        }
        let config = Arc::new(config);
        let cfg = config.clone();
        let body = move |id: ShardId, listener: TcpListener, mesh: MeshBuilder<ShardMsg, Full>| {
            let start = ShardStart {
                id,
                shards,
                config: cfg.clone(),
                endpoints: endpoints.clone(),
                routes: routes.clone(),
                stop: stop_in.clone(),
                stats: stats_in.clone(),
                metrics: metrics_in.clone(),
                tls: acceptor.clone(),
            };
            run_shard(start, listener, mesh)
        };
        let started = executors::spawn_shards(pins, config.addr, config.mesh_capacity, body)?;
        let tls = tls.map(|tls| tls.reloader);
        Ok(RunningServer { addr: started.addr, shards, stop, stats, metrics, started, tls })
    }
}

/// The route answering a Prometheus scrape: every shard's counters, read where they stand.
fn scrape(metrics: Arc<Metrics>) -> Route {
    Arc::new(move |_shard, http: &mut PlainHttp<'_>| {
        let body = metrics.render();
        http.responder.ok(http.out, http.reply, metrics::CONTENT_TYPE.as_bytes(), body.as_bytes(), &[]);
        true
    })
}

/// Counters shared by all shards, read from any thread.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections moved to the shard owning their session (see [`crate::shard::Handoff`]).
    pub handoffs: AtomicU64,
}

/// A started server.
pub struct RunningServer {
    addr: SocketAddr,
    shards: usize,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
    metrics: Arc<Metrics>,
    started: executors::Started,
    tls: Option<TlsReloader>,
}

/// How a server ended other than by being stopped: a shard died. The others were then
/// stopped (gracefully, as by the stop flag).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A panic escaped the shard's tasks and ended its thread.
    #[error("shard {shard} panicked: {message}")]
    ShardPanicked {
        /// Which shard.
        shard: ShardId,
        /// The panic's message.
        message: String,
    },
    /// The shard could not run (it could not join the shard mesh).
    #[error("shard {shard} failed: {message}")]
    ShardFailed {
        /// Which shard.
        shard: ShardId,
        /// Why it could not run.
        message: String,
    },
}

impl RunningServer {
    /// The address the listeners are bound to (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many shards run.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// Counters kept outside any shard (connection handoffs).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Every shard's counters, as the metrics route renders them.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// What reloads the TLS certificate and key from their files (see [`TlsReloader::reload`]);
    /// `None` when the server serves plain HTTP.
    pub fn tls_reloader(&self) -> Option<TlsReloader> {
        self.tls.clone()
    }

    /// The flag that stops the server when set (e.g. from a signal handler).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Stops accepting, closes every session with a close packet ("server shutting down"),
    /// and returns once every shard has exited (bounded by `shutdown_timeout`). `Err` names a
    /// shard that had died.
    pub fn shutdown(self) -> Result<(), ServerError> {
        self.stop.store(true, Ordering::Release);
        self.wait()
    }

    /// Blocks until the server stops (see [`RunningServer::stop_flag`]), or until a shard
    /// dies: the other shards are then stopped, and the first death is the `Err` (each one is
    /// also logged).
    pub fn wait(self) -> Result<(), ServerError> {
        let executors::Started { joins, exits, .. } = self.started;
        let mut joins: Vec<_> = joins.into_iter().map(Some).collect();
        let mut first = None;
        // Every shard sends its id when it ends, however it ends; a closed channel means every
        // shard has ended.
        while let Ok(id) = exits.recv() {
            let Some(join) = joins.get_mut(id).and_then(Option::take) else { continue };
            if let Some(e) = shard_error(id, join.join()) {
                tracing::error!("{e}; stopping the other shards");
                self.stop.store(true, Ordering::Release);
                first.get_or_insert(e);
            }
        }
        for (id, join) in joins.into_iter().enumerate() {
            if let Some(e) = join.and_then(|join| shard_error(id, join.join())) {
                tracing::error!("{e}");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// How a shard's thread ended, when it was not a clean stop.
fn shard_error(shard: ShardId, joined: glommio::Result<Result<(), String>, ()>) -> Option<ServerError> {
    use glommio::{BuilderErrorKind, GlommioError};
    match joined {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(ServerError::ShardFailed { shard, message }),
        Err(GlommioError::BuilderError(BuilderErrorKind::ThreadPanic(payload))) => {
            Some(ServerError::ShardPanicked { shard, message: guard::message_of(payload.as_ref()) })
        }
        Err(e) => Some(ServerError::ShardFailed { shard, message: e.to_string() }),
    }
}

/// What one shard starts from, sent to its thread.
struct ShardStart {
    id: ShardId,
    shards: usize,
    config: Arc<ServerConfig>,
    endpoints: Vec<(String, ErasedFactory)>,
    routes: Vec<(String, Route)>,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
    metrics: Arc<Metrics>,
    /// What connections are accepted with, when the server serves TLS.
    tls: Option<Arc<tls::Acceptor>>,
}

async fn run_shard(
    start: ShardStart,
    listener: TcpListener,
    mesh: MeshBuilder<ShardMsg, Full>,
) -> Result<(), String> {
    let ShardStart { id, shards, config, endpoints, routes, stop, stats, metrics, tls } = start;
    let endpoints = endpoints.iter().map(|(path, make)| (path.clone().into_boxed_str(), make(id))).collect();
    let routes = routes
        .into_iter()
        .map(|(path, route)| {
            let route = guard::route(&path, route, metrics.shard(id));
            (path.into_boxed_str(), route)
        })
        .collect();
    let shard = Shard::new(id, shards, Rc::new((*config).clone()), endpoints, routes, metrics.clone());
    let (senders, receivers) =
        mesh.join().await.map_err(|e| format!("could not join the shard mesh: {e}"))?;
    let mesh = Mesh::new(senders, shard.metrics.clone());
    crate::shard::mesh::spawn_receivers(&shard, &mesh, receivers, stats);
    for (endpoint, (_, handler)) in shard.endpoints.iter().enumerate() {
        handler.on_start(ShardContext { shard: shard.clone(), mesh: mesh.clone(), endpoint });
    }
    glommio::spawn_local(run_timers(shard.clone())).detach();

    let accept = accept_loop(&shard, &mesh, &listener, tls.as_deref());
    let stopped = async {
        while !stop.load(Ordering::Acquire) {
            glommio::timer::sleep(SHUTDOWN_POLL).await;
        }
    };
    futures_lite::future::or(accept, stopped).await;

    // Graceful shutdown, in Node's order: a close packet to every session while the listener
    // still stands (a client's last POST is not refused), then the listener goes, then every
    // connection left idle closes.
    shard.closing.set(true);
    shard.close_all(DisconnectReason::ServerShuttingDown);
    let deadline = Instant::now() + config.shutdown_timeout;
    while shard.len() > 0 && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    drop(listener);
    shard.drain();
    while shard.open_conns() > 0 && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

async fn accept_loop(
    shard: &Rc<Shard>,
    mesh: &Rc<Mesh>,
    listener: &TcpListener,
    tls: Option<&tls::Acceptor>,
) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                // glommio's fast-path `accept(2)` leaves the socket inheritable: a process the
                // embedder spawns would hold every client connection open after we close it.
                // SAFETY: `stream` owns the descriptor for the whole call.
                let fd = unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) };
                if socket2::SockRef::from(&fd).set_cloexec(true).is_err() {
                    continue;
                }
                // No address: the client is gone already.
                let Ok(peer) = stream.peer_addr() else { continue };
                match shard.admission.admit(peer.ip(), shard.open_conns()) {
                    Ok(slot) => {
                        tracing::debug!(shard = shard.id, %peer, "accepted");
                        let _ = stream.set_nodelay(true);
                        let Some(conn) = Conn::accepted(stream, tls, peer, slot) else { continue };
                        glommio::spawn_local(serve(shard.clone(), mesh.clone(), conn, None)).detach();
                    }
                    // A TLS client would not understand a plain answer: closed without a
                    // word, as Node's `maxConnections` does.
                    Err(why) if tls.is_some() => shard.metrics.refused(why),
                    Err(why) => {
                        shard.metrics.refused(why);
                        limits::refuse(&shard.admission, stream, why);
                    }
                }
            }
            // Out of descriptors or a connection reset before accept: back off briefly.
            Err(_) => glommio::timer::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Fires the shard's session deadlines from one wheel: one sleep per shard, not one timer per session.
async fn run_timers(shard: Rc<Shard>) {
    loop {
        let next = shard.fire_timers(Instant::now());
        let mut parked = false;
        let woken = std::future::poll_fn(|cx| {
            if parked {
                return Poll::Ready(());
            }
            parked = true;
            shard.park_timer(cx.waker());
            Poll::Pending
        });
        match next {
            Some(at) => {
                let sleep = glommio::timer::sleep(at.saturating_duration_since(Instant::now()));
                futures_lite::future::or(sleep, woken).await;
            }
            None => woken.await,
        }
    }
}
