//! Images: building, listing, and running them.

use std::path::{Path, PathBuf};

use wharf_build::BuildOptions;
use wharf_image::{Document, Reference, WasmImage, MAX_DOCUMENT_SIZE};
use wharf_store::{Digest, Store};
use wharf_unpack::{Compression, Limits};

use crate::{Error, Outcome, SandboxPolicy, StopHandle, Wharf};

/// One line of `wharf images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// The tag's reference.
    pub reference: Reference,
    /// The image's manifest digest.
    pub digest: Digest,
    /// When it was created (RFC 3339), if known.
    pub created: Option<String>,
    /// Bytes of its blobs in the store.
    pub size: u64,
}

/// What `wharf run IMAGE` adds to or overrides in the image's own settings.
#[derive(Debug, Clone, Default)]
pub struct ImageRun {
    /// `--entrypoint`: replaces the image's entrypoint (and drops its cmd, as Docker does).
    pub entrypoint: Option<String>,
    /// Arguments after the image name: replace the image's cmd.
    pub args: Vec<String>,
}

/// The manifest digest a tag, a `name@sha256:` reference, a full digest or a unique digest
/// prefix (as `wharf images` shows) names.
fn resolve(index: &wharf_store::Index, reference: &str) -> Result<Digest, wharf_store::Error> {
    let not_found = || wharf_store::Error::NotFound(format!("no such image: {reference}"));
    if let Ok(digest) = Digest::parse(reference) {
        return index
            .images
            .contains_key(&digest)
            .then_some(digest)
            .ok_or_else(not_found);
    }
    if reference.len() >= 4 && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut matches = index
            .images
            .keys()
            .filter(|d| d.hex().starts_with(reference));
        if let (Some(digest), None) = (matches.next(), matches.next()) {
            return Ok(digest.clone());
        }
    }
    let parsed = Reference::parse(reference).map_err(wharf_store::Error::NotFound)?;
    if let Some(digest) = &parsed.digest {
        let digest = Digest::parse(digest).map_err(wharf_store::Error::NotFound)?;
        return index
            .images
            .contains_key(&digest)
            .then_some(digest)
            .ok_or_else(not_found);
    }
    index
        .tags
        .get(&parsed.to_string())
        .cloned()
        .ok_or_else(not_found)
}

fn store_error(e: wharf_store::Error) -> Error {
    Error::Image(e.to_string())
}

impl Wharf {
    /// The image store, opened on first use so that running a file never touches it.
    pub fn store(&self) -> Result<Store, Error> {
        Store::open(self.root.image_store_dir()).map_err(store_error)
    }

    /// Builds an image from a Dockerfile and a context directory; returns its manifest digest.
    pub fn build(&self, context: &Path, options: &BuildOptions) -> Result<Digest, Error> {
        wharf_build::build(&self.store()?, context, options)
            .map_err(|e| Error::Image(e.to_string()))
    }

    /// Every tag in the store, sorted.
    pub fn images(&self) -> Result<Vec<ImageSummary>, Error> {
        let store = self.store()?;
        let index = store.index().map_err(store_error)?;
        let mut summaries = Vec::new();
        for (tag, digest) in &index.tags {
            let Ok(reference) = Reference::parse(tag) else {
                continue;
            };
            let Some(record) = index.images.get(digest) else {
                continue;
            };
            let size = record
                .blobs(digest)
                .filter_map(|d| std::fs::metadata(store.blob_path(d)).ok())
                .map(|m| m.len())
                .sum();
            summaries.push(ImageSummary {
                reference,
                digest: digest.clone(),
                created: record.created.clone(),
                size,
            });
        }
        Ok(summaries)
    }

    /// `wharf tag`: gives the image `source` the extra name `target`.
    pub fn tag_image(&self, source: &str, target: &str) -> Result<(), Error> {
        let target = Reference::parse(target).map_err(Error::Image)?;
        if target.digest.is_some() {
            return Err(Error::Image(format!("cannot tag with a digest ({target})")));
        }
        let store = self.store()?;
        store
            .update(|index| {
                let digest = resolve(index, source)?;
                index.tags.insert(target.to_string(), digest);
                Ok(())
            })
            .map_err(store_error)
    }

