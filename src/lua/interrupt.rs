//! The Luau interrupt: Luau calls it at every loop back-edge and call
//! (tens of millions of times a second in a tight loop), so it is a raw
//! C callback that only counts; every [`CHECK_EVERY`]th call it looks at
//! the running script: stops it when a kill was requested, marks its shard
//! busy past `busy-reply-threshold`, kills it after `script-kill-after`,
//! and yields to the executor when glommio has other work for this core.
//!
//! The state lives in thread-locals: each executor thread has one VM.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, CStr};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use mlua::ffi;

use super::status::{KillReason, Kind};
use super::ScriptHost;
use crate::config::Param;

/// Interrupt calls between two looks at the clock and the flags: about
/// 10 µs of a tight loop, so kills and yields take effect within
/// microseconds while the common call costs a counter increment.
const CHECK_EVERY: u32 = 256;

/// What a script raises when it is killed. The pcall wrappers re-raise it
/// and the interrupt raises it again at every check, so scripts cannot
/// swallow it; the reply is built from the kill reason, not from this.
pub const KILLED_MARKER: &str = "shardis: script killed";

/// Longest a library's top-level code (FUNCTION LOAD) may run, as
/// Redis's load timeout.
pub const LIBRARY_LOAD_TIMEOUT_MS: u64 = 500;

/// Chunk names of our own Lua code (error handler, pcall wrappers): the
/// kill is not raised inside it, or a handler would fail on it.
const PRELUDE_SOURCE_PREFIX: &[u8] = b"=redis_";

/// Checks in a row that may spare prelude code from a kill. Our prelude
/// finishes long before this; a script that names a chunk of its own like
/// ours (loadstring's chunk name) gains no more than this.
const MAX_SPARED_CHECKS: u32 = 16;

enum Watched {
    /// A script on behalf of a client.
    Script {
        core: Rc<dyn ScriptHost>,
        /// The coroutine the script runs in: only it may yield.
        thread: *mut ffi::lua_State,
        started: Instant,
    },
    /// A library's top-level code during FUNCTION LOAD.
    LibraryLoad { deadline: Instant },
}

thread_local! {
    static TICKS: Cell<u32> = const { Cell::new(0) };
    static WATCHED: RefCell<Option<Watched>> = const { RefCell::new(None) };
    /// Set when the library load timed out.
    static LOAD_TIMED_OUT: Cell<bool> = const { Cell::new(false) };
    /// Kill checks in a row that spared prelude code.
    static SPARED: Cell<u32> = const { Cell::new(0) };
    /// When the script was last resumed: it yields after `script-yield-us`.
    static SLICE_START: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Set while a script runs inline in its caller's task (see [`inline`]).
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// Polls `f` as a script's first slice, inline in the caller's task (a
/// connection's, a peer request's): when the interrupt suspends the script
/// (its slice is over, it became busy, or the executor needs the core),
/// [`Preemptible`] does not yield the caller's task queue but returns
/// `Pending` at once, so the caller can hand the still-running script to
/// a task of the core's script queue, which pauses first and then resumes
/// it as any suspended script.
pub fn inline<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            INLINE.set(self.0);
        }
    }
    let _reset = Reset(INLINE.replace(true));
    f()
}

/// Installs the interrupt on a VM (all its threads share it).
pub fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    // SAFETY: `exec_raw` hands us the VM's live main state; lua_callbacks
    // returns its global callback table, which outlives the VM's threads,
    // and we only store a function pointer in it.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            (*ffi::lua_callbacks(state)).interrupt = Some(interrupt);
        })
    }
}

/// Watches a script that is about to run in `thread` on this core.
/// Its first slice starts now too (one clock read for both; see
/// [`Preemptible`]).
pub fn begin_script(core: Rc<dyn ScriptHost>, thread: *mut ffi::lua_State) {
    let started = Instant::now();
    SLICE_START.set(Some(started));
    WATCHED.set(Some(Watched::Script {
        core,
        thread,
        started,
    }));
}

