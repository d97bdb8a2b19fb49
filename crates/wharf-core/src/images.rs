//! Images: building, listing, and running them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use wharf_build::BuildOptions;
use wharf_image::{Document, Reference, WasmImage, MAX_DOCUMENT_SIZE};
use wharf_store::{Digest, Store};

use crate::rootfs::RunRootfs;

use crate::docker::{api, BuildMessage};
use crate::{Error, Outcome, SandboxPolicy, StopHandle, Wharf};

/// How an image carries its Wasm, from its stored manifest and config; `None` for an index
/// (no platform was chosen from it).
fn layout_of(manifest: &[u8], config: &[u8]) -> Result<Option<WasmImage>, Error> {
    match wharf_image::parse_document(manifest) {
        Ok(Document::Manifest(m)) => wharf_image::classify(&m, config)
            .map(Some)
            .map_err(|e| Error::Image(e.to_string())),
        Ok(Document::Index(_)) => Ok(None),
        Err(e) => Err(Error::Image(e.to_string())),
    }
}

/// The stored manifest and config of the image `digest`.
fn documents(
    store: &Store,
    index: &wharf_store::Index,
    digest: &Digest,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let limit = MAX_DOCUMENT_SIZE as u64;
    let manifest = store.read_blob(digest, limit)?;
    let config = store.read_blob(&index.images[digest].config, limit)?;
    Ok((manifest, config))
}

/// The bytes the store's copies of `blobs` take.
fn blobs_size<'a>(store: &Store, blobs: impl Iterator<Item = &'a Digest>) -> u64 {
    blobs
        .filter_map(|d| std::fs::metadata(store.blob_path(d)).ok())
        .map(|m| m.len())
        .sum()
}

/// Docker's report that `tag` went, named as users name it (moby's `FamiliarString`).
fn untagged(tag: &str) -> api::ImageDeleteResponseItem {
    api::ImageDeleteResponseItem {
        untagged: Some(familiar(tag)),
        deleted: None,
    }
}

/// A stored tag as Docker names it to users (`app:1` for `docker.io/library/app:1`).
fn familiar(tag: &str) -> String {
    Reference::parse(tag).map_or_else(|_| tag.to_string(), |r| r.familiar_tag())
}

/// Docker's report that the image `digest` went.
fn deleted(digest: &Digest) -> api::ImageDeleteResponseItem {
    api::ImageDeleteResponseItem {
        untagged: None,
        deleted: Some(digest.to_string()),
    }
}

/// A container that uses an image.
struct ImageUser {
    id: String,
    running: bool,
}

/// What `wharf run IMAGE` adds to or overrides in the image's own settings.
#[derive(Debug, Clone, Default)]
pub struct ImageRun {
    /// A program that replaces the image's entrypoint (and drops its cmd, as Docker does).
    pub entrypoint: Option<String>,
    /// Arguments after the image name: replace the image's cmd.
    pub args: Vec<String>,
    /// Run this manifest digest rather than what `reference` names now (a container pinned
    /// to the image it was created from).
    pub digest: Option<String>,
    /// The container's own root filesystem (unpacked there at creation, or now if missing,
    /// and kept across runs); `None`: a fresh one for this run only, removed afterwards.
    pub rootfs: Option<PathBuf>,
}

/// The image whose manifest is `digest`, or that was picked from the index `digest`.
fn by_digest(index: &wharf_store::Index, digest: Digest) -> Option<Digest> {
    if index.images.contains_key(&digest) {
        return Some(digest);
    }
    index
        .images
        .iter()
        .find(|(_, image)| image.extra.contains(&digest))
        .map(|(manifest, _)| manifest.clone())
}

/// The manifest digest a tag, a `name@sha256:` reference (of the manifest or of the index it
/// was picked from), a full digest or a unique digest prefix (as `wharf images` shows) names.
pub(crate) fn resolve(
    index: &wharf_store::Index,
    reference: &str,
) -> Result<Digest, wharf_store::Error> {
    let not_found = || wharf_store::Error::NotFound(format!("no such image: {reference}"));
    if let Ok(digest) = Digest::parse(reference) {
        return by_digest(index, digest).ok_or_else(not_found);
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
        return by_digest(index, digest).ok_or_else(not_found);
    }
    index
        .tags
        .get(&parsed.to_string())
        .cloned()
        .ok_or_else(not_found)
}

