//! Host settings that hurt a thread-per-core server, reported at start-up
//! the way Redis reports them (`WARNING: ...`); tuning/README.md explains
//! each one. The checks are pure functions of what the host files say, so
//! tests can feed them any host; [`log_startup_warnings`] reads the real one.

/// glommio 0.9 refuses to create an executor when the soft RLIMIT_MEMLOCK
/// is below this (it checks the limit itself, so root is no exception).
pub const GLOMMIO_MIN_MEMLOCK_BYTES: u64 = 512 * 1024;
/// Before Linux 5.12 the kernel charged each io_uring ring's pages to the
/// user's RLIMIT_MEMLOCK (unless it had CAP_IPC_LOCK); 5.12 moved that to
/// the memory cgroup. A glommio executor has three rings of depth 128; each
/// takes 2 pages for its SQ and CQ arrays and 2 for its SQEs.
const RING_MEMLOCK_BYTES_PER_EXECUTOR: u64 = 3 * 4 * 4096;
/// The first kernel that no longer charges rings to RLIMIT_MEMLOCK.
const RINGS_UNCHARGED_SINCE: (u32, u32) = (5, 12);
/// Bit of CAP_IPC_LOCK in /proc/self/status's CapEff mask.
const CAP_IPC_LOCK_BIT: u32 = 14;
/// How to raise the locked-memory limit; the executor error uses it too.
pub const MEMLOCK_FIX: &str =
    "raise it with `ulimit -l unlimited` (or LimitMEMLOCK=infinity for systemd)";

const THP_ENABLED_PATH: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
const SOMAXCONN_PATH: &str = "/proc/sys/net/core/somaxconn";
const OSRELEASE_PATH: &str = "/proc/sys/kernel/osrelease";
const PROC_STATUS_PATH: &str = "/proc/self/status";

/// What start-up learned about the host; `None` where it could not tell
/// (a missing file in a container is no reason to warn).
#[derive(Debug, Default, Clone)]
pub struct HostFacts {
    /// /sys/kernel/mm/transparent_hugepage/enabled, e.g. `always [madvise] never`.
    pub thp_enabled: Option<String>,
    /// /proc/sys/net/core/somaxconn.
    pub somaxconn: Option<String>,
    /// Soft RLIMIT_MEMLOCK in bytes, `u64::MAX` when unlimited.
    pub memlock_bytes: Option<u64>,
    /// /proc/sys/kernel/osrelease, e.g. `5.10.0-23-amd64`.
    pub kernel_release: Option<String>,
    /// /proc/self/status (for CapEff).
    pub proc_status: Option<String>,
}

impl HostFacts {
    /// Reads the running host. Never fails: what cannot be read is `None`.
    pub fn read() -> HostFacts {
        let read = |path| std::fs::read_to_string(path).ok();
        HostFacts {
            thp_enabled: read(THP_ENABLED_PATH),
            somaxconn: read(SOMAXCONN_PATH),
            memlock_bytes: memlock_soft_limit_bytes(),
            kernel_release: read(OSRELEASE_PATH),
            proc_status: read(PROC_STATUS_PATH),
        }
    }
}

/// Prints one `WARNING: ...` line per host problem, to stderr.
pub fn log_startup_warnings(shards: usize, listen_backlog: i32) {
    for warning in startup_warnings(&HostFacts::read(), shards, listen_backlog) {
        eprintln!("{warning}");
    }
}

