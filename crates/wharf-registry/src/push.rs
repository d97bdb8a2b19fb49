//! `wharf push`: store to registry.
//!
//! Blobs go first (layers, then the config), each skipped when the registry already has it,
//! and the manifest last, so the tag never points at an image whose blobs are not all there.
//! The manifest is sent byte for byte as stored, so its digest is the same on both sides.

use std::io::Read;
use std::sync::Arc;

use wharf_image::{Reference, MAX_DOCUMENT_SIZE};
use wharf_store::{Digest, Store};

use crate::errors::from_oci;
use crate::{client_for, oci_reference, runtime, BlobEvent, Error, Options, Progress};

/// Bytes read from a blob file per upload chunk.
const CHUNK: usize = 1 << 20;

/// Pushes the stored image with manifest `digest` to `target` (which must carry a tag).
pub fn push(
    store: &Store,
    digest: &Digest,
    target: &Reference,
    options: &Options,
) -> Result<(), Error> {
    let index = store.index()?;
    let record = index
        .images
        .get(digest)
        .ok_or_else(|| Error::NotFound(format!("no image {digest} in the local store")))?;
    let manifest = store.read_blob(digest, MAX_DOCUMENT_SIZE as u64)?;
    let media_type = serde_json::from_slice::<serde_json::Value>(&manifest)
        .ok()
        .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
        .unwrap_or_else(|| wharf_image::media_types::OCI_MANIFEST.to_string());
    let (client, auth) = client_for(target, options)?;
    let oci = oci_reference(target);
    let blobs: Vec<Digest> = record
        .layers
        .iter()
        .chain(std::iter::once(&record.config))
        .cloned()
        .collect();
    runtime()?.block_on(async {
        let fail = |e| from_oci(e, target);
        client
            .auth(&oci, &auth, oci_client::RegistryOperation::Push)
            .await
            .map_err(fail)?;
        for blob in &blobs {
            push_blob(&client, &oci, store, blob, target, &options.progress).await?;
        }
        let content_type = media_type
            .parse()
            .map_err(|_| Error::Format(format!("manifest media type {media_type:?} is invalid")))?;
        client
            .push_manifest_raw(&oci, manifest, content_type)
            .await
            .map_err(fail)?;
        Ok(())
    })
}

async fn push_blob(
    client: &oci_client::Client,
    oci: &oci_client::Reference,
    store: &Store,
    digest: &Digest,
    target: &Reference,
    progress: &Arc<dyn Progress>,
) -> Result<(), Error> {
    if client
        .blob_exists(oci, digest.as_str())
        .await
        .map_err(|e| from_oci(e, target))?
    {
        progress.blob(digest, BlobEvent::AlreadyExists);
        return Ok(());
    }
    let path = store.blob_path(digest);
    let file =
        std::fs::File::open(&path).map_err(|_| wharf_store::Error::MissingBlob(digest.clone()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.blob(digest, BlobEvent::Started(size));
    let stream = file_chunks(file, digest.clone(), progress.clone());
    client
        .push_blob_stream(oci, stream, digest.as_str(), Some(size))
        .await
        .map_err(|e| from_oci(e, target))?;
    progress.blob(digest, BlobEvent::Done);
    Ok(())
}

/// A blob file as a stream of chunks, reporting progress as they are taken.
fn file_chunks(
    file: std::fs::File,
    digest: Digest,
    progress: Arc<dyn Progress>,
) -> impl futures_util::Stream<Item = oci_client::errors::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::unfold((file, 0u64), move |(mut file, sent)| {
        let digest = digest.clone();
        let progress = progress.clone();
        async move {
            let mut buffer = vec![0u8; CHUNK];
            match file.read(&mut buffer) {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    let sent = sent + n as u64;
                    progress.blob(&digest, BlobEvent::Advanced(sent));
                    Some((Ok(bytes::Bytes::from(buffer)), (file, sent)))
                }
                Err(e) => Some((Err(e.into()), (file, sent))),
            }
        }
    })
}