impl Wharf {
    /// The image store, opened on first use so that running a file never touches it.
    pub(crate) fn store(&self) -> Result<Store, Error> {
        Ok(Store::open(self.root.image_store_dir())?)
    }

    /// Builds an image from a Dockerfile and a context directory (`docker build`, `POST
    /// /build`); returns its manifest digest. `on_message` hears Docker's build messages as
    /// the build goes.
    pub fn build(
        &self,
        context: &Path,
        options: &BuildOptions,
        on_message: &mut dyn FnMut(BuildMessage),
    ) -> Result<Digest, Error> {
        let store = self.store()?;
        let _writing = store.writing()?;
        let mut on_step = |step: wharf_build::BuildStep<'_>| on_message(BuildMessage::step(step));
        let digest = wharf_build::build(&store, context, options, &mut on_step)?;
        self.built(&digest, options, on_message);
        Ok(digest)
    }

    /// What ends a build: its tags' events and messages.
    fn built(
        &self,
        digest: &Digest,
        options: &BuildOptions,
        on_message: &mut dyn FnMut(BuildMessage),
    ) {
        for tag in &options.tags {
            self.image_event("tag", digest.as_str(), Some(&tag.familiar_tag()));
        }
        BuildMessage::end(digest, &options.tags)
            .into_iter()
            .for_each(on_message);
    }

    /// `wharf build --artifact`: packs one `.wasm` (`input`, or the one the Dockerfile in the
    /// directory `input` copies) as the CNCF Wasm OCI artifact; returns its manifest digest.
    pub fn build_artifact(
        &self,
        input: &Path,
        options: &BuildOptions,
        on_message: &mut dyn FnMut(BuildMessage),
    ) -> Result<Digest, Error> {
        let wasm = wharf_build::artifact_source(input, options)?;
        let store = self.store()?;
        let _writing = store.writing()?;
        let digest = wharf_build::build_artifact(&store, &wasm, options)?;
        self.built(&digest, options, on_message);
        Ok(digest)
    }

    /// `GET /images/{name}/json` (and `wharf image inspect`) for the image `reference`, with
    /// the manifest and how the image carries its Wasm.
    pub fn inspect_image(&self, reference: &str) -> Result<crate::docker::ImageDetails, Error> {
        let store = self.store()?;
        let index = store.index()?;
        let digest = resolve(&index, reference)?;
        let record = &index.images[&digest];
        let (manifest_bytes, config_bytes) = documents(&store, &index, &digest)?;
        let layout = match layout_of(&manifest_bytes, &config_bytes) {
            Ok(Some(WasmImage::Rootfs { .. })) => "rootfs",
            Ok(Some(WasmImage::WasmLayer { .. })) => "wasm-layer",
            _ => "unknown",
        };
        let tags: Vec<Reference> = index
            .tags
            .iter()
            .filter(|(_, d)| **d == digest)
            .filter_map(|(t, _)| Reference::parse(t).ok())
            .collect();
        let size = blobs_size(&store, record.blobs(&digest));
        crate::docker::image_details(crate::docker::ImageFacts {
            digest: &digest,
            tags: &tags,
            size,
            layers: &record.layers,
            manifest: &manifest_bytes,
            config: &config_bytes,
            layout,
        })
        .map_err(|e| Error::Image(format!("image {reference}: {e}")))
    }

    /// The ports a run publishes: `ports` as given, a host port 0 picking a free one (as an
    /// empty `HostPort` does for Docker), plus, with `publish_all` (`-P`, `PublishAllPorts`),
    /// every TCP port the image (`image`, when the run is of an image) EXPOSEs and `ports` does
    /// not publish yet, each on a free host port of every address.
    pub fn resolve_ports(
        &self,
        image: Option<&str>,
        publish_all: bool,
        ports: &mut Vec<crate::PortMapping>,
    ) -> Result<(), Error> {
        if let (true, Some(image)) = (publish_all, image) {
            for guest_port in self.exposed_ports(image)? {
                if !ports.iter().any(|p| p.guest_port == guest_port) {
                    ports.push(crate::PortMapping {
                        host: ([0, 0, 0, 0], 0).into(),
                        guest_port,
                    });
                }
            }
        }
        wharf_sandbox::assign_free_ports(ports)
            .map_err(|e| Error::Conflict(format!("cannot find a free host port: {e}")))
    }

