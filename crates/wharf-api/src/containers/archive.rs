//! `docker cp`: `HEAD`, `GET` and `PUT /containers/{id}/archive?path=P`. The CLI asks for the
//! path's stat first (the `X-Docker-Container-Path-Stat` header, base64 JSON), then takes or
//! sends a tar. The core resolves the path inside the container and keeps every entry there.

use std::io::Read;

use axum::body::Body;
use axum::extract::{Path, State as Shared};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::error::ApiError;
use crate::query::Params;
use crate::streams;
use crate::State;

/// The largest tar a `PUT` takes (it is held in memory while it is unpacked).
const MAX_ARCHIVE: usize = 1 << 30;

fn path_of(params: &Params) -> Result<String, ApiError> {
    let path = params
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("no path given: the archive needs path="))?;
    // Docker takes container paths relative to `/` too.
    Ok(match path.starts_with('/') {
        true => path.to_string(),
        false => format!("/{path}"),
    })
}

/// The stat header of `path` in container `id`.
async fn stat_header(state: &State, id: String, path: String) -> Result<HeaderValue, ApiError> {
    let stat = state
        .call(move |wharf| wharf.stat_container_path(&id, &path))
        .await?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(stat.to_string());
    Ok(HeaderValue::from_str(&encoded).expect("base64 is a header value"))
}

pub(super) async fn head(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let header = stat_header(&state, id, path_of(&params)?).await?;
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert("X-Docker-Container-Path-Stat", header);
    Ok(response)
}

pub(super) async fn get(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let path = path_of(&params)?;
    // A missing path is a 404 before the tar begins.
    let header = stat_header(&state, id.clone(), path.clone()).await?;
    let wharf = state.wharf.clone();
    let mut response = streams::produce("application/x-tar", move |tx| {
        if let Err(e) = wharf.archive_container_path(&id, &path, tx) {
            tracing::warn!("docker cp of {id}:{path} stopped: {e}");
        }
    });
    response
        .headers_mut()
        .insert("X-Docker-Container-Path-Stat", header);
    Ok(response)
}

pub(super) async fn put(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let path = path_of(&params)?;
    let archive = axum::body::to_bytes(body, MAX_ARCHIVE)
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the archive: {e}")))?;
    state
        .call(move |wharf| {
            let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(archive));
            wharf.extract_into_container(&id, &path, reader)
        })
        .await?;
    Ok(StatusCode::OK)
}
