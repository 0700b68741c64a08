//! A shard's append-only log at run time: the write hook's sink that turns
//! effects into records, and the group commit that replies wait for.
//!
//! Records are appended as commands apply (synchronously, from the sink);
//! a reply that depends on them waits in [`ShardLog::wait_for`], which
//! writes (and, per `appendfsync`, syncs) everything appended so far in
//! one commit: every connection woken in one reactor turn appends before
//! the first of them waits, so one `fdatasync` covers the turn.
//!
//! After a failure (a write or sync error, a record over the size limit)
//! the log is broken: each reply of a write whose record it did not cover
//! becomes `-MISCONF` ([`ShardLog::lost`]), later writes get `-MISCONF`
//! before they run (see [`Core::execute`](super::core::Core::execute)),
//! reads keep working.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use glommio::sync::Semaphore;

use super::effects::{Effect, Sink, SinkId};
use crate::aof::writer::{self, FsyncPolicy, Writer};
use crate::config::Param;
use crate::node::{LogReport, Node};

/// Redis 7's reply to a write while the log is broken, before the reason.
pub const MISCONF_PREFIX: &str = "MISCONF Errors writing to the AOF file: ";

pub struct ShardLog {
    node: Arc<Node>,
    writer: RefCell<Writer>,
    /// Held by the commit in flight: a file's writes go in order.
    committing: Semaphore,
    /// Records begun so far (numbered as the writer numbers them while the
    /// log is healthy): what a reply waits for.
    attempted: Cell<u64>,
    in_batch: Cell<bool>,
    /// Set once, at the first failure: the reason, and the last record
    /// whose reply may still succeed.
    broken: RefCell<Option<(String, u64)>>,
}

/// Where a shard keeps its log while `appendonly` is on: set when the log
/// is opened (at start, or by `CONFIG SET appendonly yes`) and emptied by
/// `CONFIG SET appendonly no`. Every write looks here once: a borrow and,
/// with the log on, a reference count.
#[derive(Default)]
pub struct LogSlot(RefCell<Option<Attached>>);

/// The log and the write-hook sink that feeds it (`None` once detached:
/// the log is being closed).
type Attached = (Rc<ShardLog>, Option<SinkId>);

impl LogSlot {
    /// The log, if on.
    pub fn get(&self) -> Option<Rc<ShardLog>> {
        self.0.borrow().as_ref().map(|(log, _)| log.clone())
    }

    pub fn is_on(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// Puts `log` here, fed by write-hook sink `sink`; `false` (and
    /// nothing changes) if a log is here already.
    pub fn set(&self, log: Rc<ShardLog>, sink: SinkId) -> bool {
        let mut slot = self.0.borrow_mut();
        if slot.is_some() {
            return false;
        }
        *slot = Some((log, Some(sink)));
        true
    }

    /// The sink to remove from the write hook, once: the log stays here
    /// (replies still wait for it) until [`Self::clear`].
    pub fn detach(&self) -> Option<SinkId> {
        self.0
            .borrow_mut()
            .as_mut()
            .and_then(|(_, sink)| sink.take())
    }

    /// Empties the slot.
    pub fn clear(&self) -> Option<Rc<ShardLog>> {
        self.0.borrow_mut().take().map(|(log, _)| log)
    }
}

/// `appendfsync` from the configuration.
pub fn policy(node: &Node) -> FsyncPolicy {
    match node.config.int(Param::Appendfsync) {
        0 => FsyncPolicy::Always,
        1 => FsyncPolicy::EverySec,
        _ => FsyncPolicy::No,
    }
}

impl ShardLog {
    pub fn new(node: Arc<Node>, writer: Writer) -> Rc<ShardLog> {
        let attempted = writer.appended_lsn();
        Rc::new(ShardLog {
            node,
            writer: RefCell::new(writer),
            committing: Semaphore::new(1),
            attempted: Cell::new(attempted),
            in_batch: Cell::new(false),
            broken: RefCell::new(None),
        })
    }

