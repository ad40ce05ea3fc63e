//! The ready-made servers the binary runs: each a configuration plus handlers, built on the
//! library's prelude (only the bench's `echo-typed` reaches past it, for the typed router's
//! argument decoder, through `tpcio::__private`). They belong to the binary, not the library; the
//! tests compile these same files (`tests/common/mod.rs`) to start what the binary runs.

pub mod bench;
pub mod conformance;
pub mod demo;
