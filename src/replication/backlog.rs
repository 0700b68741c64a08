//! The replication backlog: the node's one replication stream, in Redis's
//! format, and its last bytes for replicas to read from.
//!
//! Every shard appends its own effects, each in the order it applied them
//! (see [`super::stream`]); an append is one short critical section (a
//! `SELECT` when the stream's database changes, then the bytes), so no
//! write is funnelled through another core. Offsets are Redis's: the
//! stream's bytes counted from the first (`master_repl_offset` is the
//! count so far).
//!
//! The ring keeps `repl-backlog-size` bytes, and more while a replica
//! still has to read them, up to the replicas' output-buffer limit: a
//! replica that falls further behind is dropped and syncs again.
//!
//! A full sync needs the keyspace at one offset, but each shard freezes
//! at its own moment. A [`Cut`] records, from the offset where it starts
//! until every shard has frozen, which bytes each shard appended before
//! its freeze (they are in the snapshot): the new replica is sent those
//! ranges as newlines, which a Redis replica reads as keep-alives and
//! counts in its offset, so its offset stays the master's.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Mutex;
use std::task::Waker;

/// Why a replica cannot read on from where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behind {
    /// Its bytes left the ring: it must sync again.
    Dropped,
}

/// The stream's bytes a replica reads next, or nothing new yet.
pub enum Read {
    /// Bytes from the reader's position, with the stretches of them to
    /// send as newlines (see [`Cut`]).
    Data(Vec<u8>),
    /// Nothing new: the waker is woken by the next append.
    Waiting,
}

/// A full sync's view of the stream (see the module).
#[derive(Debug)]
pub struct Cut {
    /// The offset of the snapshot: the replica reads on from here.
    pub start: u64,
    /// Per shard, the offset at its freeze once it has frozen.
    frozen: Vec<Option<u64>>,
    /// Stretches appended by shards before their freeze: in the snapshot.
    pub in_snapshot: Vec<Range<u64>>,
}

impl Cut {
    /// Whether every shard has frozen.
    pub fn is_complete(&self) -> bool {
        self.frozen.iter().all(Option::is_some)
    }
}

struct Ring {
    bytes: VecDeque<u8>,
    /// The stream's length so far (`master_repl_offset`).
    end: u64,
    /// Bytes kept whoever reads them (`repl-backlog-size`).
    keep: usize,
    /// Bytes kept for a replica that still has to read them.
    reader_limit: usize,
    /// The database the stream's last command ran in; `None` makes the
    /// next command select its own (after a full sync, as Redis).
    db: Option<usize>,
    /// Each reader's position (by id): what it has been sent.
    readers: Vec<(u64, u64)>,
    next_reader: u64,
    /// Readers waiting for bytes.
    waiting: Vec<Waker>,
    cut: Option<Cut>,
    /// Stretches that full syncs sent some replica as newlines: a replica
    /// that stopped inside one cannot go on from the ring (it would get
    /// commands its snapshot holds).
    blanked: Vec<Range<u64>>,
}

impl Ring {
    fn start(&self) -> u64 {
        self.end - self.bytes.len() as u64
    }

    /// Drops what no one needs: beyond `keep`, bytes every reader has
    /// read, and never more than `reader_limit` for a slow one.
    fn trim(&mut self) {
        let oldest_needed = self.readers.iter().map(|&(_, pos)| pos).min();
        let needed = oldest_needed.map_or(0, |pos| (self.end - pos) as usize);
        let hold = self.keep.max(needed.min(self.reader_limit));
        if self.bytes.len() > hold {
            let drop = self.bytes.len() - hold;
            self.bytes.drain(..drop);
        }
    }
}

/// The backlog (see the module).
pub struct Backlog {
    ring: Mutex<Ring>,
}

/// `SELECT db` as a command of the stream.
pub fn select_command(out: &mut Vec<u8>, db: usize) {
    let db = db.to_string();
    let argv: [&[u8]; 2] = [b"SELECT", db.as_bytes()];
    encode_command(out, &argv);
}

