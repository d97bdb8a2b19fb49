//! Images in and out of OCI image layout archives: what `wharf save` writes and `wharf load`
//! reads.
//!
//! An archive is a tar of an OCI image layout: `oci-layout`, `index.json` (one entry per
//! image and name, named by the `io.containerd.image.name` and
//! `org.opencontainers.image.ref.name` annotations as Docker 25+ writes them) and
//! `blobs/sha256/<hex>`. `wharf save` also writes Docker's `manifest.json`, so `docker load`
//! reads the archive too. `wharf load` reads archives from `wharf save`, `docker save`
//! (Docker 25 and later, which writes the same layout) and `skopeo copy ... oci-archive:`.
//!
//! Loading never writes outside the store: tar paths are only used to learn digests, every
//! blob is verified against its name while it streams in, and images are registered in one
//! store update once all their blobs are present.

#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use serde_json::{json, Value};
use wharf_image::{Document, Reference, MAX_DOCUMENT_SIZE};
use wharf_store::{Digest, ImageRecord, Store};

/// The annotation Docker and containerd put the full image name in.
const IMAGE_NAME_ANNOTATION: &str = "io.containerd.image.name";
/// The OCI annotation for an image's name (often only its tag).
const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Why saving or loading failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The archive is not an OCI layout, or is damaged, or holds no Wasm image.
    #[error("{0}")]
    Format(String),
    /// Reading or writing the archive failed.
    #[error("{0}")]
    Io(String),
    /// The store failed (a blob that does not match its name is reported here).
    #[error(transparent)]
    Store(#[from] wharf_store::Error),
}

/// One image to save: its manifest digest and the names to record for it.
#[derive(Debug, Clone)]
pub struct SaveItem {
    /// Manifest digest.
    pub digest: Digest,
    /// Names (full references with tags); may be empty.
    pub names: Vec<Reference>,
}

/// Writes `items` from `store` as an OCI layout tar to `out`.
pub fn save(store: &Store, items: &[SaveItem], out: impl Write) -> Result<(), Error> {
    let index = store.index()?;
    let mut entries = Vec::new();
    let mut docker_manifest = Vec::new();
    let mut blobs = BTreeSet::new();
    for item in items {
        let record = index
            .images
            .get(&item.digest)
            .ok_or_else(|| Error::Format(format!("no image {} in the store", item.digest)))?;
        let manifest = store.read_blob(&item.digest, MAX_DOCUMENT_SIZE as u64)?;
        let media_type = serde_json::from_slice::<Value>(&manifest)
            .ok()
            .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
            .unwrap_or_else(|| wharf_image::media_types::OCI_MANIFEST.to_string());
        let descriptor = |annotations: Option<Value>| {
            let mut d = json!({
                "mediaType": media_type,
                "digest": item.digest.as_str(),
                "size": manifest.len(),
            });
            if let Some(a) = annotations {
                d["annotations"] = a;
            }
            d
        };
        if item.names.is_empty() {
            entries.push(descriptor(None));
        }
        for name in &item.names {
            entries.push(descriptor(Some(json!({
                IMAGE_NAME_ANNOTATION: name.to_string(),
                REF_NAME_ANNOTATION: name.tag.clone().unwrap_or_else(|| "latest".into()),
            }))));
        }
        docker_manifest.push(json!({
            "Config": blob_path(&record.config),
            "RepoTags": item.names.iter().map(Reference::familiar_tag).collect::<Vec<_>>(),
            "Layers": record.layers.iter().map(blob_path).collect::<Vec<_>>(),
        }));
        blobs.extend(record.blobs(&item.digest).cloned());
    }
    let io = |e: std::io::Error| Error::Io(format!("writing the archive: {e}"));
    let mut tar = tar::Builder::new(out);
    let mut add = |path: &str, size: u64, data: &mut dyn Read| {
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, data)
    };
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    add("oci-layout", layout.len() as u64, &mut &layout[..]).map_err(io)?;
    let index_json = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": wharf_image::media_types::OCI_INDEX,
        "manifests": entries,
    }))
    .expect("JSON");
    add("index.json", index_json.len() as u64, &mut &index_json[..]).map_err(io)?;
    let docker_json = serde_json::to_vec(&docker_manifest).expect("JSON");
    add(
        "manifest.json",
        docker_json.len() as u64,
        &mut &docker_json[..],
    )
    .map_err(io)?;
    for blob in &blobs {
        let mut file = std::fs::File::open(store.blob_path(blob))
            .map_err(|_| wharf_store::Error::MissingBlob(blob.clone()))?;
        let size = file.metadata().map_err(io)?.len();
        add(&blob_path(blob), size, &mut file).map_err(io)?;
    }
    tar.into_inner().map_err(io)?.flush().map_err(io)?;
    Ok(())
}

fn blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// One image `load` registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Its manifest digest.
    pub digest: Digest,
    /// The names it was tagged with (none when the archive gave it no full name).
    pub names: Vec<String>,
}

/// Reads an OCI layout tar from `input` into `store`; every blob must be at most
/// `max_blob_size` bytes. Images that are not WebAssembly are refused.
pub fn load(store: &Store, input: impl Read, max_blob_size: u64) -> Result<Vec<Loaded>, Error> {
    let mut written = BTreeSet::new();
    let result = read_and_register(store, input, max_blob_size, &mut written);
    // Blobs the archive carried that no image needs (other platforms of an index, say).
    let needed = store.index()?.referenced_blobs();
    for digest in written.difference(&needed) {
        let _ = std::fs::remove_file(store.blob_path(digest));
    }
    result
}

