//! The ahead-of-time (AOT) compilation cache.
//!
//! The first run of a binary compiles it with Cranelift, which takes from milliseconds to
//! seconds; the cache keeps the machine code so that later runs only map it in. An entry is
//! keyed by the SHA-256 digest of the Wasm binary (the same digest an OCI image names its wasm
//! layer by) and by wasmtime's [`Engine::precompile_compatibility_hash`], which covers the
//! wasmtime version and every setting that changes the machine code.
//!
//! Entries are never trusted blindly: beside each artifact (`*.cwasm`, exactly what wasmtime
//! serialized, so that wasmtime can map it straight from the file) lies a checksum file
//! (`*.cwasm.xxh3`). A truncated, corrupt, foreign or checksum-less entry is detected, removed and
//! rebuilt, never run. XXH3-128 rather than SHA-256 because it reads a 240 MB artifact in tens of
//! milliseconds; it guards against damage, not against someone who can write wharf's root. Files
//! are written with [`wharf_root::write_atomic`], so two processes filling the same entry at once
//! each write whole files; compilation is deterministic, so whichever rename wins, artifact and
//! checksum agree. A cache that cannot be written (a full disk, a read-only root) costs speed, not
//! correctness: the code compiled in memory still runs.

#![warn(missing_docs)]

use std::hash::Hasher;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};
use wharf_sandbox::{Compiled, GuestKind, WasmBinary};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

/// The extension of an entry's checksum file, next to its `.cwasm`.
const CHECKSUM_EXTENSION: &str = "cwasm.xxh3";

/// Why a binary could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The binary is not valid WebAssembly (or uses a feature wharf does not enable).
    #[error("{0}")]
    Invalid(String),
}

/// The AOT cache in one directory.
#[derive(Debug, Clone)]
pub struct AotCache {
    dir: PathBuf,
    /// The most bytes of entries kept: past it, the least recently used go (see [`entries`]).
    limit: Option<u64>,
}

/// Where a compiled binary came from, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Loaded from a valid cache entry.
    Cache,
    /// Compiled now (and stored, when the cache is writable).
    Compiled,
}

/// What a cache entry is keyed by: the SHA-256 of the binary and its kind (the engine's
/// compatibility hash is added by the cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// SHA-256 of the WebAssembly binary, lowercase hex. For an image's Wasm layer this is the
    /// layer's own digest, so a pulled image is compiled once, without hashing it again.
    pub sha256_hex: String,
    /// Module or component.
    pub kind: GuestKind,
}

impl CacheKey {
    /// The key of `wasm`, hashing its bytes.
    pub fn of(wasm: &WasmBinary) -> CacheKey {
        CacheKey {
            sha256_hex: hex::encode(Sha256::digest(&wasm.bytes)),
            kind: wasm.kind,
        }
    }
}

