//! Files that get their name only once they are whole.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::{temporary_name, ABANDONED_AFTER};

/// A file being written for `path` that has no name until [`PendingFile::persist`] gives it
/// `path`, so that a writer killed at any moment (kill -9 of `wharf save -o F`) leaves nothing
/// behind: on Linux it is an unnamed `O_TMPFILE` in `path`'s directory. Where the filesystem
/// lacks `O_TMPFILE` it is a `.NAME.PID.N.tmp` beside `path`, and the next writer of `path`
/// removes old ones of those.
#[derive(Debug)]
pub struct PendingFile {
    file: File,
    dir: PathBuf,
    stem: String,
    /// The temporary name, when the file has one (no `O_TMPFILE`).
    named: Option<PathBuf>,
}

impl PendingFile {
    /// Starts a file that will become `path`.
    pub fn create(path: &Path) -> io::Result<PendingFile> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other(format!("{} is not a file name", path.display())))?;
        let stem = format!(".{}", name.to_string_lossy());
        remove_old_temporaries(&dir, &stem);
        let unnamed = fs::File::options()
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o666)
            .open(&dir);
        match unnamed {
            Ok(file) => Ok(PendingFile {
                file,
                dir,
                stem,
                named: None,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
            // EOPNOTSUPP, EISDIR or EINVAL: no O_TMPFILE here.
            Err(_) => {
                let named = dir.join(temporary_name(&stem));
                let file = fs::File::options()
                    .write(true)
                    .create_new(true)
                    .open(&named)?;
                Ok(PendingFile {
                    file,
                    dir,
                    stem,
                    named: Some(named),
                })
            }
        }
    }

    /// The file to write.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Makes the whole file durable and names it `path` (replacing what was there).
    pub fn persist(mut self, path: &Path) -> io::Result<()> {
        self.file.sync_all()?;
        let named = match self.named.take() {
            Some(named) => named,
            None => {
                // Linking an O_TMPFILE through /proc needs no privilege (AT_EMPTY_PATH would).
                let named = self.dir.join(temporary_name(&self.stem));
                let from = format!("/proc/self/fd/{}\0", self.file.as_raw_fd());
                let to = std::ffi::CString::new(named.as_os_str().as_encoded_bytes())
                    .map_err(io::Error::other)?;
                // SAFETY: both paths are NUL-terminated strings that live across the call.
                let rc = unsafe {
                    libc::linkat(
                        libc::AT_FDCWD,
                        from.as_ptr().cast(),
                        libc::AT_FDCWD,
                        to.as_ptr(),
                        libc::AT_SYMLINK_FOLLOW,
                    )
                };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                named
            }
        };
        let renamed = fs::rename(&named, path);
        if renamed.is_err() {
            let _ = fs::remove_file(&named);
        }
        renamed?;
        crate::sync_dir(&self.dir)
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(named) = &self.named {
            let _ = fs::remove_file(named);
        }
    }
}

/// Removes `STEM.PID.N.tmp` files in `dir` that a killed writer left (old ones only, and only
/// names of exactly that shape: `dir` may be anybody's directory).
fn remove_old_temporaries(dir: &Path, stem: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name
            .strip_prefix(stem)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(pid, n)| {
                pid.bytes().all(|b| b.is_ascii_digit()) && n.bytes().all(|b| b.is_ascii_digit())
            });
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ABANDONED_AFTER);
        if ours && old && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_pending_file_has_no_name_until_persisted() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("out.tar");
        let pending = PendingFile::create(&path).unwrap();
        pending.file().write_all(b"data").unwrap();
        assert!(names(tmp.path()).is_empty(), "{:?}", names(tmp.path()));
        pending.persist(&path).unwrap();
        assert_eq!(names(tmp.path()), ["out.tar"]);
        assert_eq!(fs::read(&path).unwrap(), b"data");
        // Dropped without persisting: nothing appears, the old file stays.
        let pending = PendingFile::create(&path).unwrap();
        pending.file().write_all(b"new").unwrap();
        drop(pending);
        assert_eq!(names(tmp.path()), ["out.tar"]);
        assert_eq!(fs::read(&path).unwrap(), b"data");
    }

    #[test]
    fn old_leftovers_of_the_same_name_are_swept_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let left = tmp.path().join(".out.tar.123.4.tmp");
        let unrelated = tmp.path().join("notes.tmp");
        for path in [&left, &unrelated] {
            fs::write(path, b"x").unwrap();
            crate::backdate(path);
        }
        let pending = PendingFile::create(&tmp.path().join("out.tar")).unwrap();
        drop(pending);
        assert_eq!(names(tmp.path()), ["notes.tmp"]);
    }
}
