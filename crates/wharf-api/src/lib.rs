//! wharf's Docker Engine API service (`wharf system service`): the stock docker CLI,
//! docker-compose and the Docker SDK drive wharf through it. A thin front end: each handler
//! turns a request into core calls on the same [`Wharf`] state the CLI uses, and the core's
//! Docker-shaped answers (`wharf_core::docker`) back into JSON.
//!
//! - `system`: `/_ping`, `/version`, `/info`, `/auth`.
//! - `containers`: create, list, inspect, start, stop, kill, restart, wait, remove, prune, logs,
//!   attach, stats; `create` translates Docker's body into a [`wharf_core::ContainerSpec`].
//! - `images`: list, inspect, pull, push, tag, remove, prune.
//! - `objects`: named volumes and user networks.
//! - `build`: the legacy `POST /build` with a tar context.
//! - `events`: the event log as Docker's stream, with the legacy fields compose reads.
//! - `streams`: chunked JSON lines, Docker's multiplexed frames, and the hijacked connection
//!   of `attach`.
//! - `query` and `error`: Docker's query spellings, and wharf's error kinds as HTTP answers.
//!
//! Core calls block, so every one runs on a blocking thread ([`State::call`]); long requests
//! (wait, attach, logs -f, events, pulls) hold only their own thread, never the others'.
//! Containers belong to their monitors, not to this service: they run on when it stops.

#![warn(missing_docs)]

mod build;
mod containers;
mod error;
mod events;
mod images;
mod objects;
mod query;
mod streams;
mod system;

pub use error::ApiError;

use std::sync::Arc;

use axum::extract::Request;
use axum::Router;
use wharf_core::Wharf;

/// The Engine API version wharf speaks, advertised by `/_ping` and `/version` (the docker CLI
/// 29 refuses servers below 1.44).
pub const API_VERSION: &str = "1.47";

/// The oldest API version wharf answers (docker-py's minimum).
pub const MIN_API_VERSION: &str = "1.24";

/// What every handler shares: the one core.
#[derive(Clone)]
pub(crate) struct State {
    wharf: Arc<Wharf>,
    /// How to reach registries (the service's configuration; credentials come per request).
    registry: wharf_core::RegistryOptions,
}

impl State {
    /// Runs the blocking core call `f` on a blocking thread.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Wharf) -> Result<T, wharf_core::Error> + Send + 'static,
    ) -> Result<T, ApiError> {
        let wharf = self.wharf.clone();
        match tokio::task::spawn_blocking(move || f(&wharf)).await {
            Ok(answer) => answer.map_err(ApiError::from),
            Err(e) => Err(ApiError::internal(format!(
                "the request's thread failed: {e}"
            ))),
        }
    }

    /// Runs `f` on a thread of its own, outside the runtime: for the core calls that drive an
    /// async client of their own (pull, push, build).
    pub(crate) async fn call_outside<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Wharf) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let wharf = self.wharf.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f(&wharf));
        });
        rx.await
            .map_err(|_| ApiError::internal("the request's thread failed"))
    }
}

/// Every route of the API, unversioned, on `wharf` reaching registries with `registry`.
pub fn router(wharf: Arc<Wharf>, registry: wharf_core::RegistryOptions) -> Router {
    let state = State { wharf, registry };
    Router::new()
        .merge(system::routes())
        .merge(containers::routes())
        .merge(images::routes())
        .merge(events::routes())
        .merge(build::routes())
        .merge(objects::routes())
        .fallback(|request: Request| async move {
            ApiError::not_found(format!(
                "page not found: wharf does not serve {} {}",
                request.method(),
                request.uri().path()
            ))
        })
        .with_state(state)
}

/// Strips a `/v1.NN` prefix: every path is served with and without one (the CLI and the SDK
/// version their paths, docker-py's first `/version` does not).
fn unversioned(mut request: Request) -> Request {
    let path = request.uri().path();
    let Some(rest) = path.strip_prefix("/v") else {
        return request;
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (version, tail) = rest.split_at(end);
    let is_version = version.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty()
            && !minor.is_empty()
            && major
                .bytes()
                .chain(minor.bytes())
                .all(|b| b.is_ascii_digit())
    });
    if !is_version {
        return request;
    }
    let tail = if tail.is_empty() { "/" } else { tail };
    let new = match request.uri().query() {
        Some(query) => format!("{tail}?{query}"),
        None => tail.to_string(),
    };
    if let Ok(uri) = new.parse() {
        *request.uri_mut() = uri;
    }
    request
}

/// Serves the API on `listener` (a unix socket, or TCP when asked) until it fails.
pub async fn serve<L>(
    listener: L,
    wharf: Arc<Wharf>,
    registry: wharf_core::RegistryOptions,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    use tower::Layer;
    let app = tower::util::MapRequestLayer::new(unversioned).layer(router(wharf, registry));
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(app),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_prefix_is_stripped_and_nothing_else() {
        let path = |p: &str| {
            let request = Request::builder()
                .uri(p)
                .body(axum::body::Body::empty())
                .unwrap();
            unversioned(request).uri().to_string()
        };
        assert_eq!(
            path("/v1.43/containers/json?all=1"),
            "/containers/json?all=1"
        );
        assert_eq!(path("/v1.24/_ping"), "/_ping");
        assert_eq!(path("/version"), "/version");
        assert_eq!(path("/volumes/x"), "/volumes/x");
        assert_eq!(path("/v1.x/y"), "/v1.x/y");
    }
}
