//! Replacing a file so that a crash leaves the old file or the new one,
//! never part of either: the new contents go to a temporary file in the
//! same directory, which is synced, renamed over the target, and then the
//! directory is synced (so the rename itself survives a power loss).
//!
//! Blocking I/O: for a thread that may block (the RDB writer), not for an
//! executor (the log's manifest has its own asynchronous copy in
//! `aof::manifest::store`).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Writes `path` anew with `fill` (see the module). On error the target is
/// untouched and the temporary file is removed.
pub fn replace_file(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    remove_stale_temps(path);
    let temp = temp_path(path);
    let result = File::create(&temp).and_then(|mut file| {
        fill(&mut file)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    File::open(directory_of(path))?.sync_all()
}

/// `dir/temp-<pid>-<name>`: beside the target, so the rename stays on one
/// file system, and named after the process, as Redis names its own.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    directory_of(path).join(format!("temp-{}-{name}", std::process::id()))
}

/// Removes what a process killed in the middle of replacing `path` left:
/// `temp-<pid>-<name>` files of processes that no longer run.
fn remove_stale_temps(path: &Path) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(directory_of(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let pid = file
            .strip_prefix("temp-")
            .and_then(|rest| rest.strip_suffix(&format!("-{name}")))
            .and_then(|pid| pid.parse::<u32>().ok());
        let Some(pid) = pid else {
            continue;
        };
        let running = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !running {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary_one() {
        let dir = std::env::temp_dir().join(format!("durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        replace_file(&path, |f| io::Write::write_all(f, b"one")).unwrap();
        let failed = replace_file(&path, |f| {
            io::Write::write_all(f, b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        replace_file(&path, |f| io::Write::write_all(f, b"two")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // A process that died mid-way left its temporary file: the next
        // replacement removes it (no process has pid 2^22 + 1).
        let stale = dir.join(format!("temp-{}-f", (1 << 22) + 1));
        std::fs::write(&stale, b"half").unwrap();
        replace_file(&path, |f| io::Write::write_all(f, b"three")).unwrap();
        assert!(!stale.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
