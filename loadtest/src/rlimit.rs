//! The open-file limit (`RLIMIT_NOFILE`, getrlimit(2)): every client holds a socket, and the
//! usual soft limit (1024) stops a run long before the machine does, so the load generator
//! raises its soft limit to the hard one and checks the run fits before connecting.

use std::io;

/// Descriptors kept free for the runtimes, stdio, `/proc` reads and the sender.
const RESERVED: u64 = 64;

/// Raises the soft limit to the hard limit; returns the limit now in force.
pub fn raise_nofile() -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: `raised` is a valid rlimit that only moves the soft limit up to the hard one.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

/// Raises the limit and fails with advice when `sockets` descriptors would not fit.
pub fn ensure_sockets(sockets: usize) -> Result<(), String> {
    let limit = raise_nofile().map_err(|e| format!("cannot raise the open-file limit: {e}"))?;
    let needed = (sockets as u64).saturating_add(RESERVED);
    if needed > limit {
        return Err(format!(
            "{sockets} connections need about {needed} file descriptors but the hard limit is \
             {limit}: raise it (ulimit -Hn, limits.conf) or use fewer clients"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_to_at_least_a_few_descriptors() {
        assert!(raise_nofile().is_ok_and(|limit| limit >= RESERVED));
        assert!(ensure_sockets(1).is_ok());
        assert!(ensure_sockets(usize::MAX).is_err());
    }
}
