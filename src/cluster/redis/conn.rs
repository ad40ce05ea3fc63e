//! One logical connection to Redis, kept open by a background task: connect, handshake, then
//! one loop that writes whatever is queued and hands every frame read to a [`Handler`]; on any
//! failure, tell the handler, wait a backoff and start over, until [`Link::close`].

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::timer::Timer;

use super::resp::{self, Frame};
use super::{ConnEvent, EventHook, Options, RedisError, RedisUrl};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;
/// A write buffer that grew past this is given back once drained.
const OUT_KEEP: usize = 1024 * 1024;

/// What a connection is for: a command FIFO or a subscriber.
pub(super) trait Handler {
    /// The connection is up (handshake done): queue what must follow, e.g. resubscriptions.
    fn on_up(&self, link: &Link);
    /// A frame from the server. An error drops the connection (and reconnects).
    fn on_frame(&self, link: &Link, frame: Frame) -> Result<(), RedisError>;
    /// The connection is gone; `err` says why.
    fn on_down(&self, err: &RedisError);
    /// When the oldest request still awaiting its answer times out.
    fn oldest_deadline(&self) -> Option<Instant>;
}

/// The state a connection's task shares with its handles.
pub(super) struct Link {
    pub(super) url: RedisUrl,
    pub(super) opts: Options,
    events: Option<EventHook>,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    up: bool,
    closed: bool,
    /// A `Disconnected` event was reported for the current outage.
    reported_down: bool,
    /// Encoded commands not yet written.
    out: BytesMut,
    /// Set by a handle that found the connection unusable; the task drops it.
    broken: Option<RedisError>,
    /// The connection task, woken for new output, a break or close.
    task: Option<Waker>,
    /// Callers of [`Link::wait_up`].
    up_waiters: Vec<Waker>,
}

impl Link {
    pub(super) fn new(url: RedisUrl, opts: Options, events: Option<EventHook>) -> Rc<Link> {
        Rc::new(Link { url, opts, events, state: RefCell::default() })
    }

    /// Spawns the task that keeps the connection open, on the current glommio executor.
    pub(super) fn start(self: &Rc<Self>, handler: Rc<dyn Handler>) {
        glommio::spawn_local(run(self.clone(), handler)).detach();
    }

    pub(super) fn is_up(&self) -> bool {
        self.state.borrow().up
    }

    pub(super) fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }

    /// Queues one command for the writer; `Disconnected` when the connection is not up.
    pub(super) fn send<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<(), RedisError> {
        let mut st = self.state.borrow_mut();
        if !st.up {
            return Err(RedisError::Disconnected);
        }
        let start = st.out.len();
        if let Err(e) = resp::encode_command(&mut st.out, args) {
            st.out.truncate(start);
            return Err(e);
        }
        if start == 0
            && let Some(w) = &st.task
        {
            w.wake_by_ref();
        }
        Ok(())
    }

    /// Stops the task for good: the connection closes, nothing reconnects.
    pub(super) fn close(&self) {
        let (task, waiters) = {
            let mut st = self.state.borrow_mut();
            if st.closed {
                return;
            }
            st.closed = true;
            st.up = false;
            st.out = BytesMut::new();
            (st.task.take(), std::mem::take(&mut st.up_waiters))
        };
        task.into_iter().chain(waiters).for_each(Waker::wake);
    }

    /// Resolves once the connection is up (at once if it is), or once it is closed.
    pub(super) async fn wait_up(&self) {
        poll_fn(|cx| {
            let mut st = self.state.borrow_mut();
            if st.up || st.closed {
                return Poll::Ready(());
            }
            if !st.up_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                st.up_waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    fn emit(&self, event: ConnEvent) {
        if let Some(hook) = &self.events {
            hook(event);
        }
    }

    /// Runs `fut` until it ends or the link is closed (`None`).
    async fn until_closed<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            {
                let mut st = self.state.borrow_mut();
                if st.closed {
                    return Poll::Ready(None);
                }
                if !st.task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    st.task = Some(cx.waker().clone());
                }
            }
            fut.as_mut().poll(cx).map(Some)
        })
        .await
    }
}

/// Connects, serves and reconnects until the link is closed.
async fn run(link: Rc<Link>, handler: Rc<dyn Handler>) {
    let opts = &link.opts;
    let mut backoff = opts.backoff_min;
    let mut first = true;
    loop {
        if !first {
            let pause = jittered(backoff, rand::random_range(0.0..JITTER));
            if link.until_closed(glommio::timer::sleep(pause)).await.is_none() {
                break;
            }
            backoff = next_backoff(backoff, opts.backoff_min, opts.backoff_max);
        }
        first = false;
        let opened = match link.until_closed(open(&link)).await {
            None => break,
            Some(opened) => opened,
        };
        let err = match opened {
            Ok((stream, rbuf)) => {
                backoff = opts.backoff_min;
                let waiters = {
                    let mut st = link.state.borrow_mut();
                    st.up = true;
                    st.reported_down = false;
                    st.broken = None;
                    std::mem::take(&mut st.up_waiters)
                };
                tracing::debug!(url = ?link.url, "Redis connection up");
                handler.on_up(&link);
                waiters.into_iter().for_each(Waker::wake);
                link.emit(ConnEvent::Connected);
                let err = link.until_closed(drive(&link, &*handler, stream, rbuf)).await;
                {
                    let mut st = link.state.borrow_mut();
                    st.up = false;
                    st.out = BytesMut::new();
                    st.broken = None;
                }
                let err = err.unwrap_or(RedisError::Disconnected);
                handler.on_down(&err);
                if link.is_closed() {
                    break;
                }
                tracing::debug!(url = ?link.url, error = %err, "Redis connection lost");
                err
            }
            Err(err) => {
                tracing::debug!(url = ?link.url, error = %err, "Redis connection attempt failed");
                err
            }
        };
        let report = !std::mem::replace(&mut link.state.borrow_mut().reported_down, true);
        if report {
            link.emit(ConnEvent::Disconnected(err));
        }
    }
    tracing::debug!(url = ?link.url, "Redis connection closed");
}

