//! Reads a shard's log back on start, record by record.
//!
//! - A torn last record (cut short, zero-filled, failing its checksum) at
//!   the end of the shard's last incremental file is what a crash leaves:
//!   it is dropped and the file truncated there, with a warning, as Redis
//!   does with `aof-load-truncated yes`.
//! - Damage anywhere else (a bad record followed by a record that
//!   verifies, anything wrong in an earlier file or in a base, an LSN that
//!   does not increase) is an error naming the file and byte offset, and
//!   nothing is modified: the caller refuses to start.
//!
//! Every byte is hostile: lengths are checked against the limits and the
//! file size before anything is allocated, and nothing here panics.
//!
//! Plain `std::fs` positional reads: recovery runs once, before the shard
//! serves, and reads sequentially, so it needs neither the executor nor
//! O_DIRECT's alignment.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::record::{self, HeaderError, HEADER_BYTES};

/// Bytes read from the file at a time (a record longer than this is
/// read whole, once).
pub const READ_CHUNK_BYTES: usize = 1024 * 1024;

/// `aof-load-truncated`: what to do with a torn last record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TornTail {
    /// Drop it and truncate the file there (`yes`, Redis's default).
    Truncate,
    /// Refuse to start (`no`).
    Refuse,
}

/// Why a log cannot be loaded: one line naming the file and the offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryError {
    pub file: PathBuf,
    pub offset: u64,
    pub what: String,
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad append-only log {} at byte {}: {}",
            self.file.display(),
            self.offset,
            self.what
        )
    }
}

impl std::error::Error for RecoveryError {}

/// The torn record dropped from the end of the last file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub file: PathBuf,
    /// Where the file now ends: the end of its last complete record.
    pub offset: u64,
    /// Bytes cut off.
    pub dropped: u64,
    pub why: String,
}

impl Truncation {
    /// The warning logged when the tail is dropped.
    pub fn warning(&self) -> String {
        format!(
            "warning: the append-only log {} ends with an incomplete record at byte {} ({}); \
             {} bytes dropped and the file truncated there (aof-load-truncated yes)",
            self.file.display(),
            self.offset,
            self.why,
            self.dropped
        )
    }
}

/// What a successful recovery read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    pub records: u64,
    /// LSN of the last record, 0 for an empty log: the writer goes on at
    /// `last_lsn + 1`.
    pub last_lsn: u64,
    pub truncated: Option<Truncation>,
}

/// Reads shard `shard`'s incremental files as `manifest` names them in
/// `dir`, calling `on_record(lsn, payload)` for each record in order. A
/// torn tail of the last one is dropped (logging
/// [`Truncation::warning`]). The shard's base is an RDB file, loaded by
/// the caller first.
///
/// `on_record` may have seen records before an error is found in a later
/// file: on an error the caller discards what it loaded and stops.
pub fn recover_shard(
    dir: &Path,
    manifest: &Manifest,
    shard: usize,
    tail: TornTail,
    on_record: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<Recovered, RecoveryError> {
    // The base, an RDB file, is the caller's to load.
    let files = manifest.incr_files(shard);
    let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(&f.name)).collect();
    let recovered = read_log(&paths, tail, on_record)?;
    if let Some(t) = &recovered.truncated {
        eprintln!("{}", t.warning());
    }
    Ok(recovered)
}

/// Reads `files` in order (see [`recover_shard`]); only the last one may
/// end with a torn record.
pub fn read_log(
    files: &[PathBuf],
    tail: TornTail,
    mut on_record: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<Recovered, RecoveryError> {
    let mut recovered = Recovered::default();
    for (i, path) in files.iter().enumerate() {
        let may_be_torn = tail == TornTail::Truncate && i + 1 == files.len();
        let mut reader = FileReader::open(path)?;
        recovered.truncated = reader.read(may_be_torn, &mut recovered, &mut on_record)?;
    }
    // Only now that every file verified is anything modified.
    if let Some(t) = &recovered.truncated {
        truncate(&t.file, t.offset).map_err(|e| RecoveryError {
            file: t.file.clone(),
            offset: t.offset,
            what: format!("cannot truncate the torn tail: {e}"),
        })?;
    }
    Ok(recovered)
}

fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()
}

/// Where a bad record's damage may be a torn write.
enum Bad {
    /// Never: a verified header the writer cannot have written.
    Never,
    /// If no verified header starts at or after this offset.
    UnlessHeaderFrom(u64),
}

/// One file, read through a window so a run of small records costs one
/// system call per [`READ_CHUNK_BYTES`].
struct FileReader<'p> {
    path: &'p Path,
    file: File,
    len: u64,
    window: Vec<u8>,
    window_at: u64,
}

