//! Engine.IO server options for one shard's sessions, with engine.io 6.6's defaults
//! (`lib/server.ts`, `BaseServer` constructor) plus the bounds Node leaves open.

use std::time::Duration;

/// Options shared by every session of a shard (held behind an `Rc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Node `pingInterval`: v4 servers ping this long after the open packet or the last pong;
    /// v3 clients ping at this pace.
    pub ping_interval: Duration,
    /// Node `pingTimeout`: how long a v4 server waits for the pong (a v3 server waits
    /// `ping_interval + ping_timeout` for the next ping).
    pub ping_timeout: Duration,
    /// Node `upgradeTimeout`: a probing WebSocket that has not sent `5` by then is dropped and
    /// the session stays on polling.
    pub upgrade_timeout: Duration,
    /// Node `maxHttpBufferSize`: the largest POST body (bytes) and WebSocket message accepted.
    pub max_payload: usize,
    /// The most packets queued for a client that has not fetched them (no pending GET, or a
    /// WebSocket writer that has not drained). Node has no bound. 4096 lets a polling client
    /// with 100 ms round trips receive ~40 000 packets/s before [`Session::send`] refuses one;
    /// what happens then (drop, or close the session) is the caller's policy.
    ///
    /// [`Session::send`]: super::Session::send
    pub max_buffered_packets: usize,
    /// Node `allowUpgrades`: only changes the `upgrades` list of the open packet. As in Node,
    /// a client that upgrades anyway is still allowed to.
    pub allow_upgrades: bool,
    /// Node `allowEIO3`: whether Engine.IO v3 clients (Socket.IO 2.x) are served. As in Node,
    /// a handshake whose `EIO` is anything but `4` (absent included) is a v3 one, refused
    /// with `400 {"code":5,"message":"Unsupported protocol version"}` unless this is set.
    pub allow_eio3: bool,
    /// Node polling's hard-coded `closeTimeout`: a server-side close waits this long for the
    /// GET that carries the close packet before giving up.
    pub polling_close_timeout: Duration,
    /// Not in Node: a closed session stays in the table until its last outputs (the answer of
    /// a parked GET, the close of a WebSocket) and events are collected, or this long at most.
    pub closed_linger: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            max_buffered_packets: 4096,
            allow_upgrades: true,
            allow_eio3: false,
            polling_close_timeout: Duration::from_millis(30_000),
            closed_linger: Duration::from_secs(5),
        }
    }
}
