//! The manifest: which files make up each shard's log.
//!
//! Modelled on Redis 7's `appendonly.aof.manifest`, one line per file
//! (`file <name> seq <n> type b|h|i`), with a `shard <n>` pair on every
//! file line and a first line naming the shard count:
//!
//! ```text
//! shards 2
//! file appendonly.aof.0.1.base.aof seq 1 type b shard 0
//! file appendonly.aof.0.1.incr.aof seq 1 type i shard 0
//! file appendonly.aof.1.1.incr.aof seq 1 type i shard 1
//! ```
//!
//! It is replaced atomically (temporary file, fsync, rename, fsync of the
//! directory): a crash leaves the old manifest or the new one, never a
//! mix, and a half-written rewrite (a new base the manifest does not name
//! yet, a `.tmp` manifest) is simply not read.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// The largest manifest read: a bound on what a hostile file can make us
/// allocate (a manifest of 4096 files is about 250 KiB).
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
pub const MAX_SHARDS: usize = 4096;
pub const MAX_FILES: usize = 16 * 1024;
/// Longest file name (the usual `NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;
/// Suffix of the manifest being written, before its rename.
pub const TEMP_SUFFIX: &str = ".tmp";

/// What a file holds, as Redis's `type` field says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// `b`: the shard's contents at a point (written by a rewrite).
    Base,
    /// `h`: a file a rewrite replaced, not loaded, waiting to be removed.
    History,
    /// `i`: records appended after the base, in `seq` order.
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            FileKind::Base => "base",
            FileKind::History => "history",
            FileKind::Incr => "incr",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
    pub shard: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub shards: usize,
    pub files: Vec<FileEntry>,
}

/// A manifest that does not parse: the line (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub line: usize,
    pub what: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad manifest line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for ManifestError {}

/// The name of a shard's file: `<prefix>.<shard>.<seq>.incr.aof`, and for
/// a base, which is an RDB file of the shard's keys (as Redis's base with
/// `aof-use-rdb-preamble yes`), `<prefix>.<shard>.<seq>.base.rdb`.
pub fn file_name(prefix: &str, shard: usize, seq: u64, kind: FileKind) -> String {
    let extension = if kind == FileKind::Base { "rdb" } else { "aof" };
    format!("{prefix}.{shard}.{seq}.{}.{extension}", kind.suffix())
}

/// A name the manifest may hold: a plain file in the log's directory.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

impl Manifest {
    /// An empty log of `shards` shards.
    pub fn new(shards: usize) -> Manifest {
        Manifest {
            shards,
            files: Vec::new(),
        }
    }

    /// A new log of `shards` shards: one empty incremental file each,
    /// named after `prefix` (`appendfilename`), no base yet.
    pub fn fresh(prefix: &str, shards: usize) -> Manifest {
        let files = (0..shards)
            .map(|shard| FileEntry {
                name: file_name(prefix, shard, 1, FileKind::Incr),
                seq: 1,
                kind: FileKind::Incr,
                shard,
            })
            .collect();
        Manifest { shards, files }
    }

    /// The file `shard` appends to: its incremental file of highest `seq`.
    pub fn current_incr(&self, shard: usize) -> Option<&FileEntry> {
        self.files
            .iter()
            .filter(|f| f.shard == shard && f.kind == FileKind::Incr)
            .max_by_key(|f| f.seq)
    }

    /// `shard`'s base, if a rewrite has made one: loaded first.
    pub fn base(&self, shard: usize) -> Option<&FileEntry> {
        self.files
            .iter()
            .find(|f| f.shard == shard && f.kind == FileKind::Base)
    }

    /// `shard`'s incremental files, replayed after its base, by `seq`.
    pub fn incr_files(&self, shard: usize) -> Vec<&FileEntry> {
        let mut files: Vec<&FileEntry> = self
            .files
            .iter()
            .filter(|f| f.shard == shard && f.kind == FileKind::Incr)
            .collect();
        files.sort_by_key(|f| f.seq);
        files
    }

    /// A rewrite's first step: every shard gets a new incremental file
    /// (one `seq` past its newest file), which its writer moves to before
    /// the rewrite's view of the shard is taken. The old files stay named
    /// until the new bases exist.
    pub fn with_new_incr_files(&self, prefix: &str) -> Manifest {
        let mut next = self.clone();
        for shard in 0..self.shards {
            let seq = self.next_seq(shard);
            next.files.push(FileEntry {
                name: file_name(prefix, shard, seq, FileKind::Incr),
                seq,
                kind: FileKind::Incr,
                shard,
            });
        }
        next
    }

