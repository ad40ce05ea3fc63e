//! Shared harness of the Engine.IO integration tests: a real server on 127.0.0.1:0 with
//! two shards ([`server`]), a blocking HTTP/1.1 client that speaks raw bytes ([`http`]),
//! Engine.IO polling sessions and payload framing on top of it ([`engine`]), and a
//! WebSocket client on `tungstenite` ([`ws`]). Every read has a timeout: a test waits for
//! an event or fails, it never sleeps.

// Each test binary uses its own subset of the harness.
#![allow(dead_code)]

pub mod browser;
// The binary's modes (conformance, demo, bench servers): the tests start the same code the
// binary runs, compiled here since it is not part of the library.
#[path = "../../src/cli/mod.rs"]
pub mod cli;
pub mod cluster;
pub mod engine;
pub mod http;
pub mod node;
pub mod node_reference;
pub mod redis;
pub mod script;
pub mod server;
pub mod sio;
pub mod sio_api;
pub mod tls;
pub mod wire;
pub mod ws;

use std::time::Duration;

/// The longest a test waits for anything the server is expected to send.
pub const TIMEOUT: Duration = Duration::from_secs(5);