    /// The write hook's sink feeding this log.
    pub fn sink(self: &Rc<Self>) -> Sink {
        let log = self.clone();
        Box::new(move |effect| log.append(effect))
    }

    fn append(&self, effect: &Effect) {
        if self.is_broken() {
            // Nothing more is acknowledged from this log: keep no backlog.
            return;
        }
        let mut w = self.writer.borrow_mut();
        let single = !self.in_batch.get();
        match *effect {
            Effect::BatchBegin => {
                self.in_batch.set(true);
                self.begin(&mut w);
                return;
            }
            Effect::BatchEnd => {
                self.in_batch.set(false);
            }
            Effect::Command { db, argv } => {
                if single {
                    self.begin(&mut w);
                }
                w.push_command(db, argv);
            }
            Effect::Expired { db, key } => {
                if single {
                    self.begin(&mut w);
                }
                w.push_expired(db, key);
            }
        }
        if !self.in_batch.get() {
            let finished = w.finish_record();
            drop(w);
            if let Err(e) = finished {
                // Applied in memory but not logged: its reply and every
                // later write must fail rather than claim durability.
                self.fail(format!("{e}"), self.attempted.get() - 1);
            }
        }
    }

    fn begin(&self, w: &mut Writer) {
        w.begin_record();
        self.attempted.set(self.attempted.get() + 1);
    }

    fn fail(&self, why: String, ok_upto: u64) {
        let mut broken = self.broken.borrow_mut();
        if broken.is_none() {
            eprintln!(
                "append-only log {}: {why}; writes are refused until restart",
                self.writer.borrow().path().display()
            );
            *broken = Some((why, ok_upto));
        }
    }

    pub fn is_broken(&self) -> bool {
        self.broken.borrow().is_some()
    }

    /// The `-MISCONF` text while the log is broken.
    pub fn misconf(&self) -> Option<String> {
        let broken = self.broken.borrow();
        broken
            .as_ref()
            .map(|(why, _)| format!("{MISCONF_PREFIX}{why}"))
    }

    /// Records begun so far: a command that moved this on appended the
    /// records up to it (what its reply claims, see [`Self::lost`]).
    pub fn appended(&self) -> u64 {
        self.attempted.get()
    }

    /// The `-MISCONF` text when record `lsn` was not made durable (the log
    /// broke before covering it): the reply of the write that appended it
    /// must say so. `None` while it may still be, or once it is.
    pub fn lost(&self, lsn: u64) -> Option<String> {
        let broken = self.broken.borrow();
        let (why, ok_upto) = broken.as_ref()?;
        (lsn > *ok_upto).then(|| format!("{MISCONF_PREFIX}{why}"))
    }

    /// What a reply released now must wait for: every record so far (a
    /// read may have seen a write not committed yet), except a batch still
    /// open (a script running in its own task): it cannot be committed
    /// before it ends, and its own reply comes after that.
    pub fn target(&self) -> u64 {
        self.attempted.get() - u64::from(self.in_batch.get())
    }

    /// Whether the records up to `target` are committed per the policy.
    fn covered(&self, target: u64) -> bool {
        let w = self.writer.borrow();
        // The configured policy (CONFIG SET may have changed it since the
        // last commit).
        match policy(&self.node) {
            FsyncPolicy::Always => w.durable_lsn() >= target,
            _ => w.written_lsn() >= target,
        }
    }

    /// Waits until the records up to `target` are written (or durable,
    /// with `appendfsync always`), committing them if no commit in flight
    /// covers them. An error when the log broke before covering them.
    pub async fn wait_for(&self, target: u64) -> Result<(), String> {
        loop {
            if let Some((why, ok_upto)) = &*self.broken.borrow() {
                if target <= *ok_upto {
                    return Ok(());
                }
                return Err(format!("{MISCONF_PREFIX}{why}"));
            }
            if self.covered(target) {
                return Ok(());
            }
            let Ok(permit) = self.committing.acquire_permit(1).await else {
                return Err(format!("{MISCONF_PREFIX}the log is closed"));
            };
            // The commit that was in flight may have covered `target`.
            if self.broken.borrow().is_none() && !self.covered(target) {
                self.commit_locked().await;
            }
            drop(permit);
            if !self.covered(target) {
                // Never spin without letting the shard's other tasks run.
                futures_lite::future::yield_now().await;
            }
        }
    }

