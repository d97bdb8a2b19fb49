//! `/images/...`: list, inspect, pull (`POST /images/create`), push, tag, remove, prune.
//! Names arrive as typed (`hello`), normalized by the CLI (`docker.io/library/hello`) or with
//! a registry and slashes (`127.0.0.1:5000/app/push`): the path after `/images/` is matched
//! as a whole, and the store treats every spelling of one reference as the same.

use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use bollard_stubs::models as api;
use wharf_core::docker::{PullMessage, PushMessage};
use wharf_core::{Credentials, Reference, RegistryOptions};

use crate::error::ApiError;
use crate::query::Params;
use crate::streams;
use crate::State;

pub(crate) fn routes() -> Router<State> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/create", post(pull))
        .route("/images/prune", post(prune))
        .route("/images/get", get(save))
        .route("/images/load", post(load))
        .route(
            "/images/{*name}",
            get(by_name_get).post(by_name_post).delete(remove),
        )
}

/// `GET /images/json?filters=...` (and the legacy `filter=REPOSITORY` of old clients).
async fn list(
    Shared(state): Shared<State>,
    params: Params,
) -> Result<Json<Vec<api::ImageSummary>>, ApiError> {
    let mut query = wharf_core::ImageQuery {
        filters: params.filters()?,
    };
    if let Some(repository) = params.get("filter").filter(|f| !f.is_empty()) {
        let references = query.filters.entry("reference".into()).or_default();
        references.push(repository.to_string());
    }
    Ok(Json(
        state.call(move |wharf| wharf.query_images(&query)).await?,
    ))
}

/// `GET /images/get?names=A&names=B`: the images as one tar (an OCI layout with Docker's
/// `manifest.json`), streamed as it is written.
async fn save(Shared(state): Shared<State>, params: Params) -> Result<Response, ApiError> {
    let names = params.all("names");
    save_names(state, names).await
}

async fn save_names(state: State, names: Vec<String>) -> Result<Response, ApiError> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image to save: give names="));
    }
    // Missing images are a 404 before the tar begins.
    let checked = names.clone();
    state
        .call(move |wharf| {
            for name in &checked {
                if !wharf.image_exists(name)? {
                    return Err(wharf_core::Error::NotFound(format!(
                        "No such image: {name}"
                    )));
                }
            }
            Ok(())
        })
        .await?;
    let wharf = state.wharf.clone();
    Ok(streams::produce("application/x-tar", move |tx| {
        // A failure midway cuts the tar short, which the client reports as a broken archive.
        let _ = wharf.save_images(&names, tx);
    }))
}

/// `POST /images/load`: a tar of images in the body; `Loaded image: NAME` lines back.
async fn load(Shared(state): Shared<State>, body: axum::body::Body) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, 4 << 30)
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the archive: {e}")))?;
    let loaded = state
        .call(move |wharf| wharf.load_images(std::io::Cursor::new(bytes)))
        .await?;
    let mut lines = String::new();
    for image in loaded {
        let said: Vec<String> = match image.names.is_empty() {
            true => vec![format!("Loaded image ID: {}", image.digest)],
            false => image
                .names
                .iter()
                .map(|n| {
                    let shown = Reference::parse(n).map_or(n.clone(), |r| r.familiar_tag());
                    format!("Loaded image: {shown}")
                })
                .collect(),
        };
        for line in said {
            lines.push_str(&serde_json::json!({"stream": format!("{line}\n")}).to_string());
            lines.push('\n');
        }
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        lines,
    )
        .into_response())
}

/// `GET /images/{name}/json`.
async fn by_name_get(
    Shared(state): Shared<State>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(name) = path.strip_suffix("/get") {
        return save_names(state, vec![name.to_string()]).await;
    }
    let Some(name) = path.strip_suffix("/json") else {
        return Err(ApiError::not_found(format!(
            "page not found: GET /images/{path}"
        )));
    };
    let name = name.to_string();
    let details = state.call(move |wharf| wharf.inspect_image(&name)).await?;
    Ok(Json(details).into_response())
}

/// `POST /images/{name}/tag` and `POST /images/{name}/push`.
async fn by_name_post(
    Shared(state): Shared<State>,
    Path(path): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(name) = path.strip_suffix("/tag") {
        let source = name.to_string();
        let repo = params.get("repo").unwrap_or_default().to_string();
        let target = match params.get("tag").filter(|t| !t.is_empty()) {
            Some(tag) => format!("{repo}:{tag}"),
            None => repo,
        };
        state
            .call(move |wharf| wharf.tag_image(&source, &target))
            .await?;
        return Ok(StatusCode::CREATED.into_response());
    }
    if let Some(name) = path.strip_suffix("/push") {
        let reference = match params.get("tag").filter(|t| !t.is_empty()) {
            Some(tag) => format!("{name}:{tag}"),
            None => name.to_string(),
        };
        let options = registry_options(&credentials(&headers), &state.registry);
        return push(state, reference, options);
    }
    Err(ApiError::not_found(format!(
        "page not found: POST /images/{path}"
    )))
}

