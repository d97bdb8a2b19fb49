//! `wharf pull`: registry to store.
//!
//! Order matters for safety: the manifest is checked (size, digest, Wasm platform), then the
//! config (is this a Wasm image at all?) before any layer is downloaded. Every blob streams
//! into the store through a verifying writer, and the image is registered in one store update
//! only once all its blobs are in place, so a pull killed at any point leaves at most
//! unreferenced blobs, which the next pull reuses and `image prune` removes.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use wharf_image::{media_types, Descriptor, Document, Reference, MAX_DOCUMENT_SIZE};
use wharf_store::{Digest, ImageRecord, Store};
use wharf_unpack::Compression;

use crate::errors::from_oci;
use crate::{client_for, oci_reference, runtime, BlobEvent, Error, Options};

/// Layers downloaded at once.
const PARALLEL_DOWNLOADS: usize = 3;

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The manifest digest of the image now in the store.
    pub digest: Digest,
    /// Whether the store already had this image under this name (Docker's "Image is up to date").
    pub up_to_date: bool,
}

/// Pulls `reference` into `store` and tags it (unless it names a digest only).
pub fn pull(store: &Store, reference: &Reference, options: &Options) -> Result<Pulled, Error> {
    let (client, auth) = client_for(reference, options)?;
    let session = Session {
        client,
        auth,
        reference,
        oci: oci_reference(reference),
        store,
        options,
    };
    runtime()?.block_on(session.pull())
}

struct Session<'a> {
    client: oci_client::Client,
    auth: RegistryAuth,
    reference: &'a Reference,
    oci: oci_client::Reference,
    store: &'a Store,
    options: &'a Options,
}

