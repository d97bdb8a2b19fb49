//! `/containers/...`: each handler one core call (or two: `restart` is stop then start).
//! The streaming verbs (logs, attach, wait, stats) are in `output`.

mod archive;
mod create;
mod output;

use std::time::Duration;

use axum::extract::{Path, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use bollard_stubs::models as api;
use wharf_core::{docker, ContainerQuery, Signal};

use crate::error::ApiError;
use crate::query::Params;
use crate::State;

pub(crate) fn routes() -> Router<State> {
    Router::new()
        .route("/containers/create", post(create))
        .route("/containers/json", get(list))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}/exec", post(exec))
        .route("/containers/{id}/top", get(top))
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}", delete(remove))
        .route("/containers/{id}/wait", post(output::wait))
        .route("/containers/{id}/logs", get(output::logs))
        .route("/containers/{id}/attach", post(output::attach))
        .route("/containers/{id}/stats", get(output::stats))
}

/// The status Docker answers a verb that found nothing to do (start of a running container,
/// stop of a stopped one): the CLI still prints the name and exits 0.
fn not_modified() -> Response {
    StatusCode::NOT_MODIFIED.into_response()
}

async fn create(
    Shared(state): Shared<State>,
    params: Params,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let body: api::ContainerCreateBody = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid create body: {e}")))?;
    crate::images::check_platform(params.get("platform"))?;
    let name = params
        .get("name")
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let mut created = create::spec(name, &body)?;
    let warnings = std::mem::take(&mut created.warnings);
    let image = created.spec.target.to_string();
    let id = state
        .call(move |wharf| {
            for bind in &created.binds {
                let mount = wharf.bind_mount(bind)?;
                created.spec.policy.mounts.push(mount);
            }
            // The CLI pulls and retries on exactly this 404.
            if !wharf.image_exists(&image)? {
                return Err(wharf_core::Error::NotFound(format!(
                    "No such image: {image}"
                )));
            }
            let publish_all = created.publish_all;
            wharf.resolve_ports(Some(&image), publish_all, &mut created.spec.policy.ports)?;
            Ok(wharf.create_container(&created.spec)?.id)
        })
        .await?;
    let answer = api::ContainerCreateResponse { id, warnings };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn list(
    Shared(state): Shared<State>,
    params: Params,
) -> Result<Json<Vec<api::ContainerSummary>>, ApiError> {
    let limit = params.number::<i64>("limit")?.filter(|n| *n > 0);
    let query = ContainerQuery {
        all: params.flag("all"),
        filters: params.filters()?,
        last: if params.flag("latest") {
            Some(1)
        } else {
            limit.map(|n| n as usize)
        },
    };
    let (containers, _) = state
        .call(move |wharf| wharf.query_containers(&query))
        .await?;
    let summaries: Vec<_> = containers.iter().map(docker::container_summary).collect();
    Ok(Json(summaries))
}

async fn inspect(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
) -> Result<Json<api::ContainerInspectResponse>, ApiError> {
    let (inspect, _) = state
        .call(move |wharf| wharf.inspect_container(&id))
        .await?;
    Ok(Json(inspect))
}

async fn start(Shared(state): Shared<State>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let started = state
        .call(move |wharf| {
            let (container, _) = wharf.container(&id)?;
            if container.state.status.is_live() {
                return Ok(false);
            }
            wharf.start_container(&id).map(|_| true)
        })
        .await?;
    Ok(if started {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_modified()
    })
}

/// `t=`: the grace period before SIGKILL; `None` leaves the container's own (its
/// `StopTimeout`, else Docker's 10 seconds).
fn stop_timeout(params: &Params) -> Result<Option<Duration>, ApiError> {
    Ok(params
        .number::<i64>("t")?
        .map(|t| Duration::from_secs(t.max(0) as u64)))
}

async fn stop(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let timeout = stop_timeout(&params)?;
    let stopped = state
        .call(move |wharf| {
            let (container, _) = wharf.container(&id)?;
            if !container.state.status.is_live() {
                return Ok(false);
            }
            wharf.stop_container(&id, timeout).map(|()| true)
        })
        .await?;
    Ok(if stopped {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_modified()
    })
}

async fn kill(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    let signal = match params.get("signal").filter(|s| !s.is_empty()) {
        Some(text) => Signal::parse(text)?,
        None => Signal::parse("SIGKILL")?,
    };
    state
        .call(move |wharf| wharf.kill_container(&id, signal.number()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    let timeout = stop_timeout(&params)?;
    state
        .call(move |wharf| {
            let (container, _) = wharf.container(&id)?;
            if container.state.status.is_live() {
                wharf.stop_container(&id, timeout)?;
            }
            wharf.start_container(&id).map(|_| ())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rename(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    let name = params
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("no new name: give name="))?
        .trim_start_matches('/')
        .to_string();
    state
        .call(move |wharf| wharf.rename_container(&id, &name))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A guest has no terminal to resize; the CLI sends this after an attached start.
async fn resize() -> StatusCode {
    StatusCode::OK
}

/// `POST /containers/{id}/exec`: 501 with a sentence. The body is read first: answering
/// before it is in makes the client's write of it fail (`broken pipe`) instead of printing
/// the message.
async fn exec(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    _body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    state
        .call(move |wharf| wharf.container(&id).map(|_| ()))
        .await?;
    Err(ApiError::not_implemented(
        "exec is not supported by wharf: a Wasm guest is one program with no shell or other \
         processes to run beside it; run another container instead",
    ))
}

/// `docker top`: a guest is one process, run by its monitor.
async fn top(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
) -> Result<Json<api::ContainerTopResponse>, ApiError> {
    Ok(Json(
        state.call(move |wharf| wharf.container_top(&id)).await?,
    ))
}

async fn remove(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    let (force, volumes) = (params.flag("force"), params.flag("v"));
    state
        .call(move |wharf| {
            wharf
                .remove_container_with_volumes(&id, force, volumes)
                .map(|_| ())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn prune(
    Shared(state): Shared<State>,
) -> Result<Json<api::ContainerPruneResponse>, ApiError> {
    let deleted = state.call(|wharf| wharf.prune_containers()).await?;
    Ok(Json(api::ContainerPruneResponse {
        containers_deleted: (!deleted.is_empty()).then_some(deleted),
        space_reclaimed: Some(0),
    }))
}