/// Streams the archive's blobs into the store (noting in `written` those it added), then
/// registers the images its index.json names.
fn read_and_register(
    store: &Store,
    input: impl Read,
    max_blob_size: u64,
    written: &mut BTreeSet<Digest>,
) -> Result<Vec<Loaded>, Error> {
    let mut archive = tar::Archive::new(input);
    let io = |e: std::io::Error| Error::Io(format!("reading the archive: {e}"));
    let mut index_json = None;
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().map_err(io)?.to_string_lossy().into_owned();
        let path = path.trim_start_matches("./");
        if path == "index.json" {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_DOCUMENT_SIZE as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(io)?;
            if bytes.len() > MAX_DOCUMENT_SIZE {
                return Err(Error::Format(
                    "the archive's index.json is too large".into(),
                ));
            }
            index_json = Some(bytes);
        } else if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let digest = Digest::parse(&format!("sha256:{hex}"))
                .map_err(|e| Error::Format(format!("the archive holds a badly named blob: {e}")))?;
            if !store.has_blob(&digest) {
                store.put_blob_from(&digest, &mut entry, max_blob_size)?;
                written.insert(digest);
            }
        }
    }
    match index_json {
        Some(index_json) => register(store, &index_json),
        None => Err(Error::Format(
            "not an OCI image layout archive (it has no index.json); wharf load reads archives \
             from wharf save, docker save (Docker 25+) and skopeo's oci-archive"
                .into(),
        )),
    }
}

/// Registers the images `index.json` names, in one store update.
fn register(store: &Store, index_json: &[u8]) -> Result<Vec<Loaded>, Error> {
    let index: Value = serde_json::from_slice(index_json)
        .map_err(|e| Error::Format(format!("the archive's index.json is malformed: {e}")))?;
    let entries = index
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Format("the archive's index.json lists no manifests".into()))?;
    let mut images: BTreeMap<Digest, (ImageRecord, Vec<String>)> = BTreeMap::new();
    for entry in entries {
        let digest = entry
            .get("digest")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Format("an index.json entry has no digest".into()))
            .and_then(|d| Digest::parse(d).map_err(Error::Format))?;
        let (manifest_digest, record) = image_record(store, &digest)?;
        let name = name_of(entry);
        let slot = images
            .entry(manifest_digest)
            .or_insert_with(|| (record, Vec::new()));
        slot.1.extend(name);
    }
    store.update(|index| {
        for (digest, (record, names)) in &images {
            index.images.insert(digest.clone(), record.clone());
            for name in names {
                index.tags.insert(name.clone(), digest.clone());
            }
        }
        Ok(())
    })?;
    Ok(images
        .into_iter()
        .map(|(digest, (_, names))| Loaded { digest, names })
        .collect())
}

/// The image an index.json entry points at (through a nested index if need be), checked to
/// be WebAssembly and complete.
fn image_record(store: &Store, digest: &Digest) -> Result<(Digest, ImageRecord), Error> {
    let limit = MAX_DOCUMENT_SIZE as u64;
    let missing = |d: &Digest| Error::Format(format!("the archive lacks blob {d}"));
    let read = |d: &Digest| match store.read_blob(d, limit) {
        Err(wharf_store::Error::MissingBlob(d)) => Err(missing(&d)),
        other => other.map_err(Error::from),
    };
    let parse =
        |bytes: &[u8]| wharf_image::parse_document(bytes).map_err(|e| Error::Format(e.to_string()));
    let bytes = read(digest)?;
    let (manifest_digest, manifest, extra) = match parse(&bytes)? {
        Document::Manifest(m) => (digest.clone(), m, Vec::new()),
        Document::Index(index) => {
            let chosen = wharf_image::pick_wasm_manifest(&index)
                .map_err(|e| Error::Format(e.to_string()))?;
            let chosen = Digest::parse(chosen.digest().as_ref()).map_err(Error::Format)?;
            match parse(&read(&chosen)?)? {
                Document::Manifest(m) => (chosen, m, vec![digest.clone()]),
                Document::Index(_) => {
                    return Err(Error::Format("nested indexes are not supported".into()))
                }
            }
        }
    };
    let config_digest =
        Digest::parse(manifest.config().digest().as_ref()).map_err(Error::Format)?;
    let config = read(&config_digest)?;
    wharf_image::classify(&manifest, &config).map_err(|e| Error::Format(e.to_string()))?;
    let layers = manifest
        .layers()
        .iter()
        .map(|l| Digest::parse(l.digest().as_ref()).map_err(Error::Format))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(absent) = layers.iter().find(|d| !store.has_blob(d)) {
        return Err(missing(absent));
    }
    let created = serde_json::from_slice::<Value>(&config)
        .ok()
        .and_then(|v| v.get("created")?.as_str().map(str::to_string));
    Ok((
        manifest_digest,
        ImageRecord {
            config: config_digest,
            layers,
            extra,
            created,
        },
    ))
}

/// The full name an index.json entry gives its image, if any: Docker's and containerd's
/// annotation, else an OCI ref name that is a whole reference (`name:tag`, not only a tag).
fn name_of(entry: &Value) -> Option<String> {
    let annotation = |key: &str| entry.pointer(&format!("/annotations/{}", key.replace('/', "~1")));
    let full = annotation(IMAGE_NAME_ANNOTATION)
        .and_then(Value::as_str)
        .or_else(|| {
            annotation(REF_NAME_ANNOTATION)
                .and_then(Value::as_str)
                .filter(|n| n.contains(':') || n.contains('/'))
        })?;
    let reference = Reference::parse(full).ok()?;
    reference.digest.is_none().then(|| reference.to_string())
}

#[cfg(test)]
mod tests;
