//! The writer and recovery together, through real files in a glommio
//! executor, and crashes simulated by cutting or padding the file.

use std::path::{Path, PathBuf};

use super::manifest::{self, FileEntry, FileKind, Manifest};
use super::record::{self, HEADER_BYTES};
use super::recovery::{self, read_log, Recovered, TornTail};
use super::writer::{FsyncPolicy, Writer};

/// A fresh directory under the system's temporary directory, removed
/// when dropped (also when the test fails).
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(what: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "shardis-aof-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .make()
        .expect("an executor (io_uring)")
        .run(f)
}

/// What recovery read: (lsn, commands as text) per record.
type Log = Vec<(u64, Vec<String>)>;

fn read(files: &[&Path], tail: TornTail) -> Result<(Log, Recovered), recovery::RecoveryError> {
    let files: Vec<PathBuf> = files.iter().map(|f| f.to_path_buf()).collect();
    let mut log = Log::new();
    let recovered = read_log(&files, tail, |lsn, payload| {
        let mut commands = Vec::new();
        for argv in record::commands(payload) {
            let argv = argv.map_err(|e| e.to_string())?;
            let text: Vec<String> = argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            commands.push(text.join(" "));
        }
        log.push((lsn, commands));
        Ok(())
    })?;
    Ok((log, recovered))
}

/// Writes `n` one-command records with `Always`, committing each, and
/// returns the file's bytes and each record's end offset.
fn write_records(path: &Path, n: u64) -> (Vec<u8>, Vec<u64>) {
    run(async {
        let mut w = Writer::open(path, FsyncPolicy::Always, 1)
            .await
            .expect("open");
        let mut ends = Vec::new();
        for i in 1..=n {
            let value = "v".repeat((i * 7 % 50) as usize);
            let lsn = w
                .append_command((i % 3) as usize, &["SET", &format!("k{i}"), &value])
                .expect("small");
            assert_eq!(lsn, i);
            w.commit().await.expect("commit");
            assert_eq!(w.durable_lsn(), i);
            ends.push(w.size());
        }
        w.close().await.expect("close");
        (std::fs::read(path).expect("read back"), ends)
    })
}

#[test]
fn records_written_with_always_read_back_exactly() {
    let dir = TempDir::new("roundtrip");
    let path = dir.path().join("log");
    let (bytes, ends) = write_records(&path, 50);
    assert_eq!(bytes.len() as u64, ends[49]);
    let (log, recovered) = read(&[&path], TornTail::Truncate).expect("clean");
    assert_eq!(recovered.records, 50);
    assert_eq!(recovered.last_lsn, 50);
    assert_eq!(recovered.truncated, None);
    // SELECT only when the database changes (k1 db 1, k2 db 2, k3 db 0 ...).
    assert_eq!(
        log[0],
        (1, vec!["SELECT 1".into(), "SET k1 vvvvvvv".into()])
    );
    for (i, (lsn, commands)) in log.iter().enumerate() {
        assert_eq!(*lsn, i as u64 + 1);
        let set = commands.last().expect("a command");
        assert!(set.starts_with(&format!("SET k{lsn} ")), "{set}");
    }
    // Reopened after recovery, the writer goes on where the log ends; its
    // first record selects its database again.
    run(async {
        let mut w = Writer::open(&path, FsyncPolicy::Always, recovered.last_lsn + 1)
            .await
            .expect("reopen");
        w.append_command(1, &["DEL", "k1"]).expect("small");
        w.commit().await.expect("commit");
        w.close().await.expect("close");
    });
    let (log, _) = read(&[&path], TornTail::Truncate).expect("clean");
    assert_eq!(log.len(), 51);
    assert_eq!(log[50], (51, vec!["SELECT 1".into(), "DEL k1".into()]));
}

