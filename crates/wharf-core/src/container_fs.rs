//! A container's filesystem from outside: `wharf cp` in both directions, and `wharf top`.
//! The filesystem is what the guest sees: its mounts (volumes and binds) by the longest guest
//! prefix, else its own root filesystem. Paths never leave it: each one is resolved and
//! checked to stay under the directory that holds it, so a symlink in an image cannot make
//! `cp` read or write the host elsewhere.

use std::path::{Path, PathBuf};

use crate::docker::api;
use crate::{Error, Wharf};

impl Wharf {
    /// The host directory that holds guest path `path` of container `name_or_id`, and the
    /// rest of the path under it.
    fn guest_path(&self, name_or_id: &str, path: &str) -> Result<(PathBuf, PathBuf), Error> {
        if !path.starts_with('/') {
            return Err(Error::InvalidArgument(format!(
                "{path:?} is not an absolute path in the container"
            )));
        }
        if path.split('/').any(|p| p == "..") {
            return Err(Error::InvalidArgument(format!(
                "{path:?} leads out of the container's filesystem"
            )));
        }
        let (container, _) = self.container(name_or_id)?;
        let within = |guest: &str| {
            let prefix = guest.trim_end_matches('/');
            path == prefix || path.starts_with(&format!("{prefix}/")) || prefix.is_empty()
        };
        let mount = container
            .config
            .mounts
            .iter()
            .filter(|m| within(&m.guest))
            .max_by_key(|m| m.guest.len());
        let (base, rest) = match mount {
            Some(m) => (
                PathBuf::from(&m.host),
                &path[m.guest.trim_end_matches('/').len()..],
            ),
            None => {
                let dir = self.containers()?.dir_of(&container.config.id);
                let rootfs = dir.join(crate::containers::ROOTFS_DIR);
                if !rootfs.is_dir() {
                    return Err(Error::NotFound(format!(
                        "no such path {path} in container {name_or_id}: it has no filesystem of its own (it runs a single .wasm), only its volumes"
                    )));
                }
                (rootfs, path)
            }
        };
        let base = base.canonicalize().map_err(Error::io)?;
        Ok((base, PathBuf::from(rest.trim_start_matches('/'))))
    }

    /// `wharf cp CONTAINER:PATH DEST`: copies a file or directory out of the container to
    /// the host path `dest` (into it, when it is an existing directory).
    pub fn copy_from_container(
        &self,
        name_or_id: &str,
        path: &str,
        dest: &Path,
    ) -> Result<(), Error> {
        let (base, rest) = self.guest_path(name_or_id, path)?;
        let source = inside(&base, &base.join(&rest), path)?;
        let meta = std::fs::symlink_metadata(&source).map_err(|_| {
            Error::NotFound(format!(
                "no such file or directory in container {name_or_id}: {path}"
            ))
        })?;
        let target = into_existing_dir(dest, &source);
        if meta.is_dir() {
            copy_tree(&source, &target, &base)
        } else {
            std::fs::copy(&source, &target).map(drop).map_err(Error::io)
        }
    }

    /// `wharf cp SRC CONTAINER:PATH`: copies a host file or directory into the container (into
    /// `path`, when it is an existing directory there).
    pub fn copy_to_container(
        &self,
        source: &Path,
        name_or_id: &str,
        path: &str,
    ) -> Result<(), Error> {
        let meta = std::fs::metadata(source)
            .map_err(|e| Error::NotFound(format!("{}: {e}", source.display())))?;
        let (base, rest) = self.guest_path(name_or_id, path)?;
        let wanted = base.join(&rest);
        let target = into_existing_dir(&wanted, source);
        // The parent must exist inside the container, as Docker requires.
        let parent = target.parent().unwrap_or(&base);
        inside(&base, parent, path)?;
        if meta.is_dir() {
            copy_tree(source, &target, source)
        } else {
            // A symlink there is replaced, never written through.
            unlink_symlink(&target)?;
            std::fs::copy(source, &target).map(drop).map_err(Error::io)
        }
    }

    /// What Docker's `X-Docker-Container-Path-Stat` says of guest path `path` (`HEAD
    /// /containers/{id}/archive`): name, size, Go's file mode bits, mtime, link target.
    pub fn stat_container_path(
        &self,
        name_or_id: &str,
        path: &str,
    ) -> Result<serde_json::Value, Error> {
        let (base, rest) = self.guest_path(name_or_id, path)?;
        let at = base.join(&rest);
        let meta = std::fs::symlink_metadata(&at).map_err(|_| {
            Error::NotFound(format!(
                "Could not find the file {path} in container {name_or_id}"
            ))
        })?;
        let link = match meta.file_type().is_symlink() {
            true => {
                std::fs::read_link(&at).map_or_else(|_| String::new(), |l| l.display().to_string())
            }
            false => String::new(),
        };
        // Go's os.FileMode: the permission bits, ModeDir (1<<31) and ModeSymlink (1<<27).
        let mut mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
        if meta.is_dir() {
            mode |= 1 << 31;
        }
        if meta.file_type().is_symlink() {
            mode |= 1 << 27;
        }
        let mtime = meta
            .modified()
            .map(|t| humantime::format_rfc3339(t).to_string())
            .unwrap_or_default();
        let name = rest
            .file_name()
            .map_or_else(|| "/".to_string(), |n| n.to_string_lossy().into_owned());
        Ok(serde_json::json!({
            "name": name,
            "size": meta.len(),
            "mode": mode,
            "mtime": mtime,
            "linkTarget": link,
        }))
    }