/// The fraction of the backoff added at random, so that many clients do not retry in step.
const JITTER: f64 = 0.2;

/// `base` lengthened by `fraction` of itself.
pub(super) fn jittered(base: Duration, fraction: f64) -> Duration {
    base + base.mul_f64(fraction.clamp(0.0, 1.0))
}

/// The pause after `current`: doubled, within `[min, max]`.
pub(super) fn next_backoff(current: Duration, min: Duration, max: Duration) -> Duration {
    current.saturating_mul(2).min(max).max(min)
}

/// Connects and runs the handshake; the bytes read past the handshake's replies come along.
async fn open(link: &Link) -> Result<(TcpStream, BytesMut), RedisError> {
    let opts = &link.opts;
    let addrs: Vec<SocketAddr> = (link.url.host.as_str(), link.url.port).to_socket_addrs()?.collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "the host resolved to no address");
    let mut connected = None;
    for addr in addrs {
        let attempt = if opts.connect_timeout.is_zero() {
            TcpStream::connect(addr).await
        } else {
            TcpStream::connect_timeout(addr, opts.connect_timeout).await
        };
        match attempt {
            Ok(s) => {
                connected = Some(s);
                break;
            }
            Err(e) => last = e.into(),
        }
    }
    let mut stream = connected.ok_or(last)?;
    stream.set_nodelay(true).map_err(std::io::Error::from)?;
    let mut hello = BytesMut::new();
    let replies = resp::handshake(&link.url, opts.resp3, &mut hello)?;
    let mut rbuf = BytesMut::new();
    if replies > 0 {
        let exchange = async {
            stream.write_all(&hello).await?;
            let mut scratch = vec![0; 4096];
            for _ in 0..replies {
                loop {
                    if let Some(frame) = resp::decode(&mut rbuf, opts.resp3, opts.max_frame)? {
                        resp::into_result(frame)?;
                        break;
                    }
                    let n = stream.read(&mut scratch).await?;
                    if n == 0 {
                        return Err(eof());
                    }
                    rbuf.extend_from_slice(&scratch[..n]);
                }
            }
            Ok(())
        };
        let timeout = async {
            glommio::timer::sleep(opts.command_timeout).await;
            Err(RedisError::Timeout(opts.command_timeout))
        };
        futures_lite::future::or(exchange, timeout).await?;
    }
    Ok((stream, rbuf))
}

fn eof() -> RedisError {
    RedisError::Io(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "Redis closed the connection"))
}

/// Serves one open connection until it fails; returns why.
async fn drive(link: &Link, handler: &dyn Handler, mut stream: TcpStream, mut rbuf: BytesMut) -> RedisError {
    let opts = &link.opts;
    let mut scratch = vec![0; READ_CHUNK];
    // Armed for the oldest request's deadline, lazily: when it fires, the oldest request then
    // (never older than the one it was armed for, the queue being FIFO) is checked again.
    let mut timer: Option<Timer> = None;
    loop {
        loop {
            match resp::decode(&mut rbuf, opts.resp3, opts.max_frame) {
                Ok(Some(frame)) => {
                    if let Err(e) = handler.on_frame(link, frame) {
                        return e;
                    }
                    if link.is_closed() {
                        return RedisError::Disconnected;
                    }
                }
                Ok(None) => break,
                Err(e) => return e,
            }
        }
        let step = poll_fn(|cx| {
            {
                let mut st = link.state.borrow_mut();
                if st.closed {
                    return Poll::Ready(Err(RedisError::Disconnected));
                }
                if let Some(e) = st.broken.take() {
                    return Poll::Ready(Err(e));
                }
            }
            if let Err(e) = flush(link, &mut stream, cx) {
                return Poll::Ready(Err(e));
            }
            match handler.oldest_deadline() {
                None => timer = None,
                Some(due) => loop {
                    let now = Instant::now();
                    if due <= now {
                        return Poll::Ready(Err(RedisError::Timeout(opts.command_timeout)));
                    }
                    let t = timer.get_or_insert_with(|| Timer::new(due - now));
                    if Pin::new(t).poll(cx).is_pending() {
                        break;
                    }
                    timer = None;
                },
            }
            match Pin::new(&mut stream).poll_read(cx, &mut scratch) {
                Poll::Ready(Ok(0)) => Poll::Ready(Err(eof())),
                Poll::Ready(Ok(n)) => {
                    rbuf.extend_from_slice(&scratch[..n]);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
                Poll::Pending => Poll::Pending,
            }
        });
        if let Err(e) = step.await {
            return e;
        }
    }
}

/// Writes as much of the queued output as the socket takes now.
fn flush(link: &Link, stream: &mut TcpStream, cx: &mut Context<'_>) -> Result<(), RedisError> {
    let mut st = link.state.borrow_mut();
    while !st.out.is_empty() {
        match Pin::new(&mut *stream).poll_write(cx, &st.out) {
            Poll::Ready(Ok(0)) => {
                return Err(RedisError::Io(std::io::ErrorKind::WriteZero.into()));
            }
            Poll::Ready(Ok(n)) => st.out.advance(n),
            Poll::Ready(Err(e)) => return Err(e.into()),
            Poll::Pending => return Ok(()),
        }
    }
    if st.out.capacity() > OUT_KEEP {
        st.out = BytesMut::new();
    }
    Ok(())
}
