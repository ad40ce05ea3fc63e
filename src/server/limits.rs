//! Which connections a shard takes: the process-wide bound on open connections
//! ([`ServerConfig::max_connections`]) and the bound per client address
//! ([`ServerConfig::max_connections_per_ip`]), each enforced by every shard on its own share,
//! with nothing shared between shards; and the answer a refused connection gets.
//!
//! A shard checks when it accepts. Connections it receives from another shard (a request for
//! one of its sessions, [`crate::shard::Handoff`]) are counted but never refused: they belong
//! to sessions that were admitted already.
//!
//! Node's `server.maxConnections` destroys the socket without a word. Here the refused
//! connection is told why, at once and before its request is read, in the JSON shape of
//! engine.io's errors: `503 Service Unavailable`, `Connection: close`, `Retry-After: 1`,
//! `{"code":503,"message":"Too many connections"}` (per address: `"Too many connections from
//! this address"`). A client sees a failed request (engine.io-client retries with its
//! reconnection delay); a proxy in front gets an answer it can pass on or retry elsewhere,
//! rather than a reset. While a shard is already refusing [`MAX_REFUSING`] connections, the
//! next ones are closed without an answer, so a flood cannot make refusals hold descriptors.
//! On a TLS listener ([`super::tls`]) every refusal is such a close: a TLS client could not
//! read a plain answer, and Node's own refusal is a close.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use super::config::ServerConfig;
use crate::metrics::Refusal;

/// Descriptors kept back from `RLIMIT_NOFILE` when [`ServerConfig::max_connections`] is
/// derived from it: each shard's io_uring, listener, mesh channels and eventfds, connections
/// being handed between shards (duplicated for a moment), refusals being answered, files.
pub const FD_HEADROOM: u64 = 1024;

/// Refusals answered at once by one shard; past it, refused connections are just closed.
pub const MAX_REFUSING: usize = 64;

/// How long a refused connection is kept to let its answer reach the client (reads are
/// drained meanwhile, so that closing does not reset the connection before the answer is read).
pub(crate) const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// The default of [`ServerConfig::max_connections`]: the soft `RLIMIT_NOFILE` of the process
/// minus [`FD_HEADROOM`] (at least 64). With this machine's 20 000 descriptors: 18 976.
pub fn default_max_connections() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given, nothing else.
    let soft = match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 if limit.rlim_cur != libc::RLIM_INFINITY => limit.rlim_cur,
        // No limit, or none known: the kernel's own ceiling on descriptors per process.
        _ => 1 << 20,
    };
    soft.saturating_sub(FD_HEADROOM).max(64) as usize
}

/// One shard's share of a process-wide bound: the bound divided by the shards, rounded up.
pub(crate) fn share(max: usize, shards: usize) -> usize {
    max.div_ceil(shards.max(1))
}

/// One shard's admission state.
pub(crate) struct Admission {
    /// This shard's share of `max_connections`.
    max_connections: usize,
    /// This shard's share of `max_connections_per_ip`.
    per_ip: Option<usize>,
    by_ip: RefCell<HashMap<IpAddr, usize>>,
    refusing: Cell<usize>,
}

/// Counts a connection against its address while it lives (dropped with the connection).
pub(crate) struct IpSlot {
    admission: Rc<Admission>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut by_ip = self.admission.by_ip.borrow_mut();
        if let Some(count) = by_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

impl Admission {
    pub(crate) fn new(config: &ServerConfig, shards: usize) -> Rc<Admission> {
        let max = config.max_connections.unwrap_or_else(default_max_connections);
        Rc::new(Admission {
            max_connections: share(max, shards),
            per_ip: config.max_connections_per_ip.map(|n| share(n, shards)),
            by_ip: RefCell::new(HashMap::new()),
            refusing: Cell::new(0),
        })
    }

    /// Admits a connection from `ip` while the shard serves `open` connections; its slot, if
    /// addresses are counted.
    pub(crate) fn admit(self: &Rc<Self>, ip: IpAddr, open: usize) -> Result<Option<IpSlot>, Refusal> {
        if open >= self.max_connections {
            return Err(Refusal::MaxConnections);
        }
        let Some(max) = self.per_ip else { return Ok(None) };
        if self.by_ip.borrow().get(&ip).is_some_and(|&n| n >= max) {
            return Err(Refusal::PerIp);
        }
        Ok(self.track(ip))
    }

    /// Counts a connection from `ip` without checking (one handed over by another shard).
    pub(crate) fn track(self: &Rc<Self>, ip: IpAddr) -> Option<IpSlot> {
        self.per_ip?;
        *self.by_ip.borrow_mut().entry(ip).or_insert(0) += 1;
        Some(IpSlot { admission: self.clone(), ip })
    }