#[test]
fn a_batch_is_one_record_and_an_aborted_one_leaves_nothing() {
    let dir = TempDir::new("batch");
    let path = dir.path().join("log");
    run(async {
        let mut w = Writer::open(&path, FsyncPolicy::No, 1).await.expect("open");
        w.begin_record();
        w.push_command(0, &["SET", "a", "1"]);
        w.push_expired(2, b"gone");
        w.push_command(2, &["INCR", "n"]);
        assert_eq!(w.finish_record(), Ok(1));
        // A script that failed before writing: nothing, and the database
        // it selected does not count.
        w.begin_record();
        w.push_command(5, &["SET", "x", "1"]);
        w.abort_record();
        // A record still open at commit time is not written.
        w.begin_record();
        w.push_command(2, &["SET", "b", "2"]);
        w.commit().await.expect("commit");
        assert_eq!(w.written_lsn(), 1);
        assert_eq!(w.finish_record(), Ok(2));
        w.commit().await.expect("commit");
        w.sync().await.expect("sync");
        assert_eq!(w.durable_lsn(), 2);
        w.close().await.expect("close");
    });
    let (log, _) = read(&[&path], TornTail::Refuse).expect("clean");
    assert_eq!(
        log,
        [
            (
                1,
                vec![
                    "SELECT 0".to_string(),
                    "SET a 1".into(),
                    "SELECT 2".into(),
                    "DEL gone".into(),
                    "INCR n".into()
                ]
            ),
            (2, vec!["SET b 2".to_string()]),
        ]
    );
}

#[test]
fn everysec_and_no_write_at_commit_and_sync_when_told() {
    let dir = TempDir::new("everysec");
    let path = dir.path().join("log");
    run(async {
        let mut w = Writer::open(&path, FsyncPolicy::EverySec, 1)
            .await
            .expect("open");
        // The first sync is not due before a second has passed.
        w.append_command(0, &["SET", "a", "1"]).expect("small");
        w.commit().await.expect("commit");
        assert_eq!((w.written_lsn(), w.durable_lsn()), (1, 0));
        w.sync_if_due().await.expect("sync");
        assert_eq!(w.durable_lsn(), 0);
        w.sync().await.expect("sync");
        assert_eq!(w.durable_lsn(), 1);
        w.set_policy(FsyncPolicy::No);
        w.append_command(0, &["SET", "a", "2"]).expect("small");
        w.commit().await.expect("commit");
        assert_eq!((w.written_lsn(), w.durable_lsn()), (2, 1));
        w.close().await.expect("close");
    });
    let (log, _) = read(&[&path], TornTail::Refuse).expect("clean");
    assert_eq!(log.len(), 2);
}

#[test]
fn everysec_syncs_at_the_first_commit_a_second_after_the_last_sync() {
    let dir = TempDir::new("everysec-due");
    let path = dir.path().join("log");
    run(async {
        let mut w = Writer::open(&path, FsyncPolicy::EverySec, 1)
            .await
            .expect("open");
        w.append_command(0, &["SET", "a", "1"]).expect("small");
        w.commit().await.expect("commit");
        assert_eq!(w.durable_lsn(), 0);
        glommio::timer::sleep(super::writer::EVERYSEC_INTERVAL).await;
        w.append_command(0, &["SET", "a", "2"]).expect("small");
        w.commit().await.expect("commit");
        assert_eq!(w.durable_lsn(), 2, "the commit ran the due sync");
        // Or the caller's timer, with nothing new to write.
        w.append_command(0, &["SET", "a", "3"]).expect("small");
        w.commit().await.expect("commit");
        assert_eq!(w.durable_lsn(), 2);
        glommio::timer::sleep(super::writer::EVERYSEC_INTERVAL).await;
        w.sync_if_due().await.expect("sync");
        assert_eq!(w.durable_lsn(), 3);
    });
}

