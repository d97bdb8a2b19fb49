//! Images another store holds (containerd's content store, for the shim): what they run and
//! expose, read with wharf's layout rules through a blob reader the front end supplies.
//!
//! The front end knows how to reach the store; the core knows what the documents mean. Every
//! blob is checked against its descriptor's size and digest before it is believed, since the
//! other store's content may have been written by anyone who can reach it.

use wharf_image::{Document, WasmImage, MAX_DOCUMENT_SIZE};
use wharf_store::Digest;

use crate::Error;

/// A blob an image document names: what the blob reader is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// `sha256:...`.
    pub digest: String,
    /// The media type the referring document gives it.
    pub media_type: String,
    /// Its size in bytes, as the referring document says.
    pub size: u64,
}

/// What an image held elsewhere tells a runner.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// The module or component of a Wasm-layer image (the CNCF artifact, runwasi's layer type);
    /// `None` for the Docker Wasm layout, whose program is a file of the rootfs.
    pub wasm_layer: Option<Vec<u8>>,
    /// The TCP ports its config EXPOSEs, ascending.
    pub exposed_ports: Vec<u16>,
}

/// The largest Wasm layer read from another store, as wharf's own pulls bound it.
const MAX_WASM_LAYER: u64 = 1 << 30;

/// Reads the image whose top document (a manifest or an index) is `target`, asking `read` for
/// each blob. An index gives its Wasm manifest.
pub fn read_image_facts(
    target: &BlobRef,
    read: &mut dyn FnMut(&BlobRef) -> Result<Vec<u8>, String>,
) -> Result<ImageFacts, Error> {
    let top = read_blob(target, MAX_DOCUMENT_SIZE as u64, read)?;
    let manifest = match wharf_image::parse_document(&top).map_err(bad)? {
        Document::Manifest(manifest) => manifest,
        Document::Index(index) => {
            let chosen = blob_ref(wharf_image::pick_wasm_manifest(&index).map_err(bad)?);
            let bytes = read_blob(&chosen, MAX_DOCUMENT_SIZE as u64, read)?;
            match wharf_image::parse_document(&bytes).map_err(bad)? {
                Document::Manifest(manifest) => manifest,
                Document::Index(_) => return Err(bad("an index names another index")),
            }
        }
    };
    let config_ref = blob_ref(manifest.config());
    let config = read_blob(&config_ref, MAX_DOCUMENT_SIZE as u64, read)?;
    let wasm_layer = match wharf_image::classify(&manifest, &config).map_err(bad)? {
        WasmImage::Rootfs { .. } => None,
        WasmImage::WasmLayer { layer } => Some(read_blob(&blob_ref(&layer), MAX_WASM_LAYER, read)?),
    };
    let exposed_ports = serde_json::from_slice::<serde_json::Value>(&config)
        .ok()
        .and_then(|c| c["config"]["ExposedPorts"].as_object().cloned())
        .map(|ports| tcp_ports(ports.keys().map(String::as_str)))
        .unwrap_or_default();
    Ok(ImageFacts {
        wasm_layer,
        exposed_ports,
    })
}