    /// A rewrite's last step: each shard's new base (named after its
    /// current incremental file's `seq`) replaces every file before it.
    pub fn with_new_bases(&self, prefix: &str) -> Manifest {
        let mut files = Vec::new();
        for shard in 0..self.shards {
            let Some(current) = self.current_incr(shard) else {
                continue;
            };
            files.push(FileEntry {
                name: file_name(prefix, shard, current.seq, FileKind::Base),
                seq: current.seq,
                kind: FileKind::Base,
                shard,
            });
            files.push(current.clone());
        }
        Manifest {
            shards: self.shards,
            files,
        }
    }

    /// One past the highest `seq` of `shard`'s files.
    fn next_seq(&self, shard: usize) -> u64 {
        self.files
            .iter()
            .filter(|f| f.shard == shard)
            .map(|f| f.seq)
            .max()
            .unwrap_or(0)
            + 1
    }

    pub fn render(&self) -> String {
        let mut out = format!("shards {}\n", self.shards);
        for f in &self.files {
            out.push_str(&format!(
                "file {} seq {} type {} shard {}\n",
                f.name,
                f.seq,
                f.kind.letter(),
                f.shard
            ));
        }
        out
    }

    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let mut shards = None;
        let mut files: Vec<FileEntry> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |what: String| ManifestError { line, what };
            let words: Vec<&str> = raw.split_ascii_whitespace().collect();
            match (words.first().copied(), shards) {
                (None, _) => return Err(err("empty line".into())),
                (Some("shards"), None) if line == 1 => {
                    let n = match words.as_slice() {
                        [_, n] => n.parse::<usize>().ok(),
                        _ => None,
                    };
                    match n.filter(|n| (1..=MAX_SHARDS).contains(n)) {
                        Some(n) => shards = Some(n),
                        None => {
                            return Err(err(format!(
                                "expected `shards <1..={MAX_SHARDS}>`, got `{raw}`"
                            )))
                        }
                    }
                }
                (_, None) => return Err(err("the first line must be `shards <n>`".into())),
                (Some("file"), Some(n)) => {
                    if files.len() == MAX_FILES {
                        return Err(err(format!("more than {MAX_FILES} files")));
                    }
                    let entry = parse_file_line(&words).map_err(err)?;
                    check_entry(&entry, n, &files).map_err(err)?;
                    files.push(entry);
                }
                (Some(word), Some(_)) => return Err(err(format!("unknown line `{word}`"))),
            }
        }
        match shards {
            Some(shards) => Ok(Manifest { shards, files }),
            None => Err(ManifestError {
                line: 1,
                what: "empty manifest".into(),
            }),
        }
    }
}

/// `file <name> seq <n> type <b|h|i> shard <n>`, pairs in any order.
fn parse_file_line(words: &[&str]) -> Result<FileEntry, String> {
    // `file <name>` is itself the first pair.
    let pairs = words;
    if pairs.len() != 8 {
        return Err("expected `file <name> seq <n> type <b|h|i> shard <n>`".into());
    }
    let (mut name, mut seq, mut kind, mut shard) = (None, None, None, None);
    for pair in pairs.chunks_exact(2) {
        let (key, value) = (pair[0], pair[1]);
        let slot_taken = match key {
            "file" => name.replace(value).is_some(),
            "seq" => seq
                .replace(
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("bad seq `{value}`"))?,
                )
                .is_some(),
            "type" => {
                let k = match value {
                    "b" => FileKind::Base,
                    "h" => FileKind::History,
                    "i" => FileKind::Incr,
                    _ => return Err(format!("bad type `{value}` (b, h or i)")),
                };
                kind.replace(k).is_some()
            }
            "shard" => shard
                .replace(
                    value
                        .parse::<usize>()
                        .map_err(|_| format!("bad shard `{value}`"))?,
                )
                .is_some(),
            _ => return Err(format!("unknown key `{key}`")),
        };
        if slot_taken {
            return Err(format!("`{key}` given twice"));
        }
    }
    // The first word was `file`, so its pair was the name: every key is set.
    match (words.get(1), seq, kind, shard) {
        (Some(n), Some(seq), Some(kind), Some(shard)) => Ok(FileEntry {
            name: n.to_string(),
            seq,
            kind,
            shard,
        }),
        _ => Err("missing key".into()),
    }
}

