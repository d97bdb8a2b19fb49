//! `GET /events`: the event log as Docker's stream of JSON objects, kept open until `until`
//! passes or the client leaves. Container events also carry the legacy fields `status`, `id`
//! and `from` that docker-compose 1.29 reads.

use std::time::{Duration, SystemTime};

use axum::extract::State as Shared;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use wharf_core::events::{Event, EventFilter, EventItem, EventQuery};

use crate::error::ApiError;
use crate::query::Params;
use crate::streams;
use crate::State;

pub(crate) fn routes() -> Router<State> {
    Router::new().route("/events", get(events))
}

/// Docker's `since`/`until`: Unix seconds (with an optional fraction), or an RFC 3339 time.
fn time_param(params: &Params, key: &str) -> Result<Option<SystemTime>, ApiError> {
    let Some(text) = params.get(key).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok(Some(
            SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds.max(0.0)),
        ));
    }
    humantime::parse_rfc3339_weak(text).map(Some).map_err(|_| {
        ApiError::bad_request(format!("invalid {key} {text:?}: Unix seconds or RFC 3339"))
    })
}

async fn events(Shared(state): Shared<State>, params: Params) -> Result<Response, ApiError> {
    let filter = EventFilter::new(params.filters()?)?;
    let query = EventQuery {
        since: time_param(&params, "since")?,
        until: time_param(&params, "until")?,
        filter,
        follow: true,
    };
    let wharf = state.wharf.clone();
    Ok(streams::produce("application/json", move |tx| {
        for item in wharf.events(query) {
            match item {
                EventItem::Event(event) => {
                    if !tx.json(&with_legacy_fields(&event)) {
                        return;
                    }
                }
                EventItem::Waiting if tx.is_closed() => return,
                EventItem::Waiting => {}
            }
        }
    }))
}

/// `event` as the API serves it, with `status`, `id` and `from` for container events.
fn with_legacy_fields(event: &Event) -> serde_json::Value {
    let mut value = serde_json::to_value(event.to_api()).unwrap_or_default();
    if event.kind == wharf_core::events::EventType::Container {
        value["status"] = event.action.clone().into();
        value["id"] = event.id.clone().into();
        if let Some(image) = event.attributes.get("image") {
            value["from"] = image.clone().into();
        }
    }
    value
}
