//! Where the clients connect to and from: the endpoint named by `--url`, and the local source
//! addresses when one address would run out of ephemeral ports. A TCP connection is known by
//! its 4-tuple, so with a single server address and port each client source address offers
//! only the ephemeral range (`net.ipv4.ip_local_port_range`, about 28 000 ports, fewer while
//! earlier runs' sockets sit in TIME_WAIT); past [`PER_SOURCE`] clients, or when a scenario
//! asks for a number of them (`--sources`, the connection storm), we spread them over
//! 127.0.0.1, 127.0.0.2, … (all of 127/8 is loopback on Linux), which only works when the
//! server is on loopback too.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::http::Uri;

use crate::tls::{Stream, TlsClient};

/// Clients per source address before we spread over more of them.
pub const PER_SOURCE: usize = 10_000;

/// Where the endpoint is, from `--url http://HOST:PORT/PATH/` (or `https://`, with `--tls`).
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// The `Host` header value: `host:port`.
    pub authority: String,
    pub path: String,
    /// Set for an `https://` URL by [`Target::with_tls`].
    pub tls: Option<Arc<TlsClient>>,
    secure: bool,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let secure = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("{url}: only http:// and https:// URLs are supported")),
        };
        if uri.query().is_some() {
            return Err(format!("{url}: the URL takes no query (EIO and transport are added)"));
        }
        let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("{url}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: {host} has no address"))?;
        let authority = format!("{host}:{port}");
        Ok(Target { addr, authority, path: uri.path().to_string(), tls: None, secure })
    }

    /// Connects over TLS trusting the certificates in `trusted` (`--tls`), which an `https://`
    /// URL needs and an `http://` one refuses.
    pub fn with_tls(mut self, trusted: Option<&std::path::Path>) -> Result<Target, String> {
        let host = self.authority.rsplit_once(':').map_or(self.authority.as_str(), |(host, _)| host);
        match (trusted, self.secure) {
            (Some(trusted), true) => self.tls = Some(Arc::new(TlsClient::new(trusted, host)?)),
            (None, false) => {}
            (Some(_), false) => return Err("--tls needs an https:// URL".into()),
            (None, true) => return Err("an https:// URL needs --tls <certificate.pem> to trust".into()),
        }
        Ok(self)
    }
}

