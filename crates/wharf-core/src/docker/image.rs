//! An image as Docker describes it (`GET /images/{name}/json`), with what wharf adds.

use serde::{Deserialize, Serialize};
use wharf_image::Reference;
use wharf_store::Digest;

use super::api;

/// `GET /images/{name}/json`, and two fields of wharf's own that Docker clients ignore: the
/// manifest, and how the image carries its Wasm.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageDetails {
    /// Docker's fields.
    #[serde(flatten)]
    pub inspect: api::ImageInspect,
    /// The image manifest as stored.
    #[serde(rename = "Manifest")]
    pub manifest: serde_json::Value,
    /// How the image carries its Wasm.
    #[serde(rename = "Wasm")]
    pub wasm: WasmLayout,
}

/// How an image carries its WebAssembly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WasmLayout {
    /// `rootfs` (Docker's Wasm layout: tar layers with the module inside), `wasm-layer` (the
    /// CNCF artifact or runwasi's layer), or `unknown`.
    #[serde(rename = "Layout")]
    pub layout: String,
    /// The manifest's config media type.
    #[serde(rename = "ConfigMediaType")]
    pub config_media_type: Option<String>,
}

/// What the store knows of an image, for [`image_details`].
pub struct ImageFacts<'a> {
    /// Its manifest digest (Docker's image ID).
    pub digest: &'a Digest,
    /// The tags that name it.
    pub tags: &'a [Reference],
    /// Bytes of its blobs in the store.
    pub size: u64,
    /// Its layer digests.
    pub layers: &'a [Digest],
    /// The manifest as stored.
    pub manifest: &'a [u8],
    /// The config as stored.
    pub config: &'a [u8],
    /// How it carries its Wasm.
    pub layout: &'a str,
}

/// The image's details from what the store holds; an error says what is malformed.
pub fn image_details(facts: ImageFacts<'_>) -> Result<ImageDetails, String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(facts.manifest).map_err(|e| format!("its manifest: {e}"))?;
    let config: serde_json::Value =
        serde_json::from_slice(facts.config).map_err(|e| format!("its config: {e}"))?;
    let text = |key: &str| config.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let run_config: Option<api::ImageConfig> = config
        .get("config")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| format!("its config's run settings: {e}"))?;
    let mut repo_digests: Vec<String> = facts
        .tags
        .iter()
        .map(|r| format!("{}@{}", r.familiar_name(), facts.digest))
        .collect();
    repo_digests.dedup();
    let inspect = api::ImageInspect {
        id: Some(facts.digest.to_string()),
        repo_tags: Some(facts.tags.iter().map(Reference::familiar_tag).collect()),
        repo_digests: Some(repo_digests),
        created: text("created"),
        os: text("os"),
        architecture: text("architecture"),
        size: Some(facts.size as i64),
        config: Some(run_config.unwrap_or_default()),
        root_fs: Some(api::ImageInspectRootFs {
            typ: "layers".into(),
            layers: Some(facts.layers.iter().map(|d| d.to_string()).collect()),
        }),
        ..Default::default()
    };
    let config_media_type = manifest
        .pointer("/config/mediaType")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Ok(ImageDetails {
        inspect,
        manifest,
        wasm: WasmLayout {
            layout: facts.layout.to_string(),
            config_media_type,
        },
    })
}
