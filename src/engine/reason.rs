//! Why a session ended, with the exact strings Node reports: engine.io's close reasons
//! (`lib/socket.ts` `onClose` callers) and the ones socket.io adds (`lib/socket-types.ts`
//! `DisconnectReason`), so the Socket.IO layer can reuse this type.

/// The reason given to `disconnect` handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The transport failed: overlapping requests, an aborted request, a ping in the wrong
    /// direction, an oversized WebSocket message.
    TransportError,
    /// The client closed the transport (close packet over polling, WebSocket closed).
    TransportClose,
    /// The server closed the session (engine.io's `socket.close()`).
    ForcedClose,
    /// No heartbeat in time.
    PingTimeout,
    /// The client sent something that does not decode.
    ParseError,
    /// Socket.IO: the server is shutting down.
    ServerShuttingDown,
    /// Socket.IO: `socket.disconnect(true)`.
    ForcedServerClose,
    /// Socket.IO: the client left the namespace.
    ClientNamespaceDisconnect,
    /// Socket.IO: `socket.disconnect()`.
    ServerNamespaceDisconnect,
    /// A broadcast found the session's outgoing queue full (`max_buffered_packets`): the
    /// client is not reading. Not one of Node's reasons, whose queues have no bound.
    SlowConsumer,
}

impl DisconnectReason {
    /// Node's string for this reason (`"transport close"`, `"ping timeout"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::SlowConsumer => "slow consumer",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
