//! Building a Socket.IO server: namespaces and their handler factories, options,
//! then an engine endpoint on the runtime.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytestring::ByteString;

use super::api::Handler;
use super::client::ClientOptions;
use super::handler::{ErasedHandler, Typed};
use super::layer::{Layer, LayerHandler};
use super::namespace::{Predicate, Registry};
use crate::cluster::RedisAdapterConfig;
use crate::cluster::adapter::ClusterSetup;
use crate::protocol::sio::Parser;
use crate::server::bundle::ClientBundle;
use crate::server::{RunningServer, Server, ServerConfig};
use crate::shard::ShardId;

mod options;

type Factory = Arc<dyn Fn(ShardId) -> Rc<dyn ErasedHandler> + Send + Sync>;

#[derive(Clone)]
enum NamespaceDef {
    Static(ByteString, Factory),
    Dynamic(Predicate, Factory),
}

/// A Socket.IO server to start: Node's `new Server(options)` and `io.of(…)`, with every
/// option of the server, the engine and the HTTP layer (see the methods of the options table
/// in `options`), then [`SocketIo::listen`].
#[derive(Clone)]
#[non_exhaustive]
pub struct SocketIo {
    path: String,
    options: ClientOptions,
    namespaces: Vec<NamespaceDef>,
    serve_client: bool,
    client_bundle_dir: Option<PathBuf>,
    redis: Option<RedisAdapterConfig>,
    admin: Option<super::AdminUi>,
    /// The runtime's options, for [`SocketIo::listen`].
    server: ServerConfig,
}

impl Default for SocketIo {
    fn default() -> Self {
        SocketIo {
            path: "/socket.io/".into(),
            options: ClientOptions::default(),
            namespaces: Vec::new(),
            serve_client: true,
            client_bundle_dir: None,
            redis: None,
            admin: None,
            server: ServerConfig::default(),
        }
    }
}

fn erase<H: Handler, F: Fn(ShardId) -> H + Send + Sync + 'static>(factory: F) -> Factory {
    Arc::new(move |shard| Rc::new(Typed::new(factory(shard))) as Rc<dyn ErasedHandler>)
}

impl SocketIo {
    /// A builder with every option at its default (the same as the binary's).
    pub fn new() -> Self {
        Self::default()
    }

    /// The HTTP path (Node's `path`, default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Node's `connectTimeout` (default 45 s): a connection that joins no namespace by then is closed.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// The most binary attachments one packet may announce (default 10).
    pub fn max_attachments(mut self, max: usize) -> Self {
        self.options.max_attachments = max;
        self
    }

    /// Node's `parser` option: [`Parser::MsgPack`] speaks `socket.io-msgpack-parser` 3 to
    /// every client (each packet one binary message, buffers inline); [`Parser::Json`], the
    /// default, socket.io-parser's text packets. Clients must use the same parser.
    pub fn parser(mut self, parser: Parser) -> Self {
        self.options.parser = parser;
        self
    }

    /// The most messages (broadcasts, requests, answers) one shard keeps waiting for another
    /// (default 16 384 per peer). A peer that does not keep up makes the next ones be dropped
    /// and counted (`tpcio_shard_outbox_drops_total`) rather than queued without bound: a
    /// dropped broadcast misses that shard's clients, a dropped request ends in its timeout.
    /// Node's cluster adapters have no such bound (Redis buffers).
    pub fn shard_outbox_capacity(mut self, capacity: usize) -> Self {
        self.options.outbox_capacity = capacity;
        self
    }

    /// Node's `cleanupEmptyChildNamespaces` (default `false`): a child namespace made by a
    /// [`SocketIo::dynamic_namespace`] is removed from a shard when its last socket there
    /// leaves, so names used once do not accumulate; the next client to connect to the name
    /// makes it again (with empty rooms).
    pub fn cleanup_empty_child_namespaces(mut self, cleanup: bool) -> Self {
        self.options.cleanup_empty_child_namespaces = cleanup;
        self
    }

    /// Node's `connectionStateRecovery` (off by default): a client that lost its connection
    /// gets its socket back (id, rooms, data) with the packets it missed, when it returns
    /// within `max_disconnection_duration`. See [`super::recovery`] for what the client sees,
    /// where the state is kept and its bounds.
    pub fn connection_state_recovery(mut self, recovery: super::ConnectionStateRecovery) -> Self {
        self.options.recovery = Some(recovery);
        self
    }

