//! wharf's event log: what happened to containers and images, in order, as `docker events`
//! and `GET /events` report it.
//!
//! Every wharf process (CLIs, monitors, the API service) appends to one file under the root,
//! `events.log`, a JSON line per event written with one `write` on an `O_APPEND` descriptor,
//! so lines of concurrent writers never interleave. Past 1 MiB the file moves to
//! `events.log.1` (one older generation is kept): Docker keeps a bounded backlog too. A reader
//! reads the old generation and then the current one, and a follower keeps reading across a
//! move. Recording never fails the operation it describes: a full disk loses events, not
//! containers.

mod filter;
mod stream;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use filter::EventFilter;
pub use stream::{EventItem, EventStream};

use crate::docker::api;
use crate::Wharf;

/// The current generation of the log, under the root.
const LOG: &str = "events.log";
/// The previous generation.
const OLD_LOG: &str = "events.log.1";
/// Held while a writer appends, so that a move to the old generation happens once.
const LOCK: &str = "events.lock";
/// The size past which the log moves to its old generation.
const ROTATE_AT: u64 = 1 << 20;

/// What an event is about (Docker's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// A container: create, start, die, kill, stop, destroy.
    Container,
    /// An image: pull, push, tag, untag, delete, load, save.
    Image,
}

impl EventType {
    /// Docker's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
        }
    }
}

/// One thing that happened, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When, in nanoseconds since the Unix epoch.
    pub time_nano: i64,
    /// What it is about.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// What happened (Docker's action: `start`, `die`, `pull`...).
    pub action: String,
    /// The container's ID, or the image's name or ID.
    pub id: String,
    /// Docker's actor attributes: `name`, `image`, `exitCode`, `signal`, labels.
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event that happens now.
    pub fn now(kind: EventType, action: &str, id: &str) -> Event {
        let time_nano = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        Event {
            time_nano,
            kind,
            action: action.to_string(),
            id: id.to_string(),
            attributes: BTreeMap::new(),
        }
    }

    /// The same event with one more attribute.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Event {
        self.attributes.insert(key.to_string(), value.into());
        self
    }

    /// When it happened.
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_nanos(self.time_nano.max(0) as u64)
    }

    /// As `GET /events` serves it.
    pub fn to_api(&self) -> api::EventMessage {
        api::EventMessage {
            typ: Some(match self.kind {
                EventType::Container => api::EventMessageTypeEnum::CONTAINER,
                EventType::Image => api::EventMessageTypeEnum::IMAGE,
            }),
            action: Some(self.action.clone()),
            actor: Some(api::EventActor {
                id: Some(self.id.clone()),
                attributes: Some(self.attributes.clone().into_iter().collect()),
            }),
            scope: Some(api::EventMessageScopeEnum::LOCAL),
            time: Some(self.time_nano / 1_000_000_000),
            time_nano: Some(self.time_nano),
        }
    }
}

/// Which events to read; see [`Wharf::events`].
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Events from this time on; `None`: only events that happen from now on.
    pub since: Option<SystemTime>,
    /// Events up to this time; following ends once it has passed. `None` with `follow`: until
    /// the reader stops.
    pub until: Option<SystemTime>,
    /// Docker's filters (`type`, `event`, `container`, `image`, `label`...).
    pub filter: EventFilter,
    /// Keep reading what happens.
    pub follow: bool,
}

impl Wharf {
    /// Appends `event` to the log. Never fails the caller: a log that cannot be written is
    /// reported through `tracing` and the event is lost.
    pub fn record_event(&self, event: &Event) {
        if let Err(e) = append(self.root.path(), event) {
            tracing::warn!("cannot record the {} event: {e}", event.action);
        }
    }

    /// The events `query` asks for: first those already logged from `since` on, then, when
    /// following, those that happen. Blocking: each `next` of a following stream may wait a
    /// little (and yields [`EventItem::Waiting`] in between).
    pub fn events(&self, query: EventQuery) -> EventStream {
        EventStream::new(self.root.path(), query)
    }

    /// Records a container event with the attributes Docker gives it (name, image, labels).
    pub(crate) fn container_event(
        &self,
        action: &str,
        config: &crate::ContainerConfig,
        extra: &[(&str, String)],
    ) {
        let mut event = Event::now(EventType::Container, action, &config.id)
            .with("name", config.name.clone())
            .with("image", config.target.display());
        for (key, value) in &config.labels {
            event = event.with(key, value.clone());
        }
        for (key, value) in extra {
            event = event.with(key, value.clone());
        }
        self.record_event(&event);
    }

    /// Records an image event about `id` (an image ID or name), named `name` when it has one.
    pub(crate) fn image_event(&self, action: &str, id: &str, name: Option<&str>) {
        let mut event = Event::now(EventType::Image, action, id);
        if let Some(name) = name {
            event = event.with("name", name);
        }
        self.record_event(&event);
    }
}

fn append(root: &Path, event: &Event) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let _lock = wharf_root::FileLock::exclusive(&root.join(LOCK))?;
    let log = root.join(LOG);
    if std::fs::metadata(&log).is_ok_and(|m| m.len() >= ROTATE_AT) {
        std::fs::rename(&log, root.join(OLD_LOG))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&log)?;
    // One write: appenders never interleave within a line.
    file.write_all(&line)
}

#[cfg(test)]
mod tests;
