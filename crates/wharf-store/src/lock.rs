//! A lock file shared by every wharf process that changes the store.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// An exclusive `flock` on the store's lock file, released when dropped (or when the process
/// dies, even by kill -9, since the kernel drops flocks with the file descriptor).
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub(crate) fn exclusive(path: &Path) -> io::Result<StoreLock> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        loop {
            // SAFETY: flock on a descriptor we own; it has no memory-safety preconditions.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(StoreLock { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
