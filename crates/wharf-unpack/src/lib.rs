//! Unpacks image layers (tar, gzip- or zstd-compressed) into a directory, refusing anything that
//! would reach outside it.
//!
//! Layers come from registries and tar files nobody here wrote, so every entry is checked before
//! anything is written:
//! - paths must be relative and free of `..`;
//! - nothing is ever written through a symlink: if any directory on an entry's path is a symlink
//!   the layer is refused, and an entry replaces whatever stood at its own name;
//! - symlink targets and hard-link targets must stay inside the directory (checked on the text of
//!   the target; since extraction never follows symlinks, a symlink can only matter to the guest,
//!   whose WASI filesystem refuses to leave its preopen anyway);
//! - devices, FIFOs and other special files are refused;
//! - sizes are bounded ([`Limits`]), so a decompression bomb stops at the limit;
//! - modes are reduced to rwx bits (no setuid, setgid or sticky).
//!
//! Whiteouts (`.wh.NAME`, `.wh..wh..opq`) are applied as the OCI layer spec says, so layers can be
//! stacked into one root filesystem. A refused layer leaves a partly written directory behind:
//! callers unpack into a fresh temporary directory and rename it into place only on success.

#![warn(missing_docs)]

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// Bounds on what one layer may expand to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total bytes of file contents.
    pub max_bytes: u64,
    /// Number of entries.
    pub max_entries: u64,
}

impl Default for Limits {
    /// 4 GiB and a million entries: far beyond any Wasm image, far below a full disk.
    fn default() -> Self {
        Limits {
            max_bytes: 4 << 30,
            max_entries: 1_000_000,
        }
    }
}

/// How a layer is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (`+gzip`, Docker's `tar.gzip`).
    Gzip,
    /// zstd (`+zstd`).
    Zstd,
}

