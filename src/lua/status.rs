//! What each shard's script is doing, readable by every core: whether a
//! script runs and has gone past `busy-reply-threshold` (other cores answer
//! `-BUSY` from this without a hop), kill requests (SCRIPT KILL from any
//! core, `script-kill-after`, SHUTDOWN NOSAVE), and the counters INFO shows.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

/// `-BUSY` while an EVAL script runs.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// `-BUSY` while a function (FCALL) runs.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// What runs on a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Idle,
    /// A script runs, still within the threshold: commands wait.
    Running,
    /// A script runs past the threshold: commands get `-BUSY`.
    Busy,
}

/// The kind of script running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Eval,
    Function,
}

/// Why a script is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    /// SCRIPT KILL or FUNCTION KILL.
    User,
    /// `script-kill-after` elapsed (the value, in ms).
    After(u64),
    /// SHUTDOWN NOSAVE (stops even scripts that wrote).
    Shutdown,
}

// Bits of `control`: one word, so "has written" and "kill requested" can
// never both be accepted for a killable script (see `request_kill` and
// `mark_written`).
const WROTE: u8 = 1;
const KILL_USER: u8 = 2;
const KILL_AFTER: u8 = 4;
const KILL_SHUTDOWN: u8 = 8;
const KILL_ANY: u8 = KILL_USER | KILL_AFTER | KILL_SHUTDOWN;

const PHASE_IDLE: u8 = 0;
const PHASE_RUNNING: u8 = 1;
const PHASE_BUSY: u8 = 2;

/// One shard's script status.
#[derive(Default)]
pub struct ScriptStatus {
    phase: AtomicU8,
    /// 0: eval, 1: function.
    kind: AtomicU8,
    control: AtomicU8,
    started_ms: AtomicU64,
    /// `script-kill-after` in force when the kill happened.
    kill_after_ms: AtomicU64,
    /// The script's sha1 or the function's name.
    name: Mutex<String>,
    pub slow_scripts: AtomicU64,
    pub killed_scripts: AtomicU64,
    pub busy_replies: AtomicU64,
}

/// A snapshot for INFO and SCRIPT STATUS.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub phase: Phase,
    pub kind: Option<Kind>,
    pub name: String,
    pub elapsed_ms: u64,
    pub wrote: bool,
    pub slow_scripts: u64,
    pub killed_scripts: u64,
    pub busy_replies: u64,
}

impl ScriptStatus {
    /// A script starts on this shard (called on the shard's core).
    pub fn begin(&self, kind: Kind, name: &str, now_ms: u64) {
        // Reuses the last name's buffer.
        let mut last = self.lock_name();
        last.clear();
        last.push_str(name);
        drop(last);
        self.kind.store(kind as u8, Ordering::Relaxed);
        self.started_ms.store(now_ms, Ordering::Relaxed);
        self.control.store(0, Ordering::Relaxed);
        self.phase.store(PHASE_RUNNING, Ordering::Release);
    }

    /// The script ended; returns why it was killed, if it was.
    pub fn end(&self) -> Option<KillReason> {
        self.phase.store(PHASE_IDLE, Ordering::Release);
        let reason = self.kill_reason();
        self.control.store(0, Ordering::Relaxed);
        if reason.is_some() {
            self.killed_scripts.fetch_add(1, Ordering::Relaxed);
        }
        reason
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            PHASE_RUNNING => Phase::Running,
            PHASE_BUSY => Phase::Busy,
            _ => Phase::Idle,
        }
    }

    pub fn is_busy(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == PHASE_BUSY
    }

    pub fn kind(&self) -> Kind {
        if self.kind.load(Ordering::Relaxed) == Kind::Function as u8 {
            Kind::Function
        } else {
            Kind::Eval
        }
    }

    /// The `-BUSY` text for this shard's running script, counted.
    pub fn busy_reply(&self) -> &'static str {
        self.busy_replies.fetch_add(1, Ordering::Relaxed);
        busy_text(self.kind())
    }

    /// The script passed the threshold: from now on commands get `-BUSY`.
    /// True the first time (the caller logs it).
    pub fn mark_busy(&self) -> bool {
        let first = self
            .phase
            .compare_exchange(
                PHASE_RUNNING,
                PHASE_BUSY,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok();
        if first {
            self.slow_scripts.fetch_add(1, Ordering::Relaxed);
        }
        first
    }

    /// Before a script's first write: false if a kill was requested, so
    /// the write must not happen (a script is never killed after writing).
    pub fn mark_written(&self) -> bool {
        // After the first write only a shutdown can still stop the
        // script: one load, not a compare-and-swap, per later write.
        let current = self.control.load(Ordering::Acquire);
        if current & WROTE != 0 && current & KILL_ANY == 0 {
            return true;
        }
        self.control
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current & KILL_ANY == 0).then_some(current | WROTE)
            })
            .is_ok()
    }

    pub fn wrote(&self) -> bool {
        self.control.load(Ordering::Relaxed) & WROTE != 0
    }

    /// Asks the running script to stop. A user or `script-kill-after` kill
    /// fails (false) once the script has written; a shutdown always wins.
    pub fn request_kill(&self, reason: KillReason) -> bool {
        let bit = match reason {
            KillReason::User => KILL_USER,
            KillReason::After(ms) => {
                self.kill_after_ms.store(ms, Ordering::Relaxed);
                KILL_AFTER
            }
            KillReason::Shutdown => {
                self.control.fetch_or(KILL_SHUTDOWN, Ordering::AcqRel);
                return true;
            }
        };
        self.control
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current & WROTE == 0).then_some(current | bit)
            })
            .is_ok()
    }

    /// Why the running script must stop, if it must.
    pub fn kill_reason(&self) -> Option<KillReason> {
        let control = self.control.load(Ordering::Acquire);
        if control & KILL_SHUTDOWN != 0 {
            Some(KillReason::Shutdown)
        } else if control & KILL_USER != 0 {
            Some(KillReason::User)
        } else if control & KILL_AFTER != 0 {
            Some(KillReason::After(
                self.kill_after_ms.load(Ordering::Relaxed),
            ))
        } else {
            None
        }
    }

    pub fn report(&self, now_ms: u64) -> StatusReport {
        let phase = self.phase();
        let running = phase != Phase::Idle;
        StatusReport {
            phase,
            kind: running.then(|| self.kind()),
            name: if running {
                self.lock_name().clone()
            } else {
                String::new()
            },
            elapsed_ms: if running {
                now_ms.saturating_sub(self.started_ms.load(Ordering::Relaxed))
            } else {
                0
            },
            wrote: running && self.wrote(),
            slow_scripts: self.slow_scripts.load(Ordering::Relaxed),
            killed_scripts: self.killed_scripts.load(Ordering::Relaxed),
            busy_replies: self.busy_replies.load(Ordering::Relaxed),
        }
    }

    pub fn reset_counters(&self) {
        self.slow_scripts.store(0, Ordering::Relaxed);
        self.killed_scripts.store(0, Ordering::Relaxed);
        self.busy_replies.store(0, Ordering::Relaxed);
    }

    fn lock_name(&self) -> std::sync::MutexGuard<'_, String> {
        self.name.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn busy_text(kind: Kind) -> &'static str {
    match kind {
        Kind::Eval => BUSY_EVAL,
        Kind::Function => BUSY_FUNCTION,
    }
}

