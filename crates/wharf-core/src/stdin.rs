//! A container's stdin (`-i`, `OpenStdin`): a FIFO in its directory, made at create. The
//! monitor opens the guest's end at each start; an attached client writes the other
//! ([`Wharf::container_stdin`]), and its end is the guest's end-of-file.

use std::time::{Duration, Instant};

use crate::{Error, Wharf};

/// The FIFO in a container's directory that carries an attached client's input (`-i`).
pub(crate) const STDIN_FIFO: &str = "stdin";

pub(crate) fn make_fifo(path: &std::path::Path) -> Result<(), Error> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|e| Error::Internal(e.into()))?;
    // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
    if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
        return Err(Error::io(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Opens `path` (a FIFO) read-write, or read-only with `flags` (`O_NONBLOCK`).
pub(crate) fn open_fifo(
    path: &std::path::Path,
    write: bool,
    flags: i32,
) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(flags)
        .open(path)
}

/// The writing end of a container's stdin (`-i`), for an attached client; see
/// [`Wharf::container_stdin`].
pub struct AttachedStdin {
    file: std::fs::File,
    id: String,
}

impl std::io::Write for AttachedStdin {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.file.write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl AttachedStdin {
    /// Ends the guest's input. A FIFO drops what it holds when its last descriptor closes, so
    /// while the container has not started (an attach sends its input before `start`) this
    /// waits, at most a minute: a monitor opens the guest's end before it marks the container
    /// running.
    pub fn finish(self, wharf: &Wharf) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match wharf.container(&self.id) {
                Ok((c, _)) if c.state.status == wharf_containers::Status::Created => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return,
            }
        }
    }
}

impl Wharf {
    /// The writing end of container `name_or_id`'s stdin (`-i`), for an attached client: what
    /// is written reaches the guest, and [`AttachedStdin::finish`] is the guest's
    /// end-of-file. `None` when the container was not created with `open_stdin`.
    pub fn container_stdin(&self, name_or_id: &str) -> Result<Option<AttachedStdin>, Error> {
        let (container, _) = self.container(name_or_id)?;
        if !container.config.open_stdin {
            return Ok(None);
        }
        let path = self
            .containers()?
            .dir_of(&container.config.id)
            .join(STDIN_FIFO);
        // Read-write: opening never waits for the guest, which opens its end at start.
        let file = open_fifo(&path, true, 0).map_err(Error::io)?;
        Ok(Some(AttachedStdin {
            file,
            id: container.config.id,
        }))
    }
}
