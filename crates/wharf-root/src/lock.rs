//! Lock files shared by wharf processes.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// An `flock` on a lock file, released when dropped, or when the process dies, even by
/// kill -9, since the kernel drops flocks with the file descriptor. That last property is what
/// wharf relies on to tell a live process from a dead one without trusting PIDs.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Waits for an exclusive lock on `path` (created if missing).
    pub fn exclusive(path: &Path) -> io::Result<FileLock> {
        FileLock::wait_for(path, libc::LOCK_EX)
    }

    /// Waits for a shared lock on `path` (created if missing): many holders at once, none
    /// while someone holds it exclusively.
    pub fn shared(path: &Path) -> io::Result<FileLock> {
        FileLock::wait_for(path, libc::LOCK_SH)
    }

    fn wait_for(path: &Path, operation: libc::c_int) -> io::Result<FileLock> {
        let file = open(path)?;
        loop {
            // SAFETY: flock on a descriptor we own; it has no memory-safety preconditions.
            let rc = unsafe { libc::flock(file.as_raw_fd(), operation) };
            if rc == 0 {
                return Ok(FileLock { file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// An exclusive lock on `path` if nobody holds one now; `Ok(None)` when someone does.
    pub fn try_exclusive(path: &Path) -> io::Result<Option<FileLock>> {
        let file = open(path)?;
        // SAFETY: as above.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(Some(FileLock { file }));
        }
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(err)
        }
    }

    /// The locked file (a holder may keep small data in it, such as its PID).
    pub fn file(&self) -> &File {
        &self.file
    }
}

fn open(path: &Path) -> io::Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
}
