//! A minimal epoll wrapper: level-triggered readiness for a worker's
//! sockets, with a timeout precise to the microsecond.
//!
//! Precision matters for `--rate-limiting`: latency counts from each
//! request's scheduled time, so waking up to a millisecond late (plain
//! `epoll_wait`) would add that to every request. `epoll_pwait2` (Linux
//! 5.11) takes a timespec; on older kernels the wait falls back to
//! `epoll_wait` rounded up to whole milliseconds.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// One socket's readiness.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// The number the socket was registered with.
    pub token: usize,
    pub readable: bool,
    pub writable: bool,
    /// Error or hang-up: reading will tell which.
    pub failed: bool,
}

pub struct Poller {
    epoll: OwnedFd,
    /// Where the kernel writes ready events; its length is how many one
    /// wait can report.
    ready: Vec<libc::epoll_event>,
    /// False once epoll_pwait2 turned out to be missing.
    precise: bool,
}

impl Poller {
    /// A poller reporting up to `capacity` events per wait.
    pub fn new(capacity: usize) -> io::Result<Poller> {
        // SAFETY: epoll_create1 takes a flag and returns a new descriptor or
        // -1; it touches no memory of ours.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by epoll_create1, is open, and
        // nothing else owns it, so OwnedFd may close it once.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Poller {
            epoll,
            ready: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)],
            precise: true,
        })
    }

    /// Watches `fd` for reading, and for writing too when `writable`.
    pub fn add(&self, fd: RawFd, token: usize, writable: bool) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, fd, token, writable)
    }

    /// Changes whether `fd` is watched for writing.
    pub fn modify(&self, fd: RawFd, token: usize, writable: bool) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_MOD, fd, token, writable)
    }

    fn control(&self, op: libc::c_int, fd: RawFd, token: usize, writable: bool) -> io::Result<()> {
        let mut interest = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        if writable {
            interest |= libc::EPOLLOUT as u32;
        }
        let mut event = libc::epoll_event {
            events: interest,
            u64: token as u64,
        };
        // SAFETY: the epoll descriptor is open (owned by self); `event` is a
        // valid epoll_event that lives across the call; the kernel only
        // reads it. A bad `fd` makes the call fail, which we report.
        let rc = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout` for readiness and puts the ready sockets in
    /// `events` (emptied first; an interrupted wait leaves it empty).
    pub fn wait(&mut self, timeout: Duration, events: &mut Vec<Event>) -> io::Result<()> {
        events.clear();
        let capacity = libc::c_int::try_from(self.ready.len()).unwrap_or(libc::c_int::MAX);
        let mut rc = -1;
        if self.precise {
            let spec = libc::timespec {
                tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: timeout.subsec_nanos() as libc::c_long,
            };
            // SAFETY: `ready` is a live buffer of `capacity` epoll_events
            // that the kernel fills; `spec` is a valid timespec for the
            // call; a null sigmask leaves the signal mask alone.
            rc = unsafe {
                libc::epoll_pwait2(
                    self.epoll.as_raw_fd(),
                    self.ready.as_mut_ptr(),
                    capacity,
                    &spec,
                    std::ptr::null(),
                )
            };
            if rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                self.precise = false;
            }
        }
        if !self.precise {
            // Round up, so a short wait does not become a busy loop.
            let ms = timeout.as_micros().div_ceil(1000);
            let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
            // SAFETY: as above, with a timeout in milliseconds.
            rc = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    self.ready.as_mut_ptr(),
                    capacity,
                    ms,
                )
            };
        }
        let count = if rc < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
            0
        } else {
            rc as usize
        };
        events.extend(self.ready[..count].iter().map(|event| {
            // Copy the fields out: epoll_event is packed on x86-64.
            let flags = event.events;
            let token = event.u64;
            Event {
                token: token as usize,
                readable: flags & (libc::EPOLLIN as u32) != 0,
                writable: flags & (libc::EPOLLOUT as u32) != 0,
                failed: flags & ((libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLRDHUP) as u32) != 0,
            }
        }));
        Ok(())
    }
}

/// Wake at the requested times rather than up to the default 50 us timer
/// slack later: latency counts from scheduled send times.
pub fn tighten_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and only affects the
    // calling thread's timers; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}