/// The warnings for `facts`, for a node of `shards` executors whose
/// listening sockets ask for `listen_backlog`.
pub fn startup_warnings(facts: &HostFacts, shards: usize, listen_backlog: i32) -> Vec<String> {
    let mut warnings = Vec::new();
    if facts.thp_enabled.as_deref().and_then(selected_choice) == Some("always") {
        warnings.push(format!(
            "WARNING: transparent huge pages are set to 'always' ({THP_ENABLED_PATH}). \
             A fault on a shard's core may then stall while the kernel zeroes or compacts \
             memory for a 2 MB page, and memory use grows. Fix: `echo madvise > {THP_ENABLED_PATH}` as root (persist with \
             transparent_hugepage=madvise on the kernel command line); see tuning/README.md"
        ));
    }
    let somaxconn = facts
        .somaxconn
        .as_deref()
        .and_then(|s| s.trim().parse::<i64>().ok());
    if let Some(somaxconn) = somaxconn.filter(|&s| s < i64::from(listen_backlog)) {
        warnings.push(format!(
            "WARNING: the TCP backlog of {listen_backlog} per core cannot be enforced because \
             net.core.somaxconn ({SOMAXCONN_PATH}) is set to the lower value of {somaxconn}, \
             so bursts of new connections may be dropped (clients retry a second later). Fix: \
             `sysctl -w net.core.somaxconn={listen_backlog}` (persist in /etc/sysctl.d/); \
             see tuning/README.md"
        ));
    }
    if let Some(limit) = facts.memlock_bytes {
        let need = memlock_needed_bytes(facts, shards);
        if limit < need {
            warnings.push(format!(
                "WARNING: the locked-memory limit (RLIMIT_MEMLOCK, `ulimit -l`) is {} KiB, \
                 below the {} KiB that the io_uring executors of {shards} shard(s) need, so \
                 shards may fail to start. Fix: {MEMLOCK_FIX}; see tuning/README.md",
                limit / 1024,
                need / 1024
            ));
        }
    }
    warnings
}

/// Locked memory the node's executors need: glommio's own minimum, or
/// on old kernels the rings of every shard plus the start-up probe
/// executor (whose rings may not be released yet), if that is more.
fn memlock_needed_bytes(facts: &HostFacts, shards: usize) -> u64 {
    let old_kernel = facts
        .kernel_release
        .as_deref()
        .and_then(kernel_version)
        .is_some_and(|v| v < RINGS_UNCHARGED_SINCE);
    // Without CapEff we cannot tell; assume no privilege, as most servers run.
    let privileged = facts.proc_status.as_deref().and_then(has_cap_ipc_lock) == Some(true);
    let rings = if old_kernel && !privileged {
        (shards as u64 + 1).saturating_mul(RING_MEMLOCK_BYTES_PER_EXECUTOR)
    } else {
        0
    };
    rings.max(GLOMMIO_MIN_MEMLOCK_BYTES)
}

/// The bracketed choice of a sysfs setting: `always [madvise] never` -> `madvise`.
fn selected_choice(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let len = text[start..].find(']')?;
    Some(&text[start..start + len])
}

/// `5.10.0-23-amd64` -> (5, 10).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Whether the `CapEff:` line of /proc/self/status holds CAP_IPC_LOCK.
fn has_cap_ipc_lock(status: &str) -> Option<bool> {
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))?
        .trim();
    let mask = u64::from_str_radix(mask, 16).ok()?;
    Some(mask & (1 << CAP_IPC_LOCK_BIT) != 0)
}

