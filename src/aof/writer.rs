//! Appends a shard's records to its current incremental file, with group
//! commit: records are framed into one buffer as the shard applies them,
//! and one [`Writer::commit`] writes them all and, per the fsync policy,
//! makes them durable with one `fdatasync`.
//!
//! File API: glommio's `BufferedFile` (page cache, `write_at` +
//! `fdatasync` through io_uring) rather than the DMA files. The group
//! commit already gathers a turn's records into one write, so a DMA
//! stream's own buffering adds nothing; and `DmaStreamWriter::sync()`
//! pads the partial block and rewrites it on every commit (up to a block
//! per commit in `always`), cannot reopen a file at an unaligned end after
//! a restart, and leaves zeros at the tail after a crash. Buffered writes
//! plus `fdatasync` are also exactly the system calls Redis's `always`
//! makes. Recovery still treats a zero-filled tail as torn: a crash after
//! the size grew but before the data blocks reached the disk shows zeros
//! on ext4 and XFS too.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::io::{BufferedFile, OpenOptions};

use super::record::{self, RecordTooLong, HEADER_BYTES, MAX_PAYLOAD_BYTES};

/// `appendfsync`: when a commit is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every commit ends with an `fdatasync`: acknowledged means on disk.
    Always,
    /// A sync at most [`EVERYSEC_INTERVAL`] after the last one, run by a
    /// commit or by the caller's timer ([`Writer::sync_if_due`]).
    EverySec,
    /// Never synced here: the kernel writes back when it likes.
    No,
}

/// How far `everysec` lets durability lag behind.
pub const EVERYSEC_INTERVAL: Duration = Duration::from_secs(1);

/// The first half of a commit, for a caller that must not hold the
/// writer across the write (the shard's sinks append meanwhile): the
/// sealed bytes, where they go and the last LSN they hold.
pub struct Flush {
    pub file: Rc<std::fs::File>,
    pub bytes: Vec<u8>,
    pub at: u64,
    pub lsn: u64,
}

/// A sync the policy asks for now: the file and the LSN it makes durable.
pub struct SyncDue {
    pub file: Rc<BufferedFile>,
    pub lsn: u64,
}

pub struct Writer {
    /// Syncs (and closes) through io_uring.
    file: Rc<BufferedFile>,
    /// The same file, for [`write_all_at`]'s plain `pwrite`s.
    writes: Rc<std::fs::File>,
    path: PathBuf,
    policy: FsyncPolicy,
    /// File offset where the next write lands: the end of what was written.
    written_end: u64,
    /// Framed records not written yet, then the record being built.
    pending: Vec<u8>,
    /// The record being built: its start in `pending` and the database
    /// selected before it (restored if it is aborted).
    open: Option<(usize, Option<usize>)>,
    /// The database the file's replay is in after the last `SELECT`
    /// written; `None` at the start of a file (or of a reopened one).
    selected_db: Option<usize>,
    next_lsn: u64,
    /// LSN of the last sealed record in `pending`, or of the last written.
    appended_lsn: u64,
    written_lsn: u64,
    durable_lsn: u64,
    last_sync: Instant,
    /// The largest record payload accepted ([`MAX_PAYLOAD_BYTES`]).
    max_payload: usize,
    /// An `fdatasync` failed: nothing more is acknowledged from this file.
    sync_failed: bool,
    #[cfg(test)]
    fail_next_sync: bool,
}

