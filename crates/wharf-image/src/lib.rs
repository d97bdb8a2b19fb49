//! Reading image documents: which manifest of an index to run, and which of the Wasm image layouts
//! a manifest uses.
//!
//! wharf runs three layouts found in the wild (see `../shared/reference/formats.md` in the steering
//! repo, and the issue on images):
//! - the Docker Wasm pattern: an ordinary OCI or Docker image whose config says `architecture:
//!   wasm`, `os: wasi|wasip1|wasip2`, with rootfs tar layers holding the `.wasm` that `Entrypoint`
//!   or `Cmd` names;
//! - the CNCF Wasm OCI artifact: config `application/vnd.wasm.config.v0+json` and one
//!   `application/wasm` layer;
//! - runwasi's layer type `application/vnd.bytecodealliance.wasm.component.layer.v0+wasm`.
//!
//! This crate only reads documents (bounded in size, parsed with `oci-spec`); fetching and
//! storing them belongs to the store and the registry client.

#![warn(missing_docs)]

mod reference;

pub use reference::{Reference, DEFAULT_REGISTRY};

pub use oci_spec::image::Descriptor;
use oci_spec::image::{Arch, ImageConfiguration, ImageIndex, ImageManifest};

/// Media types wharf recognises beyond those `oci-spec` names.
pub mod media_types {
    /// Docker's schema 2 manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker's manifest list (its image index).
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// The CNCF Wasm artifact's config.
    pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
    /// The CNCF Wasm artifact's layer.
    pub const WASM_LAYER: &str = "application/wasm";
    /// runwasi's Wasm layer.
    pub const RUNWASI_LAYER: &str = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm";
    /// The older wasm-to-oci / oci-client layer type (also Spin's).
    pub const LEGACY_WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";
}

/// The largest manifest, index or config wharf reads. Real ones are a few KiB; a larger one is
/// malformed or hostile.
pub const MAX_DOCUMENT_SIZE: usize = 4 << 20;

/// What is wrong with an image document, in words for the user.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// The document is larger than [`MAX_DOCUMENT_SIZE`].
    #[error("the image's {what} is {size} bytes, more than the {MAX_DOCUMENT_SIZE} wharf accepts")]
    TooLarge {
        /// Manifest, index or config.
        what: &'static str,
        /// Its size.
        size: usize,
    },
    /// The document does not parse.
    #[error("the image's {what} is malformed: {reason}")]
    Malformed {
        /// Manifest, index or config.
        what: &'static str,
        /// The parser's complaint.
        reason: String,
    },
    /// The image, or every platform of the index, is not WebAssembly.
    #[error("this is a {platforms} image; wharf runs WebAssembly images (os wasi, wasip1 or wasip2, architecture wasm)")]
    NotWasm {
        /// The platforms found, such as `linux/amd64, linux/arm64`.
        platforms: String,
    },
    /// A Wasm artifact that does not have exactly one Wasm layer.
    #[error("the Wasm artifact has {0} layers; it must have exactly one application/wasm layer")]
    ArtifactLayers(usize),
}

/// A manifest or an index.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// One image.
    Manifest(Box<ImageManifest>),
    /// A list of images, one per platform.
    Index(Box<ImageIndex>),
}

/// Parses a manifest or index; an index is recognised by its media type or, when the registry
/// did not say, by its `manifests` list.
pub fn parse_document(bytes: &[u8]) -> Result<Document, FormatError> {
    check_size("manifest", bytes)?;
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| malformed("manifest", e))?;
    let media_type = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or("");
    let is_index = media_type == media_types::OCI_INDEX
        || media_type == media_types::DOCKER_MANIFEST_LIST
        || (media_type.is_empty() && value.get("manifests").is_some());
    if is_index {
        let index = serde_json::from_value(value).map_err(|e| malformed("index", e))?;
        Ok(Document::Index(Box::new(index)))
    } else {
        let manifest = serde_json::from_value(value).map_err(|e| malformed("manifest", e))?;
        Ok(Document::Manifest(Box::new(manifest)))
    }
}

fn check_size(what: &'static str, bytes: &[u8]) -> Result<(), FormatError> {
    if bytes.len() > MAX_DOCUMENT_SIZE {
        return Err(FormatError::TooLarge {
            what,
            size: bytes.len(),
        });
    }
    Ok(())
}

fn malformed(what: &'static str, e: impl std::fmt::Display) -> FormatError {
    FormatError::Malformed {
        what,
        reason: e.to_string(),
    }
}

/// Whether `os` is one of the WASI operating systems images use.
pub fn is_wasi_os(os: &str) -> bool {
    matches!(os, "wasi" | "wasip1" | "wasip2")
}

