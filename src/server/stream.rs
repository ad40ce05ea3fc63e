//! The byte stream under a connection: a TCP stream, or a TLS session over one.
//!
//! The TLS session is rustls's `ServerConnection`, driven here rather than through an async
//! adapter crate, for two reasons. A plain connection pays one branch and nothing else (its
//! reads still land in the shard's scratch buffer, [`super::conn::read_into`]). And the session
//! state is a value we own: when a request names a session of another shard, the connection
//! moves there with its descriptor *and* its TLS state ([`crate::shard::Handoff::tls`]), and
//! the owner goes on decrypting where this shard stopped, as it does for a plain connection.
//! Nothing is relayed between shards.
//!
//! Reads and writes of one connection never run at once (its task either reads, raced only
//! against session output that writes into a buffer, or writes), so the session is borrowed
//! by one of them at a time. A read is cancel-safe: what it took from the socket stays in the
//! session.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;
use rustls::ServerConnection;

/// A connection's stream.
pub(crate) struct Io {
    pub(crate) tcp: TcpStream,
    tls: Option<Box<ServerConnection>>,
}

impl Io {
    pub(crate) fn plain(tcp: TcpStream) -> Io {
        Io { tcp, tls: None }
    }

    /// A connection whose TLS session is `tls` (new, or moved from another shard).
    pub(crate) fn tls(tcp: TcpStream, tls: Box<ServerConnection>) -> Io {
        Io { tcp, tls: Some(tls) }
    }

    /// The TLS session, taken away to move with the connection to another shard.
    pub(crate) fn take_tls(&mut self) -> Option<Box<ServerConnection>> {
        self.tls.take()
    }

    /// Whether a TLS handshake is still to be completed.
    pub(crate) fn handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(|tls| tls.is_handshaking())
    }

    /// Completes the TLS handshake, if there is one to complete.
    pub(crate) async fn handshake(&mut self) -> io::Result<()> {
        let Io { tcp, tls: Some(tls) } = self else { return Ok(()) };
        std::future::poll_fn(|cx| {
            loop {
                ready!(flush_tls(tcp, tls, cx))?;
                if !tls.is_handshaking() {
                    return Poll::Ready(Ok(()));
                }
                if ready!(receive_tls(tcp, tls, cx))? == 0 {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
            }
        })
        .await
    }

    /// Reads bytes of the client into `buf`; `Ok(0)` at the end of the stream.
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let Io { tcp, tls } = self;
        let Some(tls) = tls else { return Pin::new(tcp).poll_read(cx, buf) };
        loop {
            match tls.reader().read(buf) {
                // `Ok(0)`: the client's close_notify.
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The TCP stream ended without a close_notify: an end of stream all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Poll::Ready(Ok(0)),
                Err(e) => return Poll::Ready(Err(e)),
            }
            // What the session has to say on its own (session tickets, key updates) goes out
            // when the socket takes it; a full socket does not hold up the read.
            if let Poll::Ready(Err(e)) = flush_tls(tcp, tls, cx) {
                return Poll::Ready(Err(e));
            }
            ready!(receive_tls(tcp, tls, cx))?;
        }
    }

    /// Writes all of `data`.
    pub(crate) async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        let Io { tcp, tls } = self;
        let Some(tls) = tls else { return tcp.write_all(data).await };
        while !data.is_empty() {
            // rustls takes what its send buffer has room for, encrypted; then it goes out.
            let taken = tls.writer().write(data)?;
            data = &data[taken..];
            std::future::poll_fn(|cx| flush_tls(tcp, tls, cx)).await?;
        }
        Ok(())
    }

    /// Closes the connection (after a close_notify over TLS, as Node's `socket.end()`).
    pub(crate) async fn close(&mut self) -> io::Result<()> {
        let Io { tcp, tls } = self;
        if let Some(tls) = tls {
            tls.send_close_notify();
            std::future::poll_fn(|cx| flush_tls(tcp, tls, cx)).await?;
        }
        tcp.close().await
    }
}

/// Writes what the session has ready for the socket.
fn flush_tls(tcp: &mut TcpStream, tls: &mut ServerConnection, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    while tls.wants_write() {
        match tls.write_tls(&mut Polled { tcp, cx }) {
            Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
    Poll::Ready(Ok(()))
}

/// Reads TLS records from the socket into the session and processes them; the bytes read
/// (`0` at the end of the stream). A record that breaks the protocol (a client speaking plain
/// HTTP to the TLS port, among others) is an `InvalidData` error, after the alert rustls
/// prepared for it, if any, was offered to the socket.
fn receive_tls(
    tcp: &mut TcpStream,
    tls: &mut ServerConnection,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let n = match tls.read_tls(&mut Polled { tcp, cx }) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
        Err(e) => return Poll::Ready(Err(e)),
    };
    if let Err(e) = tls.process_new_packets() {
        // Bytes that are no TLS record at all (plain HTTP) get no alert: OpenSSL, under
        // Node, closes without a word there too.
        let not_tls = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        if e != not_tls {
            let _ = flush_tls(tcp, tls, cx);
        }
        return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
    }
    Poll::Ready(Ok(n))
}

/// The socket seen through `std::io` by rustls within one poll: not ready is `WouldBlock`,
/// with the task's waker registered.
struct Polled<'a, 'b> {
    tcp: &'a mut TcpStream,
    cx: &'a mut Context<'b>,
}

impl Read for Polled<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.tcp).poll_read(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Polled<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.tcp).poll_write(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
