//! The keys of files run before, so that a warm run of a file need not read it.
//!
//! An image's layer is named by its digest, but a file run by path is not: its key is the
//! SHA-256 of its bytes, and reading and hashing an 18 MB CPython component costs a third of
//! its warm start. So the cache remembers, per file (device and inode), the key it last
//! computed and the file's size, mtime and ctime then; while those are unchanged the key is
//! taken as it is. A file changed in any way moves its ctime (which, unlike mtime, cannot be
//! set back), so it is read and hashed again.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use wharf_sandbox::GuestKind;

use crate::{file_stamp, AotCache, CacheKey};

/// The directory, inside the cache's, that holds one small file per remembered input.
pub(crate) const INPUTS_DIR: &str = "inputs";

impl AotCache {
    /// The key last remembered for the file `meta` describes, if the file is unchanged since.
    pub fn remembered_key(&self, meta: &std::fs::Metadata) -> Option<CacheKey> {
        let text = std::fs::read_to_string(self.memo_path(meta)).ok()?;
        let mut words = text.split_whitespace();
        if words.next()? != file_stamp(meta) {
            return None;
        }
        let kind = match words.next()? {
            "module" => GuestKind::Module,
            "component" => GuestKind::Component,
            _ => return None,
        };
        let sha256_hex = words.next()?;
        let well_formed =
            sha256_hex.len() == 64 && sha256_hex.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed.then(|| CacheKey {
            sha256_hex: sha256_hex.to_string(),
            kind,
        })
    }

    /// Remembers `key` for the file `meta` describes (taken before its bytes were read, so
    /// that a change while they were read leaves a stamp that no longer matches). A cache
    /// that cannot be written only forgets.
    pub fn remember_key(&self, meta: &std::fs::Metadata, key: &CacheKey) {
        let path = self.memo_path(meta);
        let record = format!(
            "{} {} {}\n",
            file_stamp(meta),
            key.kind.name(),
            key.sha256_hex
        );
        let written = std::fs::create_dir_all(self.dir.join(INPUTS_DIR))
            .and_then(|()| wharf_root::write_atomic(&path, record.as_bytes()));
        if let Err(e) = written {
            tracing::debug!("cannot remember the key of a run file ({e})");
        }
    }

    fn memo_path(&self, meta: &std::fs::Metadata) -> PathBuf {
        self.dir
            .join(INPUTS_DIR)
            .join(format!("{}-{}", meta.dev(), meta.ino()))
    }
}