    /// Takes a place among the refusals being answered; `None` when they are all taken.
    pub(crate) fn start_refusal(self: &Rc<Self>) -> Option<RefusalSlot> {
        if self.refusing.get() >= MAX_REFUSING {
            return None;
        }
        self.refusing.set(self.refusing.get() + 1);
        Some(RefusalSlot(self.clone()))
    }
}

/// A refusal being answered.
pub(crate) struct RefusalSlot(Rc<Admission>);

impl Drop for RefusalSlot {
    fn drop(&mut self) {
        self.0.refusing.set(self.0.refusing.get() - 1);
    }
}

/// The answer to a refused connection (see the module's documentation).
pub(crate) fn write_refusal(out: &mut BytesMut, why: Refusal) {
    let body: &[u8] = match why {
        Refusal::MaxConnections => br#"{"code":503,"message":"Too many connections"}"#,
        Refusal::PerIp => br#"{"code":503,"message":"Too many connections from this address"}"#,
    };
    out.put_slice(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n");
    out.put_slice(b"Content-Type: application/json\r\nContent-Length: ");
    out.put_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    out.put_slice(b"\r\n\r\n");
    out.put_slice(body);
}

/// Answers a refused connection and closes it, or closes it at once when the shard is
/// answering [`MAX_REFUSING`] already.
pub(crate) fn refuse(admission: &Rc<Admission>, mut stream: TcpStream, why: Refusal) {
    let Some(slot) = admission.start_refusal() else { return };
    glommio::spawn_local(async move {
        let _slot = slot;
        let mut out = BytesMut::new();
        write_refusal(&mut out, why);
        if stream.write_all(&out).await.is_err() {
            return;
        }
        // Closing with the request unread would reset the connection and could lose the
        // answer: end our side, read until the client closes, for a short while at most.
        let _ = stream.shutdown(std::net::Shutdown::Write).await;
        let drain = async {
            let mut scratch = [0u8; 1024];
            while matches!(stream.read(&mut scratch).await, Ok(n) if n > 0) {}
            Ok(())
        };
        let _ = glommio::timer::timeout(REFUSAL_LINGER, drain).await;
    })
    .detach();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max: usize, per_ip: Option<usize>, shards: usize) -> Rc<Admission> {
        let config = ServerConfig {
            max_connections: Some(max),
            max_connections_per_ip: per_ip,
            ..ServerConfig::default()
        };
        Admission::new(&config, shards)
    }

    fn ip() -> IpAddr {
        IpAddr::from([10, 0, 0, 9])
    }

    #[test]
    fn each_shard_takes_its_share_rounded_up() {
        assert_eq!(share(5, 2), 3);
        assert_eq!(share(4, 2), 2);
        assert_eq!(share(1, 4), 1);
        let a = admission(5, None, 2);
        assert!(a.admit(ip(), 2).is_ok());
        assert!(matches!(a.admit(ip(), 3), Err(Refusal::MaxConnections)));
    }

    #[test]
    fn addresses_are_counted_while_their_connections_live() {
        let a = admission(100, Some(2), 1);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let first = a.admit(ip, 0).expect("first").expect("a slot");
        let _second = a.admit(ip, 1).expect("second");
        assert!(matches!(a.admit(ip, 2), Err(Refusal::PerIp)));
        assert!(a.admit(other, 2).is_ok(), "another address has its own count");
        drop(first);
        let _third = a.admit(ip, 2).expect("a closed connection frees its place");
        // Handed over: counted, never refused.
        let _handed = a.track(ip);
        assert_eq!(a.by_ip.borrow()[&ip], 3);
    }

    #[test]
    fn without_a_per_address_bound_nothing_is_counted() {
        let a = admission(100, None, 1);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(a.admit(ip, 0).expect("admitted").is_none());
        assert!(a.by_ip.borrow().is_empty());
    }

    #[test]
    fn the_refusal_is_a_whole_json_response() {
        let mut out = BytesMut::new();
        write_refusal(&mut out, Refusal::MaxConnections);
        assert_eq!(
            &out[..],
            &b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n\
               Content-Type: application/json\r\nContent-Length: 45\r\n\r\n\
               {\"code\":503,\"message\":\"Too many connections\"}"[..]
        );
    }

    #[test]
    fn the_derived_default_leaves_headroom() {
        let max = default_max_connections();
        assert!(max >= 64);
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: as above.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0
            && limit.rlim_cur != libc::RLIM_INFINITY
            && limit.rlim_cur > FD_HEADROOM + 64
        {
            assert_eq!(max as u64, limit.rlim_cur - FD_HEADROOM);
        }
    }
}
