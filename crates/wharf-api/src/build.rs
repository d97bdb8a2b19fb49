//! `POST /build`: the legacy builder's endpoint, what `docker build` sends without buildx and
//! docker-py's `images.build` always: a tar of the context in the body, the options in the
//! query, the build's lines as JSON back (`stream`, `aux.ID`, `error`). The context is
//! unpacked into a directory under wharf's root that goes when the build ends; the tar's
//! paths may not lead out of it.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State as Shared;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use wharf_core::{BuildOptions, Reference};

use crate::error::ApiError;
use crate::images::{check_platform, error_line};
use crate::query::Params;
use crate::streams;
use crate::State;

/// The largest build context accepted (the body is held in memory while it is unpacked).
const MAX_CONTEXT: usize = 1 << 30;

pub(crate) fn routes() -> Router<State> {
    Router::new().route("/build", post(build))
}

/// A JSON map parameter (`buildargs={"X":"1"}`, `labels={...}`).
fn json_map(params: &Params, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match params.get(key).filter(|v| !v.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(text) => {
            let map: BTreeMap<String, Option<String>> = serde_json::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("invalid {key} {text:?}: {e}")))?;
            Ok(map
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect())
        }
    }
}

async fn build(
    Shared(state): Shared<State>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    check_platform(params.get("platform"))?;
    if params.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::not_implemented(
            "building from a remote context is not supported by wharf: send the context as a tar",
        ));
    }
    let tags = params
        .all("t")
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| Reference::parse(t).map_err(ApiError::bad_request))
        .collect::<Result<Vec<_>, _>>()?;
    let build_args = json_map(&params, "buildargs")?;
    let dockerfile = params.get("dockerfile").unwrap_or("Dockerfile").to_string();
    let quiet = params.flag("q");
    let context = axum::body::to_bytes(body, MAX_CONTEXT)
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the build context: {e}")))?;
    let root = state.wharf.root().path().to_path_buf();
    let wharf = state.wharf.clone();
    let (tx, rx) = streams::channel();
    // Builds block on the store and may run long: a thread of their own.
    std::thread::spawn(move || {
        let built = (|| -> Result<(), String> {
            let dir = tempfile::Builder::new()
                .prefix("build-context-")
                .tempdir_in(&root)
                .map_err(|e| format!("cannot make a directory for the context: {e}"))?;
            // The docker CLI sends a context with `-f` outside it without the last entry's
            // padding or the end blocks (dockerd's reader tolerates that): complete it.
            let mut context = context.to_vec();
            context.resize(context.len().div_ceil(512) * 512 + 1024, 0);
            tar::Archive::new(&context[..])
                .unpack(dir.path())
                .map_err(|e| format!("the build context is not a valid tar: {e}"))?;
            let path = dir.path().join(&dockerfile);
            if !path.starts_with(dir.path()) || dockerfile.contains("..") {
                return Err(format!(
                    "the Dockerfile {dockerfile:?} is outside the context"
                ));
            }
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!("cannot read the Dockerfile {dockerfile:?} of the context: {e}")
            })?;
            let options = BuildOptions {
                dockerfile: text,
                build_args,
                tags,
                ..Default::default()
            };
            let mut send = |message: wharf_core::docker::BuildMessage| {
                for line in message.to_api() {
                    let quiet_keeps = line.aux.is_some();
                    if !quiet || quiet_keeps {
                        tx.json(&line);
                    }
                }
            };
            let digest = wharf
                .build(dir.path(), &options, &mut send)
                .map_err(|e| e.to_string())?;
            if quiet {
                tx.json(&serde_json::json!({"stream": format!("{digest}\n")}));
            }
            Ok(())
        })();
        if let Err(message) = built {
            tx.json(&error_line(&message));
        }
    });
    Ok(streams::streamed("application/json", rx))
}
