//! Where helper threads run. A thread inherits the core pinning of the
//! thread that spawns it, so a helper a shard spawns (the RDB writer)
//! would share the shard's core and take turns with it: it is moved to
//! the process's other cores instead.

/// Lets the calling thread run on every core the process may use except
/// `avoid` (the shards' cores); on all of them if that leaves none.
pub fn move_off(avoid: &[usize]) -> std::io::Result<()> {
    let mut allowed = empty_set();
    // The main thread (its id is the process's) is never pinned: its mask
    // is the process's.
    // SAFETY: `allowed` is a valid, initialized cpu_set_t and the size
    // passed is its size, so the kernel writes only inside it.
    let got = unsafe {
        libc::sched_getaffinity(
            libc::getpid(),
            std::mem::size_of::<libc::cpu_set_t>(),
            &mut allowed,
        )
    };
    if got != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut wanted = empty_set();
    let mut any = false;
    for cpu in 0..libc::CPU_SETSIZE as usize {
        // SAFETY: `cpu` is below CPU_SETSIZE, the sets' capacity, so both
        // only touch bits inside the sets.
        if unsafe { libc::CPU_ISSET(cpu, &allowed) } && !avoid.contains(&cpu) {
            unsafe { libc::CPU_SET(cpu, &mut wanted) };
            any = true;
        }
    }
    let set = if any { &wanted } else { &allowed };
    // SAFETY: as above; the kernel only reads the set.
    let done = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if done != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn empty_set() -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is a plain bit array; all zeros is the empty set.
    unsafe { std::mem::zeroed() }
}