/// The soft RLIMIT_MEMLOCK (what glommio checks), `u64::MAX` when unlimited.
fn memlock_soft_limit_bytes() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes one `rlimit` through the pointer, which
    // points to a live, properly aligned local that outlives the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    if rc != 0 {
        return None;
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return Some(u64::MAX);
    }
    // rlim_t is u64 on 64-bit targets (where clippy sees a no-op), u32 on others.
    #[allow(clippy::useless_conversion)]
    Some(u64::from(limit.rlim_cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_STATUS: &str = "Name:\tshardis\nCapEff:\t000001ffffffffff\n";
    const USER_STATUS: &str = "Name:\tshardis\nCapEff:\t0000000000000000\n";

    /// A host with nothing to warn about.
    fn good_host() -> HostFacts {
        HostFacts {
            thp_enabled: Some("always [madvise] never\n".into()),
            somaxconn: Some("4096\n".into()),
            memlock_bytes: Some(8 * 1024 * 1024),
            kernel_release: Some("6.1.0-18-amd64\n".into()),
            proc_status: Some(USER_STATUS.into()),
        }
    }

    fn warnings(facts: &HostFacts) -> Vec<String> {
        startup_warnings(facts, 4, 1024)
    }

    #[test]
    fn good_or_unknown_host_has_no_warnings() {
        assert!(warnings(&good_host()).is_empty());
        assert!(warnings(&HostFacts::default()).is_empty());
        let odd = HostFacts {
            thp_enabled: Some("garbage".into()),
            somaxconn: Some("".into()),
            kernel_release: Some("x".into()),
            proc_status: Some("CapEff:\tzz\n".into()),
            ..good_host()
        };
        assert!(warnings(&odd).is_empty());
    }

    #[test]
    fn thp_always_warns_madvise_and_never_do_not() {
        let mut host = good_host();
        host.thp_enabled = Some("[always] madvise never\n".into());
        let got = warnings(&host);
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("WARNING: transparent huge pages"));
        assert!(got[0].contains("echo madvise >"));
        assert!(got[0].ends_with("see tuning/README.md"));
        host.thp_enabled = Some("always madvise [never]\n".into());
        assert!(warnings(&host).is_empty());
    }

    #[test]
    fn somaxconn_below_backlog_warns() {
        let mut host = good_host();
        host.somaxconn = Some("128\n".into());
        let got = warnings(&host);
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("TCP backlog of 1024"), "{}", got[0]);
        assert!(got[0].contains("lower value of 128"));
        assert!(got[0].contains("sysctl -w net.core.somaxconn=1024"));
        host.somaxconn = Some("1024".into());
        assert!(warnings(&host).is_empty());
    }

    #[test]
    fn memlock_below_glommio_minimum_warns_even_for_root() {
        let mut host = good_host();
        host.memlock_bytes = Some(64 * 1024);
        host.proc_status = Some(ROOT_STATUS.into());
        let got = warnings(&host);
        assert_eq!(got.len(), 1);
        assert!(
            got[0].contains("is 64 KiB, below the 512 KiB"),
            "{}",
            got[0]
        );
        assert!(got[0].contains("ulimit -l unlimited"));
        host.memlock_bytes = Some(GLOMMIO_MIN_MEMLOCK_BYTES);
        assert!(warnings(&host).is_empty());
        host.memlock_bytes = Some(u64::MAX);
        assert!(warnings(&host).is_empty());
    }

    #[test]
    fn memlock_on_old_kernels_counts_every_shard_unless_privileged() {
        let mut host = good_host();
        host.kernel_release = Some("5.10.0-23-amd64\n".into());
        host.memlock_bytes = Some(GLOMMIO_MIN_MEMLOCK_BYTES);
        // 4 shards + the probe: 5 * 48 KiB = 240 KiB, under glommio's minimum.
        assert!(startup_warnings(&host, 4, 1024).is_empty());
        // 16 shards + the probe: 17 * 48 KiB = 816 KiB.
        let got = startup_warnings(&host, 16, 1024);
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("below the 816 KiB"), "{}", got[0]);
        assert!(got[0].contains("16 shard(s)"));
        host.proc_status = Some(ROOT_STATUS.into());
        assert!(startup_warnings(&host, 16, 1024).is_empty());
        host.proc_status = Some(USER_STATUS.into());
        host.kernel_release = Some("5.12.0".into());
        assert!(startup_warnings(&host, 16, 1024).is_empty());
    }

    #[test]
    fn parsers() {
        assert_eq!(selected_choice("always [madvise] never"), Some("madvise"));
        assert_eq!(selected_choice("always madvise never"), None);
        assert_eq!(kernel_version("6.18.44-fc-v769\n"), Some((6, 18)));
        assert_eq!(kernel_version("5.4"), Some((5, 4)));
        assert_eq!(kernel_version("linux"), None);
        assert_eq!(has_cap_ipc_lock(ROOT_STATUS), Some(true));
        assert_eq!(has_cap_ipc_lock(USER_STATUS), Some(false));
        assert_eq!(has_cap_ipc_lock("Name:\tx\n"), None);
    }

    #[test]
    fn reading_this_host_never_fails() {
        let facts = HostFacts::read();
        assert!(facts.memlock_bytes.is_some());
        let _ = startup_warnings(&facts, 2, 1024);
    }
}