/// The source addresses clients take in turn; empty means "let the kernel choose".
#[derive(Debug, Default)]
pub struct Sources {
    addrs: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Sources {
    /// Enough loopback source addresses for `connections` to `target`, or none when one
    /// address suffices.
    pub fn spread(target: &Target, connections: usize) -> Result<Arc<Sources>, String> {
        if connections <= PER_SOURCE {
            return Ok(Arc::default());
        }
        if !target.addr.ip().is_loopback() || !target.addr.is_ipv4() {
            return Err(format!(
                "{connections} connections to one non-loopback address would exhaust the \
                 ephemeral ports; at most {PER_SOURCE} are supported there"
            ));
        }
        Sources::loopback(target, connections.div_ceil(PER_SOURCE))
            .map_err(|_| format!("{connections} connections are too many"))
    }

    /// `count` loopback source addresses, 127.0.0.1 to 127.0.0.`count`; `count == 0` (or a
    /// target off loopback with `count == 1`) lets the kernel choose.
    pub fn loopback(target: &Target, count: usize) -> Result<Arc<Sources>, String> {
        if count == 0 || (count == 1 && !target.addr.ip().is_loopback()) {
            return Ok(Arc::default());
        }
        if !target.addr.ip().is_loopback() || !target.addr.is_ipv4() {
            return Err("several source addresses need an IPv4 loopback server address".into());
        }
        let Ok(count @ 1..=254) = u8::try_from(count) else {
            return Err(format!("{count} source addresses: at most 254 fit in 127.0.0.0/24"));
        };
        let addrs = (1..=count).map(|host| IpAddr::V4(Ipv4Addr::new(127, 0, 0, host))).collect();
        Ok(Arc::new(Sources { addrs, next: AtomicUsize::new(0) }))
    }

    /// `--sources N` when given, else [`Sources::spread`].
    pub fn chosen(target: &Target, connections: usize, count: Option<usize>) -> Result<Arc<Sources>, String> {
        match count {
            Some(count) => Sources::loopback(target, count),
            None => Sources::spread(target, connections),
        }
    }

    pub fn len(&self) -> usize {
        self.addrs.len().max(1)
    }

    fn take(&self) -> Option<IpAddr> {
        if self.addrs.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        Some(self.addrs[i % self.addrs.len()])
    }
}

/// A TCP connection to `target` (Nagle off), from the next source address if there are any.
/// Refused for an `https://` target: the scenarios that call it have no TLS client.
pub async fn connect(target: &Target, sources: &Sources) -> io::Result<TcpStream> {
    if target.tls.is_some() {
        return Err(io::Error::other(
            "this scenario has no TLS client (--tls serves the Socket.IO WebSocket ones)",
        ));
    }
    connect_tcp(target, sources).await
}

async fn connect_tcp(target: &Target, sources: &Sources) -> io::Result<TcpStream> {
    let stream = match sources.take() {
        None => TcpStream::connect(target.addr).await?,
        Some(source) => {
            let socket = if source.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            bind_address_no_port(&socket)?;
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(target.addr).await?
        }
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// [`connect`], then the TLS handshake when the target is `https://`.
pub async fn connect_stream(target: &Target, sources: &Sources) -> io::Result<Stream> {
    let tcp = connect_tcp(target, sources).await?;
    match &target.tls {
        Some(tls) => tls.connect(tcp).await,
        None => Ok(Stream::Plain(tcp)),
    }
}

/// Defers the choice of the local port from `bind` to `connect`, so the port only has to be
/// unique for the whole 4-tuple rather than for the source address alone (ip(7)).
fn bind_address_no_port(socket: &TcpSocket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: the fd is open (owned by `socket`) and `on` outlives the call; the length is
    // the size of the value passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = Target::parse("http://127.0.0.1:3000/engine.io/").expect("valid");
        assert_eq!(t.addr, "127.0.0.1:3000".parse().expect("addr"));
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("127.0.0.1:3000", "/engine.io/"));
        assert!(Target::parse("ws://127.0.0.1:3000/engine.io/").is_err());
        assert!(Target::parse("http://127.0.0.1:3000/engine.io/?EIO=4").is_err());
        let secure = Target::parse("https://localhost:3443/socket.io/").expect("valid");
        assert_eq!(secure.authority, "localhost:3443");
        assert!(secure.with_tls(None).is_err(), "https:// needs a certificate to trust");
        let missing = std::path::Path::new("/nonexistent/cert.pem");
        assert!(t.clone().with_tls(Some(missing)).is_err(), "http:// takes no --tls");
    }

    #[test]
    fn spreads_only_past_one_source_worth() {
        let t = Target::parse("http://127.0.0.1:3000/socket.io/").expect("valid");
        let one = Sources::spread(&t, PER_SOURCE).expect("fits");
        assert_eq!((one.len(), one.take()), (1, None));
        let three = Sources::spread(&t, 2 * PER_SOURCE + 1).expect("fits");
        let taken: Vec<_> = (0..4).filter_map(|_| three.take()).collect();
        let ip = |host| IpAddr::V4(Ipv4Addr::new(127, 0, 0, host));
        assert_eq!(taken, [ip(1), ip(2), ip(3), ip(1)]);
        let remote = Target { addr: "10.0.0.1:80".parse().expect("addr"), ..t.clone() };
        assert!(Sources::spread(&remote, PER_SOURCE + 1).is_err());
        assert!(Sources::loopback(&remote, 2).is_err());
        assert_eq!(Sources::loopback(&remote, 1).map(|s| s.len()), Ok(1));
        assert_eq!(Sources::chosen(&t, 1, Some(16)).map(|s| s.len()), Ok(16));
        assert!(Sources::loopback(&t, 255).is_err());
    }

    #[tokio::test]
    async fn connects_from_a_chosen_loopback_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let target = Target::parse(&url).expect("valid");
        let sources = Sources::spread(&target, 2 * PER_SOURCE).expect("fits");
        let _first = connect(&target, &sources).await.expect("first");
        let second = connect(&target, &sources).await.expect("second");
        assert_eq!(second.local_addr().expect("addr").ip(), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    }
}
