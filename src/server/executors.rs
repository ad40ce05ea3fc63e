//! Starting the shards: one glommio executor per CPU of the affinity mask, each
//! pinned, each with its own `SO_REUSEPORT` listener, all joined by one mesh.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;

use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};

use crate::shard::{ShardId, ShardMsg, cpus};

/// Where the shards run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpuPlacement {
    /// One shard pinned to each CPU the process may use (the default).
    PinPerCpu,
    /// Shards pinned to these CPUs, one each, in order.
    Cpus(Vec<usize>),
    /// Shards not pinned at all (for tests sharing a machine with their clients).
    Unpinned,
}

/// The CPU each shard is pinned to, if any.
pub(crate) fn plan(shards: Option<usize>, placement: &CpuPlacement) -> Vec<Option<usize>> {
    let allowed = cpus::allowed_cpus();
    let (cpus, pin) = match placement {
        CpuPlacement::PinPerCpu => (allowed, true),
        CpuPlacement::Cpus(list) if !list.is_empty() => (list.clone(), true),
        CpuPlacement::Cpus(_) | CpuPlacement::Unpinned => (allowed, false),
    };
    let n = shards.unwrap_or(cpus.len()).clamp(1, crate::protocol::sid::MAX_SHARDS);
    (0..n).map(|i| (pin && !cpus.is_empty()).then(|| cpus[i % cpus.len()])).collect()
}

/// How many connections may wait for `accept` (Node's default backlog is 511).
const BACKLOG: i32 = 1024;

/// A listener in the shards' `SO_REUSEPORT` group. Unlike glommio's `TcpListener::bind` it also
/// sets `SO_REUSEADDR`, as Node (libuv) does, so a restart binds its port even while connections
/// of the previous run linger in TIME_WAIT.
fn listen(addr: SocketAddr) -> io::Result<glommio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::os::fd::{FromRawFd, IntoRawFd};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    // SAFETY: a listening socket we own, handed to glommio whole.
    Ok(unsafe { glommio::net::TcpListener::from_raw_fd(socket.into_raw_fd()) })
}

/// The shards as started: their threads, and the ids of those that ended, in the order they
/// ended (an id is sent however its shard ended, a panic included).
pub(crate) struct Started {
    pub(crate) addr: SocketAddr,
    pub(crate) joins: Vec<ExecutorJoinHandle<Result<(), String>>>,
    pub(crate) exits: mpsc::Receiver<ShardId>,
}

/// Sends its shard's id when dropped, which it is with its thread's locals: however the
/// thread ends, a panic included (glommio does not drop the tasks of an executor that a
/// panic unwound).
struct Exit(ShardId, mpsc::Sender<ShardId>);

impl Drop for Exit {
    fn drop(&mut self) {
        let _ = self.1.send(self.0);
    }
}

thread_local! {
    static EXIT: std::cell::RefCell<Option<Exit>> = const { std::cell::RefCell::new(None) };
}

/// Runs `body(shard, mesh, listener_addr)` on every shard. Shard 0 binds the requested address
/// first so that port 0 resolves once; the others then bind the same concrete address.
pub(crate) fn spawn_shards<F, Fut>(
    pins: Vec<Option<usize>>,
    addr: SocketAddr,
    mesh_capacity: usize,
    body: F,
) -> io::Result<Started>
where
    F: Fn(
            ShardId,
            glommio::net::TcpListener,
            MeshBuilder<ShardMsg, glommio::channels::channel_mesh::Full>,
        ) -> Fut
        + Send
        + Sync
        + Clone
        + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + 'static,
{
    let shards = pins.len();
    let (exit_tx, exits) = mpsc::channel();
    let mesh = MeshBuilder::<ShardMsg, _>::full(shards, mesh_capacity);
    let mut bound = addr;
    let mut handles = Vec::with_capacity(shards);
    for (id, pin) in pins.into_iter().enumerate() {
        let placement = pin.map_or(Placement::Unbound, Placement::Fixed);
        let (tx, rx) = mpsc::channel::<io::Result<SocketAddr>>();
        let body = body.clone();
        let mesh = mesh.clone();
        let exit = Exit(id, exit_tx.clone());
        let executor = LocalExecutorBuilder::new(placement).name(&format!("tpcio-shard-{id}"));
        let handle = executor
            .spawn(move || async move {
                EXIT.with(|cell| *cell.borrow_mut() = Some(exit));
                let listener = match listen(bound) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::other(e.to_string())));
                        return Ok(());
                    }
                };
                let local = listener.local_addr().map_err(|e| io::Error::other(e.to_string()));
                if let Ok(local) = &local {
                    match pin {
                        Some(cpu) => tracing::info!("shard {id} listening on {local}, pinned to CPU {cpu}"),
                        None => tracing::info!("shard {id} listening on {local}, not pinned"),
                    }
                }
                let _ = tx.send(local);
                body(id, listener, mesh).await
            })
            .map_err(|e| io::Error::other(e.to_string()))?;
        bound = rx.recv().map_err(|_| io::Error::other("shard exited before binding"))??;
        handles.push(handle);
    }
    Ok(Started { addr: bound, joins: handles, exits })
}
