//! A raw WebSocket echo on tpcio's own runtime and codecs: the ceiling the transport allows,
//! measured by `tpcio-loadtest compare` (its `raw-echo` client) next to the Socket.IO servers.
//!
//! One glommio executor pinned to each CPU of the affinity mask, each with its own
//! `SO_REUSEPORT` listener, as the server's shards; the opening handshake is tpcio's
//! (`http::parse`, `http::websocket::check`, `write_switching_protocols`) on any path, then
//! every data frame is sent back as it came (`transport::ws_codec`): no Engine.IO, no
//! Socket.IO, no sessions, no heartbeat. It is a measuring tool, not an embedding example: it
//! reaches into the crate's internals (`tpcio::__private`), which may change with any commit.
//!
//! ```sh
//! cargo run --release --example raw_ws_echo -- --port 20300 [--host 127.0.0.1] [--shards N]
//! ```

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;

use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};
use tpcio::__private::http::websocket::{check, write_rejection, write_switching_protocols};
use tpcio::__private::http::{Limits, parse};
use tpcio::__private::shard::cpus::allowed_cpus;
use tpcio::__private::transport::ws_codec::{
    WsDecoder, WsMessage, WsWriter, write_close, write_close_payload, write_pong,
};

/// Bytes asked of the kernel per read (the server's own figure).
const READ_CHUNK: usize = 64 * 1024;
/// The largest message echoed (Engine.IO's default `maxPayload`).
const MAX_MESSAGE: usize = 1_000_000;
/// Connections waiting for `accept`, as the server's listeners.
const BACKLOG: i32 = 1024;

thread_local! {
    /// One read buffer per executor: only the bytes received are copied to the connection.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

fn main() {
    let (addr, shards) = match options(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("raw_ws_echo: {e}\nusage: raw_ws_echo --port PORT [--host IP] [--shards N]");
            std::process::exit(2);
        }
    };
    let cpus = allowed_cpus();
    let n = shards.unwrap_or(cpus.len()).clamp(1, cpus.len().max(1));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let placement = cpus.get(i).map_or(Placement::Unbound, |&cpu| Placement::Fixed(cpu));
            LocalExecutorBuilder::new(placement)
                .name(&format!("raw-ws-{i}"))
                .spawn(move || accept_loop(addr))
                .unwrap_or_else(|e| panic!("cannot start executor {i}: {e}"))
        })
        .collect();
    eprintln!("raw_ws_echo: {n} executor(s) listening on ws://{addr}/");
    for handle in handles {
        let _ = handle.join();
    }
}

fn options(mut args: impl Iterator<Item = String>) -> Result<(SocketAddr, Option<usize>), String> {
    let (mut host, mut port, mut shards) = ("127.0.0.1".to_string(), None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = Some(value()?.parse::<u16>().map_err(|e| format!("--port: {e}"))?),
            "--host" => host = value()?,
            "--shards" => shards = Some(value()?.parse::<usize>().map_err(|e| format!("--shards: {e}"))?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let ip = host.parse().map_err(|e| format!("--host: {e}"))?;
    Ok((SocketAddr::new(ip, port.ok_or("--port is required")?), shards))
}

/// A listener of the `SO_REUSEPORT` group (with `SO_REUSEADDR`, as the server's).
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::os::fd::{FromRawFd, IntoRawFd};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    // SAFETY: a listening socket we own, handed to glommio whole.
    Ok(unsafe { TcpListener::from_raw_fd(socket.into_raw_fd()) })
}

async fn accept_loop(addr: SocketAddr) {
    let listener = match listen(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("raw_ws_echo: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                glommio::spawn_local(serve(stream)).detach();
            }
            // Out of descriptors or reset before accept: back off briefly.
            Err(_) => glommio::timer::sleep(std::time::Duration::from_millis(5)).await,
        }
    }
}

/// The handshake, then the echo until either side closes.
async fn serve(mut stream: TcpStream) {
    let (mut buf, mut out) = (BytesMut::new(), BytesMut::with_capacity(1024));
    if handshake(&mut stream, &mut buf, &mut out).await.is_ok() {
        let _ = echo(&mut stream, &mut buf, &mut out).await;
    }
    let _ = stream.close().await;
}

async fn handshake(stream: &mut TcpStream, buf: &mut BytesMut, out: &mut BytesMut) -> io::Result<()> {
    let limits = Limits::default();
    let req = loop {
        match parse(buf, &limits) {
            Ok(Some(req)) => break req,
            Ok(None) if read_into(stream, buf).await? > 0 => {}
            Ok(None) | Err(_) => return Err(io::ErrorKind::InvalidData.into()),
        }
    };
    let accepted = match check(&req) {
        Ok(accept) => {
            write_switching_protocols(out, &accept, None, None, None, &[]);
            Ok(())
        }
        Err(rejection) => {
            write_rejection(out, rejection);
            Err(io::ErrorKind::InvalidData.into())
        }
    };
    stream.write_all(out).await?;
    out.clear();
    accepted
}

async fn echo(stream: &mut TcpStream, buf: &mut BytesMut, out: &mut BytesMut) -> io::Result<()> {
    let (mut decoder, mut writer) = (WsDecoder::new(MAX_MESSAGE), WsWriter::new(None));
    loop {
        // Answer every frame already received, then write once.
        let mut closing = false;
        loop {
            match decoder.decode(buf) {
                Ok(Some(WsMessage::Text(text))) => writer.text(&text, out),
                Ok(Some(WsMessage::Binary(data))) => writer.binary(&data, out),
                Ok(Some(WsMessage::Ping(data))) => write_pong(&data, out),
                Ok(Some(WsMessage::Pong(_))) => {}
                Ok(Some(WsMessage::Close(payload))) => {
                    write_close_payload(&payload, out);
                    closing = true;
                    break;
                }
                Ok(None) => break,
                Err(e) => {
                    write_close(e.close_code(), "", out);
                    closing = true;
                    break;
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(out).await?;
            out.clear();
        }
        if closing || read_into(stream, buf).await? == 0 {
            return Ok(());
        }
    }
}

/// Reads into the end of `buf` through the executor's scratch buffer.
async fn read_into(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        SCRATCH.with_borrow_mut(|scratch| {
            let polled = Pin::new(&mut *stream).poll_read(cx, scratch);
            if let Poll::Ready(Ok(n)) = polled {
                buf.extend_from_slice(&scratch[..n]);
            }
            polled
        })
    })
    .await
}
