//! The ready-made servers the binary runs: each a configuration plus handlers.

pub mod bench;
pub mod conformance;
pub mod demo;