impl Compression {
    /// The compression a layer media type names, or `None` for a media type that is not a tar
    /// layer at all.
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        match media_type {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Some(Compression::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// Why a layer was refused.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// An entry would reach outside the directory, or is a kind of file wharf does not create.
    #[error("the layer is unsafe: {0}")]
    Unsafe(String),
    /// The layer expands past [`Limits`].
    #[error("the layer expands past the limit of {0}")]
    TooLarge(String),
    /// The layer is not a readable tar (or its compression is broken).
    #[error("the layer cannot be read: {0}")]
    Corrupt(io::Error),
    /// Writing to the destination failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// What was being written.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// What a layer held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Entries unpacked (whiteouts included).
    pub entries: u64,
    /// Bytes of file contents written.
    pub bytes: u64,
}

/// Unpacks one layer from `reader` into `dest` (which must exist).
pub fn unpack_layer(
    reader: impl Read,
    compression: Compression,
    dest: &Path,
    limits: Limits,
) -> Result<Stats, UnpackError> {
    match compression {
        Compression::None => unpack_tar(reader, dest, limits),
        Compression::Gzip => unpack_tar(flate2::read::GzDecoder::new(reader), dest, limits),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(reader).map_err(UnpackError::Corrupt)?;
            unpack_tar(decoder, dest, limits)
        }
    }
}

fn unpack_tar(reader: impl Read, dest: &Path, limits: Limits) -> Result<Stats, UnpackError> {
    let mut archive = tar::Archive::new(reader);
    let mut stats = Stats::default();
    for entry in archive.entries().map_err(UnpackError::Corrupt)? {
        let mut entry = entry.map_err(UnpackError::Corrupt)?;
        stats.entries += 1;
        if stats.entries > limits.max_entries {
            return Err(UnpackError::TooLarge(format!(
                "{} entries",
                limits.max_entries
            )));
        }
        let raw = entry.path().map_err(UnpackError::Corrupt)?.into_owned();
        let Some(relative) = safe_relative(&raw)? else {
            continue; // the root directory itself
        };
        refuse_symlinked_parents(dest, &relative)?;
        let target = dest.join(&relative);
        let name = relative
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if let Some(hidden) = name.strip_prefix(".wh.") {
            apply_whiteout(&target, hidden)?;
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let kind = entry.header().entry_type();
        let write = |source| UnpackError::Write {
            path: relative.clone(),
            source,
        };
        match kind {
            tar::EntryType::Directory => {
                if fs::symlink_metadata(&target).is_ok_and(|m| !m.is_dir()) {
                    remove_existing(&target).map_err(write)?;
                }
                fs::create_dir_all(&target).map_err(write)?;
                set_mode(&target, mode | 0o700).map_err(write)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size().map_err(UnpackError::Corrupt)?;
                if stats.bytes.saturating_add(size) > limits.max_bytes {
                    return Err(UnpackError::TooLarge(format!("{} bytes", limits.max_bytes)));
                }
                remove_existing(&target).map_err(write)?;
                create_parent(&target).map_err(write)?;
                let mut file = fs::File::options()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(write)?;
                // `take` bounds the copy even if the header lied about the size.
                let copied = io::copy(&mut (&mut entry).take(size), &mut file)
                    .map_err(UnpackError::Corrupt)?;
                stats.bytes += copied;
                set_mode(&target, mode).map_err(write)?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(UnpackError::Corrupt)?
                    .unwrap_or_default();
                let parent = relative.parent().unwrap_or(Path::new(""));
                if link.is_absolute() || !stays_inside(&parent.join(&link)) {
                    return Err(UnpackError::Unsafe(format!(
                        "symlink {} points outside the image ({})",
                        relative.display(),
                        link.display()
                    )));
                }
                remove_existing(&target).map_err(write)?;
                create_parent(&target).map_err(write)?;
                std::os::unix::fs::symlink(&link, &target).map_err(write)?;
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(UnpackError::Corrupt)?
                    .unwrap_or_default();
                let Some(source) = safe_relative(&link)? else {
                    return Err(UnpackError::Unsafe(format!(
                        "hard link {} to the root",
                        relative.display()
                    )));
                };
                refuse_symlinked_parents(dest, &source)?;
                let source_path = dest.join(&source);
                if !fs::symlink_metadata(&source_path).is_ok_and(|m| m.is_file()) {
                    return Err(UnpackError::Unsafe(format!(
                        "hard link {} to {}, which is not a file of this image",
                        relative.display(),
                        source.display()
                    )));
                }
                remove_existing(&target).map_err(write)?;
                create_parent(&target).map_err(write)?;
                fs::hard_link(&source_path, &target).map_err(write)?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(UnpackError::Unsafe(format!(
                    "{} is a {other:?} entry; wharf only unpacks files, directories and links",
                    relative.display()
                )));
            }
        }
    }
    Ok(stats)
}

/// The entry's path relative to the destination, or `None` for the root itself. Absolute paths
/// and `..` are refused.
fn safe_relative(raw: &Path) -> Result<Option<PathBuf>, UnpackError> {
    let mut relative = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(UnpackError::Unsafe(format!(
                    "entry {} uses an absolute path or `..`",
                    raw.display()
                )));
            }
        }
    }
    Ok((!relative.as_os_str().is_empty()).then_some(relative))
}

/// Whether a relative path, resolved lexically, stays at or below its starting directory.
fn stays_inside(path: &Path) -> bool {
    let mut depth = 0i64;
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Refuses an entry if a directory on its way already exists in `dest` as a symlink: writing
/// through it could land anywhere.
fn refuse_symlinked_parents(dest: &Path, relative: &Path) -> Result<(), UnpackError> {
    let mut at = dest.to_path_buf();
    let parts: Vec<_> = relative.components().collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push(part);
        if fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(UnpackError::Unsafe(format!(
                "entry {} would be written through the symlink {}",
                relative.display(),
                at.strip_prefix(dest).unwrap_or(&at).display()
            )));
        }
    }
    Ok(())
}

fn apply_whiteout(target: &Path, hidden: &str) -> Result<(), UnpackError> {
    let dir = target.parent().unwrap_or(Path::new(""));
    let write = |source| UnpackError::Write {
        path: target.to_path_buf(),
        source,
    };
    if hidden == ".wh..opq" {
        // Opaque directory: drop everything lower layers put in it.
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                remove_existing(&entry.path()).map_err(write)?;
            }
        }
        return Ok(());
    }
    // `.wh..` and `.wh...` would name the directory itself or its parent.
    if hidden.is_empty() || hidden.contains('/') || hidden == "." || hidden == ".." {
        return Err(UnpackError::Unsafe(format!(
            "malformed whiteout {}",
            target.display()
        )));
    }
    remove_existing(&dir.join(hidden)).map_err(write)
}

/// Removes a file, symlink or directory tree at `path`; nothing there is fine.
fn remove_existing(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => fs::create_dir_all(parent),
        None => Ok(()),
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests;
