//! The ready-made servers the binary runs: each a configuration plus handlers.

pub mod conformance;
