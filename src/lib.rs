pub mod http;
pub mod protocol;
pub mod transport;
pub mod shard;
pub mod server;
pub mod engine;
pub mod modes;
