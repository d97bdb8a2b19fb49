//! The files of an earlier stage or of a stored image, for `COPY --from`: its layers unpacked
//! into a temporary directory (with the unpacker's limits: no paths out of it, no devices),
//! read as a build context without `.dockerignore`.

use wharf_store::{Digest, Store};
use wharf_unpack::{Compression, Limits};

use crate::builder::{BuildError, Image};

/// Unpacks `image`'s layers into a fresh temporary directory, removed when it is dropped.
pub(crate) fn unpack(
    store: &Store,
    image: &Image,
    name: &str,
) -> Result<tempfile::TempDir, BuildError> {
    let root = tempfile::Builder::new()
        .prefix("wharf-build-stage-")
        .tempdir()
        .map_err(|e| BuildError::Input(format!("COPY --from={name}: {e}")))?;
    for layer in &image.layers {
        let media_type = layer["mediaType"].as_str().unwrap_or_default();
        let digest = layer["digest"].as_str().unwrap_or_default();
        let compression = Compression::from_media_type(media_type).ok_or_else(|| {
            BuildError::Input(format!(
                "COPY --from={name}: its layer {digest} is {media_type}, not a file system layer (a Wasm-artifact image has no files to copy)"
            ))
        })?;
        let digest = Digest::parse(digest).map_err(BuildError::Input)?;
        let file = std::fs::File::open(store.blob_path(&digest))
            .map_err(|e| BuildError::Input(format!("COPY --from={name}: layer {digest}: {e}")))?;
        wharf_unpack::unpack_layer(
            std::io::BufReader::new(file),
            compression,
            root.path(),
            Limits::default(),
        )
        .map_err(|e| BuildError::Input(format!("COPY --from={name}: layer {digest}: {e}")))?;
    }
    Ok(root)
}
