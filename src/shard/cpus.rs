//! Which CPUs the shards run on: the process's affinity mask, so `taskset` is respected.

/// The CPUs this process may run on, in ascending order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is plain data; sched_getaffinity fills at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } == 0;
    if !ok {
        return (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
    }
    (0..libc::CPU_SETSIZE as usize).filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) }).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn affinity_mask_is_not_empty_and_matches_parallelism() {
        let cpus = super::allowed_cpus();
        assert!(!cpus.is_empty());
        assert_eq!(cpus.len(), std::thread::available_parallelism().unwrap().get());
    }
}