    /// The TCP ports image `reference` EXPOSEs (its config's `ExposedPorts`), for `-P`.
    pub fn exposed_ports(&self, reference: &str) -> Result<Vec<u16>, Error> {
        let image = self.inspect_image(reference)?;
        let exposed = image
            .inspect
            .config
            .and_then(|c| c.exposed_ports)
            .unwrap_or_default();
        Ok(crate::foreign_image::tcp_ports(
            exposed.keys().map(String::as_str),
        ))
    }

    /// `wharf image prune`: deletes images no container uses, the untagged (dangling) ones
    /// or, with `all`, every one, then what a killed pull or build left behind (blobs no image
    /// refers to, abandoned temporaries). Returns what `POST /images/prune` reports.
    pub fn prune_images(&self, all: bool) -> Result<api::ImagePruneResponse, Error> {
        let store = self.store()?;
        let mut report = Vec::new();
        let mut untags = Vec::new();
        let sizes =
            |index: &wharf_store::Index| blobs_size(&store, index.referenced_blobs().iter());
        let mut unreferenced = BTreeSet::new();
        let mut freed = store.update(|index| {
            let referenced = index.referenced_blobs();
            let users = self
                .image_users()
                .map_err(|e| wharf_store::Error::Conflict(e.to_string()))?;
            let before = sizes(index);
            let doomed: Vec<Digest> = index
                .images
                .keys()
                .filter(|d| !users.contains_key(*d))
                .filter(|d| all || !index.tags.values().any(|t| t == *d))
                .cloned()
                .collect();
            index.tags.retain(|tag, d| {
                let drop = doomed.contains(d);
                if drop {
                    report.push(untagged(tag));
                    untags.push((d.clone(), tag.clone()));
                }
                !drop
            });
            for digest in &doomed {
                index.images.remove(digest);
                report.push(deleted(digest));
            }
            let left = index.referenced_blobs();
            unreferenced = referenced.difference(&left).cloned().collect();
            Ok(before - sizes(index))
        })?;
        freed += self.forget_compiled(&unreferenced).1;
        for (digest, tag) in &untags {
            self.image_event("untag", digest.as_str(), Some(&familiar(tag)));
        }
        for id in report.iter().filter_map(|i| i.deleted.as_deref()) {
            self.image_event("delete", id, None);
        }
        freed += store.remove_orphans(std::time::Duration::ZERO)?;
        Ok(api::ImagePruneResponse {
            images_deleted: Some(report),
            space_reclaimed: Some(freed as i64),
        })
    }

    /// Saves images (`docker save`, `GET /images/get`): writes `references` (tags, digests or IDs) as an OCI layout tar.
    pub fn save_images(
        &self,
        references: &[String],
        out: impl std::io::Write,
    ) -> Result<(), Error> {
        let store = self.store()?;
        let index = store.index()?;
        let mut items: Vec<wharf_archive::SaveItem> = Vec::new();
        for reference in references {
            let digest = resolve(&index, reference)?;
            // A tag saves that name; a digest or ID saves every name the image has.
            let names: Vec<Reference> = match Reference::parse(reference)
                .ok()
                .filter(|r| index.tags.get(&r.to_string()) == Some(&digest))
            {
                Some(tag) => vec![tag],
                None => index
                    .tags
                    .iter()
                    .filter(|(_, d)| **d == digest)
                    .filter_map(|(t, _)| Reference::parse(t).ok())
                    .collect(),
            };
            match items.iter_mut().find(|i| i.digest == digest) {
                Some(item) => item.names.extend(names),
                None => items.push(wharf_archive::SaveItem { digest, names }),
            }
        }
        wharf_archive::save(&store, &items, out).map_err(|e| Error::Image(e.to_string()))?;
        for item in &items {
            let name = item.names.first().map(Reference::familiar_tag);
            self.image_event("save", item.digest.as_str(), name.as_deref());
        }
        Ok(())
    }

