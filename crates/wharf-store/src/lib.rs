//! The content-addressed image store.
//!
//! Blobs (manifests, configs, layers) are files named by their SHA-256 digest under
//! `blobs/sha256/`, and every write is verified: bytes that do not hash to the digest they claim
//! are never kept. What the store holds (images and the tags that name them) is one JSON index,
//! changed only inside [`Store::update`]: under an exclusive lock shared by every wharf process,
//! read, changed, checked (every blob an image needs must be present), then replaced atomically
//! and durably. A process killed at any moment therefore leaves either the old index or the new
//! one; blobs it wrote but did not register are unreferenced, and an update that drops the last
//! reference to a blob deletes it.
//!
//! Writers put blobs first and register them after; a concurrent `rmi` can delete a blob that a
//! writer had counted on, in which case the writer's update fails with [`Error::MissingBlob`] and
//! it puts the blob again.

#![warn(missing_docs)]

mod digest;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use digest::Digest;
use wharf_root::FileLock;

/// Why a store operation failed. Each message says what to do where there is something to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What wharf was doing.
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// Bytes did not hash to the digest they were announced with; nothing was stored.
    #[error("content does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The announced digest.
        expected: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// A blob was larger than the caller allows; nothing was stored.
    #[error("blob {digest} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The blob.
        digest: Digest,
        /// The limit in bytes.
        limit: u64,
    },
    /// An image refers to a blob the store does not hold.
    #[error("blob {0} is missing from the store")]
    MissingBlob(Digest),
    /// What the caller asked for is not in the store (the text says what).
    #[error("{0}")]
    NotFound(String),
    /// The change would break something that depends on the store, such as a container that
    /// uses the image (the text says what and what to do).
    #[error("{0}")]
    Conflict(String),
    /// The index cannot be parsed.
    #[error("the image index {path} is corrupt ({reason}); move it away to start an empty store")]
    CorruptIndex {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// One image: its manifest and the blobs it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image config blob.
    pub config: Digest,
    /// Layer blobs, bottom first.
    pub layers: Vec<Digest>,
    /// Other blobs the image keeps (for example the index it was picked from).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<Digest>,
    /// When the image was created (RFC 3339), if its config says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

impl ImageRecord {
    /// Every blob the image with manifest `manifest` needs: the manifest itself, the config,
    /// the layers and the extras.
    pub fn blobs<'a>(&'a self, manifest: &'a Digest) -> impl Iterator<Item = &'a Digest> {
        std::iter::once(manifest)
            .chain(std::iter::once(&self.config))
            .chain(&self.layers)
            .chain(&self.extra)
    }
}

/// Everything the store holds, as kept in `index.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Images by manifest digest.
    #[serde(default)]
    pub images: BTreeMap<Digest, ImageRecord>,
    /// Tags (full references such as `docker.io/library/app:latest`) to manifest digests.
    #[serde(default)]
    pub tags: BTreeMap<String, Digest>,
}

impl Index {
    /// Every blob some image needs: manifests, configs, layers and extras.
    pub fn referenced_blobs(&self) -> BTreeSet<Digest> {
        self.images
            .iter()
            .flat_map(|(manifest, image)| image.blobs(manifest))
            .cloned()
            .collect()
    }
}