    /// Writes guest path `path` as a tar (`GET /containers/{id}/archive`): one entry named
    /// after it, and below it a directory's contents; links are kept as links.
    pub fn archive_container_path(
        &self,
        name_or_id: &str,
        path: &str,
        out: impl std::io::Write,
    ) -> Result<(), Error> {
        let (base, rest) = self.guest_path(name_or_id, path)?;
        let at = base.join(&rest);
        let Ok(meta) = at.symlink_metadata() else {
            return Err(Error::NotFound(format!(
                "Could not find the file {path} in container {name_or_id}"
            )));
        };
        // Only the last component may be a link; everything above it stays inside.
        inside(&base, at.parent().unwrap_or(&base), path)?;
        let name = rest
            .file_name()
            .map_or_else(|| ".".into(), |n| n.to_os_string());
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(false);
        let added = match meta.is_dir() {
            true => tar.append_dir_all(&name, &at),
            false => tar.append_path_with_name(&at, &name),
        };
        added.and_then(|()| tar.finish()).map_err(Error::io)
    }

    /// Unpacks the tar `archive` into guest directory `path` (`PUT /containers/{id}/archive`),
    /// with the unpacker's rules: nothing lands outside it, no devices, bounded sizes.
    pub fn extract_into_container(
        &self,
        name_or_id: &str,
        path: &str,
        archive: impl std::io::Read,
    ) -> Result<(), Error> {
        let (base, rest) = self.guest_path(name_or_id, path)?;
        let dir = inside(&base, &base.join(&rest), path)?;
        if !dir.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "{path} is not a directory in container {name_or_id}"
            )));
        }
        wharf_unpack::unpack_layer(
            std::io::BufReader::new(archive),
            wharf_unpack::Compression::None,
            &dir,
            wharf_unpack::Limits::default(),
        )
        .map(drop)
        .map_err(|e| Error::InvalidArgument(format!("cannot unpack into {path}: {e}")))
    }

    /// `wharf top` (`GET /containers/{id}/top`): the one process a container has, its
    /// monitor, with the guest's command.
    pub fn container_top(&self, name_or_id: &str) -> Result<api::ContainerTopResponse, Error> {
        let (container, _) = self.container(name_or_id)?;
        let live = container.state.status.is_live();
        let Some(pid) = container.state.pid.filter(|_| live) else {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                container.config.id
            )));
        };
        let image = match &container.config.target {
            wharf_containers::Target::Image { digest, .. } => self
                .inspect_image(digest)
                .ok()
                .and_then(|i| i.inspect.config),
            wharf_containers::Target::File { .. } => None,
        };
        // What runs: the container's own entrypoint and args, else the image's.
        let config = &container.config;
        let image = image.unwrap_or_default();
        let mut command: Vec<String> = match &config.entrypoint {
            Some(program) => vec![program.clone()],
            None => image.entrypoint.clone().unwrap_or_default(),
        };
        match (config.args.is_empty(), config.entrypoint.is_none()) {
            (true, true) => command.extend(image.cmd.clone().unwrap_or_default()),
            _ => command.extend(config.args.iter().cloned()),
        }
        if command.is_empty() {
            if let wharf_containers::Target::File { path } = &config.target {
                command.push(path.clone());
            }
        }
        Ok(api::ContainerTopResponse {
            titles: Some(vec!["PID".into(), "STARTED".into(), "CMD".into()]),
            processes: Some(vec![vec![
                pid.to_string(),
                container.state.started_at.clone().unwrap_or_default(),
                command.join(" "),
            ]]),
        })
    }
}

/// `path` resolved (symlinks followed), checked to stay under `base`.
fn inside(base: &Path, path: &Path, shown: &str) -> Result<PathBuf, Error> {
    let real = path.canonicalize().map_err(|_| {
        Error::NotFound(format!(
            "no such file or directory in the container: {shown}"
        ))
    })?;
    if !real.starts_with(base) {
        return Err(Error::InvalidArgument(format!(
            "{shown} leads out of the container's filesystem"
        )));
    }
    Ok(real)
}

/// `dest`, or `dest/NAME-of-source` when `dest` is an existing directory (Docker's rule).
fn into_existing_dir(dest: &Path, source: &Path) -> PathBuf {
    match (dest.is_dir(), source.file_name()) {
        (true, Some(name)) => dest.join(name),
        _ => dest.to_path_buf(),
    }
}

/// Removes `path` when it is a symlink, so that what is written there replaces the link
/// instead of going wherever it points.
fn unlink_symlink(path: &Path) -> Result<(), Error> {
    if path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        std::fs::remove_file(path).map_err(Error::io)?;
    }
    Ok(())
}

/// Copies the directory `from` to `to` (made if missing): files, directories and symlinks
/// as links; a link is copied only when its target stays under `root`. No symlink at the
/// destination is followed: each is replaced.
fn copy_tree(from: &Path, to: &Path, root: &Path) -> Result<(), Error> {
    unlink_symlink(to)?;
    std::fs::create_dir_all(to).map_err(Error::io)?;
    for entry in std::fs::read_dir(from).map_err(Error::io)? {
        let entry = entry.map_err(Error::io)?;
        let kind = entry.file_type().map_err(Error::io)?;
        let target = to.join(entry.file_name());
        unlink_symlink(&target)?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target, root)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).map_err(Error::io)?;
            let stays = entry
                .path()
                .canonicalize()
                .is_ok_and(|real| real.starts_with(root));
            if stays {
                let _ = std::fs::remove_file(&target);
                std::os::unix::fs::symlink(&link, &target).map_err(Error::io)?;
            }
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).map_err(Error::io)?;
        }
    }
    Ok(())
}
