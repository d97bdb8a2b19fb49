//! Where wharf keeps its data.
//!
//! Everything wharf stores on disk lives under one root directory, so that the AOT cache, the image
//! store and container state sit side by side and can be moved, backed up or wiped together. This
//! crate decides where that root is and names the places inside it; it knows nothing about what
//! those places hold.
//!
//! The root is chosen in this order: an explicit path (`--root` or `WHARF_ROOT`), then
//! `/var/lib/wharf` when running as root (as Docker's `/var/lib/docker`), then
//! `$XDG_DATA_HOME/wharf`, then `~/.local/share/wharf`.

#![warn(missing_docs)]

mod lock;
mod pending;
pub use lock::FileLock;
pub use pending::PendingFile;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The environment variable that names the root directory when `--root` is not given.
pub const ROOT_ENV: &str = "WHARF_ROOT";

/// An opened wharf root directory.
#[derive(Debug, Clone)]
pub struct Root {
    path: PathBuf,
}

impl Root {
    /// Opens the root at `path`, creating it (and its parents) when it does not exist yet.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Root> {
        let path = path.into();
        fs::create_dir_all(&path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot create wharf's root directory {}: {e}",
                    path.display()
                ),
            )
        })?;
        Ok(Root { path })
    }

    /// The default root for this user when neither `--root` nor `WHARF_ROOT` is set.
    pub fn default_path() -> PathBuf {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            return PathBuf::from("/var/lib/wharf");
        }
        if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(data).join("wharf");
        }
        match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local/share/wharf"),
            None => std::env::temp_dir().join("wharf"),
        }
    }

    /// The root directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The image store: blobs and the index of images and tags.
    pub fn image_store_dir(&self) -> PathBuf {
        self.path.join("images")
    }

    /// Container state: one directory per container, and the lock that orders changes.
    pub fn containers_dir(&self) -> PathBuf {
        self.path.join("containers")
    }

    /// The directory of precompiled (AOT) code, keyed by module digest and engine configuration.
    pub fn aot_cache_dir(&self) -> PathBuf {
        self.path.join("cache").join("aot")
    }
}

/// Writes `bytes` to `path` so that running processes see either the old file or the whole new
/// one, never a part: the data goes to a unique temporary file in the same directory, which is
/// then renamed over `path`. Two processes writing the same path at once are safe; the last
/// rename wins and both wrote complete files.
///
/// The data is not forced to disk (no fsync, which costs milliseconds): after a machine crash the
/// file may be empty or partial. Use it for data that is verified when read, as the AOT cache
/// checksums its entries.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_replacing(path, bytes, false)
}

/// [`write_atomic`], and durable: the file's data is flushed to disk before the rename and the
/// directory after it, so that after a machine crash `path` holds the old or the new contents.
/// For metadata that cannot be re-derived, such as the image index.
pub fn write_atomic_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_replacing(path, bytes, true)
}

/// Writes a new file at `path` (an error if one is there) and flushes its data to disk: for a
/// directory nobody else sees yet, where replacing by rename buys nothing. Its name is durable
/// once the directory is ([`sync_dir`]).
pub fn write_new_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create_new(path)?;
    file.write_all(bytes)?;
    file.sync_data()
}

/// Flushes directory `dir`'s entries to disk: names created, renamed or removed in it survive a
/// machine crash once this returns.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

fn write_replacing(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(temporary_name(&format!(".{file_name}")));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_data()?;
        }
        fs::rename(&tmp, path)?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A temporary file this old was left by a writer that died (kill -9, power loss): no write
/// takes this long.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The lock file inside a temporary directory whose owner is still at work: see [`WorkDir`].
pub const WORK_DIR_LOCK: &str = "lock";

/// Removes the temporaries (files or directories named `*.tmp`) in `dir` that are provably
/// abandoned: older than [`ABANDONED_AFTER`] and, for a directory holding a [`WORK_DIR_LOCK`]
/// file, only when nobody holds that lock. Age alone proves nothing for a directory a live
/// process uses for hours (a running guest's root filesystem): its lock does.
pub fn remove_abandoned_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().ends_with(".tmp") {
            continue;
        }
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok());
        if age.is_none_or(|age| age <= ABANDONED_AFTER) {
            continue;
        }
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => {
                let lock_path = entry.path().join(WORK_DIR_LOCK);
                // Held while removing, so that the owner cannot be half-way back.
                let _held = if lock_path.exists() {
                    match FileLock::try_exclusive(&lock_path) {
                        Ok(Some(lock)) => Some(lock),
                        _ => continue, // in use (or unreadable): not provably abandoned
                    }
                } else {
                    None
                };
                let _ = fs::remove_dir_all(entry.path());
            }
            _ => {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// A temporary directory `PARENT/STEM.PID.N.tmp/` that its owner holds locked for as long as
/// it uses it, so that [`remove_abandoned_temporaries`] leaves it alone however old it gets,
/// and removes it once the owner is gone (even by kill -9: the kernel drops the lock). The
/// owner's data goes in [`WorkDir::data`], beside the lock, never mixed with it. Removed when
/// dropped.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    _lock: FileLock,
}

