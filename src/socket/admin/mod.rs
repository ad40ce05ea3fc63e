//! The Socket.IO Admin UI (`@socket.io/admin-ui` 0.5, its `instrument(io, options)`): the
//! `/admin` namespace the dashboard connects to, and the dashboard's own files.
//!
//! What the namespace does, as the package's `lib/index.ts` does it:
//! - `auth`: an optional middleware ([`AdminUi::basic_auth`]): `{username, password}` checked
//!   against a bcrypt hash (off the shard's thread), or a `sessionId` the server gave an earlier
//!   login (`auth.rs`);
//! - on connect: `session` (after a login), `config` (`{supportedFeatures}`), and in development
//!   mode `all_sockets` (every namespace's `fetch_sockets`, across shards and servers);
//! - `server_stats` every 2 s, once per process (shard 0): counts read from every shard's
//!   metrics, so nothing is counted twice for it (`stats.rs`);
//! - in development mode, `socket_connected`, `socket_updated`, `socket_disconnected`,
//!   `room_joined`, `room_left`, `event_received` and `event_sent`, emitted by the shard where
//!   they happen to the admin sockets of every shard and server (`events.rs`);
//! - the actions `emit`, `join`, `leave` and `_disconnect`, run as the broadcast operators
//!   they are in Node (`io.of(nsp).in(filter).socketsJoin(room)`, …), on every shard and
//!   server (`handler.rs`).
//!
//! The dashboard (`ui/dist` of the npm package, installed in `client/` with the browser client)
//! is served at `/admin/` (`ui.rs`), its server URL defaulting to the page's own origin.
//!
//! Off, none of this exists: the hooks in the namespaces are one branch on an `Option`.

mod auth;
mod events;
mod handler;
mod stats;
mod ui;

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use bytestring::ByteString;

pub(crate) use events::{Tap, socket_data};

use super::handler::{ErasedHandler, Typed};
use super::namespace::Registry;
use crate::server::Server;

/// Where the dashboard's files are looked for when neither the builder nor the environment says.
pub const DEFAULT_UI_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/client/node_modules/@socket.io/admin-ui/ui/dist");
/// The environment variable naming the dashboard's directory (over [`DEFAULT_UI_DIR`]).
pub const UI_DIR_ENV: &str = "TPCIO_ADMIN_UI_DIR";

/// The `mode` option of `instrument()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminMode {
    /// Everything: per-socket details and events too (Node's default, without `NODE_ENV`).
    #[default]
    Development,
    /// Server stats and aggregated counts only: no per-socket notification, no `all_sockets`.
    Production,
}

/// The Admin UI's options (Node's `instrument(io, { auth, mode, namespaceName, readonly,
/// serverId })`), for [`SocketIo::admin_ui`](super::SocketIo::admin_ui).
///
/// ```no_run
/// use tpcio::prelude::{AdminUi, SocketIo};
/// // The hash as `@socket.io/admin-ui` takes it: bcryptjs's `hashSync("changeit", 4)`.
/// let hash = "$2a$04$Fz/RCA0WXcXLRGBSsJHtUOlmvuHDir1hdLo/5LYUVPxKL2sWGCgsO";
/// let io = SocketIo::new().admin_ui(AdminUi::new().basic_auth("admin", hash));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AdminUi {
    pub(crate) auth: Option<BasicAuth>,
    pub(crate) mode: AdminMode,
    pub(crate) namespace: String,
    pub(crate) readonly: bool,
    pub(crate) server_id: Option<String>,
    pub(crate) ui_path: Option<String>,
    pub(crate) ui_dir: Option<PathBuf>,
}

/// `auth: { type: "basic", username, password }`: `password` is a bcrypt hash.
#[derive(Clone, Debug)]
pub(crate) struct BasicAuth {
    pub(crate) username: String,
    pub(crate) hash: String,
}

impl Default for AdminUi {
    fn default() -> Self {
        AdminUi {
            auth: None,
            mode: AdminMode::Development,
            namespace: "/admin".into(),
            readonly: false,
            server_id: None,
            ui_path: Some("/admin/".into()),
            ui_dir: None,
        }
    }
}

impl AdminUi {
    /// No authentication (Node's `auth: false`), development mode, the namespace `/admin`, the
    /// dashboard served at `/admin/`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Node's `auth: { type: "basic", username, password }`: `bcrypt_hash` is the password's
    /// bcrypt hash (`$2a$`, `$2b$` or `$2y$`, as `bcryptjs.hashSync` makes it). A hash that is
    /// not one refuses the server's start, as Node's `instrument` throws.
    pub fn basic_auth(mut self, username: impl Into<String>, bcrypt_hash: impl Into<String>) -> Self {
        self.auth = Some(BasicAuth { username: username.into(), hash: bcrypt_hash.into() });
        self
    }

