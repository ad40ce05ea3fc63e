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
    /// The most bytes queued for a client, counted as it will receive them (type digit plus
    /// data; each attachment is a packet of its own). Beside the packet count, it bounds a
    /// client that never fetches large messages. Node has no bound. 4 MiB holds four of the
    /// largest messages a client may send by default ([`EngineConfig::max_payload`]). A queue
    /// with nothing in it takes any one packet, however large; past the bound
    /// [`Session::send`] refuses as for the count.
    ///
    /// [`Session::send`]: super::Session::send
    pub max_buffered_bytes: usize,
    /// Node `allowUpgrades`: only changes the `upgrades` list of the open packet. As in Node,
    /// a client that upgrades anyway is still allowed to.
    pub allow_upgrades: bool,
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
            max_buffered_bytes: 4 << 20,
            allow_upgrades: true,
            polling_close_timeout: Duration::from_millis(30_000),
            closed_linger: Duration::from_secs(5),
        }
    }
}