fn check_entry(entry: &FileEntry, shards: usize, earlier: &[FileEntry]) -> Result<(), String> {
    if !valid_name(&entry.name) {
        return Err(format!("bad file name `{}`", entry.name));
    }
    if entry.shard >= shards {
        return Err(format!("shard {} of {shards}", entry.shard));
    }
    if earlier.iter().any(|f| f.name == entry.name) {
        return Err(format!("file `{}` named twice", entry.name));
    }
    let clash = |f: &&FileEntry| f.shard == entry.shard && f.kind == entry.kind;
    if entry.kind == FileKind::Base && earlier.iter().filter(clash).count() > 0 {
        return Err(format!("a second base file for shard {}", entry.shard));
    }
    if entry.kind == FileKind::Incr && earlier.iter().filter(clash).any(|f| f.seq == entry.seq) {
        return Err(format!("seq {} twice for shard {}", entry.seq, entry.shard));
    }
    Ok(())
}

/// Why the manifest could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    Io(std::io::Error),
    TooLarge(u64),
    NotText,
    Bad(ManifestError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "cannot read the manifest: {e}"),
            LoadError::TooLarge(n) => write!(
                f,
                "the manifest has {n} bytes, over the limit of {MAX_MANIFEST_BYTES}"
            ),
            LoadError::NotText => write!(f, "the manifest is not UTF-8 text"),
            LoadError::Bad(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads the manifest `dir/name`; `None` when there is none (a fresh
/// directory). A leftover `name.tmp` from a crashed switch is ignored.
///
/// Plain `std::fs`: it runs once, at start, before the shard serves.
pub fn load(dir: &Path, name: &str) -> Result<Option<Manifest>, LoadError> {
    let file = match std::fs::File::open(dir.join(name)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadError::Io(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(LoadError::Io)?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(LoadError::TooLarge(bytes.len() as u64));
    }
    let text = String::from_utf8(bytes).map_err(|_| LoadError::NotText)?;
    Manifest::parse(&text).map(Some).map_err(LoadError::Bad)
}

/// Replaces `dir/name` with `manifest` atomically and durably: written to
/// `name.tmp`, synced, renamed over `name`, then the directory synced so
/// the rename itself survives a crash.
pub async fn store(dir: &Path, name: &str, manifest: &Manifest) -> std::io::Result<()> {
    let temp = dir.join(format!("{name}{TEMP_SUFFIX}"));
    let file = glommio::io::BufferedFile::create(&temp).await?;
    let bytes = manifest.render().into_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let n = file.write_at(bytes[at..].to_vec(), at as u64).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        at += n;
    }
    file.fdatasync().await?;
    file.close().await?;
    glommio::io::rename(&temp, dir.join(name)).await?;
    let directory = glommio::io::Directory::open(dir).await?;
    directory.sync().await?;
    directory.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            shards: 2,
            files: vec![
                FileEntry {
                    name: file_name("appendonly.aof", 0, 1, FileKind::Base),
                    seq: 1,
                    kind: FileKind::Base,
                    shard: 0,
                },
                FileEntry {
                    name: file_name("appendonly.aof", 0, 2, FileKind::Incr),
                    seq: 2,
                    kind: FileKind::Incr,
                    shard: 0,
                },
                FileEntry {
                    name: file_name("appendonly.aof", 0, 1, FileKind::Incr),
                    seq: 1,
                    kind: FileKind::Incr,
                    shard: 0,
                },
                FileEntry {
                    name: "appendonly.aof.1.1.incr.aof".into(),
                    seq: 1,
                    kind: FileKind::Incr,
                    shard: 1,
                },
            ],
        }
    }

    #[test]
    fn a_rewrite_adds_incr_files_then_replaces_everything_before_them_with_bases() {
        let m = sample();
        let started = m.with_new_incr_files("appendonly.aof");
        assert_eq!(started.files.len(), m.files.len() + 2);
        assert_eq!(
            started.current_incr(0).map(|f| f.name.as_str()),
            Some("appendonly.aof.0.3.incr.aof")
        );
        assert_eq!(
            started.incr_files(0).len(),
            3,
            "the old ones are still replayed"
        );
        assert_eq!(Manifest::parse(&started.render()), Ok(started.clone()));
        let done = started.with_new_bases("appendonly.aof");
        assert_eq!(
            done.render(),
            "shards 2\nfile appendonly.aof.0.3.base.rdb seq 3 type b shard 0\n\
             file appendonly.aof.0.3.incr.aof seq 3 type i shard 0\n\
             file appendonly.aof.1.2.base.rdb seq 2 type b shard 1\n\
             file appendonly.aof.1.2.incr.aof seq 2 type i shard 1\n"
        );
        assert_eq!(Manifest::parse(&done.render()), Ok(done));
    }

    #[test]
    fn a_manifest_round_trips_and_orders_a_shards_files() {
        let m = sample();
        let text = m.render();
        assert!(
            text.starts_with("shards 2\nfile appendonly.aof.0.1.base.rdb seq 1 type b shard 0\n")
        );
        assert_eq!(Manifest::parse(&text), Ok(m.clone()));
        let names: Vec<&str> = m.incr_files(0).iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["appendonly.aof.0.1.incr.aof", "appendonly.aof.0.2.incr.aof"]
        );
        assert_eq!(
            m.base(0).map(|f| f.name.as_str()),
            Some("appendonly.aof.0.1.base.rdb")
        );
        assert_eq!(
            m.current_incr(0).map(|f| f.name.as_str()),
            Some("appendonly.aof.0.2.incr.aof")
        );
        let fresh = Manifest::fresh("log", 2);
        assert_eq!(
            fresh.render(),
            "shards 2\nfile log.0.1.incr.aof seq 1 type i shard 0\n\
             file log.1.1.incr.aof seq 1 type i shard 1\n"
        );
        assert_eq!(Manifest::parse(&fresh.render()), Ok(fresh));
        // Pairs in any order, as Redis's parser takes them.
        let shuffled = "shards 1\nfile a seq 3 shard 0 type i\n";
        let parsed = Manifest::parse(shuffled).expect("valid");
        assert_eq!(parsed.files[0].seq, 3);
    }

    #[test]
    fn bad_manifests_name_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty manifest"),
            ("file a seq 1 type i shard 0\n", 1, "first line"),
            ("shards 0\n", 1, "shards <1"),
            ("shards x\n", 1, "shards <1"),
            ("shards 99999\n", 1, "shards <1"),
            ("shards 1\nshards 1\n", 2, "unknown line"),
            ("shards 1\n\n", 2, "empty line"),
            ("shards 1\nfile a seq 1 type i\n", 2, "expected `file"),
            ("shards 1\nfile a seq x type i shard 0\n", 2, "bad seq"),
            ("shards 1\nfile a seq 1 type z shard 0\n", 2, "bad type"),
            ("shards 1\nfile a seq 1 type i shard 1\n", 2, "shard 1 of 1"),
            ("shards 1\nfile a seq 1 seq 2 shard 0\n", 2, "given twice"),
            ("shards 1\nfile a seq 1 type i size 0\n", 2, "unknown key"),
            (
                "shards 1\nfile ../x seq 1 type i shard 0\n",
                2,
                "bad file name",
            ),
            (
                "shards 1\nfile .. seq 1 type i shard 0\n",
                2,
                "bad file name",
            ),
            (
                "shards 1\nfile a seq 1 type i shard 0\nfile a seq 2 type i shard 0\n",
                3,
                "named twice",
            ),
            (
                "shards 1\nfile a seq 1 type i shard 0\nfile b seq 1 type i shard 0\n",
                3,
                "seq 1 twice",
            ),
            (
                "shards 1\nfile a seq 1 type b shard 0\nfile b seq 2 type b shard 0\n",
                3,
                "second base",
            ),
        ];
        for (text, line, what) in cases {
            let err = Manifest::parse(text).expect_err(text);
            assert_eq!(err.line, *line, "{text:?}: {err}");
            assert!(err.what.contains(what), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_manifest_is_stored_atomically_and_loaded_back() {
        let dir = crate::aof::tests::TempDir::new("manifest");
        let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .expect("an executor (io_uring)");
        executor.run(async {
            assert!(load(dir.path(), "m").expect("no error").is_none());
            store(dir.path(), "m", &sample()).await.expect("stored");
            // A crashed later switch leaves a half-written temporary file:
            // it is ignored.
            std::fs::write(dir.path().join("m.tmp"), "shards 1\nfile half").expect("write");
            assert_eq!(load(dir.path(), "m").expect("loads"), Some(sample()));
            std::fs::write(dir.path().join("m"), vec![b'x'; 2 << 20]).expect("write");
            assert!(matches!(load(dir.path(), "m"), Err(LoadError::TooLarge(_))));
            std::fs::write(dir.path().join("m"), [0xFFu8, 0xFE]).expect("write");
            assert!(matches!(load(dir.path(), "m"), Err(LoadError::NotText)));
        });
    }
}
