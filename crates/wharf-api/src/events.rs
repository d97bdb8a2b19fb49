//! `GET /events`: the event log as Docker's stream of JSON objects, kept open until `until`
//! passes or the client leaves. Container events also carry the legacy fields `status`, `id`
//! and `from` that docker-compose 1.29 reads.

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

async fn events(Shared(state): Shared<State>, params: Params) -> Result<Response, ApiError> {
    let filter = EventFilter::new(params.filters()?)?;
    let query = EventQuery {
        since: params.time("since")?,
        until: params.time("until")?,
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