impl Session<'_> {
    async fn pull(&self) -> Result<Pulled, Error> {
        let accepted = [
            media_types::OCI_MANIFEST,
            media_types::OCI_INDEX,
            media_types::DOCKER_MANIFEST,
            media_types::DOCKER_MANIFEST_LIST,
        ];
        let first = self.manifest(&self.oci, &accepted).await?;
        let first_digest = Digest::of(&first);
        if let Some(pinned) = &self.reference.digest {
            if first_digest.as_str() != pinned {
                return Err(Error::Format(format!(
                    "the registry sent a manifest for {} that hashes to {first_digest}",
                    self.reference
                )));
            }
        }
        let (manifest_bytes, manifest, index_digest) = match parse(&first)? {
            Document::Manifest(manifest) => (first.clone(), manifest, None),
            Document::Index(index) => {
                let chosen = wharf_image::pick_wasm_manifest(&index)
                    .map_err(|e| Error::Format(format!("{}: {e}", self.reference)))?;
                let wanted = chosen.digest().to_string();
                let by_digest = oci_client::Reference::with_digest(
                    self.oci.registry().to_string(),
                    self.oci.repository().to_string(),
                    wanted.clone(),
                );
                let bytes = self
                    .manifest(
                        &by_digest,
                        &[media_types::OCI_MANIFEST, media_types::DOCKER_MANIFEST],
                    )
                    .await?;
                if Digest::of(&bytes).as_str() != wanted {
                    return Err(Error::Format(format!(
                        "the registry sent a manifest for {wanted} with different content"
                    )));
                }
                match parse(&bytes)? {
                    Document::Manifest(manifest) => (bytes, manifest, Some(first_digest)),
                    Document::Index(_) => {
                        return Err(Error::Format(format!(
                            "{}: an index that points at another index is not supported",
                            self.reference
                        )))
                    }
                }
            }
        };
        let digest = Digest::of(&manifest_bytes);

        let config_descriptor = manifest.config();
        if config_descriptor.size() > MAX_DOCUMENT_SIZE as u64 {
            return Err(Error::Format(format!(
                "{}: its config is {} bytes, more than wharf accepts",
                self.reference,
                config_descriptor.size()
            )));
        }
        self.fetch_blob(config_descriptor, false).await?;
        let config_digest = blob_digest(config_descriptor)?;
        let config = self
            .store
            .read_blob(&config_digest, MAX_DOCUMENT_SIZE as u64)?;
        // Refuse a Linux image before downloading its layers.
        let layout = wharf_image::classify(&manifest, &config)
            .map_err(|e| Error::Format(format!("{}: {e}", self.reference)))?;
        if let wharf_image::WasmImage::Rootfs { layers, .. } = &layout {
            if let Some(bad) = layers
                .iter()
                .find(|l| Compression::from_media_type(l.media_type().as_ref()).is_none())
            {
                return Err(Error::Format(format!(
                    "{}: layer {} has media type {}, which wharf cannot unpack",
                    self.reference,
                    bad.digest(),
                    bad.media_type()
                )));
            }
        }

        let record = ImageRecord {
            config: config_digest,
            layers: manifest
                .layers()
                .iter()
                .map(blob_digest)
                .collect::<Result<_, _>>()?,
            extra: index_digest.iter().cloned().collect(),
            created: serde_json::from_slice::<serde_json::Value>(&config)
                .ok()
                .and_then(|v| v.get("created")?.as_str().map(str::to_string)),
        };
        let tag = self
            .reference
            .tag
            .as_ref()
            .map(|_| self.reference.to_string());
        // A concurrent `rmi` may delete a shared blob between download and registration; the
        // update then reports it missing, and the pull fetches it again.
        for attempt in 0.. {
            self.fetch_layers(manifest.layers()).await?;
            self.fetch_blob(config_descriptor, false).await?;
            self.store.put_blob(&manifest_bytes)?;
            if let Some(index_digest) = &index_digest {
                self.store
                    .put_blob_from(index_digest, first.as_slice(), u64::MAX)?;
            }
            let result = self.store.update(|index| {
                let up_to_date = index.images.get(&digest) == Some(&record)
                    && tag
                        .as_ref()
                        .is_none_or(|t| index.tags.get(t) == Some(&digest));
                index.images.insert(digest.clone(), record.clone());
                if let Some(tag) = &tag {
                    index.tags.insert(tag.clone(), digest.clone());
                }
                Ok(up_to_date)
            });
            match result {
                Ok(up_to_date) => {
                    return Ok(Pulled {
                        digest: digest.clone(),
                        up_to_date,
                    })
                }
                Err(wharf_store::Error::MissingBlob(_)) if attempt < 3 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns")
    }

    /// Fetches a manifest or index, refusing one larger than wharf parses.
    async fn manifest(
        &self,
        reference: &oci_client::Reference,
        accepted: &[&str],
    ) -> Result<Vec<u8>, Error> {
        // A manifest is small: a registry that trickles it gets a few windows, not forever.
        let bound = self.options.timeout * 4;
        let fetched = self
            .client
            .pull_manifest_raw(reference, &self.auth, accepted);
        let (bytes, _) = tokio::time::timeout(bound, fetched)
            .await
            .map_err(|_| {
                Error::Registry(format!(
                    "fetching the manifest of {} stalled (not complete after {bound:.0?}); \
                     try again later",
                    self.reference
                ))
            })?
            .map_err(|e| from_oci(e, self.reference))?;
        if bytes.len() > MAX_DOCUMENT_SIZE {
            return Err(Error::Format(format!(
                "the manifest of {} is {} bytes, more than wharf accepts",
                self.reference,
                bytes.len()
            )));
        }
        Ok(bytes.to_vec())
    }

    async fn fetch_layers(&self, layers: &[Descriptor]) -> Result<(), Error> {
        futures_util::stream::iter(layers.iter().map(|layer| self.fetch_blob(layer, true)))
            .buffer_unordered(PARALLEL_DOWNLOADS)
            .try_collect::<Vec<()>>()
            .await
            .map(drop)
    }

    /// Streams one blob into the store unless it is there already. The descriptor's size is
    /// the limit: a registry that sends more (or a blob larger than `max_blob_size`) is refused.
    async fn fetch_blob(&self, descriptor: &Descriptor, report: bool) -> Result<(), Error> {
        let digest = blob_digest(descriptor)?;
        let progress = |event| {
            if report {
                self.options.progress.blob(&digest, event)
            }
        };
        if self.store.has_blob(&digest) {
            progress(BlobEvent::AlreadyExists);
            return Ok(());
        }
        let size = descriptor.size();
        if size > self.options.max_blob_size {
            return Err(Error::Format(format!(
                "{}: blob {digest} is {size} bytes, more than the limit of {} bytes",
                self.reference, self.options.max_blob_size
            )));
        }
        progress(BlobEvent::Started(size));
        let request = OciDescriptor {
            digest: digest.to_string(),
            size: size as i64,
            media_type: descriptor.media_type().to_string(),
            ..Default::default()
        };
        let mut stream = self
            .client
            .pull_blob_stream(&self.oci, &request)
            .await
            .map_err(|e| from_oci(e, self.reference))?;
        let mut writer = self.store.blob_writer(&digest, size)?;
        let mut pace = Pace::new(self.options.timeout);
        loop {
            let chunk = match tokio::time::timeout(pace.left(), stream.next()).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(_) => {
                    // Nothing at all within the window: the check below fails it.
                    pace.check(size - writer.written())
                        .map_err(|why| self.stalled(&digest, &why))?;
                    continue;
                }
            };
            let chunk = chunk.map_err(|e| {
                if e.to_string().contains("igest") {
                    Error::Format(format!(
                        "blob {digest} from {} does not match its digest; nothing was stored",
                        self.reference.registry
                    ))
                } else {
                    Error::Registry(format!(
                        "downloading {digest} from {}: {e}",
                        self.reference.registry
                    ))
                }
            })?;
            let remaining = size.saturating_sub(writer.written());
            writer.write(&chunk)?;
            pace.advance(chunk.len() as u64);
            pace.check(remaining)
                .map_err(|why| self.stalled(&digest, &why))?;
            progress(BlobEvent::Advanced(writer.written()));
        }
        writer.commit()?;
        progress(BlobEvent::Done);
        Ok(())
    }
}