/// Picks the Wasm manifest of an index: os `wasip2`, then `wasip1`, then `wasi`, architecture
/// `wasm`. Names the platforms it has when there is none.
pub fn pick_wasm_manifest(index: &ImageIndex) -> Result<&Descriptor, FormatError> {
    let platform_of = |d: &Descriptor| {
        d.platform()
            .as_ref()
            .map(|p| (p.os().to_string(), p.architecture().to_string()))
    };
    for wanted in ["wasip2", "wasip1", "wasi"] {
        let found = index.manifests().iter().find(|d| {
            platform_of(d).is_some_and(|(os, arch)| os == wanted && arch == Arch::Wasm.to_string())
        });
        if let Some(descriptor) = found {
            return Ok(descriptor);
        }
    }
    let platforms: Vec<String> = index
        .manifests()
        .iter()
        .filter_map(|d| platform_of(d).map(|(os, arch)| format!("{os}/{arch}")))
        .collect();
    Err(FormatError::NotWasm {
        platforms: if platforms.is_empty() {
            "platform-less".into()
        } else {
            platforms.join(", ")
        },
    })
}

/// How an image carries its Wasm, and what it says about running it.
#[derive(Debug, Clone, PartialEq)]
pub enum WasmImage {
    /// The Docker Wasm pattern: rootfs layers, run as the config says.
    Rootfs {
        /// The tar layers, bottom first.
        layers: Vec<Descriptor>,
        /// `Entrypoint` (exec form).
        entrypoint: Vec<String>,
        /// `Cmd` (exec form).
        cmd: Vec<String>,
        /// `Env`, as `KEY=VALUE`.
        env: Vec<String>,
        /// `WorkingDir`, if set.
        workdir: Option<String>,
    },
    /// A single Wasm layer (the CNCF artifact, runwasi's layer type or the older wasm layer type).
    WasmLayer {
        /// The layer holding the module or component.
        layer: Box<Descriptor>,
    },
}

/// Tells which layout `manifest` uses, reading its config blob `config`.
pub fn classify(manifest: &ImageManifest, config: &[u8]) -> Result<WasmImage, FormatError> {
    check_size("config", config)?;
    let is_wasm_layer = |d: &&Descriptor| {
        let media_type = d.media_type().to_string();
        media_type == media_types::WASM_LAYER
            || media_type == media_types::RUNWASI_LAYER
            || media_type == media_types::LEGACY_WASM_LAYER
    };
    let config_type = manifest.config().media_type().to_string();
    let wasm_layers: Vec<&Descriptor> = manifest.layers().iter().filter(is_wasm_layer).collect();
    if config_type == media_types::WASM_CONFIG {
        let value: serde_json::Value =
            serde_json::from_slice(config).map_err(|e| malformed("config", e))?;
        check_platform(
            value.get("os").and_then(|v| v.as_str()).unwrap_or("wasip1"),
            value
                .get("architecture")
                .and_then(|v| v.as_str())
                .unwrap_or("wasm"),
        )?;
        if manifest.layers().len() != 1 || wasm_layers.len() != 1 {
            return Err(FormatError::ArtifactLayers(manifest.layers().len()));
        }
        return Ok(WasmImage::WasmLayer {
            layer: Box::new(wasm_layers[0].clone()),
        });
    }
    let image: ImageConfiguration =
        serde_json::from_slice(config).map_err(|e| malformed("config", e))?;
    check_platform(&image.os().to_string(), &image.architecture().to_string())?;
    if let [layer] = wasm_layers.as_slice() {
        if manifest.layers().len() == 1 {
            return Ok(WasmImage::WasmLayer {
                layer: Box::new((*layer).clone()),
            });
        }
    }
    let run = image.config().clone().unwrap_or_default();
    Ok(WasmImage::Rootfs {
        layers: manifest.layers().clone(),
        entrypoint: run.entrypoint().clone().unwrap_or_default(),
        cmd: run.cmd().clone().unwrap_or_default(),
        env: run.env().clone().unwrap_or_default(),
        workdir: run.working_dir().clone().filter(|w| !w.is_empty()),
    })
}

fn check_platform(os: &str, arch: &str) -> Result<(), FormatError> {
    // Older Docker Wasm images say `wasi/wasm32`.
    if is_wasi_os(os) && (arch == "wasm" || arch == "wasm32") {
        return Ok(());
    }
    Err(FormatError::NotWasm {
        platforms: format!("{os}/{arch}"),
    })
}

#[cfg(test)]
mod tests;
