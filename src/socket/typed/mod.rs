//! The typed embedding API: handlers by event name whose arguments are read with serde
//! ([`Router`]), their acknowledgements ([`Ack`]), and the packets `Serialize` emits write
//! (`encode`).
//!
//! Everything here is built on the raw [`Handler`](super::Handler) trait, which stays for
//! applications that relay arguments without reading them ([`Event::raw_args`] and
//! `emit_raw`: no parse, no re-encode).
//!
//! [`Event::raw_args`]: super::Event::raw_args

pub mod args;
#[doc(hidden)]
pub mod encode;
mod router;

pub use args::ArgsError;
pub use router::{Ack, Router};