/// The TCP ports of `ExposedPorts` keys (`8080/tcp`, or a bare `8080`), ascending.
pub(crate) fn tcp_ports<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<u16> {
    let mut ports: Vec<u16> = keys
        .filter_map(|key| match key.split_once('/') {
            Some((port, "tcp")) => port.parse().ok(),
            Some(_) => None,
            None => key.parse().ok(),
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn blob_ref(descriptor: &wharf_image::Descriptor) -> BlobRef {
    BlobRef {
        digest: descriptor.digest().to_string(),
        media_type: descriptor.media_type().to_string(),
        size: descriptor.size(),
    }
}

fn read_blob(
    blob: &BlobRef,
    max: u64,
    read: &mut dyn FnMut(&BlobRef) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, Error> {
    if blob.size > max {
        return Err(bad(format!(
            "its blob {} is {} bytes, more than the {max} wharf reads",
            blob.digest, blob.size
        )));
    }
    let wanted = Digest::parse(&blob.digest).map_err(bad)?;
    let bytes = read(blob).map_err(|e| {
        Error::Internal(std::io::Error::other(format!("reading {}: {e}", blob.digest)).into())
    })?;
    if bytes.len() as u64 != blob.size || Digest::of(&bytes) != wanted {
        return Err(bad(format!(
            "its blob {} does not match its digest or size",
            blob.digest
        )));
    }
    Ok(bytes)
}

fn bad(reason: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("cannot run the image: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A store of blobs by digest, with the descriptor of each.
    #[derive(Default)]
    struct Blobs(HashMap<String, Vec<u8>>);

    impl Blobs {
        fn add(&mut self, media_type: &str, bytes: &[u8]) -> BlobRef {
            let digest = Digest::of(bytes).as_str().to_string();
            self.0.insert(digest.clone(), bytes.to_vec());
            BlobRef {
                digest,
                media_type: media_type.into(),
                size: bytes.len() as u64,
            }
        }

        fn descriptor(blob: &BlobRef) -> serde_json::Value {
            serde_json::json!({"mediaType": blob.media_type, "digest": blob.digest, "size": blob.size})
        }

        fn manifest(&mut self, config: &str, config_type: &str, layers: &[BlobRef]) -> BlobRef {
            let config = self.add(config_type, config.as_bytes());
            let layers: Vec<_> = layers.iter().map(Blobs::descriptor).collect();
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": wharf_image::media_types::OCI_MANIFEST,
                "config": Blobs::descriptor(&config),
                "layers": layers,
            });
            self.add(
                wharf_image::media_types::OCI_MANIFEST,
                manifest.to_string().as_bytes(),
            )
        }

        fn read(&self, target: &BlobRef) -> Result<ImageFacts, Error> {
            read_image_facts(target, &mut |b| {
                self.0.get(&b.digest).cloned().ok_or("not found".into())
            })
        }
    }

    const WASM: &[u8] = b"\0asm\x01\0\0\0";

    #[test]
    fn a_wasm_artifact_gives_its_layer_and_a_rootfs_image_its_ports() {
        let mut blobs = Blobs::default();
        let layer = blobs.add("application/wasm", WASM);
        let artifact = blobs.manifest(
            r#"{"architecture": "wasm", "os": "wasip1"}"#,
            wharf_image::media_types::WASM_CONFIG,
            &[layer],
        );
        let facts = blobs.read(&artifact).unwrap();
        assert_eq!(facts.wasm_layer.as_deref(), Some(WASM));
        assert!(facts.exposed_ports.is_empty());

        let tar = blobs.add("application/vnd.oci.image.layer.v1.tar+gzip", b"tar");
        let image = blobs.manifest(
            r#"{"architecture": "wasm", "os": "wasip1", "rootfs": {"type": "layers", "diff_ids": []},
                "config": {"ExposedPorts": {"9090/tcp": {}, "53/udp": {}, "81": {}}}}"#,
            "application/vnd.oci.image.config.v1+json",
            &[tar],
        );
        let facts = blobs.read(&image).unwrap();
        assert_eq!(facts.wasm_layer, None);
        assert_eq!(facts.exposed_ports, [81, 9090]);
    }

    #[test]
    fn an_index_gives_its_wasm_manifest_and_a_tampered_blob_is_refused() {
        let mut blobs = Blobs::default();
        let layer = blobs.add(wharf_image::media_types::RUNWASI_LAYER, WASM);
        let manifest = blobs.manifest(
            r#"{"architecture": "wasm", "os": "wasip2", "rootfs": {"type": "layers", "diff_ids": []}}"#,
            "application/vnd.oci.image.config.v1+json",
            std::slice::from_ref(&layer),
        );
        let mut entry = Blobs::descriptor(&manifest);
        entry["platform"] = serde_json::json!({"os": "wasip2", "architecture": "wasm"});
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": wharf_image::media_types::OCI_INDEX,
            "manifests": [entry],
        });
        let index = blobs.add(
            wharf_image::media_types::OCI_INDEX,
            index.to_string().as_bytes(),
        );
        assert_eq!(
            blobs.read(&index).unwrap().wasm_layer.as_deref(),
            Some(WASM)
        );

        blobs
            .0
            .insert(layer.digest.clone(), b"\0asm\x01\0\0\x01".to_vec());
        let refused = blobs.read(&index).unwrap_err().to_string();
        assert!(refused.contains("does not match its digest"), "{refused}");
    }
}
