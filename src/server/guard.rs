//! Panics of application code, caught where they happen so that they take down one socket or
//! session and never the shard: [`catch`] for inline callbacks, [`CatchPanic`] for handler
//! futures and spawned tasks, [`Guarded`], the wrapper every endpoint's [`EngineHandler`]
//! runs in, and [`route`], the same for plain HTTP routes.
//!
//! A caught panic is reported once, by whoever caught it, as a `tracing` error with its
//! message and location and what was running (namespace, event, callback). So that it is not
//! printed a second time, the panic hook installed at start-up stays silent for panics raised
//! inside a guard and hands their location over; every other panic goes to the previous hook.
//! The release profile keeps `panic = "unwind"`: with `abort` nothing here could catch.
//! (A handler that catches its own panics inside a guard finds them silent too: the hook
//! cannot tell who will catch.)

use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

use tracing::error;

use super::handler::{EngineHandler, EngineSocket, PlainHttp, ShardContext};
use crate::engine::DisconnectReason;
use crate::metrics::ShardMetrics;
use crate::protocol::Data;
use crate::shard::ShardId;

thread_local! {
    /// Guards entered and not left on this thread (callbacks nest: a handler's emit runs
    /// `on_outgoing` inside `on_event`).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Where the last panic inside a guard was raised, left by the hook for [`Panic`].
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs the panic hook (once per process) that keeps caught panics out of stderr.
pub(crate) fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) == 0 {
                return previous(info);
            }
            let at = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            LOCATION.with(|cell| *cell.borrow_mut() = at);
        }));
    });
}

/// A caught panic: its message and, when the hook saw it, where it was raised.
#[derive(Debug)]
pub(crate) struct Panic {
    message: String,
    location: Option<String>,
}

impl Panic {
    fn new(payload: Box<dyn Any + Send>) -> Panic {
        Panic { message: message_of(payload.as_ref()), location: LOCATION.with(RefCell::take) }
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(at) => write!(f, "{} at {at}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The text of a panic payload (`panic!("…")` makes a `&str` or a `String`).
pub(crate) fn message_of(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_owned(),
    }
}

struct Depth;

impl Depth {
    fn enter() -> Depth {
        DEPTH.with(|d| d.set(d.get() + 1));
        Depth
    }
}

impl Drop for Depth {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Runs `f`, catching a panic. Whatever `f` borrowed from a `RefCell` was released while
/// unwinding; state it left half-changed is the caller's to drop (its socket or session).
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Panic> {
    let _depth = Depth::enter();
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(Panic::new)
}

/// A future whose panics come out as `Err` (and which is not polled again after one).
pub(crate) struct CatchPanic<F>(F);

impl<F: Future + Unpin> CatchPanic<F> {
    pub(crate) fn new(future: F) -> Self {
        CatchPanic(future)
    }
}

impl<F: Future + Unpin> Future for CatchPanic<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch(|| Pin::new(inner).poll(cx)) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// An endpoint's handler with each callback run under [`catch`]: a panic is logged and
/// counted, and closes the session it was about ("forced close"); a plain HTTP request
/// ([`EngineHandler::on_http`]) gets an empty 500 instead of whatever was written.
pub(crate) struct Guarded {
    path: Box<str>,
    inner: std::rc::Rc<dyn EngineHandler>,
    shard: OnceCell<ShardContext>,
}

impl Guarded {
    pub(crate) fn new(path: &str, inner: std::rc::Rc<dyn EngineHandler>) -> Self {
        Guarded { path: path.into(), inner, shard: OnceCell::new() }
    }

    fn run<R>(&self, callback: &str, socket: Option<&EngineSocket>, f: impl FnOnce() -> R) -> Option<R> {
        match catch(f) {
            Ok(out) => Some(out),
            Err(panic) => {
                let shard = self.shard.get().map(ShardContext::id);
                if let Some(ctx) = self.shard.get() {
                    ctx.metrics().handler_panicked();
                }
                let sid = socket.map(|s| s.sid());
                error!(?shard, endpoint = %self.path, callback, ?sid, "engine handler panicked: {panic}");
                if let Some(socket) = socket {
                    socket.close();
                }
                None
            }
        }
    }
}

impl EngineHandler for Guarded {
    fn on_start(&self, shard: ShardContext) {
        let _ = self.shard.set(shard.clone());
        self.run("on_start", None, || self.inner.on_start(shard));
    }

    fn on_peer_message(&self, from: ShardId, msg: Box<dyn Any + Send>) {
        self.run("on_peer_message", None, || self.inner.on_peer_message(from, msg));
    }

    fn on_open(&self, socket: &EngineSocket) {
        self.run("on_open", Some(socket), || self.inner.on_open(socket));
    }

    fn on_message(&self, socket: &EngineSocket, data: Data) {
        self.run("on_message", Some(socket), || self.inner.on_message(socket, data));
    }

    fn on_upgrade(&self, socket: &EngineSocket) {
        self.run("on_upgrade", Some(socket), || self.inner.on_upgrade(socket));
    }

    fn on_close(&self, socket: &EngineSocket, reason: DisconnectReason) {
        self.run("on_close", None, || self.inner.on_close(socket, reason));
    }

    fn on_http(&self, http: &mut PlainHttp<'_>) -> bool {
        let written = http.out.len();
        match self.run("on_http", None, || self.inner.on_http(http)) {
            Some(answered) => answered,
            None => {
                http.out.truncate(written);
                http.responder.empty(http.out, http.reply, 500);
                true
            }
        }
    }
}

/// `route` under [`catch`]: a panic is logged and counted, whatever it wrote is dropped, and
/// the request gets an empty `500`.
pub(crate) fn route(path: &str, route: super::Route, metrics: std::sync::Arc<ShardMetrics>) -> super::Route {
    let path: Box<str> = path.into();
    std::sync::Arc::new(move |shard, http: &mut PlainHttp<'_>| {
        let written = http.out.len();
        match catch(|| route(shard, http)) {
            Ok(answered) => answered,
            Err(panic) => {
                metrics.handler_panicked();
                error!(shard, route = %path, "route panicked: {panic}");
                http.out.truncate(written);
                http.responder.empty(http.out, http.reply, 500);
                true
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_and_names_the_panic() {
        install_hook();
        let caught = catch(|| -> u32 { panic!("boom {}", 7) }).unwrap_err();
        assert_eq!(caught.message, "boom 7");
        assert!(caught.location.as_deref().is_some_and(|at| at.contains("guard.rs")), "{caught}");
        assert_eq!(catch(|| 5).unwrap(), 5);
        assert_eq!(DEPTH.with(Cell::get), 0);
    }

    #[test]
    fn a_future_that_panics_is_ready_with_the_panic() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut ok = CatchPanic::new(Box::pin(async { 3 }));
        assert!(matches!(Pin::new(&mut ok).poll(&mut cx), Poll::Ready(Ok(3))));
        let mut bad = CatchPanic::new(Box::pin(async {
            if true {
                std::panic::panic_any(42u8);
            }
        }));
        match Pin::new(&mut bad).poll(&mut cx) {
            Poll::Ready(Err(panic)) => assert_eq!(panic.message, "a panic without a message"),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