#[test]
fn a_crash_at_any_offset_keeps_exactly_the_complete_records() {
    let dir = TempDir::new("crash");
    let path = dir.path().join("log");
    let (bytes, ends) = write_records(&path, 12);
    let cut_path = dir.path().join("cut");
    let complete = |len: u64| ends.iter().filter(|&&e| e <= len).count() as u64;
    for len in 0..=bytes.len() as u64 {
        // Cut short, then cut short with zeros after (a DMA pad or blocks
        // never written), then a torn write's garbage.
        let mut variants = vec![bytes[..len as usize].to_vec()];
        let mut padded = bytes[..len as usize].to_vec();
        padded.resize(len as usize + 4096, 0);
        variants.push(padded);
        if len < bytes.len() as u64 {
            let mut garbage = bytes[..len as usize].to_vec();
            garbage.extend_from_slice(&[0x5A; 7]);
            variants.push(garbage);
        }
        for (v, content) in variants.into_iter().enumerate() {
            std::fs::write(&cut_path, &content).expect("write");
            let (log, recovered) =
                read(&[&cut_path], TornTail::Truncate).expect("a torn tail recovers");
            let keep = complete(len);
            assert_eq!(recovered.records, keep, "len {len} variant {v}");
            assert_eq!(log.len() as u64, keep);
            let end = if keep == 0 {
                0
            } else {
                ends[keep as usize - 1]
            };
            let file_len = std::fs::metadata(&cut_path).expect("stat").len();
            assert_eq!(file_len, end, "truncated to the last complete record");
            assert_eq!(
                recovered.truncated.is_some(),
                content.len() as u64 != end,
                "len {len} variant {v}"
            );
            // Refusing a torn tail changes nothing.
            std::fs::write(&cut_path, &content).expect("write");
            if content.len() as u64 != end {
                let err = read(&[&cut_path], TornTail::Refuse).expect_err("refused");
                assert_eq!(err.offset, end);
                assert_eq!(std::fs::read(&cut_path).expect("read"), content);
            }
        }
    }
}

#[test]
fn damage_before_the_tail_is_an_error_with_its_offset_and_changes_nothing() {
    let dir = TempDir::new("damage");
    let path = dir.path().join("log");
    let (bytes, ends) = write_records(&path, 6);
    let starts: Vec<u64> = std::iter::once(0).chain(ends.iter().copied()).collect();
    // Flip a byte in every record but the last: the error names the start
    // of the damaged record.
    for i in 0..ends[4] as usize {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        std::fs::write(&path, &bad).expect("write");
        let err = read(&[&path], TornTail::Truncate).expect_err("damage");
        let record_start = starts.iter().rev().find(|&&s| s <= i as u64).copied();
        assert_eq!(Some(err.offset), record_start, "byte {i}: {err}");
        assert!(err.to_string().contains("bad append-only log"), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), bad, "nothing modified");
    }
    // Zeros over a middle record: not a tail either.
    let mut zeroed = bytes.clone();
    zeroed[ends[1] as usize..ends[2] as usize].fill(0);
    std::fs::write(&path, &zeroed).expect("write");
    let err = read(&[&path], TornTail::Truncate).expect_err("damage");
    assert_eq!(err.offset, ends[1]);
    assert!(err.what.contains("followed by a valid record"), "{err}");
}