/// The credentials of `X-Registry-Auth` (base64url of `{"username", "password", ...}`).
fn credentials(headers: &HeaderMap) -> Option<Credentials> {
    let header = headers.get("X-Registry-Auth")?.to_str().ok()?;
    let trimmed = header.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .ok()?;
    let auth: api::AuthConfig = serde_json::from_slice(&bytes).ok()?;
    let username = auth.username.filter(|u| !u.is_empty())?;
    Some(Credentials {
        username,
        password: auth.password.unwrap_or_default(),
    })
}

fn registry_options(credentials: &Option<Credentials>, base: &RegistryOptions) -> RegistryOptions {
    RegistryOptions {
        credentials: credentials.clone().or(base.credentials.clone()),
        ..base.clone()
    }
}

fn push(state: State, reference: String, options: RegistryOptions) -> Result<Response, ApiError> {
    let parsed = Reference::parse(&reference).map_err(ApiError::bad_request)?;
    let wharf = state.wharf.clone();
    let (tx, rx) = streams::channel();
    // The registry client drives a runtime of its own: a plain thread, not the runtime's.
    std::thread::spawn(move || {
        for line in PushMessage::before(&parsed).to_api() {
            tx.json(&line);
        }
        match wharf.push(&reference, &options) {
            Ok(pushed) => {
                for line in PushMessage::after(&parsed, &pushed).to_api() {
                    tx.json(&line);
                }
            }
            Err(e) => {
                tx.json(&error_line(&e.to_string()));
            }
        }
    });
    Ok(streams::streamed("application/json", rx))
}

/// A stream's failure, as the CLI and docker-py read it (the HTTP status stays 200).
pub(crate) fn error_line(message: &str) -> serde_json::Value {
    serde_json::json!({"errorDetail": {"message": message}, "error": message})
}

/// `POST /images/create?fromImage=NAME&tag=TAG`: a pull, its progress as JSON lines.
async fn pull(
    Shared(state): Shared<State>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if params.get("fromSrc").is_some() {
        return Err(ApiError::not_implemented(
            "importing a root filesystem is not supported by wharf: build or load an image instead",
        ));
    }
    let image = params
        .get("fromImage")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("fromImage is required"))?;
    let reference = match params.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) if tag.starts_with("sha256:") => format!("{image}@{tag}"),
        Some(tag) => format!("{image}:{tag}"),
        None => image.to_string(),
    };
    check_platform(params.get("platform"))?;
    let parsed = Reference::parse(&reference).map_err(ApiError::bad_request)?;
    let options = registry_options(&credentials(&headers), &state.registry);
    let wharf = state.wharf.clone();
    let (tx, rx) = streams::channel();
    std::thread::spawn(move || {
        for message in PullMessage::before(&reference, &parsed) {
            tx.json(&message.to_api());
        }
        match wharf.pull(&reference, &options) {
            Ok(pulled) => {
                for message in PullMessage::after(&parsed, &pulled) {
                    tx.json(&message.to_api());
                }
            }
            Err(e) => {
                tx.json(&error_line(&e.to_string()));
            }
        }
    });
    Ok(streams::streamed("application/json", rx))
}

/// `platform=`: the core's rule ([`wharf_core::check_platform`]).
pub(crate) fn check_platform(platform: Option<&str>) -> Result<(), ApiError> {
    Ok(wharf_core::check_platform(platform.unwrap_or(""))?)
}

async fn remove(
    Shared(state): Shared<State>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Json<Vec<api::ImageDeleteResponseItem>>, ApiError> {
    let force = params.flag("force");
    let removed = state
        .call(move |wharf| wharf.remove_image(&name, force))
        .await?;
    Ok(Json(removed))
}

async fn prune(
    Shared(state): Shared<State>,
    params: Params,
) -> Result<Json<api::ImagePruneResponse>, ApiError> {
    let filters = params.filters()?;
    // `dangling=false` (the CLI's `-a`) prunes every unused image.
    let all = filters
        .get("dangling")
        .is_some_and(|v| v.iter().any(|d| d == "false" || d == "0"));
    Ok(Json(
        state.call(move |wharf| wharf.prune_images(all)).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_in_both_base64_alphabets() {
        let json = r#"{"username":"u","password":"p?>","serveraddress":"r"}"#;
        for engine in [
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::STANDARD,
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("X-Registry-Auth", engine.encode(json).parse().unwrap());
            let found = credentials(&headers).unwrap();
            assert_eq!(
                (found.username.as_str(), found.password.as_str()),
                ("u", "p?>")
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert("X-Registry-Auth", "e30=".parse().unwrap());
        assert!(
            credentials(&headers).is_none(),
            "{{}} carries no credentials"
        );
        assert!(check_platform(Some("wasi/wasm")).is_ok());
        assert_eq!(check_platform(Some("linux/amd64")).unwrap_err().status, 400);
    }
}