/// The shard of the script running on this core, if one runs.
pub fn running_host() -> Option<Rc<dyn ScriptHost>> {
    WATCHED.with_borrow(|watched| match watched {
        Some(Watched::Script { core, .. }) => Some(core.clone()),
        _ => None,
    })
}

/// Watches a library's top-level code (FUNCTION LOAD).
pub fn begin_library_load() {
    LOAD_TIMED_OUT.set(false);
    WATCHED.set(Some(Watched::LibraryLoad {
        deadline: Instant::now() + std::time::Duration::from_millis(LIBRARY_LOAD_TIMEOUT_MS),
    }));
}

/// Stops watching; for a library load, whether it timed out.
pub fn end() -> bool {
    WATCHED.set(None);
    LOAD_TIMED_OUT.take()
}

enum Action {
    Continue,
    Yield,
    Kill,
}

unsafe extern "C-unwind" fn interrupt(state: *mut ffi::lua_State, gc: c_int) {
    // GC steps cannot take an error or a yield.
    if gc >= 0 {
        return;
    }
    let ticks = TICKS.get().wrapping_add(1);
    TICKS.set(ticks);
    if !ticks.is_multiple_of(CHECK_EVERY) {
        return;
    }
    match look(state) {
        Action::Continue => {}
        Action::Yield => {
            // SAFETY: `look` only asks to yield for the script's own
            // coroutine at a yieldable point (lua_isyieldable); Luau's VM
            // checks the thread status right after the interrupt returns
            // and leaves the coroutine resumable.
            if ffi::lua_isyieldable(state) != 0 {
                ffi::lua_yield(state, 0);
            }
        }
        Action::Kill => {
            if in_prelude(state) && SPARED.get() < MAX_SPARED_CHECKS {
                SPARED.set(SPARED.get() + 1);
                return;
            }
            SPARED.set(0);
            if ffi::lua_checkstack(state, 2) == 0 {
                return;
            }
            // SAFETY: raising a Lua error from the interrupt is how Luau
            // stops a running script (this is what mlua's own interrupt
            // does); no Rust value with a destructor is alive in this frame.
            ffi::lua_pushlstring(state, KILLED_MARKER.as_ptr().cast(), KILLED_MARKER.len());
            ffi::lua_error(state);
        }
    }
}

/// The slow path: what the interrupt should do now.
fn look(state: *mut ffi::lua_State) -> Action {
    WATCHED.with_borrow(|watched| match watched {
        None => Action::Continue,
        Some(Watched::LibraryLoad { deadline }) => {
            if Instant::now() >= *deadline {
                LOAD_TIMED_OUT.set(true);
                Action::Kill
            } else {
                Action::Continue
            }
        }
        Some(Watched::Script {
            core,
            thread,
            started,
        }) => {
            let status = core.status();
            if status.kill_reason().is_some() {
                return Action::Kill;
            }
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let config = core.config();
            let threshold = config.int(Param::BusyReplyThreshold);
            if threshold > 0 && elapsed_ms >= threshold as u64 && status.mark_busy() {
                let report = status.report(crate::util::time::now_ms());
                eprintln!(
                    "Slow script detected: still in execution after {elapsed_ms} milliseconds. \
                     You can try killing the script using the {} command. Script name is: {} (shard {}).",
                    match report.kind {
                        Some(Kind::Function) => "FUNCTION KILL",
                        _ => "SCRIPT KILL",
                    },
                    report.name,
                    core.shard_id()
                );
                // Commands waiting for this shard now answer -BUSY.
                core.became_busy();
                return Action::Yield.only_for(state, *thread);
            }
            let kill_after = config.int(Param::ScriptKillAfter);
            if kill_after > 0
                && elapsed_ms >= kill_after as u64
                && status.request_kill(KillReason::After(kill_after as u64))
            {
                return Action::Kill;
            }
            let slice_us = config.int(Param::ScriptYieldUs);
            let slice_over = slice_us > 0
                && SLICE_START
                    .get()
                    .is_some_and(|start| start.elapsed().as_micros() >= slice_us as u128);
            if slice_over || glommio::executor().need_preempt() {
                return Action::Yield.only_for(state, *thread);
            }
            Action::Continue
        }
    })
}