impl WorkDir {
    /// Creates and locks a new work directory in `parent` (created if missing).
    pub fn create(parent: &Path, stem: &str) -> io::Result<WorkDir> {
        fs::create_dir_all(parent)?;
        let path = parent.join(temporary_name(stem));
        fs::create_dir(&path)?;
        let lock = FileLock::try_exclusive(&path.join(WORK_DIR_LOCK))
            .and_then(|l| l.ok_or_else(|| io::Error::other("a new work directory is locked")));
        let lock = match lock {
            Ok(lock) => lock,
            Err(e) => {
                let _ = fs::remove_dir_all(&path);
                return Err(e);
            }
        };
        fs::create_dir(path.join("data"))?;
        Ok(WorkDir { path, _lock: lock })
    }

    /// Where the owner's files go.
    pub fn data(&self) -> PathBuf {
        self.path.join("data")
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A file name for a temporary, `STEM.PID.N.tmp`: unique across processes (the pid) and threads
/// (a counter), and ending in `.tmp` so that [`remove_abandoned_temporaries`] recognises it.
pub fn temporary_name(stem: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{stem}.{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Sets `path`'s modification time to twice [`ABANDONED_AFTER`] ago, as a killed writer's
/// leftovers would be.
#[cfg(test)]
pub(crate) fn backdate(path: &Path) {
    let long_ago = std::time::SystemTime::now() - 2 * ABANDONED_AFTER;
    fs::File::open(path)
        .and_then(|f| f.set_modified(long_ago))
        .unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_the_directory_and_names_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path().join("a/b")).unwrap();
        assert!(root.path().is_dir());
        assert_eq!(root.aot_cache_dir(), tmp.path().join("a/b/cache/aot"));
    }

    #[test]
    fn write_atomic_replaces_whole_files_and_leaves_no_temporaries() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("sub/x");
        write_atomic(&target, b"first").unwrap();
        write_atomic(&target, b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x")]);
    }

    #[test]
    fn the_default_root_follows_the_user() {
        // SAFETY: geteuid has no preconditions.
        let root_user = unsafe { libc::geteuid() } == 0;
        let path = Root::default_path();
        if root_user {
            assert_eq!(path, PathBuf::from("/var/lib/wharf"));
        } else {
            assert!(path.ends_with("wharf"), "{}", path.display());
        }
    }

    #[test]
    fn only_old_temporaries_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let old_file = tmp.path().join(temporary_name("old"));
        let old_dir = tmp.path().join(temporary_name("dir"));
        let young = tmp.path().join(temporary_name("young"));
        let kept = tmp.path().join("data");
        fs::write(&old_file, b"x").unwrap();
        fs::create_dir_all(old_dir.join("inner")).unwrap();
        fs::write(&young, b"x").unwrap();
        fs::write(&kept, b"x").unwrap();
        for path in [&old_file, &kept, &old_dir] {
            backdate(path);
        }
        remove_abandoned_temporaries(tmp.path());
        assert!(!old_file.exists() && !old_dir.exists());
        assert!(young.exists() && kept.exists());
    }

    #[test]
    fn an_old_work_directory_is_kept_while_its_owner_holds_it() {
        let tmp = tempfile::tempdir().unwrap();
        let held = WorkDir::create(tmp.path(), "rootfs").unwrap();
        fs::write(held.data().join("file"), b"x").unwrap();
        // What a killed owner leaves: the directory and its lock file, with nobody holding it.
        let abandoned_path = tmp.path().join(temporary_name("rootfs"));
        fs::create_dir_all(abandoned_path.join("data")).unwrap();
        fs::write(abandoned_path.join(WORK_DIR_LOCK), b"").unwrap();
        for dir in [&held.path, &abandoned_path] {
            backdate(dir);
        }
        remove_abandoned_temporaries(tmp.path());
        assert!(
            held.data().join("file").exists(),
            "a held work directory was swept"
        );
        assert!(
            !abandoned_path.exists(),
            "an abandoned work directory was kept"
        );
        let path = held.path.clone();
        drop(held);
        assert!(!path.exists());
    }

    #[test]
    fn write_atomic_reports_an_unwritable_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("file");
        fs::write(&blocker, b"").unwrap();
        assert!(write_atomic(&blocker.join("x"), b"data").is_err());
    }
}
