//! Single-file bind mounts (`-v ./app.toml:/etc/app.toml:ro`). WASI grants directories only,
//! so a file is granted through a directory that holds it:
//!
//! - in a root filesystem (the container's own copy, or a run's temporary one), the file is
//!   hard-linked at its guest path, so the guest reads it, and writes to it reach the host
//!   file (`:ro` places a copy instead: the host file cannot be changed through it);
//! - without one, a private directory of the run holds the link (or the copy) and is granted
//!   at the file's guest directory, read-only for `:ro`.
//!
//! A writable file mount across filesystems cannot be a hard link, and a copy would lose the
//! guest's writes: it is refused with a sentence rather than silently detached.

use std::path::{Path, PathBuf};

use crate::{Error, Mount};

/// Whether `mount` grants a single file.
fn is_file(mount: &Mount) -> bool {
    mount.host.is_file()
}

/// Whether any of `mounts` grants a single file.
pub(crate) fn any(mounts: &[Mount]) -> bool {
    mounts.iter().any(is_file)
}

/// Puts `source` at `target`: a copy for a read-only mount, else a hard link (refused with a
/// sentence across filesystems).
fn place(source: &Path, target: &Path, read_only: bool, guest: &str) -> Result<(), Error> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io)?;
    }
    let _ = std::fs::remove_file(target);
    if read_only {
        return std::fs::copy(source, target).map(drop).map_err(Error::io);
    }
    std::fs::hard_link(source, target).map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot mount the file {} at {guest} read-write: {e} (a file is linked into the container, which needs one filesystem; mount its directory, or add :ro)",
            source.display()
        ))
    })
}

/// Places each file mount inside the root filesystem `root` (canonical) and drops it from
/// `mounts`. Its directory is made the way a working directory is, so a guest path that leads
/// out of `root` through a symlink is refused before anything is created.
pub(crate) fn place_in_rootfs(root: &Path, mounts: &mut Vec<Mount>) -> Result<(), Error> {
    let (files, dirs): (Vec<Mount>, Vec<Mount>) = mounts.drain(..).partition(is_file);
    *mounts = dirs;
    for file in files {
        let relative = file.guest.trim_start_matches('/');
        if relative.is_empty() || relative.split('/').any(|p| p == "..") {
            return Err(Error::InvalidArgument(format!(
                "cannot mount the file {} at {}: not a file path",
                file.host.display(),
                file.guest
            )));
        }
        let (dir, name) = relative.rsplit_once('/').unwrap_or(("", relative));
        let what = "the directory of a file mount";
        let target = crate::rootfs::make_dir_inside(root, &format!("/{dir}"), what)?.join(name);
        if target.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "cannot mount the file {} at {}: that is a directory in the image",
                file.host.display(),
                file.guest
            )));
        }
        place(&file.host, &target, file.read_only, &file.guest)?;
    }
    Ok(())
}

/// The private directories that grant file mounts of a run without a root filesystem; they
/// go when it is dropped.
pub(crate) struct FileGrants {
    _work: Option<wharf_root::WorkDir>,
}

/// Replaces each file mount in `mounts` by a grant of a private directory (under `base`) at
/// the file's guest directory. Two files of one guest directory share it; a file whose guest
/// directory another mount grants is refused, since the two cannot be merged.
pub(crate) fn grant_directories(base: &Path, mounts: &mut Vec<Mount>) -> Result<FileGrants, Error> {
    if !any(mounts) {
        return Ok(FileGrants { _work: None });
    }
    std::fs::create_dir_all(base).map_err(Error::io)?;
    wharf_root::remove_abandoned_temporaries(base);
    let work = wharf_root::WorkDir::create(base, "files").map_err(Error::io)?;
    let (files, mut kept): (Vec<Mount>, Vec<Mount>) = mounts.drain(..).partition(is_file);
    let mut grants: Vec<Mount> = Vec::new();
    for (n, file) in files.into_iter().enumerate() {
        let (dir, name) = file.guest.rsplit_once('/').unwrap_or(("", &file.guest));
        let dir = if dir.is_empty() { "/" } else { dir };
        if kept.iter().any(|m| m.guest == dir) {
            return Err(Error::InvalidArgument(format!(
                "cannot mount the file {} at {}: {dir} is already a mounted directory (put the file in that directory instead)",
                file.host.display(),
                file.guest
            )));
        }
        let grant = match grants.iter_mut().find(|g| g.guest == dir) {
            Some(grant) => {
                // A directory shared by several files is read-only only if all of them are.
                grant.read_only &= file.read_only;
                grant.host.clone()
            }
            None => {
                let host: PathBuf = work.data().join(n.to_string());
                std::fs::create_dir_all(&host).map_err(Error::io)?;
                grants.push(Mount {
                    host: host.clone(),
                    guest: dir.to_string(),
                    read_only: file.read_only,
                });
                host
            }
        };
        place(&file.host, &grant.join(name), file.read_only, &file.guest)?;
    }
    kept.extend(grants);
    *mounts = kept;
    Ok(FileGrants { _work: Some(work) })
}
