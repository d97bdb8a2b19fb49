//! `wharf build --artifact`: the CNCF TAG Runtime Wasm OCI artifact, from one `.wasm` file.
//!
//! Layout: config media type `application/vnd.wasm.config.v0+json` (`architecture: wasm`,
//! `os: wasip1` for a module, `wasip2` for a component, `layerDigests`), and exactly one layer
//! `application/wasm` holding the binary byte for byte. The format has no env, workdir or
//! entrypoint: the binary is the program.

use std::path::Path;

use serde_json::json;
use wharf_store::{Digest, ImageRecord, Store};

use crate::builder::{register, rfc3339, BuildError, BuildOptions, MANIFEST_MEDIA_TYPE};
use crate::context::{expand_source, resolve_in_context, Ignore};
use crate::dockerfile::{self, Instruction};

const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";

/// The `.wasm` an artifact build packs: `input` itself when it is a file, else the one `.wasm`
/// that the Dockerfile in `input` copies.
pub fn artifact_source(
    input: &Path,
    options: &BuildOptions,
) -> Result<std::path::PathBuf, BuildError> {
    if input.is_file() {
        return Ok(input.to_path_buf());
    }
    let mut wasm = Vec::new();
    for instruction in dockerfile::parse(&options.dockerfile, &options.build_args)? {
        if let Instruction::Copy {
            sources,
            from: None,
            ..
        } = instruction
        {
            wasm.extend(sources.into_iter().filter(|s| s.ends_with(".wasm")));
        }
    }
    match wasm.as_slice() {
        [one] if !one.contains(['*', '?', '[']) => {
            // The same context rules as a COPY: no symlink out of it, nothing ignored.
            let ignore = Ignore::load(input);
            let named = expand_source(input, &ignore, one).map_err(BuildError::Input)?;
            let path = named.first().cloned().unwrap_or_default();
            let inside = resolve_in_context(input, &ignore, &path).map_err(BuildError::Input)?;
            Ok(input.join(inside))
        }
        _ => Err(BuildError::Input(format!(
            "--artifact packs exactly one .wasm file, and the Dockerfile copies {} of them; \
             give the file itself: wharf build --artifact -t NAME app.wasm",
            wasm.len()
        ))),
    }
}

/// Builds the CNCF Wasm artifact of the `.wasm` file `wasm_path` and returns its manifest
/// digest. The same file and `SOURCE_DATE_EPOCH` (or modification time) give the same digest.
pub fn build_artifact(
    store: &Store,
    wasm_path: &Path,
    options: &BuildOptions,
) -> Result<Digest, BuildError> {
    let bytes = std::fs::read(wasm_path)
        .map_err(|e| BuildError::Input(format!("cannot read {}: {e}", wasm_path.display())))?;
    let os = match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => "wasip1",
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => "wasip2",
        _ => {
            return Err(BuildError::Input(format!(
                "{} is not a WebAssembly binary",
                wasm_path.display()
            )))
        }
    };
    wasmparser::Validator::new()
        .validate_all(&bytes)
        .map_err(|e| {
            BuildError::Input(format!(
                "{}: not valid WebAssembly: {e}",
                wasm_path.display()
            ))
        })?;
    let layer = store.put_blob(&bytes)?;
    // The file's modification time when SOURCE_DATE_EPOCH is unset, as for a build.
    let modified = std::fs::metadata(wasm_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let created = rfc3339(options.source_date_epoch.unwrap_or(modified));
    let config = json!({
        "architecture": "wasm",
        "created": created,
        "layerDigests": [layer.as_str()],
        "os": os,
    });
    let config_bytes = serde_json::to_vec(&config).expect("JSON");
    let config_digest = store.put_blob(&config_bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": WASM_CONFIG_MEDIA_TYPE,
            "digest": config_digest.as_str(),
            "size": config_bytes.len(),
        },
        "layers": [{
            "mediaType": WASM_LAYER_MEDIA_TYPE,
            "digest": layer.as_str(),
            "size": bytes.len(),
        }],
    });
    let record = ImageRecord {
        config: config_digest,
        layers: vec![layer],
        extra: Vec::new(),
        created: Some(created),
    };
    register(store, &manifest, record, &options.tags)
}