/// A command as the stream carries it: a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    out.push(b'*');
    out.extend_from_slice(argv.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

impl Backlog {
    /// An empty backlog whose first byte will have offset `end + 1`.
    pub fn new(keep: usize, reader_limit: usize, end: u64) -> Backlog {
        Backlog {
            ring: Mutex::new(Ring {
                bytes: VecDeque::with_capacity(keep.min(1 << 20)),
                end,
                keep,
                reader_limit: reader_limit.max(keep),
                db: None,
                readers: Vec::new(),
                next_reader: 0,
                waiting: Vec::new(),
                cut: None,
                blanked: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A panic while appending leaves whole bytes: the ring stays usable.
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `bytes`, commands that run in database `db` (after a
    /// `SELECT` when the stream is elsewhere) and leave the stream in
    /// `last_db` (a batch may select others); `db` `None` for commands
    /// of no database (PING, REPLCONF GETACK). `shard`: who appends (for
    /// a [`Cut`]). Returns the offset after them.
    pub fn append(
        &self,
        shard: Option<usize>,
        db: Option<usize>,
        bytes: &[u8],
        last_db: Option<usize>,
    ) -> u64 {
        let mut ring = self.lock();
        if let Some(db) = db {
            if ring.db != Some(db) {
                let mut select = Vec::with_capacity(24);
                select_command(&mut select, db);
                ring.bytes.extend(&select);
                ring.end += select.len() as u64;
            }
            ring.db = last_db.or(Some(db));
        }
        let from = ring.end;
        ring.bytes.extend(bytes);
        ring.end += bytes.len() as u64;
        let end = ring.end;
        if let (Some(shard), Some(cut)) = (shard, ring.cut.as_mut()) {
            if cut.frozen.get(shard).is_some_and(Option::is_none) {
                cut.in_snapshot.push(from..end);
                // The replica skips these bytes, and any SELECT inside
                // them: the next command selects its database again.
                ring.db = None;
            }
        }
        ring.trim();
        let waiting = std::mem::take(&mut ring.waiting);
        drop(ring);
        for waker in waiting {
            waker.wake();
        }
        end
    }

    /// Keeps `keep` bytes from now on (`CONFIG SET repl-backlog-size`).
    pub fn set_keep(&self, keep: usize) {
        let mut ring = self.lock();
        if ring.keep != keep {
            ring.keep = keep;
            ring.reader_limit = ring.reader_limit.max(keep);
            ring.trim();
        }
    }

    /// The stream's length so far (`master_repl_offset`).
    pub fn offset(&self) -> u64 {
        self.lock().end
    }

    /// The offset of the first byte held and how many are held
    /// (`repl_backlog_first_byte_offset`, `repl_backlog_histlen`).
    pub fn held(&self) -> (u64, u64) {
        let ring = self.lock();
        (ring.start() + 1, ring.bytes.len() as u64)
    }

    /// Whether a replica that has the stream up to `offset` can read on
    /// from the ring (a partial resync): the bytes are held and no cut
    /// in progress covers them.
    pub fn holds_from(&self, offset: u64) -> bool {
        let ring = self.lock();
        let blanked = ring
            .blanked
            .iter()
            .any(|r| r.start < offset && offset < r.end);
        offset >= ring.start() && offset <= ring.end && ring.cut.is_none() && !blanked
    }

    /// Starts a full sync's cut of `shards` shards at the current end.
    /// `None` while another cut runs.
    pub fn begin_cut(&self, shards: usize) -> Option<u64> {
        let mut ring = self.lock();
        if ring.cut.is_some() {
            return None;
        }
        let start = ring.end;
        ring.cut = Some(Cut {
            start,
            frozen: vec![None; shards],
            in_snapshot: Vec::new(),
        });
        ring.db = None;
        Some(start)
    }

    /// Shard `shard` froze its snapshot now: what it appends from here on
    /// is not in the snapshot. Call in the same step as the freeze.
    pub fn frozen(&self, shard: usize) {
        let mut ring = self.lock();
        let end = ring.end;
        if let Some(at) = ring.cut.as_mut().and_then(|c| c.frozen.get_mut(shard)) {
            *at = Some(end);
        }
    }

    /// Ends the cut (complete or given up); the complete cut's view.
    pub fn end_cut(&self) -> Option<Cut> {
        let mut ring = self.lock();
        let cut = ring.cut.take().filter(Cut::is_complete)?;
        if let (Some(first), Some(last)) = (cut.in_snapshot.first(), cut.in_snapshot.last()) {
            let window = first.start..last.end;
            let start = ring.start();
            ring.blanked.retain(|r| r.end > start);
            ring.blanked.push(window);
        }
        Some(cut)
    }

    /// A new reader at offset `from` (it reads the byte after it next).
    pub fn add_reader(&self, from: u64) -> u64 {
        let mut ring = self.lock();
        let id = ring.next_reader;
        ring.next_reader += 1;
        ring.readers.push((id, from));
        id
    }

    pub fn remove_reader(&self, id: u64) {
        let mut ring = self.lock();
        ring.readers.retain(|&(r, _)| r != id);
        ring.trim();
    }

    /// Up to `max` bytes for reader `id` from its position, which moves
    /// past them; `Waiting` (with `waker` registered) when it is at the
    /// end.
    pub fn read(&self, id: u64, max: usize, waker: &Waker) -> Result<Read, Behind> {
        let mut ring = self.lock();
        let start = ring.start();
        let end = ring.end;
        let Some(slot) = ring.readers.iter().position(|&(r, _)| r == id) else {
            return Err(Behind::Dropped);
        };
        let pos = ring.readers[slot].1;
        if pos < start {
            return Err(Behind::Dropped);
        }
        if pos == end {
            if !ring.waiting.iter().any(|w| w.will_wake(waker)) {
                ring.waiting.push(waker.clone());
            }
            return Ok(Read::Waiting);
        }
        let from = (pos - start) as usize;
        let len = ((end - pos) as usize).min(max);
        let (a, b) = ring.bytes.as_slices();
        let mut out = Vec::with_capacity(len);
        if from < a.len() {
            let take = (a.len() - from).min(len);
            out.extend_from_slice(&a[from..from + take]);
            out.extend_from_slice(&b[..len - take]);
        } else {
            out.extend_from_slice(&b[from - a.len()..from - a.len() + len]);
        }
        ring.readers[slot].1 = pos + len as u64;
        ring.trim();
        Ok(Read::Data(out))
    }

    /// Reader `id`'s position: the offset it has been sent up to.
    pub fn position(&self, id: u64) -> Option<u64> {
        let ring = self.lock();
        ring.readers
            .iter()
            .find(|&&(r, _)| r == id)
            .map(|&(_, pos)| pos)
    }

    /// How far reader `id` is behind the end, in bytes.
    pub fn lag(&self, id: u64) -> u64 {
        let ring = self.lock();
        ring.readers
            .iter()
            .find(|&&(r, _)| r == id)
            .map_or(0, |&(_, pos)| ring.end - pos)
    }
}

/// Overwrites with newlines the bytes of `chunk` (which starts at offset
/// `at`) that lie in `skip`: a replica reads a newline from its master
/// as a keep-alive, and counts it in its offset.
pub fn blank_out(chunk: &mut [u8], at: u64, skip: &[Range<u64>]) {
    let span = at..at + chunk.len() as u64;
    for range in skip {
        let from = range.start.max(span.start);
        let to = range.end.min(span.end);
        if from < to {
            chunk[(from - at) as usize..(to - at) as usize].fill(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop_waker() -> Waker {
        Waker::noop().clone()
    }

    fn read_all(b: &Backlog, id: u64) -> Vec<u8> {
        match b.read(id, usize::MAX, &noop_waker()) {
            Ok(Read::Data(d)) => d,
            _ => Vec::new(),
        }
    }

    #[test]
    fn appends_select_only_when_the_database_changes() {
        let b = Backlog::new(1 << 20, 1 << 20, 0);
        let r = b.add_reader(0);
        b.append(Some(0), Some(0), b"A", None);
        b.append(Some(1), Some(0), b"B", None);
        b.append(Some(0), Some(3), b"C", None);
        b.append(None, None, b"P", None);
        b.append(Some(0), Some(3), b"D", Some(5));
        b.append(Some(0), Some(5), b"E", None);
        let mut expected = Vec::new();
        select_command(&mut expected, 0);
        expected.extend_from_slice(b"AB");
        select_command(&mut expected, 3);
        expected.extend_from_slice(b"CPDE");
        assert_eq!(read_all(&b, r), expected);
        assert_eq!(b.offset(), expected.len() as u64);
    }

    #[test]
    fn keeps_its_size_and_drops_a_reader_that_falls_out() {
        let b = Backlog::new(10, 20, 100);
        let slow = b.add_reader(100);
        b.append(None, None, b"0123456789", None);
        b.append(None, None, b"abcdefghij", None);
        assert_eq!(b.held(), (101, 20), "kept for the reader");
        assert!(b.holds_from(100));
        b.append(None, None, b"KLMNO", None);
        assert!(matches!(
            b.read(slow, 4, &noop_waker()),
            Err(Behind::Dropped)
        ));
        b.remove_reader(slow);
        assert_eq!(b.held(), (116, 10));
        assert!(!b.holds_from(100) && b.holds_from(115) && !b.holds_from(126));
        let fast = b.add_reader(120);
        assert_eq!(read_all(&b, fast), b"KLMNO");
    }

    #[test]
    fn a_cut_marks_what_shards_appended_before_their_freeze() {
        let b = Backlog::new(1 << 20, 1 << 20, 0);
        b.append(Some(0), None, b"before", None);
        let start = b.begin_cut(2).expect("no cut running");
        assert!(b.begin_cut(2).is_none());
        b.append(Some(0), None, b"s0-in", None);
        b.frozen(0);
        b.append(Some(0), None, b"s0-after", None);
        b.append(Some(1), None, b"s1-in", None);
        b.frozen(1);
        b.append(Some(1), None, b"s1-after", None);
        let cut = b.end_cut().expect("complete");
        // A replica inside the blanked stretch must sync in full.
        assert!(b.holds_from(start) && !b.holds_from(start + 3));
        assert!(b.holds_from(b.offset()));
        let r = b.add_reader(start);
        let mut chunk = read_all(&b, r);
        blank_out(&mut chunk, start, &cut.in_snapshot);
        assert_eq!(chunk, b"\n\n\n\n\ns0-after\n\n\n\n\ns1-after");
    }

    #[test]
    fn an_incomplete_cut_is_given_up() {
        let b = Backlog::new(1 << 20, 1 << 20, 0);
        b.begin_cut(2);
        b.frozen(0);
        assert!(!b.holds_from(0));
        assert!(b.end_cut().is_none());
        assert!(b.holds_from(0));
    }
}
