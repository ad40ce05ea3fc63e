//! A blocking Redis connection (std::net), for programs that run no glommio executor.

use std::time::Duration;

use super::{RedisError, RedisUrl, Reply};

pub struct Connection {}

impl Connection {
    pub fn open(_url: &RedisUrl, _timeout: Duration) -> Result<Connection, RedisError> {
        todo!()
    }
    pub fn command(&mut self, _args: &[&[u8]]) -> Result<Reply, RedisError> {
        todo!()
    }
    pub fn publish(&mut self, _channel: &[u8], _payload: &[u8]) -> Result<i64, RedisError> {
        todo!()
    }
}