/// The error a killed script's caller gets (before Redis's
/// " script: <name>, on @<source>:<line>." suffix).
pub fn kill_error(reason: KillReason) -> String {
    match reason {
        KillReason::User => "ERR Script killed by user with SCRIPT KILL...".into(),
        KillReason::After(ms) => format!("ERR Script killed by script-kill-after ({ms} ms)..."),
        KillReason::Shutdown => "ERR Script killed by SHUTDOWN NOSAVE...".into(),
    }
}

/// SCRIPT KILL (`kind` Eval) or FUNCTION KILL (`kind` Function) over every
/// shard: kills each running script of that kind that has not written.
/// Redis's replies: OK if any was killed; UNKILLABLE if the running ones
/// have all written; BUSY (naming the other KILL) if only the other kind
/// runs; NOTBUSY if nothing runs.
///
/// A script counts from its start, not only past the threshold: Redis
/// reads SCRIPT KILL only once the script is busy and kills it then, but
/// here the command arrives at once, and a kill that waited for the
/// threshold (or answered NOTBUSY while the script runs on) would be worse.
pub fn kill_busy(statuses: &[ScriptStatus], kind: Kind) -> Result<(), &'static str> {
    let mut killed = false;
    let mut unkillable = false;
    let mut other_kind = None;
    // Redis's order: a script that wrote is unkillable whatever the kind.
    for s in statuses.iter().filter(|s| s.phase() != Phase::Idle) {
        if s.wrote() {
            unkillable = true;
        } else if s.kind() != kind {
            other_kind = Some(s.kind());
        } else if s.request_kill(KillReason::User) {
            killed = true;
        } else {
            unkillable = true;
        }
    }
    if killed {
        Ok(())
    } else if unkillable {
        Err(UNKILLABLE)
    } else if let Some(k) = other_kind {
        Err(busy_text(k))
    } else {
        Err(NOTBUSY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_that_wrote_cannot_be_killed_and_a_killed_one_cannot_write() {
        let s = ScriptStatus::default();
        s.begin(Kind::Eval, "abc", 0);
        assert!(s.mark_written());
        assert!(!s.request_kill(KillReason::User));
        assert_eq!(s.kill_reason(), None);
        assert!(s.request_kill(KillReason::Shutdown));
        assert_eq!(s.end(), Some(KillReason::Shutdown));

        s.begin(Kind::Eval, "abc", 0);
        assert!(s.request_kill(KillReason::User));
        assert!(!s.mark_written());
        assert_eq!(s.end(), Some(KillReason::User));
        assert_eq!(s.killed_scripts.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn kill_replies_follow_redis() {
        let shards: Vec<ScriptStatus> = (0..2).map(|_| ScriptStatus::default()).collect();
        assert_eq!(kill_busy(&shards, Kind::Eval), Err(NOTBUSY));
        shards[0].begin(Kind::Function, "f", 0);
        assert_eq!(
            kill_busy(&shards, Kind::Eval),
            Err(BUSY_FUNCTION),
            "running, not yet busy"
        );
        assert!(shards[0].mark_busy());
        assert!(!shards[0].mark_busy(), "counted once");
        assert_eq!(kill_busy(&shards, Kind::Eval), Err(BUSY_FUNCTION));
        shards[1].begin(Kind::Eval, "sha", 0);
        shards[1].mark_busy();
        shards[1].mark_written();
        assert_eq!(kill_busy(&shards, Kind::Eval), Err(UNKILLABLE));
        assert_eq!(kill_busy(&shards, Kind::Function), Ok(()));
        assert_eq!(shards[0].kill_reason(), Some(KillReason::User));
    }
}