impl Writer {
    /// Opens (or creates) `path` to append after its current end, the next
    /// record numbered `next_lsn` (one past the last recovered record).
    /// Only after recovery: appending after a torn tail that was not
    /// truncated would turn it into damage in the middle of the file.
    pub async fn open(path: &Path, policy: FsyncPolicy, next_lsn: u64) -> std::io::Result<Writer> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .buffered_open(path)
            .await?;
        let written_end = file.file_size().await?;
        let writes = std::fs::OpenOptions::new().write(true).open(path)?;
        let last = next_lsn.saturating_sub(1);
        Ok(Writer {
            file: Rc::new(file),
            writes: Rc::new(writes),
            path: path.to_path_buf(),
            policy,
            written_end,
            pending: Vec::new(),
            open: None,
            selected_db: None,
            next_lsn,
            appended_lsn: last,
            written_lsn: last,
            durable_lsn: last,
            last_sync: Instant::now(),
            max_payload: MAX_PAYLOAD_BYTES,
            sync_failed: false,
            #[cfg(test)]
            fail_next_sync: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    /// Lowers the record size limit (never above [`MAX_PAYLOAD_BYTES`]).
    pub fn set_max_payload(&mut self, bytes: usize) {
        self.max_payload = bytes.min(MAX_PAYLOAD_BYTES);
    }

    pub fn set_policy(&mut self, policy: FsyncPolicy) {
        self.policy = policy;
    }

    /// Bytes in the file plus bytes waiting to be written.
    pub fn size(&self) -> u64 {
        self.written_end + self.pending.len() as u64
    }

    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// LSN of the last record appended (sealed), written, made durable.
    pub fn appended_lsn(&self) -> u64 {
        self.appended_lsn
    }

    pub fn written_lsn(&self) -> u64 {
        self.written_lsn
    }

    pub fn durable_lsn(&self) -> u64 {
        self.durable_lsn
    }

    /// Opens a record; the effects pushed until [`Self::finish_record`]
    /// are one record, on disk entirely or not at all.
    pub fn begin_record(&mut self) {
        if !crate::invariant!(self.open.is_none(), "a log record begun twice") {
            return;
        }
        self.open = Some((self.pending.len(), self.selected_db));
        self.pending.resize(self.pending.len() + HEADER_BYTES, 0);
    }

    fn select(&mut self, db: usize) {
        if self.selected_db != Some(db) {
            record::encode_select(&mut self.pending, db);
            self.selected_db = Some(db);
        }
    }

    /// Adds a command that changed database `db` to the open record.
    pub fn push_command<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        if !crate::invariant!(self.open.is_some(), "a command outside a log record") {
            return;
        }
        self.select(db);
        crate::protocol::encode_command_into(&mut self.pending, argv);
    }

    /// Adds the deletion of an expired key, as Redis propagates it: `DEL`.
    pub fn push_expired(&mut self, db: usize, key: &[u8]) {
        self.push_command(db, &[b"DEL".as_slice(), key]);
    }

    /// Seals the open record and numbers it. A record over the size limit
    /// is dropped (as if aborted) and reported.
    pub fn finish_record(&mut self) -> Result<u64, RecordTooLong> {
        let Some((start, _)) = self.open else {
            crate::invariant!(false, "a log record finished but never begun");
            return Err(RecordTooLong(0));
        };
        let lsn = self.next_lsn;
        if let Err(e) = record::seal(&mut self.pending, start, lsn, self.max_payload) {
            self.abort_record();
            return Err(e);
        }
        self.open = None;
        self.next_lsn += 1;
        self.appended_lsn = lsn;
        Ok(lsn)
    }

    /// Drops the open record (a script that failed before writing).
    pub fn abort_record(&mut self) {
        if let Some((start, db)) = self.open.take() {
            self.pending.truncate(start);
            self.selected_db = db;
        }
    }

    /// One command as one record.
    pub fn append_command<A: AsRef<[u8]>>(
        &mut self,
        db: usize,
        argv: &[A],
    ) -> Result<u64, RecordTooLong> {
        self.begin_record();
        self.push_command(db, argv);
        self.finish_record()
    }

    /// The sealed records not written yet (`None`: nothing to write), to
    /// write with [`write_all_at`] and report with [`Self::wrote`]. One
    /// flush at a time: the caller serializes them.
    pub fn take_sealed(&self) -> std::io::Result<Option<Flush>> {
        self.check_sync_failed()?;
        let sealed = self.open.map_or(self.pending.len(), |(start, _)| start);
        if sealed == 0 {
            return Ok(None);
        }
        Ok(Some(Flush {
            file: self.writes.clone(),
            bytes: self.pending[..sealed].to_vec(),
            at: self.written_end,
            lsn: self.appended_lsn,
        }))
    }

    /// The flush `len` bytes long, up to `lsn`, is written.
    pub fn wrote(&mut self, len: usize, lsn: u64) {
        self.pending.drain(..len);
        if let Some((start, _)) = &mut self.open {
            *start -= len;
        }
        self.written_end += len as u64;
        self.written_lsn = lsn;
    }

    /// The sync the policy asks for now, if any (after a flush).
    pub fn sync_due(&self) -> Option<SyncDue> {
        let due = match self.policy {
            FsyncPolicy::Always => true,
            FsyncPolicy::EverySec => self.last_sync.elapsed() >= EVERYSEC_INTERVAL,
            FsyncPolicy::No => false,
        };
        (due && !self.sync_failed && self.durable_lsn < self.written_lsn).then(|| SyncDue {
            file: self.file.clone(),
            lsn: self.written_lsn,
        })
    }

    /// A sync of everything written, whatever the policy (`None`: nothing
    /// to sync): before a rotation, so that the sync it makes under the
    /// commit lock has little left to do.
    pub fn sync_all_due(&self) -> Option<SyncDue> {
        (!self.sync_failed && self.durable_lsn < self.written_lsn).then(|| SyncDue {
            file: self.file.clone(),
            lsn: self.written_lsn,
        })
    }

    /// The sync [`Self::sync_due`] asked for ended: durable up to `lsn`,
    /// or (`ok` false) the file can no longer promise durability.
    pub fn synced(&mut self, lsn: u64, ok: bool) {
        if ok {
            self.durable_lsn = self.durable_lsn.max(lsn);
            self.last_sync = Instant::now();
        } else {
            self.sync_failed = true;
        }
    }

    /// Writes every sealed record and, per the policy, syncs. With
    /// `Always`, returns once they are durable. After a failed write
    /// nothing is lost from memory: the next commit writes the same bytes
    /// at the same offset again. After a failed sync every later commit
    /// fails (see [`Self::sync_failed`]).
    pub async fn commit(&mut self) -> std::io::Result<()> {
        if let Some(flush) = self.take_sealed()? {
            write_all_at(&flush.file, &flush.bytes, flush.at)?;
            self.wrote(flush.bytes.len(), flush.lsn);
        }
        match self.policy {
            FsyncPolicy::Always => self.sync().await,
            FsyncPolicy::EverySec => self.sync_if_due().await,
            FsyncPolicy::No => Ok(()),
        }
    }

    /// `everysec`'s sync, when the last one is [`EVERYSEC_INTERVAL`] old.
    pub async fn sync_if_due(&mut self) -> std::io::Result<()> {
        if self.last_sync.elapsed() >= EVERYSEC_INTERVAL {
            self.sync().await
        } else {
            Ok(())
        }
    }

    /// Makes everything written durable (`fdatasync`).
    pub async fn sync(&mut self) -> std::io::Result<()> {
        self.check_sync_failed()?;
        let target = self.written_lsn;
        if self.durable_lsn < target {
            #[cfg(test)]
            if std::mem::take(&mut self.fail_next_sync) {
                self.synced(target, false);
                return Err(std::io::Error::other("injected fdatasync failure"));
            }
            let result = self.file.fdatasync().await;
            self.synced(target, result.is_ok());
            result?;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Once an `fdatasync` failed, the kernel may have dropped the dirty
    /// pages and a retry would "succeed" without them (PostgreSQL's
    /// fsyncgate): this file can no longer promise durability, and the
    /// caller must move on to a new file (a rewrite) to log again.
    fn check_sync_failed(&self) -> std::io::Result<()> {
        if self.sync_failed {
            return Err(std::io::Error::other(format!(
                "an earlier fdatasync of {} failed: the log needs a new file",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Moves on to `next`, a fresh file (a rewrite's new incremental
    /// file, opened with [`Writer::open`]): the sealed records not written
    /// yet are written here first, and later records go to `next`,
    /// numbered on. Returns this file's writer, written but not synced:
    /// the caller makes it durable (see [`Writer::close`]) before anything
    /// after it counts as durable. Refused while a record is open.
    pub fn move_to(&mut self, mut next: Writer) -> std::io::Result<Writer> {
        if self.open.is_some() {
            return Err(std::io::Error::other("a record is open"));
        }
        if let Some(flush) = self.take_sealed()? {
            write_all_at(&flush.file, &flush.bytes, flush.at)?;
            self.wrote(flush.bytes.len(), flush.lsn);
        }
        next.policy = self.policy;
        next.max_payload = self.max_payload;
        next.next_lsn = self.next_lsn;
        next.appended_lsn = self.appended_lsn;
        next.written_lsn = self.written_lsn;
        next.durable_lsn = self.durable_lsn;
        next.last_sync = self.last_sync;
        Ok(std::mem::replace(self, next))
    }

    /// Whether an `fdatasync` failed (see [`Self::commit`]'s errors).
    pub fn sync_failed(&self) -> bool {
        self.sync_failed
    }

    #[cfg(test)]
    pub(crate) fn fail_next_sync(&mut self) {
        self.fail_next_sync = true;
    }

    /// Commits, syncs whatever the policy, and closes the file.
    pub async fn close(mut self) -> std::io::Result<()> {
        self.abort_record();
        self.commit().await?;
        self.sync().await?;
        // The last holder closes it (a flush in flight holds a clone).
        if let Ok(file) = Rc::try_unwrap(self.file) {
            file.close().await?;
        }
        Ok(())
    }
}

/// Writes all of `bytes` at `at`, with plain `pwrite`s: a copy into the
/// page cache, as Redis's `write` before its replies. Through io_uring the
/// write cost every commit a reactor round trip, which held `everysec`
/// and `no` at about 0.6x of no log with pipelining.
pub fn write_all_at(file: &std::fs::File, bytes: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, at)
}