    /// Loads images (`docker load`, `POST /images/load`): reads an OCI layout tar into the store.
    pub fn load_images(
        &self,
        input: impl std::io::Read,
    ) -> Result<Vec<wharf_archive::Loaded>, Error> {
        let store = self.store()?;
        let _writing = store.writing()?;
        let loaded =
            wharf_archive::load(&store, input, 4 << 30).map_err(|e| Error::Image(e.to_string()))?;
        for image in &loaded {
            self.image_event(
                "load",
                image.digest.as_str(),
                image.names.first().map(String::as_str),
            );
        }
        Ok(loaded)
    }

    /// Every image in the store, as `GET /images/json` lists them: tags sorted, untagged
    /// images last, each with its labels and how many containers use it.
    pub fn images(&self) -> Result<Vec<api::ImageSummary>, Error> {
        let store = self.store()?;
        let index = store.index()?;
        let users = self.image_users()?;
        let limit = MAX_DOCUMENT_SIZE as u64;
        let mut order: Vec<&Digest> = Vec::new();
        for digest in index.tags.values().chain(index.images.keys()) {
            if !order.contains(&digest) {
                order.push(digest);
            }
        }
        let mut list = Vec::new();
        for digest in order {
            let Some(record) = index.images.get(digest) else {
                continue;
            };
            let tags: Vec<Reference> = index
                .tags
                .iter()
                .filter(|(_, d)| *d == digest)
                .filter_map(|(t, _)| Reference::parse(t).ok())
                .collect();
            let labels = store
                .read_blob(&record.config, limit)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|c| serde_json::from_value(c.pointer("/config/Labels")?.clone()).ok())
                .unwrap_or_default();
            let created = record
                .created
                .as_deref()
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            list.push(api::ImageSummary {
                id: digest.to_string(),
                parent_id: String::new(),
                repo_tags: tags.iter().map(Reference::familiar_tag).collect(),
                repo_digests: tags
                    .iter()
                    .map(|r| format!("{}@{digest}", r.familiar_name()))
                    .collect(),
                created,
                size: blobs_size(&store, record.blobs(digest)) as i64,
                shared_size: -1,
                virtual_size: None,
                labels,
                containers: users.get(digest).map_or(0, |u| u.len() as i64),
                manifests: None,
                descriptor: None,
            });
        }
        Ok(list)
    }

    /// Tags an image (`docker tag`, `POST /images/{name}/tag`): gives the image `source` the extra name `target`.
    pub fn tag_image(&self, source: &str, target: &str) -> Result<(), Error> {
        let target = Reference::parse(target).map_err(Error::InvalidArgument)?;
        if target.digest.is_some() {
            return Err(Error::InvalidArgument(format!(
                "cannot tag with a digest ({target})"
            )));
        }
        let store = self.store()?;
        let digest = store.update(|index| {
            let digest = resolve(index, source)?;
            index.tags.insert(target.to_string(), digest.clone());
            Ok(digest)
        })?;
        self.image_event("tag", digest.as_str(), Some(&target.familiar_tag()));
        Ok(())
    }

    /// Removes an image (`docker rmi`, `DELETE /images/{name}`): removes the tag `reference` (or, given a digest or ID, every tag of that
    /// image, which needs `force` when there are several, as Docker); the image and the blobs
    /// only it used go once no tag is left and no container uses it. An image that containers
    /// use keeps its last tag unless `force`, and then stays untagged for them; one that a
    /// running container uses cannot be deleted by ID even with `force` (Docker's rules).
    /// Returns what was removed, as `DELETE /images/{name}` reports it.
    pub fn remove_image(
        &self,
        reference: &str,
        force: bool,
    ) -> Result<Vec<api::ImageDeleteResponseItem>, Error> {
        let store = self.store()?;
        let mut unreferenced = BTreeSet::new();
        let (digest, removed) = store.update(|index| {
            let referenced = index.referenced_blobs();
            let digest = resolve(index, reference)?;
            // Listed under the store's lock: a container created meanwhile checks its image
            // under the same lock after it exists (see `create_container`).
            let users = self
                .image_users()
                .map_err(|e| wharf_store::Error::Conflict(e.to_string()))?;
            let users = users.get(&digest);
            // Named by a tag: only that tag goes. Named by digest or ID: every tag goes.
            let tag = Reference::parse(reference)
                .ok()
                .map(|r| r.to_string())
                .filter(|t| index.tags.get(t) == Some(&digest));
            let tag_count = index.tags.values().filter(|d| **d == digest).count();
            let short = wharf_containers::short_id(digest.hex());
            if tag.is_none() && tag_count > 1 && !force {
                return Err(wharf_store::Error::Conflict(format!(
                    "conflict: unable to delete {reference} (must be forced) - the image has \
                         {tag_count} tags; remove them one by one or use rmi -f"
                )));
            }
            let last_name = tag.is_none() || tag_count == 1;
            if let Some(users) = users.filter(|_| last_name) {
                if let Some(running) = users.iter().find(|u| u.running).filter(|_| tag.is_none()) {
                    return Err(wharf_store::Error::Conflict(format!(
                        "conflict: unable to delete {short} (cannot be forced) - image is \
                             being used by running container {}",
                        wharf_containers::short_id(&running.id)
                    )));
                }
                if !force {
                    let user = &users[0];
                    return Err(wharf_store::Error::Conflict(match &tag {
                        Some(tag) => format!(
                            "conflict: unable to remove repository reference \"{tag}\" \
                                 (must force) - container {} is using its referenced image {short}",
                            wharf_containers::short_id(&user.id)
                        ),
                        None => format!(
                            "conflict: unable to delete {short} (must be forced) - image is \
                                 being used by {} container {}",
                            if user.running { "running" } else { "stopped" },
                            wharf_containers::short_id(&user.id)
                        ),
                    }));
                }
            }
            let mut report = Vec::new();
            index.tags.retain(|name, d| {
                let drop = *d == digest && tag.as_ref().is_none_or(|t| t == name);
                if drop {
                    report.push(untagged(name));
                }
                !drop
            });
            if !index.tags.values().any(|d| *d == digest) && users.is_none() {
                index.images.remove(&digest);
                report.push(deleted(&digest));
            }
            let left = index.referenced_blobs();
            unreferenced = referenced.difference(&left).cloned().collect();
            Ok((digest, report))
        })?;
        self.forget_compiled(&unreferenced);
        for item in &removed {
            match (&item.untagged, &item.deleted) {
                (Some(tag), _) => self.image_event("untag", digest.as_str(), Some(&familiar(tag))),
                (_, Some(id)) => self.image_event("delete", id, None),
                _ => {}
            }
        }
        Ok(removed)
    }

    /// The containers that use each image (by manifest digest), whatever their state: what a
    /// container needs stays in the store while it exists.
    fn image_users(&self) -> Result<BTreeMap<Digest, Vec<ImageUser>>, Error> {
        let mut users: BTreeMap<Digest, Vec<ImageUser>> = BTreeMap::new();
        for container in self.containers()?.list()? {
            if let wharf_containers::Target::Image { digest, .. } = &container.config.target {
                if let Ok(digest) = Digest::parse(digest) {
                    users.entry(digest).or_default().push(ImageUser {
                        id: container.config.id.clone(),
                        running: container.state.status.is_live(),
                    });
                }
            }
        }
        Ok(users)
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
        let parsed = Reference::parse(reference).map_err(Error::InvalidArgument)?;
        let store = self.store()?;
        let index = store.index()?;
        let digest = resolve(&index, run.digest.as_deref().unwrap_or(reference)).map_err(|_| {
            Error::NotFound(format!(
                "no such image: {reference} (not in the local store)"
            ))
        })?;
        let (manifest, config) = documents(&store, &index, &digest)?;
        let Some(layout) = layout_of(&manifest, &config)? else {
            return Err(Error::Image(format!(
                "image {reference} is an index without a chosen platform"
            )));
        };
        match layout {
            WasmImage::WasmLayer { layer } => {
                let digest = Digest::parse(layer.digest().as_ref()).map_err(Error::Image)?;
                let mut policy = policy.clone();
                let _grants = self.grant_file_mounts(&mut policy)?;
                let argv0 = run
                    .entrypoint
                    .clone()
                    .unwrap_or_else(|| parsed.familiar_name());
                policy.args = std::iter::once(argv0)
                    .chain(run.args.iter().cloned())
                    .collect();
                if !policy.ports.is_empty() {
                    let bytes = store.read_blob(&digest, u64::MAX)?;
                    let wasm = wharf_sandbox::WasmBinary::parse(bytes)
                        .map_err(|reason| Error::not_runnable(reference, reason))?;
                    if wasm.exports_http_handler() {
                        return self.serve_http(Path::new(reference), &wasm, &policy, stop);
                    }
                    wharf_sandbox::ensure_ports_free(&policy.ports).map_err(Error::Conflict)?;
                }
                let compiled = self.compiled_layer(&store, &digest, reference)?;
                self.run_compiled(Path::new(reference), &compiled, &policy, stop)
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
                if argv.is_empty() {
                    return Err(Error::Image(format!(
                        "image {reference} has no ENTRYPOINT or CMD, and none was given"
                    )));
                }
                let rootfs = RunRootfs::prepare(self, &store, &layers, run.rootfs.as_deref())?;
                let mut policy = policy.clone();
                policy.env = crate::rootfs::image_env_then(&env, std::mem::take(&mut policy.env));
                policy.args = argv;
                policy.workdir = policy.workdir.or(workdir);
                let whose = format!("in image {reference}");
                self.run_in_rootfs(rootfs.path(), &whose, &policy, stop)
            }
        }
    }
}

