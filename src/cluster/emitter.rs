//! `@socket.io/redis-emitter` 5.1 for Rust programs: emits to the clients of a cluster, and
//! asks its servers to make sockets join or leave rooms, to disconnect them, or to run a
//! server-side event, from a process that runs no server (a worker, a cron job, a CLI).
//!
//! It only publishes, on a blocking connection (no executor needed; from async code, call it
//! where blocking is allowed), with the package's exact wire format: a broadcast is the
//! notepack array `["emitter", packet, {rooms, flags, except}]` on the namespace's channel, or
//! the room's when there is exactly one room; the other operations are JSON requests without
//! a `uid` (a server-side emit has `"uid":"emitter"`). Nothing comes back: there are no acks,
//! no `fetchSockets` and no `serverCount` through an emitter, as with Node's.
//!
//! ```no_run
//! use tpcio::prelude::{Emitter, Value};
//!
//! let emitter = Emitter::connect("redis://127.0.0.1:6379")?;
//! emitter.to("room1").emit("news", &[Value::from("hello")])?;
//! emitter.of("/admin").sockets_join(["staff"])?;
//! # Ok::<(), tpcio::prelude::EmitterError>(())
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::redis::blocking::Connection;
use super::redis::{RedisError, RedisUrl};
use super::wire::{BroadcastMsg, Request, WirePacket};
use crate::adapter::{BroadcastOptions, Room};
use crate::protocol::value::Value;

/// The uid every emitter publishes with.
const EMITTER_UID: &str = "emitter";

/// Why an emit was not published.
#[derive(Debug, thiserror::Error)]
pub enum EmitterError {
    /// Redis could not be reached, or refused the command.
    #[error(transparent)]
    Redis(#[from] RedisError),
    /// socket.io's reserved event names (`connect`, `disconnect`, …) cannot be emitted.
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
}

/// A publisher to the servers of a cluster, for one namespace and a selection of its
/// sockets. Cheap to clone; every clone shares one connection.
#[derive(Clone)]
pub struct Emitter {
    conn: Arc<Mutex<Connection>>,
    key: Arc<str>,
    nsp: String,
    opts: BroadcastOptions,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("key", &self.key)
            .field("nsp", &self.nsp)
            .field("opts", &self.opts)
            .finish()
    }
}

impl Emitter {
    /// Connects to Redis at `url`, with the default key `socket.io`, on namespace `/`.
    pub fn connect(url: &str) -> Result<Emitter, EmitterError> {
        Self::connect_with_key(url, "socket.io")
    }

    /// [`Emitter::connect`] with Node's `key` option.
    pub fn connect_with_key(url: &str, key: &str) -> Result<Emitter, EmitterError> {
        let url = RedisUrl::parse(url)?;
        let conn = Connection::open(&url, Duration::from_secs(5))?;
        Ok(Emitter {
            conn: Arc::new(Mutex::new(conn)),
            key: Arc::from(key),
            nsp: "/".to_owned(),
            opts: BroadcastOptions::new(),
        })
    }

    /// The same connection, for namespace `nsp` (a missing leading `/` is added), no room.
    pub fn of(&self, nsp: &str) -> Emitter {
        let nsp = if nsp.starts_with('/') { nsp.to_owned() } else { format!("/{nsp}") };
        Emitter { nsp, opts: BroadcastOptions::new(), ..self.clone() }
    }

    /// Only the sockets in `room` (several calls make a union).
    pub fn to(&self, room: impl Into<Room>) -> Emitter {
        Emitter { opts: self.opts.clone().to(room.into()), ..self.clone() }
    }

    /// Node's `in`, the same as [`Emitter::to`].
    pub fn within(&self, room: impl Into<Room>) -> Emitter {
        self.to(room)
    }

    /// Not the sockets in `room`.
    pub fn except(&self, room: impl Into<Room>) -> Emitter {
        Emitter { opts: self.opts.clone().except(room.into()), ..self.clone() }
    }

    /// Dropped for clients that cannot take it right now.
    pub fn volatile(&self) -> Emitter {
        Emitter { opts: self.opts.clone().volatile(), ..self.clone() }
    }

    /// Node's `compress(false)`: carried to the servers.
    pub fn compress(&self, compress: bool) -> Emitter {
        Emitter { opts: self.opts.clone().compress(compress), ..self.clone() }
    }

    /// Emits `event` with `args` (buffers as [`Value::Binary`]) to the selected sockets of
    /// every server.
    pub fn emit(&self, event: &str, args: &[Value]) -> Result<(), EmitterError> {
        if crate::socket::send::is_reserved(event) {
            return Err(EmitterError::Reserved(event.to_owned()));
        }
        let data = std::iter::once(Value::from(event)).chain(args.iter().cloned()).collect();
        let packet = WirePacket { kind: 2, nsp: self.nsp.clone(), data, id: None };
        let msg = BroadcastMsg { uid: EMITTER_UID.to_owned(), packet, opts: self.opts.clone() };
        let mut channel = format!("{}#{}#", self.key, self.nsp);
        if let [room] = self.opts.rooms.as_slice() {
            channel.push_str(room);
            channel.push('#');
        }
        self.publish(&channel, &msg.encode_as_emitter())
    }

    /// The selected sockets join `rooms` (Node's `socketsJoin`).
    pub fn sockets_join<R: Into<Room>>(
        &self,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), EmitterError> {
        let rooms = rooms.into_iter().map(Into::into).collect();
        self.request(&Request::RemoteJoin { uid: None, opts: self.opts.clone(), rooms })
    }

    /// The selected sockets leave `rooms` (Node's `socketsLeave`).
    pub fn sockets_leave<R: Into<Room>>(
        &self,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), EmitterError> {
        let rooms = rooms.into_iter().map(Into::into).collect();
        self.request(&Request::RemoteLeave { uid: None, opts: self.opts.clone(), rooms })
    }

    /// Disconnects the selected sockets; with `close`, their connections too.
    pub fn disconnect_sockets(&self, close: bool) -> Result<(), EmitterError> {
        self.request(&Request::RemoteDisconnect { uid: None, opts: self.opts.clone(), close })
    }

    /// Runs `event` on every server's handler of the namespace (Node's `serverSideEmit`;
    /// there is no ack through an emitter).
    pub fn server_side_emit(&self, event: &str, args: &[Value]) -> Result<(), EmitterError> {
        if crate::socket::send::is_reserved(event) {
            return Err(EmitterError::Reserved(event.to_owned()));
        }
        let data = std::iter::once(Value::from(event)).chain(args.iter().cloned()).collect();
        self.request(&Request::ServerSideEmit { uid: EMITTER_UID.to_owned(), request_id: None, data })
    }

    fn request(&self, request: &Request) -> Result<(), EmitterError> {
        let channel = format!("{}-request#{}#", self.key, self.nsp);
        self.publish(&channel, &request.encode())
    }

    fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), EmitterError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.publish(channel.as_bytes(), payload)?;
        Ok(())
    }
}
