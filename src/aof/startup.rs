//! Opening the log at start: the manifest once for the node, then each
//! shard's recovery and writer on its own executor.

use std::fmt;
use std::path::Path;

use super::manifest::{self, Manifest};
use super::recovery::{self, Recovered, RecoveryError, TornTail};
use super::writer::{FsyncPolicy, Writer};

/// Why the log cannot be opened: the server refuses to start.
#[derive(Debug)]
pub enum OpenError {
    Io(std::io::Error),
    Manifest(manifest::LoadError),
    ShardCount { logged: usize, running: usize },
    NoIncrFile(usize),
    Recovery(RecoveryError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "cannot open the append-only log: {e}"),
            OpenError::Manifest(e) => write!(f, "{e}"),
            OpenError::ShardCount { logged, running } => write!(
                f,
                "the append-only log was written by {logged} shards and this server runs \
                 {running}: start with {logged} shards"
            ),
            OpenError::NoIncrFile(shard) => {
                write!(
                    f,
                    "the manifest names no incremental file for shard {shard}"
                )
            }
            OpenError::Recovery(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<std::io::Error> for OpenError {
    fn from(e: std::io::Error) -> OpenError {
        OpenError::Io(e)
    }
}

/// Loads `dir/manifest_name`, or starts a fresh log of `shards` shards
/// (files named after `prefix`, `appendfilename`): the empty files are
/// created and synced before the manifest that names them.
pub async fn prepare(
    dir: &Path,
    manifest_name: &str,
    prefix: &str,
    shards: usize,
) -> Result<Manifest, OpenError> {
    std::fs::create_dir_all(dir)?;
    if let Some(m) = manifest::load(dir, manifest_name).map_err(OpenError::Manifest)? {
        if m.shards != shards {
            return Err(OpenError::ShardCount {
                logged: m.shards,
                running: shards,
            });
        }
        return Ok(m);
    }
    let m = Manifest::fresh(prefix, shards);
    for f in &m.files {
        let path = dir.join(&f.name);
        // A file left by a crash before the manifest was stored holds
        // nothing acknowledged: start it empty.
        std::fs::File::create(&path)?.sync_all()?;
    }
    manifest::store(dir, manifest_name, &m).await?;
    Ok(m)
}

/// Recovers `shard` (feeding `on_record`, see [`recovery::recover_shard`])
/// and opens its writer after the last record. Runs on the shard's own
/// executor: glommio files belong to the executor that opened them.
pub async fn open_shard(
    dir: &Path,
    manifest: &Manifest,
    shard: usize,
    policy: FsyncPolicy,
    tail: TornTail,
    on_record: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<(Writer, Recovered), OpenError> {
    let current = manifest
        .current_incr(shard)
        .ok_or(OpenError::NoIncrFile(shard))?;
    let recovered = recovery::recover_shard(dir, manifest, shard, tail, on_record)
        .map_err(OpenError::Recovery)?;
    let writer = Writer::open(&dir.join(&current.name), policy, recovered.last_lsn + 1).await?;
    Ok((writer, recovered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aof::record;
    use crate::aof::tests::{run, TempDir};

    #[test]
    fn a_fresh_log_is_created_then_reopened_with_its_records() {
        let dir = TempDir::new("startup");
        let log = dir.path().join("appendonlydir");
        run(async {
            let m = prepare(&log, "appendonly.aof.manifest", "appendonly.aof", 2)
                .await
                .expect("fresh");
            assert_eq!(m, Manifest::fresh("appendonly.aof", 2));
            for shard in 0..2 {
                let (mut w, recovered) = open_shard(
                    &log,
                    &m,
                    shard,
                    FsyncPolicy::Always,
                    TornTail::Truncate,
                    |_, _| Ok(()),
                )
                .await
                .expect("opens");
                assert_eq!(recovered.records, 0);
                for i in 0..=shard {
                    w.append_command(0, &["SET", &format!("s{shard}"), &i.to_string()])
                        .expect("small");
                }
                w.commit().await.expect("commit");
                w.close().await.expect("close");
            }

            let again = prepare(&log, "appendonly.aof.manifest", "ignored", 2)
                .await
                .expect("reloads");
            assert_eq!(again, m);
            let mut seen = Vec::new();
            let (w, recovered) = open_shard(
                &log,
                &again,
                1,
                FsyncPolicy::No,
                TornTail::Truncate,
                |lsn, p| {
                    let mut db = 0;
                    record::replay(p, &mut db, |db, argv| {
                        seen.push((lsn, db, argv.len()));
                        Ok(())
                    })
                },
            )
            .await
            .expect("opens");
            assert_eq!(seen, [(1, 0, 3), (2, 0, 3)]);
            assert_eq!(recovered.last_lsn, 2);
            assert_eq!(w.appended_lsn(), 2, "the writer goes on after the log");
            w.close().await.expect("close");

            let err = prepare(&log, "appendonly.aof.manifest", "appendonly.aof", 3)
                .await
                .expect_err("another shard count");
            assert!(err.to_string().contains("start with 2 shards"), "{err}");
        });
    }
}