    /// `everysec`'s timer: writes what is pending, then syncs if due —
    /// outside the commit lock, so that no reply waits for an `everysec`
    /// sync (Redis syncs it in a background thread).
    pub async fn tick(&self) {
        if self.broken.borrow().is_some() {
            return;
        }
        if let Ok(permit) = self.committing.acquire_permit(1).await {
            self.commit_locked().await;
            drop(permit);
        }
        let due = self.writer.borrow().sync_due();
        if let Err(e) = self.sync(due).await {
            // What was written was acknowledged already (everysec).
            let written = self.writer.borrow().written_lsn();
            self.fail(format!("fdatasync failed: {e}"), written);
        }
    }

    /// The sync `due` asks for (none: nothing to do), recorded in the
    /// writer; no commit lock needed: writes may go on meanwhile.
    async fn sync(&self, due: Option<writer::SyncDue>) -> std::io::Result<()> {
        let Some(due) = due else {
            return Ok(());
        };
        let result = due.file.fdatasync().await;
        self.writer.borrow_mut().synced(due.lsn, result.is_ok());
        Ok(result?)
    }

    /// The last record whose reply the policy lets go now: durable with
    /// `always`, written otherwise (what stays acknowledged if the log
    /// breaks).
    fn acknowledged(&self) -> u64 {
        let w = self.writer.borrow();
        match w.policy() {
            FsyncPolicy::Always => w.durable_lsn(),
            _ => w.written_lsn(),
        }
    }

    /// One commit; the caller holds `committing`.
    async fn commit_locked(&self) {
        self.writer.borrow_mut().set_policy(policy(&self.node));
        let before = self.acknowledged();
        let flush = self.writer.borrow().take_sealed();
        match flush {
            Ok(None) => {}
            Ok(Some(f)) => match writer::write_all_at(&f.file, &f.bytes, f.at) {
                Ok(()) => self.writer.borrow_mut().wrote(f.bytes.len(), f.lsn),
                Err(e) => return self.fail(format!("write failed: {e}"), before),
            },
            Err(e) => return self.fail(e.to_string(), before),
        }
        // Only `always` syncs before the replies; `everysec`'s sync is
        // the timer's ([`Self::tick`]).
        let due = {
            let w = self.writer.borrow();
            matches!(w.policy(), FsyncPolicy::Always)
                .then(|| w.sync_due())
                .flatten()
        };
        if let Err(e) = self.sync(due).await {
            self.fail(format!("fdatasync failed: {e}"), before);
        }
    }