impl AotCache {
    /// A cache kept in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AotCache {
            dir: dir.into(),
            limit: None,
        }
    }

    /// This cache holding at most `bytes` of compiled code: each store evicts the least
    /// recently used entries past it.
    pub fn with_limit(self, bytes: u64) -> Self {
        AotCache {
            limit: Some(bytes),
            ..self
        }
    }

    /// The directory the entries live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds, or will hold, the machine code for `key` and `engine`.
    pub fn entry_path(&self, engine: &Engine, key: &CacheKey) -> PathBuf {
        let mut engine_hash = Sha256Hasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut engine_hash);
        engine_hash.write(TRANSFORMS.as_bytes());
        let engine_hash = hex::encode(&engine_hash.0.finalize()[..8]);
        self.dir.join(format!(
            "sha256-{}-{}-{engine_hash}.cwasm",
            key.sha256_hex,
            key.kind.name()
        ))
    }

    /// Returns `wasm` compiled for `engine`, from the cache when a valid entry exists.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &WasmBinary,
    ) -> Result<(Compiled, Source), CompileError> {
        self.load_or_compile_keyed(engine, &CacheKey::of(wasm), wasm)
    }

    /// [`Self::load_or_compile`] of a binary whose key the caller already has.
    pub fn load_or_compile_keyed(
        &self,
        engine: &Engine,
        key: &CacheKey,
        wasm: &WasmBinary,
    ) -> Result<(Compiled, Source), CompileError> {
        if let Some(compiled) = self.lookup(engine, key) {
            return Ok((compiled, Source::Cache));
        }
        Ok((self.compile_and_store(engine, key, wasm)?, Source::Compiled))
    }

    /// The cached code for `key`, if a valid entry exists. An entry that fails its checks is
    /// deleted (and the caller compiles again).
    pub fn lookup(&self, engine: &Engine, key: &CacheKey) -> Option<Compiled> {
        let path = self.entry_path(engine, key);
        match self.load(engine, key.kind, &path) {
            Ok(found) => found,
            Err(reason) => {
                tracing::warn!("rebuilding AOT cache entry {}: {reason}", path.display());
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(checksum_path(&path));
                None
            }
        }
    }

    /// Compiles `wasm` (whose key is `key`) and stores the result; a cache that cannot be
    /// written only costs speed.
    pub fn compile_and_store(
        &self,
        engine: &Engine,
        key: &CacheKey,
        wasm: &WasmBinary,
    ) -> Result<Compiled, CompileError> {
        let path = self.entry_path(engine, key);
        let (compiled, artifact) = compile(engine, wasm)?;
        // Cleaning up after writers killed mid-write costs a directory listing: cheap beside
        // compiling, so it is done on this cold path only.
        wharf_root::remove_abandoned_temporaries(&self.dir);
        wharf_root::remove_abandoned_temporaries(&self.dir.join(inputs::INPUTS_DIR));
        let checksum = format!("{:032x}", xxh3_128(&artifact));
        let stored = wharf_root::write_atomic(&path, &artifact)
            .and_then(|()| wharf_root::write_atomic(&checksum_path(&path), checksum.as_bytes()));
        if let Err(e) = stored {
            tracing::warn!(
                "cannot store compiled code in {} ({e}); running without the cache",
                path.display()
            );
        }
        if let Some(limit) = self.limit {
            self.evict_to(limit, &path);
        }
        Ok(compiled)
    }

    /// `Ok(None)` when there is no entry; `Err` says why an existing entry is unusable.
    fn load(
        &self,
        engine: &Engine,
        kind: GuestKind,
        path: &Path,
    ) -> Result<Option<Compiled>, String> {
        let (expected, verified) = match std::fs::read_to_string(checksum_path(path)) {
            Ok(text) => {
                let mut words = text.split_whitespace();
                let sum = words.next().and_then(|w| u128::from_str_radix(w, 16).ok());
                let sum = sum.ok_or_else(|| "its checksum file is malformed".to_string())?;
                (sum, words.next().map(str::to_string))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return match path.exists() {
                    // Code without a checksum: a writer died between its two renames.
                    true => Err("it has no checksum file".into()),
                    false => Ok(None),
                };
            }
            Err(e) => return Err(format!("cannot read its checksum: {e}")),
        };
        let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
        entries::mark_used(&file);
        let stamp = file.metadata().ok().map(|meta| file_stamp(&meta));
        // Hashing a large artifact on every start costs milliseconds: once its bytes have been
        // checked, the checksum file also records which file (device, inode, size, mtime) was
        // checked, and only a different file is hashed again.
        if stamp.is_none() || stamp != verified {
            let actual = checksum_of(&mut file).map_err(|e| format!("cannot read it: {e}"))?;
            if actual != expected {
                return Err("its checksum does not match (truncated or corrupt)".into());
            }
            if let Some(stamp) = stamp {
                let record = format!("{expected:032x} {stamp}");
                // A read-only cache hashes again next time.
                let _ = wharf_root::write_atomic(&checksum_path(path), record.as_bytes());
            }
        }
        // SAFETY: wasmtime requires that deserialized code comes from a trusted `serialize` of a
        // compatible engine, and that the file is not changed while mapped. The checksum shows
        // these are the bytes wharf wrote after compiling (or that this same, unchanged file
        // did); wharf only ever replaces entries by rename, never in place; and wasmtime itself
        // rejects artifacts from an incompatible engine or version.
        let compiled = unsafe {
            match kind {
                GuestKind::Module => {
                    Module::deserialize_open_file(engine, file).map(Compiled::Module)
                }
                // Components can only be mapped by path. Reopening it is safe: a concurrent
                // writer can only rename the same deterministic bytes over it.
                GuestKind::Component => {
                    drop(file);
                    Component::deserialize_file(engine, path).map(Compiled::Component)
                }
            }
        };
        compiled
            .map(Some)
            .map_err(|e| format!("wasmtime rejected it: {e}"))
    }
}

/// What identifies one file's bytes short of reading them, as one word: device, inode, size,
/// mtime and ctime (to the nanosecond). Replacing a file by rename gives a new inode, and a
/// change in place moves its ctime, which, unlike mtime, cannot be set back. Used for compiled
/// artifacts (beside their checksum) and for the files run by path (`inputs.rs`).
fn file_stamp(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{}:{}:{}:{}.{:09}:{}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// The checksum file that vouches for the artifact at `entry`: its XXH3-128, then the stamp
/// of the file last found to match it (see `file_stamp`).
fn checksum_path(entry: &Path) -> PathBuf {
    entry.with_extension(CHECKSUM_EXTENSION)
}

/// XXH3-128 of a file, read in chunks so a large artifact is never held in memory twice.
fn checksum_of(file: &mut std::fs::File) -> std::io::Result<u128> {
    use std::io::Read;
    let mut hasher = Xxh3::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        match file.read(&mut buffer)? {
            0 => return Ok(hasher.digest128()),
            n => hasher.update(&buffer[..n]),
        }
    }
}

/// Compiles `wasm`, returning the code and its serialized form for the cache.
fn compile(engine: &Engine, wasm: &WasmBinary) -> Result<(Compiled, Vec<u8>), CompileError> {
    let invalid = |e: wasmtime::Error| CompileError::Invalid(format!("{e:#}"));
    match wasm.kind {
        GuestKind::Module => {
            // wasi-libc's chdir exported, for `-w` (see `wharf_sandbox::export_chdir`).
            let bytes = wharf_sandbox::export_chdir(&wasm.bytes);
            let module = Module::from_binary(engine, &bytes).map_err(invalid)?;
            let artifact = module.serialize().map_err(invalid)?;
            Ok((Compiled::Module(module), artifact))
        }
        GuestKind::Component => {
            // wasi-libc's getcwd made to honour `-w` (see `wharf_sandbox::hook_component_getcwd`).
            let bytes = wharf_sandbox::hook_component_getcwd(&wasm.bytes);
            let component = Component::from_binary(engine, &bytes).map_err(invalid)?;
            let artifact = component.serialize().map_err(invalid)?;
            Ok((Compiled::Component(component), artifact))
        }
    }
}

/// The rewrites `compile` makes before wasmtime sees a binary; a new one changes this name,
/// so code compiled without it is not loaded again (it ages out of the cache).
const TRANSFORMS: &str = "export_chdir, hook_component_getcwd";

/// Feeds `Hash` output into SHA-256, so the engine's compatibility hash gives a stable key.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

mod entries;
mod inputs;
pub use entries::CacheEntry;

#[cfg(test)]
mod tests;
