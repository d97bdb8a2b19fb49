//! Which events a reader sees: Docker's event filters, with Docker's meaning.
//!
//! Values of one key are OR'd, keys are AND'd; an unknown key is an error. `container` and
//! `image` match an ID, an ID's prefix or a name; `label` matches `KEY` or `KEY=VALUE` among
//! the attributes.

use std::collections::BTreeMap;

use super::{Event, EventType};
use crate::Error;

/// The keys wharf understands: Docker's, less those about Swarm and plugins. `network` and
/// `volume` are valid and match nothing: wharf records no such events yet.
const KEYS: &[&str] = &[
    "container",
    "event",
    "image",
    "label",
    "type",
    "network",
    "volume",
    "scope",
];

/// The types a `type` filter may name.
const TYPES: &[&str] = &[
    "container",
    "image",
    "network",
    "volume",
    "daemon",
    "plugin",
    "builder",
];

/// Docker's event filters: key to the values asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    filters: BTreeMap<String, Vec<String>>,
}

impl EventFilter {
    /// A filter from a key-to-values map (the API's `filters` parameter).
    pub fn new(filters: BTreeMap<String, Vec<String>>) -> Result<EventFilter, Error> {
        for (key, values) in &filters {
            if !KEYS.contains(&key.as_str()) {
                return Err(Error::InvalidArgument(format!("invalid filter '{key}'")));
            }
            if key == "type" {
                if let Some(bad) = values.iter().find(|v| !TYPES.contains(&v.as_str())) {
                    return Err(Error::InvalidArgument(format!(
                        "invalid filter 'type={bad}'"
                    )));
                }
            }
        }
        Ok(EventFilter { filters })
    }

    /// A filter from `KEY=VALUE` strings, as the CLI's `--filter` gives them.
    pub fn from_pairs(pairs: &[String]) -> Result<EventFilter, Error> {
        EventFilter::new(crate::list::filters_from_pairs(pairs)?)
    }

    /// Whether `event` passes every key.
    pub fn matches(&self, event: &Event) -> bool {
        // Every `label` must match (Docker's exception), one of each other key's values.
        self.filters.iter().all(|(key, values)| {
            let one = |value: &String| matches_one(key, value.as_str(), event);
            match key.as_str() {
                "label" => values.iter().all(one),
                _ => values.iter().any(one),
            }
        })
    }
}

fn matches_one(key: &str, value: &str, event: &Event) -> bool {
    let name = event.attributes.get("name").map(String::as_str);
    match key {
        "type" => event.kind.as_str() == value,
        "event" => event.action == value,
        "scope" => value == "local",
        "container" => {
            event.kind == EventType::Container
                && (is_id_or_prefix(&event.id, value) || name == Some(value))
        }
        "image" => {
            let image = match event.kind {
                EventType::Container => event.attributes.get("image").map(String::as_str),
                EventType::Image => name,
            };
            same_image(image, value) || (event.kind == EventType::Image && event.id == value)
        }
        "label" => match value.split_once('=') {
            Some((k, v)) => event.attributes.get(k).map(String::as_str) == Some(v),
            None => event.attributes.contains_key(value),
        },
        _ => false,
    }
}

fn is_id_or_prefix(id: &str, value: &str) -> bool {
    !value.is_empty() && id.starts_with(value)
}

/// Whether image name `have` is `want`, reading a missing tag as `latest`.
fn same_image(have: Option<&str>, want: &str) -> bool {
    let with_tag = |n: &str| {
        let last = n.rsplit('/').next().unwrap_or(n);
        if last.contains(':') || last.contains('@') {
            n.to_string()
        } else {
            format!("{n}:latest")
        }
    };
    have.is_some_and(|h| h == want || with_tag(h) == with_tag(want))
}
