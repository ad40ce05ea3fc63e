//! A keep-alive HTTP/1.1 client connection for the polling transport: one request in flight,
//! requests written as prebuilt bytes, responses parsed with `httparse` (head) and framed by
//! `Content-Length` or, as Node does after a bare `writeHead`, `Transfer-Encoding: chunked`
//! (chunk sizes parsed by `httparse::parse_chunk_size`).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::LoadError;
use crate::net::{self, Sources, Target};

/// Bounds the memory one misbehaving response can take.
const MAX_RESPONSE: usize = 16 << 20;
const READ_CHUNK: usize = 64 << 10;

/// One TCP connection carrying sequential requests.
pub struct HttpConn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` received but not yet handed out (the start of the next response).
    filled: usize,
    /// The body of the last response, decoded.
    body: Vec<u8>,
}

/// The parts of a response the load generator looks at.
pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

enum Framing {
    Length(usize),
    Chunked,
}

impl HttpConn {
    pub async fn connect(addr: SocketAddr) -> Result<Self, LoadError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(HttpConn::over(stream))
    }

    /// A connection to `target` from the next of `sources`.
    pub async fn connect_from(target: &Target, sources: &Sources) -> Result<Self, LoadError> {
        Ok(HttpConn::over(net::connect(target, sources).await?))
    }

    fn over(stream: TcpStream) -> Self {
        HttpConn { stream, buf: vec![0; READ_CHUNK], filled: 0, body: Vec::new() }
    }

    /// Writes `request` (head and body) and reads the whole response.
    pub async fn request(&mut self, request: &[u8]) -> Result<Response<'_>, LoadError> {
        self.stream.write_all(request).await?;
        let (status, head_len, framing) = self.read_head().await?;
        self.consume(head_len);
        self.body.clear();
        match framing {
            Framing::Length(len) => {
                self.fill_to(len).await?;
                self.body.extend_from_slice(&self.buf[..len]);
                self.consume(len);
            }
            Framing::Chunked => self.read_chunks().await?,
        }
        Ok(Response { status, body: &self.body })
    }

    async fn read_head(&mut self) -> Result<(u16, usize, Framing), LoadError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head_len) = response.parse(&self.buf[..self.filled])? {
                let status = response.code.unwrap_or(0);
                let framing = framing(response.headers)?;
                return Ok((status, head_len, framing));
            }
            self.read_more().await?;
        }
    }

    async fn read_chunks(&mut self) -> Result<(), LoadError> {
        loop {
            let (size_len, size) = loop {
                match httparse::parse_chunk_size(&self.buf[..self.filled]) {
                    Ok(httparse::Status::Complete((n, size))) => break (n, size),
                    Ok(httparse::Status::Partial) => self.read_more().await?,
                    Err(httparse::InvalidChunkSize) => return Err(LoadError::Http(httparse::Error::Token)),
                }
            };
            let size = usize::try_from(size).map_err(|_| LoadError::ResponseTooLarge(usize::MAX))?;
            if self.body.len().saturating_add(size) > MAX_RESPONSE {
                return Err(LoadError::ResponseTooLarge(self.body.len().saturating_add(size)));
            }
            self.consume(size_len);
            // Every chunk, the last (empty) one included, ends with CRLF; we send no trailers.
            self.fill_to(size + 2).await?;
            self.body.extend_from_slice(&self.buf[..size]);
            self.consume(size + 2);
            if size == 0 {
                return Ok(());
            }
        }
    }

    async fn fill_to(&mut self, len: usize) -> Result<(), LoadError> {
        if len > MAX_RESPONSE {
            return Err(LoadError::ResponseTooLarge(len));
        }
        while self.filled < len {
            self.read_more().await?;
        }
        Ok(())
    }

    async fn read_more(&mut self) -> Result<(), LoadError> {
        if self.filled == self.buf.len() {
            if self.buf.len() >= MAX_RESPONSE {
                return Err(LoadError::ResponseTooLarge(self.buf.len()));
            }
            self.buf.resize(self.buf.len() * 2, 0);
        }
        match self.stream.read(&mut self.buf[self.filled..]).await? {
            0 => Err(LoadError::Closed("end of stream")),
            n => {
                self.filled += n;
                Ok(())
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
    }
}

fn framing(headers: &[httparse::Header<'_>]) -> Result<Framing, LoadError> {
    for header in headers {
        if header.name.eq_ignore_ascii_case("content-length") {
            let len = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(LoadError::Http(httparse::Error::HeaderValue))?;
            return Ok(Framing::Length(len));
        }
        if header.name.eq_ignore_ascii_case("transfer-encoding")
            && header.value.eq_ignore_ascii_case(b"chunked")
        {
            return Ok(Framing::Chunked);
        }
    }
    Err(LoadError::UnframedResponse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Serves `replies` in order on one connection, one per request head received.
    async fn serve(replies: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            for reply in replies {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                s.write_all(reply).await.expect("write");
            }
        });
        addr
    }

    #[tokio::test]
    async fn reads_length_and_chunked_bodies_on_one_connection() {
        let addr = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n4ab\r\n2\r\ncd\r\n0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        let mut conn = HttpConn::connect(addr).await.expect("connect");
        let r = conn.request(b"GET / HTTP/1.1\r\n\r\n").await.expect("first");
        assert_eq!((r.status, r.body), (200, &b"ok"[..]));
        let r = conn.request(b"GET / HTTP/1.1\r\n\r\n").await.expect("second");
        assert_eq!((r.status, r.body), (200, &b"4abcd"[..]));
        let r = conn.request(b"GET / HTTP/1.1\r\n\r\n").await.expect("third");
        assert_eq!((r.status, r.body), (400, &b""[..]));
        assert!(matches!(conn.request(b"GET / HTTP/1.1\r\n\r\n").await, Err(LoadError::Closed(_))));
    }

    #[tokio::test]
    async fn rejects_unframed_responses() {
        let addr = serve(vec![b"HTTP/1.1 200 OK\r\n\r\nok"]).await;
        let mut conn = HttpConn::connect(addr).await.expect("connect");
        assert!(matches!(conn.request(b"GET / HTTP/1.1\r\n\r\n").await, Err(LoadError::UnframedResponse)));
    }
}
