//! `@socket.io/redis-emitter` for Rust programs (stub: to be written).