    /// Moves the log to the fresh file `next` (a rewrite's new
    /// incremental file) in the same step as `at_switch` runs, so nothing
    /// is appended in between: once no batch is open and `ready` says so,
    /// the records so far go to the current file and the later ones to
    /// `next`. The current file is synced, under the commit lock, before
    /// any later record counts as durable. A rewrite's `at_switch` freezes
    /// the keyspace: the new base plus `next` is then the whole log.
    pub async fn rotate(
        &self,
        next: Writer,
        ready: impl Fn() -> bool,
        at_switch: impl FnOnce(),
    ) -> Result<(), String> {
        // The current file is synced first outside the commit lock (with
        // `everysec` up to a second of writes): the sync under the lock
        // below then holds replies back for what came since, not for that.
        let due = self.writer.borrow().sync_all_due();
        let ok_before = self.acknowledged();
        if let Err(e) = self.sync(due).await {
            self.fail(format!("fdatasync failed: {e}"), ok_before);
        }
        loop {
            let Ok(permit) = self.committing.acquire_permit(1).await else {
                return Err("the log is closed".into());
            };
            if let Some(why) = self.misconf() {
                return Err(why);
            }
            if !self.in_batch.get() && ready() {
                // What stays acknowledged if this fails (as a commit's).
                let ok_before = self.acknowledged();
                let old = match self.writer.borrow_mut().move_to(next) {
                    Ok(old) => old,
                    Err(e) => {
                        let why = format!("write failed: {e}");
                        self.fail(why.clone(), ok_before);
                        return Err(why);
                    }
                };
                at_switch();
                let lsn = old.written_lsn();
                match old.close().await {
                    Ok(()) => self.writer.borrow_mut().synced(lsn, true),
                    Err(e) => self.fail(format!("fdatasync failed: {e}"), ok_before),
                }
                drop(permit);
                return self.misconf().map_or(Ok(()), Err);
            }
            // A script's batch is open (or the caller is not ready): try
            // again once it has had time to end.
            drop(permit);
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    pub fn report(&self) -> LogReport {
        let w = self.writer.borrow();
        LogReport {
            size: w.size(),
            durable_lsn: w.durable_lsn(),
            pending_bytes: w.pending_bytes(),
            ok: self.broken.borrow().is_none(),
        }
    }

    /// At shutdown: commits and syncs what is left, whatever the policy.
    pub async fn close(&self) {
        if let Ok(permit) = self.committing.acquire_permit(1).await {
            self.commit_locked().await;
            let due = {
                let mut w = self.writer.borrow_mut();
                w.set_policy(FsyncPolicy::Always);
                w.sync_due()
            };
            // At shutdown there is no one left to tell of a failure.
            let _ = self.sync(due).await;
            drop(permit);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::aof::tests::{run, TempDir};
    use crate::config::Config;

    fn argv(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn effects_become_records_and_an_oversized_one_breaks_the_log() {
        let dir = TempDir::new("shard-log");
        let config = Config::default();
        config
            .set_initial("appendfsync", "always")
            .expect("a valid policy");
        let node = Arc::new(Node::new(config, vec![0]));
        run(async {
            let path = dir.path().join("log.aof");
            let mut w = Writer::open(&path, FsyncPolicy::Always, 1)
                .await
                .expect("opens");
            w.set_max_payload(100);
            let log = ShardLog::new(node, w);
            let mut sink = log.sink();
            let set = argv("SET a 1");
            sink(&Effect::Command { db: 0, argv: &set });
            sink(&Effect::BatchBegin);
            sink(&Effect::Command { db: 1, argv: &set });
            sink(&Effect::Expired { db: 1, key: b"k" });
            sink(&Effect::BatchEnd);
            assert_eq!(log.target(), 2, "one record each, the batch as one");
            log.wait_for(log.target()).await.expect("committed");
            assert_eq!(log.report().durable_lsn, 2);
            assert!(log.misconf().is_none());

            // A batch still open (a script between slices) is not waited
            // for: it cannot be committed before it ends.
            sink(&Effect::BatchBegin);
            sink(&Effect::Command { db: 0, argv: &set });
            assert_eq!(log.target(), 2);
            log.wait_for(log.target())
                .await
                .expect("nothing to wait for");
            sink(&Effect::BatchEnd);
            assert_eq!(log.target(), 3);
            log.wait_for(log.target()).await.expect("committed");
            assert_eq!(log.report().durable_lsn, 3);

            let big = argv(&format!("SET b {}", "x".repeat(200)));
            sink(&Effect::Command { db: 0, argv: &big });
            let err = log.wait_for(log.target()).await.expect_err("not logged");
            assert!(err.starts_with(MISCONF_PREFIX), "{err}");
            assert!(log.misconf().is_some(), "later writes are refused");
            assert!(log.lost(log.appended()).is_some(), "its record is lost");
            assert!(log.lost(3).is_none(), "the records before it are not");
            log.wait_for(2)
                .await
                .expect("what was logged before still is");
            assert!(!log.report().ok);
            log.close().await;
        });
    }
}