impl Wharf {
    /// The compiled code of a Wasm layer. The AOT cache is keyed by the layer's digest, so on
    /// a warm start only the layer's 8-byte header is read; the layer itself is read (and
    /// verified against its digest) only to compile it.
    fn compiled_layer(
        &self,
        store: &Store,
        digest: &Digest,
        reference: &str,
    ) -> Result<wharf_sandbox::Compiled, Error> {
        let not_runnable = |reason: String| Error::not_runnable(reference, reason);
        let mut header = [0u8; 8];
        std::fs::File::open(store.blob_path(digest))
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
            .map_err(|e| Error::Image(format!("layer {digest} cannot be read: {e}")))?;
        let kind = wharf_sandbox::GuestKind::from_header(&header).ok_or_else(|| {
            not_runnable(format!("its layer {digest} is not a WebAssembly binary"))
        })?;
        let key = wharf_aot_cache::CacheKey {
            sha256_hex: digest.hex().to_string(),
            kind,
        };
        if let Some(compiled) = self.cache.lookup(self.engine()?, &key) {
            return Ok(compiled);
        }
        let bytes = store.read_blob(digest, u64::MAX)?;
        let wasm = wharf_sandbox::WasmBinary::parse(bytes).map_err(not_runnable)?;
        if wasm.exports_http_handler() {
            // A server run without `-p`: said before a compile that takes seconds.
            return Err(not_runnable(wharf_sandbox::NEEDS_A_PORT.into()));
        }
        self.cache
            .compile_and_store(self.engine()?, &key, &wasm)
            .map_err(|wharf_aot_cache::CompileError::Invalid(e)| {
                not_runnable(format!("invalid WebAssembly: {e}"))
            })
    }

    /// The layers to unpack for a container of the stored image `digest`: `Some` for the
    /// Docker Wasm layout (a root filesystem), `None` for an image that is one Wasm layer.
    pub(crate) fn rootfs_layers(
        store: &Store,
        index: &wharf_store::Index,
        digest: &Digest,
    ) -> Result<Option<Vec<wharf_image::Descriptor>>, Error> {
        let (manifest, config) = documents(store, index, digest)?;
        Ok(match layout_of(&manifest, &config)? {
            Some(WasmImage::Rootfs { layers, .. }) => Some(layers),
            Some(WasmImage::WasmLayer { .. }) | None => None,
        })
    }

    /// The manifest digest of the image `reference` names, if the store holds it.
    pub(crate) fn image_digest(&self, reference: &str) -> Option<String> {
        let index = self.store().ok()?.index().ok()?;
        resolve(&index, reference).ok().map(|d| d.to_string())
    }

    /// Whether the store holds `reference` (a tag, digest or ID prefix).
    pub fn image_exists(&self, reference: &str) -> Result<bool, Error> {
        let index = self.store()?.index()?;
        Ok(resolve(&index, reference).is_ok())
    }
}