    /// `wharf rmi`: removes the tag `reference` (or, given a digest, every tag of that image);
    /// the image and the blobs only it used go once no tag is left. Returns what was removed,
    /// as Docker prints it (`Untagged: ...`, `Deleted: ...`).
    pub fn remove_image(&self, reference: &str) -> Result<Vec<String>, Error> {
        let store = self.store()?;
        store
            .update(|index| {
                let digest = resolve(index, reference)?;
                // Named by a tag: only that tag goes. Named by digest or ID: every tag goes.
                let tag = Reference::parse(reference)
                    .ok()
                    .map(|r| r.to_string())
                    .filter(|t| index.tags.get(t) == Some(&digest));
                let mut report = Vec::new();
                index.tags.retain(|name, d| {
                    let drop = *d == digest && tag.as_ref().is_none_or(|t| t == name);
                    if drop {
                        report.push(format!("Untagged: {name}"));
                    }
                    !drop
                });
                if !index.tags.values().any(|d| *d == digest) {
                    index.images.remove(&digest);
                    report.push(format!("Deleted: {digest}"));
                }
                Ok(report)
            })
            .map_err(store_error)
    }

    /// Runs the image `reference` with the image's entrypoint, cmd, env and working directory,
    /// overridden by `run` and extended by `policy` (user env comes after the image's, user
    /// mounts beside the image's root filesystem). The image's files are unpacked into a fresh
    /// directory for this run only, so the guest's writes never change the image.
    pub fn run_image(
        &self,
        reference: &str,
        run: &ImageRun,
        policy: &SandboxPolicy,
        stop: &StopHandle,
    ) -> Result<Outcome, Error> {
        let parsed = Reference::parse(reference).map_err(Error::Image)?;
        let store = self.store()?;
        let index = store.index().map_err(store_error)?;
        let digest = resolve(&index, reference).map_err(|_| {
            Error::Image(format!(
                "image {reference} is not in the local store (wharf pull is not available yet; build it with wharf build)"
            ))
        })?;
        let record = &index.images[&digest];
        let limit = MAX_DOCUMENT_SIZE as u64;
        let manifest = match wharf_image::parse_document(
            &store.read_blob(&digest, limit).map_err(store_error)?,
        ) {
            Ok(Document::Manifest(m)) => m,
            Ok(Document::Index(_)) => {
                return Err(Error::Image(format!(
                    "image {reference} is an index without a chosen platform"
                )))
            }
            Err(e) => return Err(Error::Image(e.to_string())),
        };
        let config = store
            .read_blob(&record.config, limit)
            .map_err(store_error)?;
        let layout =
            wharf_image::classify(&manifest, &config).map_err(|e| Error::Image(e.to_string()))?;
        match layout {
            WasmImage::WasmLayer { layer } => {
                let digest = Digest::parse(layer.digest().as_ref()).map_err(Error::Image)?;
                let wasm = store.read_blob(&digest, u64::MAX).map_err(store_error)?;
                let mut policy = policy.clone();
                let argv0 = run
                    .entrypoint
                    .clone()
                    .unwrap_or_else(|| parsed.familiar_name());
                policy.args = std::iter::once(argv0)
                    .chain(run.args.iter().cloned())
                    .collect();
                self.run_bytes(Path::new(reference), wasm, &policy, stop)
            }
            WasmImage::Rootfs {
                layers,
                entrypoint,
                cmd,
                env,
                workdir,
            } => {
                let argv: Vec<String> = match (&run.entrypoint, run.args.is_empty()) {
                    (Some(e), _) => std::iter::once(e.clone())
                        .chain(run.args.iter().cloned())
                        .collect(),
                    (None, false) => entrypoint.iter().chain(&run.args).cloned().collect(),
                    (None, true) => entrypoint.iter().chain(&cmd).cloned().collect(),
                };
                let Some(program) = argv.first() else {
                    return Err(Error::Image(format!(
                        "image {reference} has no ENTRYPOINT or CMD, and none was given"
                    )));
                };
                let rootfs = RunRootfs::unpack(self, &store, &layers)?;
                let wasm_path = rootfs.path.join(program.trim_start_matches('/'));
                let inside = wasm_path
                    .canonicalize()
                    .ok()
                    .filter(|p| p.starts_with(&rootfs.path));
                let Some(wasm_path) = inside.filter(|p| p.is_file()) else {
                    return Err(Error::NotFound(PathBuf::from(format!(
                        "{program} (in image {reference})"
                    ))));
                };
                let bytes = std::fs::read(&wasm_path).map_err(|e| Error::Internal(e.into()))?;
                let mut policy = policy.clone();
                let user_env = std::mem::take(&mut policy.env);
                policy.env = env
                    .iter()
                    .filter_map(|e| {
                        e.split_once('=')
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                    })
                    .filter(|(k, _)| !user_env.iter().any(|(uk, _)| uk == k))
                    .chain(user_env.iter().cloned())
                    .collect();
                policy.args = argv.clone();
                policy.workdir = policy.workdir.or(workdir);
                let rootfs_mounts = rootfs.mounts(policy.workdir.as_deref())?;
                policy.mounts.splice(0..0, rootfs_mounts);
                self.run_bytes(Path::new(program), bytes, &policy, stop)
            }
        }
    }
}