#[test]
fn only_the_last_file_may_be_torn_and_lsns_must_increase() {
    let dir = TempDir::new("files");
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let (bytes, ends) = write_records(&a, 3);
    // b continues a's numbering.
    let mut b_bytes = Vec::new();
    for lsn in 4..=5 {
        let mut payload = Vec::new();
        crate::protocol::encode_command_into(&mut payload, &["SET", "x", "y"]);
        b_bytes.extend(record::tests::frame(lsn, &payload));
    }
    std::fs::write(&b, &b_bytes).expect("write");
    let (log, _) = read(&[&a, &b], TornTail::Truncate).expect("clean");
    assert_eq!(log.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    // A torn first file: an error, even though the tail policy truncates.
    std::fs::write(&a, &bytes[..bytes.len() - 1]).expect("write");
    let err = read(&[&a, &b], TornTail::Truncate).expect_err("torn a");
    assert_eq!((err.file.clone(), err.offset), (a.clone(), ends[1]));
    // The same file twice: LSNs go back.
    std::fs::write(&a, &bytes).expect("write");
    let err = read(&[&a, &a], TornTail::Truncate).expect_err("replayed");
    assert_eq!(err.offset, 0);
    assert!(err.what.contains("out of order"), "{err}");
    // A missing file.
    let err = read(&[&dir.path().join("nope")], TornTail::Truncate).expect_err("missing");
    assert!(err.what.contains("cannot read"), "{err}");
}

#[test]
fn after_a_failed_sync_the_writer_acknowledges_nothing_more() {
    let dir = TempDir::new("syncfail");
    let path = dir.path().join("log");
    run(async {
        let mut w = Writer::open(&path, FsyncPolicy::Always, 1)
            .await
            .expect("open");
        w.append_command(0, &["SET", "a", "1"]).expect("small");
        w.commit().await.expect("commit");
        w.append_command(0, &["SET", "a", "2"]).expect("small");
        w.fail_next_sync();
        assert!(w.commit().await.is_err());
        assert!(w.sync_failed());
        assert_eq!(w.durable_lsn(), 1);
        // A retry must not report success: the pages may be gone.
        assert!(w.sync().await.is_err());
        w.append_command(0, &["SET", "a", "3"]).expect("small");
        assert!(w.commit().await.is_err());
        assert_eq!(w.durable_lsn(), 1);
    });
}

#[test]
fn a_record_too_large_is_refused_by_the_writer() {
    let dir = TempDir::new("large");
    let path = dir.path().join("log");
    run(async {
        let mut w = Writer::open(&path, FsyncPolicy::No, 1).await.expect("open");
        w.set_max_payload(1000);
        let big = vec![b'x'; 1000];
        assert!(w
            .append_command(0, &[b"SET".as_slice(), b"k", &big])
            .is_err());
        assert_eq!(w.pending_bytes(), 0);
        assert_eq!(w.append_command(0, &["SET", "k", "v"]), Ok(1));
        w.close().await.expect("close");
    });
    let (log, _) = read(&[&path], TornTail::Refuse).expect("clean");
    assert_eq!(log.len(), 1);
}

#[test]
fn recovery_follows_the_manifest_and_ignores_a_half_written_rewrite() {
    let dir = TempDir::new("manifest-recovery");
    let name = |seq, kind| manifest::file_name("appendonly.aof", 0, seq, kind);
    let (base, incr) = (name(1, FileKind::Base), name(1, FileKind::Incr));
    let m = Manifest {
        shards: 1,
        files: vec![
            FileEntry {
                name: incr.clone(),
                seq: 1,
                kind: FileKind::Incr,
                shard: 0,
            },
            FileEntry {
                name: base.clone(),
                seq: 1,
                kind: FileKind::Base,
                shard: 0,
            },
        ],
    };
    let record = |lsn, key: &str| {
        let mut payload = Vec::new();
        crate::protocol::encode_command_into(&mut payload, &["SET", key, "1"]);
        record::tests::frame(lsn, &payload)
    };
    // The base is an RDB file, the caller's to load: recovery reads past it.
    std::fs::write(dir.path().join(&base), b"REDIS0010 not read here").expect("write");
    let mut incr_bytes = record(2, "from-incr");
    incr_bytes.extend_from_slice(&record(3, "torn")[..HEADER_BYTES + 3]);
    std::fs::write(dir.path().join(&incr), &incr_bytes).expect("write");
    run(manifest::store(dir.path(), "appendonly.aof.manifest", &m)).expect("store");
    // A rewrite that crashed: a new base and manifest, half written.
    std::fs::write(dir.path().join(name(2, FileKind::Base)), b"half").expect("write");
    std::fs::write(
        dir.path().join("appendonly.aof.manifest.tmp"),
        "shards 1\nfile appendonly.aof.0.2.base.aof seq 2 ty",
    )
    .expect("write");

    let loaded = manifest::load(dir.path(), "appendonly.aof.manifest")
        .expect("loads")
        .expect("present");
    assert_eq!(loaded, m);
    let mut keys = Vec::new();
    let recovered =
        recovery::recover_shard(dir.path(), &loaded, 0, TornTail::Truncate, |lsn, p| {
            let argv: Vec<Vec<u8>> = record::commands(p)
                .next()
                .ok_or("empty")?
                .map_err(|e| e.to_string())?
                .iter()
                .map(|a| a.to_vec())
                .collect();
            keys.push((lsn, String::from_utf8_lossy(&argv[1]).into_owned()));
            Ok(())
        })
        .expect("recovers");
    assert_eq!(keys, [(2, "from-incr".to_string())]);
    let truncated = recovered.truncated.expect("the torn record dropped");
    assert!(truncated.warning().contains("aof-load-truncated"));
    assert_eq!(
        std::fs::metadata(dir.path().join(&incr))
            .expect("stat")
            .len(),
        truncated.offset
    );
}

/// Set in the child of [`every_acknowledged_record_survives_sigkill`]: the
/// directory it logs into.
const CRASH_CHILD_DIR: &str = "SHARDIS_AOF_CRASH_CHILD_DIR";

/// The child's side: appends and commits one record at a time with
/// `Always`, printing `ack <lsn>` once each is durable, until killed (or
/// for at most a few seconds). Without the variable it does nothing.
#[test]
fn crash_child_appends_until_killed() {
    use std::io::Write;
    let Some(dir) = std::env::var_os(CRASH_CHILD_DIR) else {
        return;
    };
    let path = PathBuf::from(dir).join("log");
    run(async {
        let mut w = Writer::open(&path, FsyncPolicy::Always, 1)
            .await
            .expect("open");
        let started = std::time::Instant::now();
        let mut out = std::io::stdout().lock();
        while started.elapsed() < std::time::Duration::from_secs(5) {
            let n = w.appended_lsn() + 1;
            // Records of varied sizes so a kill lands in all kinds of places.
            let value = "x".repeat((n * 131 % 3000) as usize);
            w.begin_record();
            w.push_command(0, &["SET", &format!("k{n}"), &value]);
            w.push_command(1, &["INCR", "n"]);
            let lsn = w.finish_record().expect("small");
            w.commit().await.expect("commit");
            writeln!(out, "ack {lsn}").expect("stdout");
            out.flush().expect("stdout");
        }
    });
}

/// A real process appends with `Always` and is killed with SIGKILL at a
/// random moment: recovery keeps every record it acknowledged, in order,
/// each whole.
#[test]
fn every_acknowledged_record_survives_sigkill() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.subsec_nanos());
    for round in 0..3u32 {
        let dir = TempDir::new("sigkill");
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "aof::tests::crash_child_appends_until_killed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().expect("piped stdout");
        let acks = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The harness's `test <name> ... ` may precede the first.
                if let Some(i) = line.find("ack ") {
                    acked.push(line[i + 4..].parse::<u64>().expect("an LSN"));
                }
            }
            acked
        });
        // Kill somewhere between 100 and 600 ms in (start-up included).
        let delay = 100 + (seed.wrapping_mul(2_654_435_761).wrapping_add(round * 97) % 500);
        std::thread::sleep(std::time::Duration::from_millis(u64::from(delay)));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let acked = acks.join().expect("the reader thread");
        let last_acked = acked.last().copied().unwrap_or(0);
        assert!(
            acked.iter().copied().eq(1..=last_acked),
            "acknowledgements in order from 1"
        );

        let path = dir.path().join("log");
        if !path.exists() {
            assert_eq!(last_acked, 0, "acknowledged without a file");
            continue;
        }
        let (log, recovered) = read(&[&path], TornTail::Truncate).expect("recovers");
        eprintln!(
            "round {round}: killed after {delay} ms, {last_acked} acknowledged, {} recovered, \
             torn tail: {:?}",
            recovered.last_lsn,
            recovered.truncated.as_ref().map(|t| t.dropped)
        );
        assert!(
            recovered.last_lsn >= last_acked,
            "round {round}: acknowledged {last_acked}, recovered {}",
            recovered.last_lsn
        );
        for (i, (lsn, commands)) in log.iter().enumerate() {
            assert_eq!(*lsn, i as u64 + 1);
            assert_eq!(commands.len(), 4, "a whole batch: {commands:?}");
            assert!(commands[1].starts_with(&format!("SET k{lsn} ")));
        }
    }
}

/// Random bytes, and valid logs with random bytes changed: recovery
/// returns (records or an error) and never panics.
#[test]
fn hostile_files_never_panic() {
    let dir = TempDir::new("hostile");
    let path = dir.path().join("log");
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut valid = Vec::new();
    for lsn in 1..=20 {
        let mut payload = Vec::new();
        crate::protocol::encode_command_into(&mut payload, &["SET", &format!("k{lsn}"), "v"]);
        valid.extend(record::tests::frame(lsn, &payload));
    }
    for round in 0..300 {
        let content: Vec<u8> = if round % 2 == 0 {
            let len = (next() % 300) as usize;
            (0..len).map(|_| next() as u8).collect()
        } else {
            let mut c = valid.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % c.len() as u64) as usize;
                c[at] = next() as u8;
            }
            c.truncate((next() % (c.len() as u64 + 1)) as usize);
            c
        };
        for tail in [TornTail::Refuse, TornTail::Truncate] {
            std::fs::write(&path, &content).expect("write");
            let _ = read(&[&path], tail);
        }
    }
}
