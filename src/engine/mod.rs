//! The Engine.IO session layer (engine.io-protocol v3 and v4; behaviour of Node `engine.io`
//! 6.6 `lib/socket.ts` and `lib/transports/*.ts`), pure: no I/O, no runtime, no clock.
//!
//! Like quinn-proto's `Connection`, a [`Session`] takes what arrived (a polling GET or POST, a
//! WebSocket frame) with the current `Instant`, and hands back what to send and its next
//! deadline. The runtime is a thin loop around it. [`SessionTable`] holds one shard's sessions
//! and one [`TimerWheel`] for all their deadlines.

pub mod config;
mod heartbeat;
mod polling;
mod queue;
pub mod reason;
mod session;
#[cfg(test)]
mod sim;
mod table;
pub mod timers;
mod upgrade;
mod websocket;

pub use config::EngineConfig;
pub use polling::{PollAnswer, PollBody, PollGet, PollTicket, PostReply};
pub use reason::DisconnectReason;
pub use session::{EngineEvent, ReadyState, SendError, Session, TransportKind};
pub(crate) use table::ShrinkSparse;
pub use table::{SessionRef, SessionTable};
pub use timers::{TimerId, TimerWheel};
pub use websocket::{WsId, WsRefusal, WsStatus};
