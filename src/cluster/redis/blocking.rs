//! A blocking Redis connection (std::net), for programs that run no glommio executor, such as
//! a publish-only emitter.
//!
//! One command at a time: write it, read its reply. The handshake (`AUTH`, `SELECT`) runs on
//! open and on every reconnect. A command that fails with an I/O error reconnects once and is
//! sent once more; any other failure drops the connection (the next command reconnects).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;

use super::resp;
use super::{RedisError, RedisUrl, Reply};

/// A reply larger than this is a protocol error.
const MAX_FRAME: usize = 512 * 1024 * 1024;

/// A blocking connection to Redis, speaking RESP2.
pub struct Connection {
    url: RedisUrl,
    timeout: Duration,
    stream: Option<TcpStream>,
    rbuf: BytesMut,
}

impl Connection {
    /// Connects (within `timeout`) and runs the handshake. `timeout` also bounds every read and
    /// write later on.
    pub fn open(url: &RedisUrl, timeout: Duration) -> Result<Connection, RedisError> {
        let mut conn = Connection { url: url.clone(), timeout, stream: None, rbuf: BytesMut::new() };
        conn.reconnect()?;
        Ok(conn)
    }

    /// Sends one command and waits for its reply (an error reply is [`RedisError::Server`]).
    pub fn command(&mut self, args: &[&[u8]]) -> Result<Reply, RedisError> {
        if args.is_empty() {
            return Err(RedisError::Protocol("an empty command".into()));
        }
        match self.roundtrip(args) {
            Err(RedisError::Io(e)) => {
                tracing::debug!(url = ?self.url, error = %e, "Redis I/O error, reconnecting once");
                self.reconnect()?;
                self.roundtrip(args)
            }
            other => other,
        }
    }

    /// `PUBLISH channel payload`: how many subscribers received it.
    pub fn publish(&mut self, channel: &[u8], payload: &[u8]) -> Result<i64, RedisError> {
        match self.command(&[b"PUBLISH", channel, payload])? {
            Reply::Int(n) => Ok(n),
            other => Err(super::client::unexpected("PUBLISH", &other)),
        }
    }

    fn reconnect(&mut self) -> Result<(), RedisError> {
        self.stream = None;
        self.rbuf.clear();
        let addrs: Vec<SocketAddr> = (self.url.host.as_str(), self.url.port).to_socket_addrs()?.collect();
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "the host resolved to no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(self.timeout))?;
                    stream.set_write_timeout(Some(self.timeout))?;
                    let mut hello = BytesMut::new();
                    let replies = resp::handshake(&self.url, false, &mut hello)?;
                    self.stream = Some(stream);
                    let answered = self.exchange(&hello, replies);
                    if answered.is_err() {
                        self.stream = None;
                    }
                    return answered.map(drop);
                }
                Err(e) => last = e,
            }
        }
        Err(last.into())
    }

    /// One command, on the current connection (reopened first if a failure dropped it).
    fn roundtrip(&mut self, args: &[&[u8]]) -> Result<Reply, RedisError> {
        if self.stream.is_none() {
            self.reconnect()?;
        }
        let mut out = BytesMut::new();
        resp::encode_command(&mut out, args)?;
        let reply = self.exchange(&out, 1);
        if let Err(e) = &reply
            && !matches!(e, RedisError::Server(_))
        {
            // The reply may still come: the connection's order can no longer be trusted.
            self.stream = None;
        }
        reply
    }

    /// Writes `out`, reads `replies` replies; the last one is returned, the first error reply
    /// ends the exchange.
    fn exchange(&mut self, out: &[u8], replies: usize) -> Result<Reply, RedisError> {
        let stream = self.stream.as_mut().ok_or(RedisError::Disconnected)?;
        stream.write_all(out)?;
        let mut last = Reply::Nil;
        let mut scratch = [0u8; 16 * 1024];
        for _ in 0..replies {
            loop {
                if let Some(frame) = resp::decode(&mut self.rbuf, false, MAX_FRAME)? {
                    last = resp::into_result(frame)?;
                    break;
                }
                let n = stream.read(&mut scratch)?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "Redis closed the connection",
                    )
                    .into());
                }
                self.rbuf.extend_from_slice(&scratch[..n]);
            }
        }
        Ok(last)
    }
}