/// The store in one directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating when needed) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, Error> {
        let store = Store { dir: dir.into() };
        for sub in [store.blob_dir(), store.tmp_dir()] {
            fs::create_dir_all(&sub)
                .map_err(io_error(format!("cannot create {}", sub.display())))?;
        }
        wharf_root::remove_abandoned_temporaries(&store.tmp_dir());
        Ok(store)
    }

    fn blob_dir(&self) -> PathBuf {
        self.dir.join("blobs").join("sha256")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    /// Where the blob `digest` lives (whether or not it is present).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blob_dir().join(digest.hex())
    }

    /// Whether the store holds `digest`.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Stores `bytes` and returns their digest.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest, Error> {
        let digest = Digest::of(bytes);
        self.put_blob_from(&digest, bytes, u64::MAX)?;
        Ok(digest)
    }

    /// Streams a blob announced as `expected` into the store, reading at most `limit` bytes.
    /// The blob becomes visible only once whole and verified; on any error nothing is kept.
    /// Returns the blob's size.
    pub fn put_blob_from(
        &self,
        expected: &Digest,
        mut reader: impl Read,
        limit: u64,
    ) -> Result<u64, Error> {
        let mut writer = self.blob_writer(expected, limit)?;
        let mut buffer = vec![0u8; 256 << 10];
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(format!("reading blob {expected}"))(e)),
            };
            writer.write(&buffer[..n])?;
        }
        writer.commit()
    }

    /// A writer for a blob announced as `expected` that arrives in pieces (from the network,
    /// say). Nothing is visible until [`BlobWriter::commit`] has verified the whole blob;
    /// dropping the writer discards what it wrote.
    pub fn blob_writer(&self, expected: &Digest, limit: u64) -> Result<BlobWriter, Error> {
        Ok(BlobWriter {
            tmp: tempfile_in(&self.tmp_dir())?,
            hasher: Sha256::new(),
            size: 0,
            limit,
            expected: expected.clone(),
            destination: self.blob_path(expected),
        })
    }

    /// Reads a whole blob of at most `limit` bytes, checking its digest again.
    pub fn read_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, Error> {
        let path = self.blob_path(digest);
        let file = fs::File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::MissingBlob(digest.clone()),
            _ => io_error(format!("reading blob {digest}"))(e),
        })?;
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io_error(format!("reading blob {digest}")))?;
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge {
                digest: digest.clone(),
                limit,
            });
        }
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// The index as it is now. Readers take no lock: the file is only ever replaced whole.
    pub fn index(&self) -> Result<Index, Error> {
        let path = self.index_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::CorruptIndex {
                path: path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(io_error(format!("reading {}", path.display()))(e)),
        }
    }

    /// Changes the index in one transaction: `change` sees the current index under the store's
    /// exclusive lock; if it succeeds and every blob the new index refers to is present, the new
    /// index replaces the old one durably and blobs no image refers to any more are deleted.
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut Index) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let lock_path = self.dir.join("lock");
        let _lock = FileLock::exclusive(&lock_path)
            .map_err(io_error(format!("locking {}", lock_path.display())))?;
        let before = self.index()?;
        let mut after = before.clone();
        let result = change(&mut after)?;
        if after == before {
            return Ok(result);
        }
        let needed = after.referenced_blobs();
        if let Some(missing) = needed.iter().find(|d| !self.has_blob(d)) {
            return Err(Error::MissingBlob(missing.clone()));
        }
        let json = serde_json::to_vec_pretty(&after).expect("the index always serializes");
        wharf_root::write_atomic_durable(&self.index_path(), &json)
            .map_err(io_error("writing the image index"))?;
        for unused in before.referenced_blobs().difference(&needed) {
            if let Err(e) = fs::remove_file(self.blob_path(unused)) {
                tracing::warn!("cannot delete unused blob {unused}: {e}");
            }
        }
        Ok(result)
    }

    /// Declares that this process is about to put blobs it will register later (a pull, a
    /// build, a load): until the guard drops, [`Store::remove_orphans`] leaves young unregistered
    /// blobs alone, since they may be this writer's. Many writers hold it at once.
    pub fn writing(&self) -> Result<FileLock, Error> {
        let path = self.dir.join("writers.lock");
        FileLock::shared(&path).map_err(io_error(format!("locking {}", path.display())))
    }

    /// Deletes blobs no image refers to that are at least `min_age` old, and temporaries
    /// abandoned by killed writers ([`wharf_root::ABANDONED_AFTER`]). Such leftovers come from
    /// a pull or build killed mid-way. While a writer is at work ([`Store::writing`]), only
    /// blobs older than [`wharf_root::ABANDONED_AFTER`] are taken as abandoned, whatever
    /// `min_age` says: a sweeper removes only what it can prove nobody is about to register.
    /// Returns the bytes freed.
    pub fn remove_orphans(&self, min_age: std::time::Duration) -> Result<u64, Error> {
        let lock_path = self.dir.join("lock");
        let _lock = FileLock::exclusive(&lock_path)
            .map_err(io_error(format!("locking {}", lock_path.display())))?;
        let writers = self.dir.join("writers.lock");
        let quiet = FileLock::try_exclusive(&writers)
            .map_err(io_error(format!("locking {}", writers.display())))?;
        let min_age = if quiet.is_some() {
            min_age
        } else {
            min_age.max(wharf_root::ABANDONED_AFTER)
        };
        let needed = self.index()?.referenced_blobs();
        let mut freed = 0;
        for (dir, min_age) in [
            (self.blob_dir(), min_age),
            (self.tmp_dir(), wharf_root::ABANDONED_AFTER),
        ] {
            let entries =
                fs::read_dir(&dir).map_err(io_error(format!("listing {}", dir.display())))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let in_use =
                    Digest::parse(&format!("sha256:{name}")).is_ok_and(|d| needed.contains(&d));
                let Ok(meta) = entry.metadata() else {
                    continue;
                };
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age >= min_age);
                if !in_use && old && fs::remove_file(entry.path()).is_ok() {
                    freed += meta.len();
                }
            }
        }
        Ok(freed)
    }
}

/// A blob being written; see [`Store::blob_writer`].
pub struct BlobWriter {
    tmp: TempBlob,
    hasher: Sha256,
    size: u64,
    limit: u64,
    expected: Digest,
    destination: PathBuf,
}

impl BlobWriter {
    /// Appends `bytes`; fails once the blob grows past its limit.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            return Err(Error::TooLarge {
                digest: self.expected.clone(),
                limit: self.limit,
            });
        }
        self.hasher.update(bytes);
        self.tmp
            .as_file()
            .write_all(bytes)
            .map_err(io_error(format!("writing blob {}", self.expected)))
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.size
    }

    /// Checks the digest and, if it matches, makes the blob visible. Returns its size.
    pub fn commit(self) -> Result<u64, Error> {
        let actual = Digest::from_hasher(self.hasher);
        if actual != self.expected {
            return Err(Error::DigestMismatch {
                expected: self.expected,
                actual,
            });
        }
        let what = || format!("storing blob {}", self.expected);
        self.tmp.as_file().sync_data().map_err(io_error(what()))?;
        self.tmp
            .persist(&self.destination)
            .map_err(|e| io_error(what())(e.error))?;
        Ok(self.size)
    }
}

/// A temporary file that is deleted unless persisted.
struct TempBlob {
    file: fs::File,
    path: PathBuf,
    persisted: bool,
}

impl TempBlob {
    fn as_file(&self) -> &fs::File {
        &self.file
    }

    fn persist(mut self, to: &Path) -> Result<(), PersistError> {
        match fs::rename(&self.path, to) {
            Ok(()) => {
                self.persisted = true;
                Ok(())
            }
            Err(error) => Err(PersistError { error }),
        }
    }
}

struct PersistError {
    error: io::Error,
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn tempfile_in(dir: &Path) -> Result<TempBlob, Error> {
    let path = dir.join(wharf_root::temporary_name("blob"));
    let file = fs::File::options()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_error(format!("creating {}", path.display())))?;
    Ok(TempBlob {
        file,
        path,
        persisted: false,
    })
}

#[cfg(test)]
mod tests;