impl Action {
    /// A yield suspends whatever coroutine runs; only the script's own one
    /// may be suspended (a coroutine of the script's would see it as its
    /// own `coroutine.yield`).
    fn only_for(self, state: *mut ffi::lua_State, thread: *mut ffi::lua_State) -> Action {
        if state == thread {
            self
        } else {
            Action::Continue
        }
    }
}

/// True when the running function is our own prelude code.
fn in_prelude(state: *mut ffi::lua_State) -> bool {
    // SAFETY: lua_Debug is plain data that lua_getinfo fills; level 0 is
    // the running function, and `source` points into the VM's interned
    // chunk name, valid while the function runs.
    unsafe {
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        if ffi::lua_getinfo(state, 0, c"s".as_ptr(), &mut ar) == 0 || ar.source.is_null() {
            return false;
        }
        CStr::from_ptr(ar.source)
            .to_bytes()
            .starts_with(PRELUDE_SOURCE_PREFIX)
    }
}

/// A yield of the script's queue: the executor runs the other queues'
/// ready tasks, then comes back to the script.
type QueueYield = Pin<Box<dyn Future<Output = ()>>>;

/// Drives a script's coroutine. The coroutine only suspends when the
/// interrupt yields, so it is polled with a no-op waker; on each yield the
/// task collects this core's I/O completions (waking the connections they
/// are for) and yields its task queue, so those connections are served
/// before the script resumes — without parking the core.
pub struct Preemptible<F> {
    script: F,
    pause: Option<QueueYield>,
    /// The script was suspended while it ran inline: pause before resuming.
    handed_off: bool,
    /// Not polled yet: the first slice started with the script
    /// ([`begin_script`]), which a `Preemptible` always follows.
    fresh: bool,
}

impl<F> Preemptible<F> {
    pub fn new(script: F) -> Self {
        Preemptible {
            script,
            pause: None,
            handed_off: false,
            fresh: true,
        }
    }
}

impl<F: Future + Unpin> Future for Preemptible<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if std::mem::take(&mut self.handed_off) {
            // Suspended inline, now in the script queue's task: the pause
            // the inline run skipped comes first.
            if self.as_mut().pause(cx).is_pending() {
                return Poll::Pending;
            }
        }
        if let Some(pause) = self.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        loop {
            if !std::mem::take(&mut self.fresh) {
                SLICE_START.set(Some(Instant::now()));
            }
            let mut quiet = Context::from_waker(Waker::noop());
            if let Poll::Ready(done) = Pin::new(&mut self.script).poll(&mut quiet) {
                SLICE_START.set(None);
                return Poll::Ready(done);
            }
            if INLINE.get() {
                // Never yield the caller's task queue from inside its
                // task: the caller hands the script to the script queue.
                self.handed_off = true;
                return Poll::Pending;
            }
            if self.as_mut().pause(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl<F: Future + Unpin> Preemptible<F> {
    /// Between two slices: lets the core's other work run (see above).
    fn pause(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Let any other thread that shares this core run (a load
        // generator, the OS): a script core never parks otherwise.
        std::thread::yield_now();
        let executor = glommio::executor();
        // The executor polls I/O only between its turns; collect the
        // completions now so the connections they wake run first.
        executor.poll_io_now();
        let mut pause: QueueYield = Box::pin(async move { executor.yield_task_queue_now().await });
        if pause.as_mut().poll(cx).is_pending() {
            self.pause = Some(pause);
            return Poll::Pending;
        }
        Poll::Ready(())
    }
}
