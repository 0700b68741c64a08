//! A log's new bases: what a rewrite (BGREWRITEAOF) and turning the log
//! on (`CONFIG SET appendonly yes`) both end with. The manifest already
//! names a new incremental file per shard, which each shard logs to since
//! the step it froze in; each base is an RDB file of that frozen view
//! (shard 0's with the function libraries as they were then). Once every
//! base is in place the manifest names only the bases and the new files,
//! and every other file of the log goes.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::file::RdbFile;
use super::{abort_captures, checksum, pump};
use crate::aof::manifest::{self, FileKind, Manifest};
use crate::config::Param;
use crate::shard::core::Core;

/// Where a log's files are and what they are called.
pub(super) struct LogFiles {
    pub dir: PathBuf,
    pub manifest_name: String,
    pub prefix: String,
}

impl LogFiles {
    /// The log's files as the configuration names them.
    pub fn configured(core: &Core) -> LogFiles {
        let config = &core.node.config;
        LogFiles {
            dir: crate::aof::log_dir(config),
            manifest_name: crate::aof::manifest_name(config),
            prefix: config.string(Param::Appendfilename),
        }
    }

    /// Creates each shard's current incremental file of `manifest`, empty
    /// and synced, so that a manifest naming them replays them as empty
    /// after a crash; their paths, in shard order.
    pub async fn create_incr_files(&self, manifest: &Manifest) -> std::io::Result<Vec<PathBuf>> {
        let mut paths = Vec::with_capacity(manifest.shards);
        for shard in 0..manifest.shards {
            let file = manifest
                .current_incr(shard)
                .ok_or_else(|| std::io::Error::other("a shard has no incremental file"))?;
            let path = self.dir.join(&file.name);
            let created = glommio::io::BufferedFile::create(&path).await?;
            created.fdatasync().await?;
            created.close().await?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// Each shard's base being written (see the module).
pub(super) struct NewBases {
    files: LogFiles,
    /// The manifest to store once every base is in place.
    done: Manifest,
    bases: Vec<RdbFile>,
}

impl NewBases {
    /// Starts writing a base per shard of `started` (the manifest naming
    /// the new incremental files; every shard frozen), `functions` in
    /// shard 0's. On an error every view is stopped.
    pub async fn start(
        core: &Core,
        files: LogFiles,
        started: &Manifest,
        mut functions: Vec<Bytes>,
    ) -> std::io::Result<NewBases> {
        let shards = started.shards;
        let done = started.with_new_bases(&files.prefix);
        let mut bases = Vec::with_capacity(shards);
        for shard in 0..shards {
            let seq = started.current_incr(shard).map_or(0, |f| f.seq);
            let path = files.dir.join(manifest::file_name(
                &files.prefix,
                shard,
                seq,
                FileKind::Base,
            ));
            let codes = if shard == 0 {
                std::mem::take(&mut functions)
            } else {
                Vec::new()
            };
            match RdbFile::start(path, codes, checksum(core), core.node.cores.clone()) {
                Ok(file) => bases.push(file),
                Err(e) => {
                    abort_captures(core, shards).await;
                    for base in bases {
                        base.abandon(std::io::Error::other("stopped")).await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(NewBases { files, done, bases })
    }

    /// Writes every base, then stores the manifest naming them and the new
    /// incremental files, then removes the log's other files; the bytes
    /// of the bases. On an error every view is stopped and the manifest
    /// stays as it was.
    pub async fn write(mut self, core: &Core) -> std::io::Result<u64> {
        if let Err(e) = pump(core, self.bases.as_mut_slice()).await {
            abort_captures(core, self.bases.len()).await;
            let mut why = e;
            for base in self.bases {
                why = base.abandon(why).await;
            }
            return Err(why);
        }
        let mut size = 0;
        for base in self.bases {
            size += base.finish().await?;
        }
        let files = &self.files;
        manifest::store(&files.dir, &files.manifest_name, &self.done).await?;
        remove_unnamed(&files.dir, &files.prefix, &self.done).await;
        Ok(size)
    }
}

/// Removes the log's files `manifest` does not name: the ones a rewrite
/// replaced, and what a rewrite cut short by a crash left (a base never
/// named, a temporary file). Only names of the log's own shape go,
/// through io_uring: unlinking a large file takes the kernel tens of
/// milliseconds, which must not stall the executor.
async fn remove_unnamed(dir: &Path, prefix: &str, manifest: &Manifest) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(&format!("{prefix}."))
            && (name.ends_with(".incr.aof") || name.ends_with(".base.rdb"))
            || name.starts_with("temp-") && name.contains(&format!("-{prefix}."));
        if ours && !manifest.files.iter().any(|f| f.name == name) {
            let _ = glommio::io::remove(entry.path()).await;
        }
    }
}