    /// [`AdminUi::basic_auth`] with a password in clear, hashed here (cost 10, bcryptjs's default).
    pub fn basic_auth_password(
        self,
        username: impl Into<String>,
        password: &str,
    ) -> Result<Self, AdminUiError> {
        let hash = auth::hash(password)?;
        Ok(self.basic_auth(username, hash))
    }

    /// Node's `mode` (default [`AdminMode::Development`]).
    pub fn mode(mut self, mode: AdminMode) -> Self {
        self.mode = mode;
        self
    }

    /// Node's `namespaceName` (default `/admin`); the application must not use it.
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        self.namespace = name.into();
        self
    }

    /// Node's `readonly` (default `false`): the dashboard may look, not act.
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// Node's `serverId`: the name of this server on the dashboard. Default: the host name,
    /// and `hostname#pid` with a cluster adapter (as Node names a cluster worker), so that two
    /// processes of one host stay two servers.
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// Where the dashboard's page is served (default `/admin/`; `None`: not served).
    pub fn serve_ui(mut self, path: Option<String>) -> Self {
        self.ui_path = path;
        self
    }

    /// The dashboard's files: a `@socket.io/admin-ui/ui/dist` directory (default
    /// `$TPCIO_ADMIN_UI_DIR`, else this crate's `client/node_modules/@socket.io/admin-ui/ui/dist`,
    /// which `npm ci --prefix client` installs).
    pub fn ui_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.ui_dir = Some(dir.into());
        self
    }
}

/// Why the Admin UI cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminUiError {
    #[error("the Admin UI password must be a valid bcrypt hash")]
    InvalidHash,
    #[error("cannot hash the Admin UI password: {0}")]
    Hash(String),
    #[error(
        "the Admin UI's files are missing: cannot read {path}: {source}. Install them with \
         `npm ci --prefix client` (or scripts/setup.sh), point {UI_DIR_ENV} at a \
         `@socket.io/admin-ui/ui/dist` directory, or do not serve them (`AdminUi::serve_ui(None)`)"
    )]
    MissingUi { path: PathBuf, source: std::io::Error },
}

/// What every shard shares: the options, the login sessions, this server's name.
pub(crate) struct AdminShared {
    pub(crate) config: AdminUi,
    pub(crate) sessions: auth::Sessions,
    pub(crate) server_id: String,
    pub(crate) hostname: String,
    pub(crate) started: std::time::Instant,
}

impl AdminShared {
    pub(crate) fn new(config: AdminUi, clustered: bool) -> Arc<AdminShared> {
        let hostname = stats::hostname();
        let server_id = match (&config.server_id, clustered) {
            (Some(id), _) => id.clone(),
            (None, true) => format!("{hostname}#{}", std::process::id()),
            (None, false) => hostname.clone(),
        };
        Arc::new(AdminShared {
            config,
            sessions: auth::Sessions::default(),
            server_id,
            hostname,
            started: std::time::Instant::now(),
        })
    }

    fn development(&self) -> bool {
        self.config.mode == AdminMode::Development
    }
}

/// Adds the dashboard's routes and the start checks to `server`.
pub(crate) fn attach(server: Server, shared: &Arc<AdminShared>, sio_path: &str) -> Server {
    let config = &shared.config;
    let auth = config.auth.clone();
    let server = server.before_start(move || match auth {
        Some(auth) if !auth::is_hash(&auth.hash) => {
            Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, AdminUiError::InvalidHash))
        }
        _ => Ok(()),
    });
    match &config.ui_path {
        Some(path) => ui::attach(server, path, config.ui_dir.as_deref(), sio_path, &config.namespace),
        None => server,
    }
}

/// Registers the admin namespace in a shard's registry, with the tap every namespace of the
/// shard reports to in development mode (set on the registry before any namespace is added).
pub(crate) fn tap_for(shared: &Arc<AdminShared>) -> Option<Rc<Tap>> {
    shared.development().then(|| Rc::new(Tap::new(ByteString::from(shared.config.namespace.as_str()))))
}

pub(crate) fn register(registry: &mut Registry, shared: &Arc<AdminShared>, tap: Option<Rc<Tap>>) {
    let handler = handler::AdminHandler::new(shared.clone(), tap);
    let erased: Rc<dyn ErasedHandler> = Rc::new(Typed::new(handler));
    registry.add_static(ByteString::from(shared.config.namespace.as_str()), erased);
}
