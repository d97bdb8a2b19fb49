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

/// The kernel's release and the machine's name, as `uname` gives them.
fn uname() -> (String, String) {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    (
        read("/proc/sys/kernel/osrelease"),
        read("/proc/sys/kernel/hostname"),
    )
}

/// Go's name for this machine's architecture, as Docker reports it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

async fn version() -> Json<api::SystemVersion> {
    let (kernel, _) = uname();
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
                    ("Arch", go_arch().to_string()),
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
        arch: Some(go_arch().into()),
        kernel_version: Some(kernel),
        experimental: Some(false),
        build_time: Some(String::new()),
    })
}

async fn info(
    axum::extract::State(state): axum::extract::State<State>,
) -> Result<Json<api::SystemInfo>, ApiError> {
    let root = state.wharf.root().path().to_string_lossy().into_owned();
    let (containers, images) = state
        .call(|wharf| Ok((wharf.list_containers(true)?.0, wharf.images()?)))
        .await?;
    let running = containers
        .iter()
        .filter(|c| c.state.status.is_live())
        .count() as i64;
    let (kernel, hostname) = uname();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    Ok(Json(api::SystemInfo {
        id: Some(format!("wharf:{root}")),
        containers: Some(containers.len() as i64),
        containers_running: Some(running),
        containers_paused: Some(0),
        containers_stopped: Some(containers.len() as i64 - running),
        images: Some(images.len() as i64),
        driver: Some("wharf".into()),
        docker_root_dir: Some(root),
        logging_driver: Some("json-file".into()),
        cgroup_driver: Some(api::SystemInfoCgroupDriverEnum::NONE),
        kernel_version: Some(kernel),
        operating_system: Some("wharf (WebAssembly)".into()),
        os_type: Some("linux".into()),
        architecture: Some(std::env::consts::ARCH.into()),
        ncpu: Some(std::thread::available_parallelism().map_or(1, |n| n.get() as i64)),
        mem_total: Some(memory),
        name: Some(hostname),
        server_version: Some(env!("CARGO_PKG_VERSION").into()),
        default_runtime: Some("wharf".into()),
        runtimes: Some(
            [("wharf".to_string(), api::Runtime::default())]
                .into_iter()
                .collect(),
        ),
        experimental_build: Some(false),
        ..Default::default()
    }))
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