impl<'p> FileReader<'p> {
    fn open(path: &'p Path) -> Result<FileReader<'p>, RecoveryError> {
        let io = |e: std::io::Error| RecoveryError {
            file: path.to_path_buf(),
            offset: 0,
            what: format!("cannot read: {e}"),
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(FileReader {
            path,
            file,
            len,
            window: Vec::new(),
            window_at: 0,
        })
    }

    fn error(&self, offset: u64, what: impl Into<String>) -> RecoveryError {
        RecoveryError {
            file: self.path.to_path_buf(),
            offset,
            what: what.into(),
        }
    }

    /// Up to `n` bytes at `pos` (fewer at the end of the file). The
    /// allocation is bounded by the file's size and `max(n, chunk)`.
    fn bytes(&mut self, pos: u64, n: usize) -> Result<&[u8], RecoveryError> {
        let available = self.len.saturating_sub(pos);
        let n = n.min(usize::try_from(available).unwrap_or(usize::MAX));
        let in_window =
            pos >= self.window_at && pos + n as u64 <= self.window_at + self.window.len() as u64;
        if !in_window {
            let want = n
                .max(READ_CHUNK_BYTES)
                .min(usize::try_from(available).unwrap_or(usize::MAX));
            self.window.clear();
            self.window.resize(want, 0);
            self.window_at = pos;
            if let Err(e) = self.file.read_exact_at(&mut self.window, pos) {
                self.window.clear();
                return Err(self.error(pos, format!("read failed: {e}")));
            }
        }
        let from = (pos - self.window_at) as usize;
        Ok(&self.window[from..from + n])
    }

    /// Reads every record, feeding `on_record`; returns the torn tail to
    /// cut, if any.
    fn read(
        &mut self,
        may_be_torn: bool,
        recovered: &mut Recovered,
        on_record: &mut impl FnMut(u64, &[u8]) -> Result<(), String>,
    ) -> Result<Option<Truncation>, RecoveryError> {
        let mut pos = 0u64;
        while pos < self.len {
            let header = match record::parse_header(self.bytes(pos, HEADER_BYTES)?) {
                Ok(h) => h,
                Err(e @ HeaderError::TooLong(_)) => {
                    return Err(self.error(pos, e.to_string()));
                }
                Err(e) => {
                    return self.bad(
                        pos,
                        e.to_string(),
                        may_be_torn,
                        Bad::UnlessHeaderFrom(pos + 1),
                    );
                }
            };
            let end = pos + (HEADER_BYTES + header.len) as u64;
            if end > self.len {
                let why = format!(
                    "record of {} bytes cut short at {} bytes",
                    HEADER_BYTES + header.len,
                    self.len - pos
                );
                // The header verified: the rest is this record's payload.
                return self.bad(pos, why, may_be_torn, Bad::UnlessHeaderFrom(self.len));
            }
            if !record::payload_matches(&header, self.bytes(pos + HEADER_BYTES as u64, header.len)?)
            {
                let why = "record checksum mismatch".to_string();
                return self.bad(pos, why, may_be_torn, Bad::UnlessHeaderFrom(end));
            }
            if header.lsn <= recovered.last_lsn {
                let what = format!(
                    "record LSN {} after LSN {}: the log is out of order",
                    header.lsn, recovered.last_lsn
                );
                return self.bad(pos, what, false, Bad::Never);
            }
            let payload = self.bytes(pos + HEADER_BYTES as u64, header.len)?;
            if let Err(what) = on_record(header.lsn, payload) {
                return Err(self.error(pos, format!("record LSN {}: {what}", header.lsn)));
            }
            recovered.records += 1;
            recovered.last_lsn = header.lsn;
            pos = end;
        }
        Ok(None)
    }

    /// A record at `pos` does not verify: a torn tail to drop, or damage.
    fn bad(
        &mut self,
        pos: u64,
        why: String,
        may_be_torn: bool,
        bad: Bad,
    ) -> Result<Option<Truncation>, RecoveryError> {
        let scan_from = match bad {
            Bad::UnlessHeaderFrom(from) if may_be_torn => from,
            _ => return Err(self.error(pos, why)),
        };
        if let Some(at) = self.header_from(scan_from)? {
            return Err(self.error(
                pos,
                format!("{why}, followed by a valid record at byte {at}: damage, not a torn tail"),
            ));
        }
        Ok(Some(Truncation {
            file: self.path.to_path_buf(),
            offset: pos,
            dropped: self.len - pos,
            why,
        }))
    }

    /// The first offset at or after `from` where a header verifies.
    fn header_from(&mut self, from: u64) -> Result<Option<u64>, RecoveryError> {
        let mut at = from;
        while at < self.len {
            // Overlap by a header so one across two chunks is seen.
            let chunk = self.bytes(at, READ_CHUNK_BYTES + HEADER_BYTES)?;
            let scan = chunk.len().min(READ_CHUNK_BYTES);
            for i in 0..scan {
                if chunk[i..].starts_with(&record::MAGIC)
                    && matches!(
                        record::parse_header(&chunk[i..]),
                        Ok(_) | Err(HeaderError::TooLong(_))
                    )
                {
                    return Ok(Some(at + i as u64));
                }
            }
            at += scan as u64;
        }
        Ok(None)
    }
}
