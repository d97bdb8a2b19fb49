//! `wharf events`: what happened to containers and images, as `docker events` prints it.

use std::io::Write;

use clap::Args;
use wharf_core::events::{Event, EventFilter, EventItem, EventQuery};
use wharf_core::Wharf;

use crate::containers::VERB_FAILED;
use crate::fail;

/// `wharf events [--since T] [--until T] [--filter K=V]... [--format json]`
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show events from this time on: RFC 3339, Unix seconds, or how long ago (`10m`).
    #[arg(long = "since")]
    since: Option<String>,
    /// Stop at this time (same forms); without it, follow until interrupted.
    #[arg(long = "until")]
    until: Option<String>,
    /// Only matching events: type, event, container, image, label (KEY=VALUE).
    #[arg(short = 'f', long = "filter")]
    filters: Vec<String>,
    /// `json`: one `GET /events` object per line.
    #[arg(long = "format")]
    format: Option<String>,
}

/// Prints events as they come (or, with `--until` in the past, those logged).
pub fn events(wharf: &Wharf, args: EventsArgs) -> i32 {
    let json = match args.format.as_deref() {
        None => false,
        Some("json" | "{{json .}}") => true,
        Some(other) => return fail(format!("unsupported --format {other:?} (use json)"), 125),
    };
    let (since, until) = match (
        crate::containers::time_arg(&args.since),
        crate::containers::time_arg(&args.until),
    ) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(text), _) => return fail(format!("invalid --since {text:?}"), VERB_FAILED),
        (_, Err(text)) => return fail(format!("invalid --until {text:?}"), VERB_FAILED),
    };
    let filter = match EventFilter::from_pairs(&args.filters) {
        Ok(filter) => filter,
        Err(e) => return fail(e, VERB_FAILED),
    };
    let query = EventQuery {
        // `--until` alone reads what was logged before it, as Docker does.
        since: since.or(until.map(|_| std::time::UNIX_EPOCH)),
        until,
        filter,
        follow: until.is_none_or(|u| u > std::time::SystemTime::now()),
    };
    let mut out = std::io::stdout().lock();
    for item in wharf.events(query) {
        let written = match item {
            EventItem::Event(event) if json => {
                let line = serde_json::to_string(&event.to_api()).expect("JSON");
                writeln!(out, "{line}")
            }
            EventItem::Event(event) => writeln!(out, "{}", line(&event)),
            EventItem::Waiting => out.flush(),
        };
        if written.is_err() {
            break; // the reader went away
        }
    }
    0
}

/// Docker's text line: time, type, action, ID, then the attributes sorted.
fn line(event: &Event) -> String {
    let time = humantime::format_rfc3339_nanos(event.time());
    let attributes: Vec<String> = event
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{time} {} {} {} ({})",
        event.kind.as_str(),
        event.action,
        event.id,
        attributes.join(", ")
    )
}
