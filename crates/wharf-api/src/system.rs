//! `/_ping`, `/version`, `/info`, `/auth`: what clients ask before anything else. The CLI
//! reads `Api-Version` from the ping's headers, docker-py the `ApiVersion` key of `/version`.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bollard_stubs::models as api;

use crate::error::ApiError;
use crate::{State, API_VERSION, MIN_API_VERSION};

pub(crate) fn routes() -> Router<State> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/auth", post(auth))
        .route("/system/df", get(disk_usage))
}

async fn ping() -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    headers.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    headers.insert("Ostype", HeaderValue::from_static("linux"));
    headers.insert("Docker-Experimental", HeaderValue::from_static("false"));
    headers.insert("Builder-Version", HeaderValue::from_static("1"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    (headers, "OK")
}

async fn version() -> Json<api::SystemVersion> {
    let kernel = wharf_core::docker::kernel_release();
    let engine = env!("CARGO_PKG_VERSION").to_string();
    Json(api::SystemVersion {
        platform: Some(api::SystemVersionPlatform {
            name: "wharf".into(),
        }),
        // The CLI prints the server's lines from the Engine component's details.
        components: Some(vec![api::SystemVersionComponents {
            name: "Engine".into(),
            version: engine.clone(),
            details: Some(
                [
                    ("ApiVersion", API_VERSION.to_string()),
                    ("MinAPIVersion", MIN_API_VERSION.to_string()),
                    ("Os", "linux".to_string()),
                    ("Arch", wharf_core::docker::go_arch().to_string()),
                    ("KernelVersion", kernel.clone()),
                    ("Experimental", "false".to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            ),
        }]),
        version: Some(engine),
        api_version: Some(API_VERSION.into()),
        min_api_version: Some(MIN_API_VERSION.into()),
        git_commit: Some(String::new()),
        go_version: Some(String::new()),
        os: Some("linux".into()),
        arch: Some(wharf_core::docker::go_arch().into()),
        kernel_version: Some(kernel),
        experimental: Some(false),
        build_time: Some(String::new()),
    })
}

async fn info(
    axum::extract::State(state): axum::extract::State<State>,
) -> Result<Json<api::SystemInfo>, ApiError> {
    Ok(Json(state.call(|wharf| wharf.system_info()).await?))
}

/// `docker login`: checks the credentials against the registry and keeps nothing (the client
/// keeps them and sends them with each pull and push).
async fn auth(
    axum::extract::State(state): axum::extract::State<State>,
    Json(config): Json<api::AuthConfig>,
) -> Result<Json<api::SystemAuthResponse>, ApiError> {
    let registry = config.serveraddress.clone().filter(|s| !s.is_empty());
    let credentials = wharf_core::Credentials {
        username: config.username.unwrap_or_default(),
        password: config.password.unwrap_or_default(),
    };
    let options = state.registry.clone();
    state
        .call_outside(move |wharf| wharf.check_login(registry.as_deref(), &credentials, &options))
        .await??;
    Ok(Json(api::SystemAuthResponse {
        status: "Login Succeeded".into(),
        identity_token: None,
    }))
}

/// `docker system df`: images, containers and volumes with their sizes.
async fn disk_usage(
    axum::extract::State(state): axum::extract::State<State>,
) -> Result<Json<api::SystemDataUsageResponse>, ApiError> {
    Ok(Json(state.call(|wharf| wharf.disk_usage()).await?))
}
