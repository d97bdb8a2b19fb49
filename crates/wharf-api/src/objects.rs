//! `/volumes/...` and `/networks/...`: named volumes and user networks, each handler one core
//! call. List filters take `name`, `id` and `label` (`key` or `key=value`), in either of
//! Docker's encodings.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bollard_stubs::models as api;

use crate::error::ApiError;
use crate::query::Params;
use crate::State;

pub(crate) fn routes() -> Router<State> {
    Router::new()
        .route("/volumes", get(volumes))
        .route("/volumes/create", post(create_volume))
        .route("/volumes/prune", post(prune_volumes))
        .route("/volumes/{name}", get(volume).delete(remove_volume))
        .route("/networks", get(networks))
        .route("/networks/create", post(create_network))
        .route("/networks/prune", post(prune_networks))
        .route("/networks/{id}", get(network).delete(remove_network))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

/// Whether an object with `name`, `id` and `labels` passes `filters`.
fn passes(
    filters: &BTreeMap<String, Vec<String>>,
    name: &str,
    id: &str,
    labels: &HashMap<String, String>,
) -> bool {
    filters.iter().all(|(key, values)| {
        values.iter().any(|value| match key.as_str() {
            "name" => name.contains(value.as_str()),
            "id" => id.starts_with(value.as_str()),
            "label" => match value.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|l| l == v),
                None => labels.contains_key(value),
            },
            "driver" => true,
            "dangling" => true,
            _ => false,
        })
    })
}

async fn volumes(
    Shared(state): Shared<State>,
    params: Params,
) -> Result<Json<api::VolumeListResponse>, ApiError> {
    let filters = params.filters()?;
    let all = state.call(|wharf| wharf.volumes()).await?;
    let volumes = all
        .into_iter()
        .filter(|v| passes(&filters, &v.name, &v.name, &v.labels))
        .collect();
    Ok(Json(api::VolumeListResponse {
        volumes: Some(volumes),
        warnings: Some(Vec::new()),
    }))
}

async fn create_volume(
    Shared(state): Shared<State>,
    Json(body): Json<api::VolumeCreateOptions>,
) -> Result<Response, ApiError> {
    let labels: BTreeMap<String, String> = body.labels.unwrap_or_default().into_iter().collect();
    let name = body.name.filter(|n| !n.is_empty());
    let volume = state
        .call(move |wharf| wharf.create_volume(name.as_deref(), labels))
        .await?;
    Ok((StatusCode::CREATED, Json(volume)).into_response())
}

async fn volume(
    Shared(state): Shared<State>,
    Path(name): Path<String>,
) -> Result<Json<api::Volume>, ApiError> {
    Ok(Json(state.call(move |wharf| wharf.volume(&name)).await?))
}

async fn remove_volume(
    Shared(state): Shared<State>,
    Path(name): Path<String>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    let force = params.flag("force");
    state
        .call(move |wharf| wharf.remove_volume(&name, force))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `docker volume prune [-a]`: anonymous volumes, or with the `all` filter every unused one.
async fn prune_volumes(
    Shared(state): Shared<State>,
    params: Params,
) -> Result<Json<api::VolumePruneResponse>, ApiError> {
    let filters = params.filters()?;
    let all = filters
        .get("all")
        .is_some_and(|v| v.iter().any(|v| v == "true" || v == "1"));
    let (deleted, freed) = state.call(move |wharf| wharf.prune_volumes(all)).await?;
    Ok(Json(api::VolumePruneResponse {
        volumes_deleted: Some(deleted),
        space_reclaimed: Some(freed as i64),
    }))
}

async fn networks(
    Shared(state): Shared<State>,
    params: Params,
) -> Result<Json<Vec<api::Network>>, ApiError> {
    let filters = params.filters()?;
    let all = state.call(|wharf| wharf.networks()).await?;
    Ok(Json(
        all.into_iter()
            .filter(|n| {
                passes(
                    &filters,
                    n.name.as_deref().unwrap_or(""),
                    n.id.as_deref().unwrap_or(""),
                    n.labels.as_ref().unwrap_or(&HashMap::new()),
                )
            })
            .collect(),
    ))
}

async fn network(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
) -> Result<Json<api::Network>, ApiError> {
    Ok(Json(state.call(move |wharf| wharf.network(&id)).await?))
}

async fn create_network(
    Shared(state): Shared<State>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let body: api::NetworkCreateRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid network body: {e}")))?;
    let labels: BTreeMap<String, String> = body.labels.unwrap_or_default().into_iter().collect();
    let (name, driver) = (body.name, body.driver);
    let network = state
        .call(move |wharf| wharf.create_network(&name, driver.as_deref(), labels))
        .await?;
    let answer = serde_json::json!({"Id": network.id, "Warning": ""});
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn remove_network(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.call(move |wharf| wharf.remove_network(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn connect(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    Json(body): Json<api::NetworkConnectRequest>,
) -> Result<StatusCode, ApiError> {
    let container = body
        .container
        .ok_or_else(|| ApiError::bad_request("Container is required"))?;
    let aliases = body
        .endpoint_config
        .and_then(|e| e.aliases)
        .unwrap_or_default();
    state
        .call(move |wharf| wharf.connect_network(&id, &container, &aliases))
        .await?;
    Ok(StatusCode::OK)
}

async fn disconnect(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    Json(body): Json<api::NetworkDisconnectRequest>,
) -> Result<StatusCode, ApiError> {
    let container = body
        .container
        .ok_or_else(|| ApiError::bad_request("Container is required"))?;
    state
        .call(move |wharf| wharf.disconnect_network(&id, &container))
        .await?;
    Ok(StatusCode::OK)
}

async fn prune_networks(
    Shared(state): Shared<State>,
) -> Result<Json<api::NetworkPruneResponse>, ApiError> {
    let deleted = state.call(|wharf| wharf.prune_networks()).await?;
    Ok(Json(api::NetworkPruneResponse {
        networks_deleted: Some(deleted),
    }))
}