/// A root filesystem unpacked for one run, removed when dropped.
struct RunRootfs {
    path: PathBuf,
}

impl RunRootfs {
    fn unpack(
        wharf: &Wharf,
        store: &Store,
        layers: &[wharf_image::Descriptor],
    ) -> Result<RunRootfs, Error> {
        let base = wharf.root.path().join("run");
        std::fs::create_dir_all(&base).map_err(|e| Error::Internal(e.into()))?;
        wharf_root::remove_abandoned_temporaries(&base);
        let path = base.join(wharf_root::temporary_name("rootfs"));
        std::fs::create_dir(&path).map_err(|e| Error::Internal(e.into()))?;
        let rootfs = RunRootfs { path };
        for layer in layers {
            let media_type = layer.media_type().to_string();
            let compression = Compression::from_media_type(&media_type).ok_or_else(|| {
                Error::Image(format!(
                    "layer {} has media type {media_type}, which is not a tar layer",
                    layer.digest()
                ))
            })?;
            let digest = Digest::parse(layer.digest().as_ref()).map_err(Error::Image)?;
            let file = std::fs::File::open(store.blob_path(&digest))
                .map_err(|_| Error::Image(format!("layer {digest} is missing from the store")))?;
            wharf_unpack::unpack_layer(
                std::io::BufReader::new(file),
                compression,
                &rootfs.path,
                Limits::default(),
            )
            .map_err(|e| Error::Image(format!("layer {digest}: {e}")))?;
        }
        Ok(rootfs)
    }
}

impl RunRootfs {
    /// How the guest sees the root filesystem. wasi-libc picks a preopen by the longest prefix
    /// and treats both `/` and the working directory's `.` as the empty prefix, so the two cannot
    /// be granted together: with a working directory other than `/`, each top-level directory
    /// of the image is granted at its own path instead of `/` as a whole.
    fn mounts(&self, workdir: Option<&str>) -> Result<Vec<crate::Mount>, Error> {
        let mount = |host: PathBuf, guest: String| crate::Mount {
            host,
            guest,
            read_only: false,
        };
        if workdir.is_none_or(|w| w.trim_end_matches('/').is_empty()) {
            return Ok(vec![mount(self.path.clone(), "/".into())]);
        }
        let mut mounts = Vec::new();
        let entries = std::fs::read_dir(&self.path).map_err(|e| Error::Internal(e.into()))?;
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let guest = format!("/{}", entry.file_name().to_string_lossy());
                mounts.push(mount(entry.path(), guest));
            }
        }
        mounts.sort_by(|a, b| a.guest.cmp(&b.guest));
        Ok(mounts)
    }
}

impl Drop for RunRootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