    /// Node's `serveClient` (default `true`): serves the official browser client at
    /// `<path>socket.io.js`, `socket.io.min.js`, `socket.io.esm.min.js` and their `.map`s (see
    /// [`crate::server::bundle`]). The files are read once when the server starts, from
    /// [`SocketIo::client_bundle_dir`], else `$TPCIO_CLIENT_DIR`, else this crate's
    /// `client/node_modules/socket.io-client/dist` (`npm ci --prefix client`); without them the
    /// server refuses to start.
    pub fn serve_client(mut self, serve: bool) -> Self {
        self.serve_client = serve;
        self
    }

    /// Where the client files are: a `socket.io-client/dist` directory.
    pub fn client_bundle_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.client_bundle_dir = Some(dir.into());
        self
    }

    /// Joins a cluster of servers on Redis, as Node's `@socket.io/redis-adapter` 8
    /// (`createAdapter(pub, sub, opts)`, classic pub/sub): broadcasts, `fetch_sockets`,
    /// `sockets_join`/`leave`, `disconnect_sockets`, server-side emits and broadcasts with
    /// acks then reach every server, Node's and ours alike. The process is one server to
    /// the cluster whatever its shard count (see [`crate::cluster::adapter`]).
    pub fn redis_adapter(mut self, config: RedisAdapterConfig) -> Self {
        self.redis = Some(config);
        self
    }

    /// A namespace (`"/"` is the main one), with a handler made on each shard by `factory`.
    pub fn namespace<H, F>(mut self, name: &str, factory: F) -> Self
    where
        H: Handler,
        F: Fn(ShardId) -> H + Send + Sync + 'static,
    {
        self.namespaces.push(NamespaceDef::Static(ByteString::from(name), erase(factory)));
        self
    }

    /// Namespaces created on demand for every name `matches` accepts (Node's `io.of(regex)`),
    /// all sharing one handler per shard.
    pub fn dynamic_namespace<H, F>(
        mut self,
        matches: impl Fn(&str) -> bool + Send + Sync + 'static,
        factory: F,
    ) -> Self
    where
        H: Handler,
        F: Fn(ShardId) -> H + Send + Sync + 'static,
    {
        self.namespaces.push(NamespaceDef::Dynamic(Arc::new(matches), erase(factory)));
        self
    }

    /// Adds this Socket.IO endpoint to a server (which may serve other endpoints too).
    pub fn attach(self, server: Server) -> Server {
        let path = self.path.clone();
        // Loaded at start, before the shards make their handlers.
        let bundle: Arc<OnceLock<Arc<ClientBundle>>> = Arc::default();
        let server = if self.serve_client {
            let (slot, dir) = (bundle.clone(), self.client_bundle_dir.clone());
            server.before_start(move || {
                let loaded = ClientBundle::load(&ClientBundle::dir(dir.as_deref()))?;
                let _ = slot.set(Arc::new(loaded));
                Ok(())
            })
        } else {
            server
        };
        let cluster = self.redis.clone().map(ClusterSetup::new);
        let admin = self.admin.clone().map(|a| super::admin::AdminShared::new(a, self.redis.is_some()));
        let server = match &admin {
            Some(admin) => super::admin::attach(server, admin, &path),
            None => server,
        };
        server.endpoint(path, move |shard: ShardId| {
            let mut registry = Registry::default();
            let tap = admin.as_ref().and_then(super::admin::tap_for);
            registry.set_tap(tap.clone());
            for def in &self.namespaces {
                match def {
                    NamespaceDef::Static(name, make) => registry.add_static(name.clone(), make(shard)),
                    NamespaceDef::Dynamic(matches, make) => {
                        registry.add_dynamic(matches.clone(), make(shard))
                    }
                }
            }
            if let Some(admin) = &admin {
                super::admin::register(&mut registry, admin, tap);
            }
            LayerHandler(Layer::new(registry, self.options, cluster.clone()), bundle.get().cloned())
        })
    }

    /// Starts a server serving only this endpoint.
    pub fn start(self, config: ServerConfig) -> std::io::Result<RunningServer> {
        self.attach(Server::new(config)).start()
    }
}
