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
    /// Not in Node: how far apart two requests of one client on different connections may be
    /// processed out of the order they arrived in, and still get the answers Node gives in
    /// arrival order. Node reads every connection on one thread; a shard may hand a request
    /// over to the session's owner (or a task may run later) while a request the client sent
    /// after it is processed first. Within this window:
    /// - a close packet POSTed while no GET is parked waits for a GET that may be on its way:
    ///   that GET gets the noop (`6`) Node gives a parked GET, then the session closes ("transport
    ///   close"); without one the session closes when the window ends;
    /// - a GET parked just before the upgrade's `5` is answered as if it came after (`400`,
    ///   "Bad request"), not with the close packet `1`.
    ///
    /// Real clients never send those requests that close together (engine.io-client keeps a
    /// GET parked before it closes, and pauses polling before it sends `5`), so this only
    /// changes the answers of clients racing their own requests, as the official test suites do.
    pub reorder_window: Duration,
    /// Not in Node: the least time between a WebSocket's `101` and its open packet, and
    /// between a Socket.IO CONNECT answer and what the connect handler sends (see
    /// [`Session::write_boundary`]). A `ws` client that awaits one message at a time (the
    /// official test suites do) misses a message that arrives in the same read as the one it
    /// awaits; Node's event loop usually puts a little time between those writes, this makes
    /// sure of it. Costs that much latency once per connection and per namespace join.
    ///
    /// [`Session::write_boundary`]: super::Session::write_boundary
    pub first_write_gap: Duration,
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
            allow_eio3: false,
            polling_close_timeout: Duration::from_millis(30_000),
            closed_linger: Duration::from_secs(5),
            reorder_window: Duration::from_millis(100),
            first_write_gap: Duration::from_millis(2),
        }
    }
}