/// The least a blob download must move in each window of the registry timeout (or the rest of
/// the blob, when that is less). A registry that trickles a byte now and then is never silent
/// long enough for a read timeout, yet would hold a pull for days.
const MIN_PROGRESS_PER_WINDOW: u64 = 32 << 10;

/// Progress of one download, judged window by window.
struct Pace {
    window: Duration,
    started: Instant,
    moved: u64,
}

impl Pace {
    fn new(window: Duration) -> Pace {
        Pace {
            window,
            started: Instant::now(),
            moved: 0,
        }
    }

    /// How long until the current window ends.
    fn left(&self) -> Duration {
        self.window.saturating_sub(self.started.elapsed())
    }

    fn advance(&mut self, bytes: u64) {
        self.moved += bytes;
    }

    /// At a window's end: enough moved (of `remaining` bytes at its start, at most), or why not.
    fn check(&mut self, remaining: u64) -> Result<(), String> {
        if self.started.elapsed() < self.window {
            return Ok(());
        }
        let needed = MIN_PROGRESS_PER_WINDOW.min(remaining.max(1));
        if self.moved < needed {
            return Err(format!(
                "{} bytes in the last {:.0?}",
                self.moved, self.window
            ));
        }
        self.started = Instant::now();
        self.moved = 0;
        Ok(())
    }
}

impl Session<'_> {
    fn stalled(&self, digest: &Digest, why: &str) -> Error {
        Error::Registry(format!(
            "downloading {digest} from {} stalled ({why}); the registry or the network is too \
             slow, try again later (WHARF_REGISTRY_TIMEOUT sets the window)",
            self.reference.registry
        ))
    }
}

fn parse(bytes: &[u8]) -> Result<Document, Error> {
    wharf_image::parse_document(bytes).map_err(|e| Error::Format(e.to_string()))
}

fn blob_digest(descriptor: &Descriptor) -> Result<Digest, Error> {
    Digest::parse(descriptor.digest().as_ref()).map_err(Error::Format)
}
