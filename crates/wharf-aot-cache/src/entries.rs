//! What the cache holds, for `wharf system df`, and how it is kept small: entries carry their
//! last use as the artifact's modification time (touched at most once per [`USE_GRANULARITY`],
//! so a warm start rarely pays a write), and the least recently used go first.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::{checksum_path, AotCache};

/// How stale a last-use mark may get before a lookup renews it.
const USE_GRANULARITY: Duration = Duration::from_secs(600);

/// One compiled binary in the cache.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// The artifact (`*.cwasm`); its checksum file lies beside it.
    pub path: PathBuf,
    /// The SHA-256 of the WebAssembly binary it was compiled from (an image layer's digest).
    pub sha256_hex: String,
    /// The artifact's and checksum's bytes together.
    pub bytes: u64,
    /// When it was last run (or stored).
    pub last_used: SystemTime,
}

/// Renews the last-use mark of the artifact open as `file`, when it is older than the
/// granularity. A read-only cache keeps its old marks.
pub(crate) fn mark_used(file: &std::fs::File) {
    let stale = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > USE_GRANULARITY);
    if stale {
        let _ = file.set_modified(SystemTime::now());
    }
}

impl AotCache {
    /// Every complete entry, least recently used first.
    pub fn entries(&self) -> Vec<CacheEntry> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut entries: Vec<CacheEntry> = dir
            .flatten()
            .filter_map(|item| {
                let name = item.file_name().into_string().ok()?;
                let hex = name.strip_prefix("sha256-")?.strip_suffix(".cwasm")?;
                let sha256_hex = hex.split('-').next()?.to_string();
                let meta = item.metadata().ok()?;
                let checksum =
                    std::fs::metadata(checksum_path(&item.path())).map_or(0, |m| m.len());
                Some(CacheEntry {
                    path: item.path(),
                    sha256_hex,
                    bytes: meta.len() + checksum,
                    last_used: meta.modified().ok()?,
                })
            })
            .collect();
        entries.sort_by_key(|e| e.last_used);
        entries
    }

    /// Removes the entries `doomed` picks; returns how many went and their bytes.
    pub fn remove_entries(&self, doomed: impl Fn(&CacheEntry) -> bool) -> (usize, u64) {
        let mut removed = (0, 0);
        for entry in self.entries().iter().filter(|e| doomed(e)) {
            if remove(&entry.path) {
                removed.0 += 1;
                removed.1 += entry.bytes;
            }
        }
        removed
    }

    /// Evicts least recently used entries until the cache holds at most `limit` bytes, never
    /// the entry at `keep` (the one just stored).
    pub(crate) fn evict_to(&self, limit: u64, keep: &Path) {
        let entries = self.entries();
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        for entry in entries.iter().filter(|e| e.path != keep) {
            if total <= limit {
                break;
            }
            if remove(&entry.path) {
                tracing::debug!("evicted {} from the AOT cache", entry.path.display());
                total = total.saturating_sub(entry.bytes);
            }
        }
    }
}

/// Removes an artifact and its checksum (the checksum first: an artifact without one is
/// rebuilt, never trusted).
fn remove(path: &Path) -> bool {
    let _ = std::fs::remove_file(checksum_path(path));
    std::fs::remove_file(path).is_ok()
}
