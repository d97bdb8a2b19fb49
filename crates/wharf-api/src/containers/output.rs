//! The container verbs that stream: `wait` (headers at once, the body when the condition is
//! met: the CLI sends `start` only after the headers), `logs` and `attach` (Docker's
//! multiplexed frames), `stats` (one JSON object a second, or one).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Path, Request, State as Shared};
use axum::response::Response;
use bollard_stubs::models as api;
use wharf_core::events::{EventFilter, EventItem, EventQuery};
use wharf_core::{docker, logs, LogItem, LogQuery, Wharf};

use crate::error::ApiError;
use crate::query::Params;
use crate::streams::{self, Sender, MULTIPLEXED};
use crate::State;

/// What `wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    /// The container is not running (now, or when it next stops).
    NotRunning,
    /// The container's next exit (the CLI asks before it starts one).
    NextExit,
    /// The container is removed (`run --rm`).
    Removed,
}

pub(super) async fn wait(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let condition = match params.get("condition").unwrap_or("") {
        "" | "not-running" => Condition::NotRunning,
        "next-exit" => Condition::NextExit,
        "removed" => Condition::Removed,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid condition {other:?}: use not-running, next-exit or removed"
            )))
        }
    };
    // Read before the state is looked at, so an exit in between is in the events read.
    let since = SystemTime::now();
    let (container, _) = state.call(move |wharf| wharf.container(&id)).await?;
    let wharf = state.wharf.clone();
    Ok(streams::produce("application/json", move |tx| {
        if let Some(code) = wait_for(&wharf, &container, condition, since, &tx) {
            tx.json(&api::ContainerWaitResponse {
                status_code: code as i64,
                error: None,
            });
        }
    }))
}

/// Follows the event log from `since` until `condition` holds; the exit code, or `None`
/// when the client left first.
fn wait_for(
    wharf: &Wharf,
    container: &wharf_core::Container,
    condition: Condition,
    since: SystemTime,
    tx: &Sender,
) -> Option<i32> {
    let id = container.config.id.clone();
    let mut code = container.state.exit_code.unwrap_or(0);
    let running = container.state.status.is_live();
    if condition == Condition::NotRunning && !running {
        return Some(code);
    }
    let filter = EventFilter::new(BTreeMap::from([(
        "container".to_string(),
        vec![id.clone()],
    )]))
    .ok()?;
    let events = wharf.events(EventQuery {
        since: Some(since),
        until: None,
        filter,
        follow: true,
    });
    let mut waited = 0u32;
    for item in events {
        match item {
            EventItem::Event(event) if event.action == "die" => {
                code = event
                    .attributes
                    .get("exitCode")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(code);
                if condition != Condition::Removed {
                    return Some(code);
                }
            }
            EventItem::Event(event) if event.action == "destroy" => return Some(code),
            _ => {
                if tx.is_closed() {
                    return None;
                }
                // Now and then the state itself, in case an event was lost (a full disk).
                waited += 1;
                if waited.is_multiple_of(20) {
                    match wharf.container(&id) {
                        Err(_) if condition == Condition::Removed => return Some(code),
                        Ok((c, _))
                            if condition == Condition::NotRunning && !c.state.status.is_live() =>
                        {
                            return Some(c.state.exit_code.unwrap_or(code))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Some(code)
}

pub(super) async fn logs(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let query = LogQuery {
        tail: match params.get("tail") {
            None | Some("") | Some("all") => None,
            Some(n) => Some(
                n.parse::<i64>()
                    .map_err(|_| {
                        ApiError::bad_request(format!("invalid tail {n:?}: a number or all"))
                    })?
                    .max(0) as usize,
            ),
        },
        since: log_time(&params, "since")?,
        until: log_time(&params, "until")?,
        follow: params.flag("follow"),
        from_start: false,
    };
    let mut shape = Shape {
        stdout: params.flag("stdout"),
        stderr: params.flag("stderr"),
        timestamps: params.flag("timestamps"),
        raw: false,
    };
    // A missing container is a 404 before any header.
    let (container, _) = state.call(move |wharf| wharf.container(&id)).await?;
    shape.raw = container.config.tty;
    let wharf = state.wharf.clone();
    let id = container.config.id;
    Ok(streams::produce(shape.content_type(), move |tx| {
        let Ok(stream) = wharf.logs(&id, query) else {
            return;
        };
        copy_log(stream, &tx, shape);
    }))
}

/// A log's `since`/`until`, where 0 means unset (Docker's rule for logs; events read 0 as
/// the epoch).
fn log_time(params: &Params, key: &str) -> Result<Option<SystemTime>, ApiError> {
    Ok(params.time(key)?.filter(|t| *t > SystemTime::UNIX_EPOCH))
}

/// Which of a log's entries a client wants, and how they are sent.
#[derive(Debug, Clone, Copy)]
struct Shape {
    stdout: bool,
    stderr: bool,
    timestamps: bool,
    /// A TTY container's output: one raw stream, no frames (Docker's `Tty`).
    raw: bool,
}

impl Shape {
    fn content_type(self) -> &'static str {
        match self.raw {
            true => streams::RAW,
            false => MULTIPLEXED,
        }
    }
}

/// Sends the entries of `stream` as `shape` says until it ends or the client leaves.
fn copy_log(stream: wharf_core::LogStream<'_>, tx: &Sender, shape: Shape) {
    for item in stream {
        match item {
            Ok(LogItem::Entry(entry)) => {
                let (wanted, number) = match entry.stream {
                    logs::Stream::Stdout => (shape.stdout, 1),
                    logs::Stream::Stderr => (shape.stderr, 2),
                };
                if !wanted {
                    continue;
                }
                let text = match shape.timestamps {
                    true => format!("{} {}", entry.time, entry.log),
                    false => entry.log,
                };
                let sent = match shape.raw {
                    true => tx.send(text.into_bytes()),
                    false => tx.frame(number, text.as_bytes()),
                };
                if !sent {
                    return;
                }
            }
            Ok(LogItem::Waiting) if tx.is_closed() => return,
            Ok(LogItem::Waiting) => {}
            Err(_) => return,
        }
    }
}

/// `POST /containers/{id}/attach`: the container's output from now until it stops (or is
/// removed), on the hijacked connection; with `stdin=1` (and a container made with `-i`),
/// what the client sends is the guest's stdin, and its half-close the guest's end-of-file.
pub(super) async fn attach(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
    mut request: Request,
) -> Result<Response, ApiError> {
    let since = SystemTime::now();
    let mut shape = Shape {
        stdout: params.flag("stdout"),
        stderr: params.flag("stderr"),
        timestamps: false,
        raw: false,
    };
    let query = LogQuery {
        since: (!params.flag("logs")).then_some(since),
        follow: params.flag("stream"),
        // The CLI attaches before it starts the container: output begins at the start.
        from_start: true,
        ..Default::default()
    };
    let wharf: Arc<Wharf> = state.wharf.clone();
    let (tx, rx) = streams::channel();
    let (opened, is_open) = tokio::sync::oneshot::channel();
    // The log is opened before the answer: a `--rm` guest that ends (and is removed) at once
    // is still read whole.
    let wants_stdin = params.flag("stdin");
    tokio::task::spawn_blocking(move || {
        let tty = wharf.container(&id).map(|(c, _)| c.config.tty);
        let stdin = match wants_stdin {
            true => wharf.container_stdin(&id),
            false => Ok(None),
        };
        match (tty, wharf.logs(&id, query), stdin) {
            (Ok(tty), Ok(stream), Ok(stdin)) => {
                let _ = opened.send(Ok((tty, stdin)));
                copy_log(stream, &tx, Shape { raw: tty, ..shape });
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                let _ = opened.send(Err(ApiError::from(e)));
            }
        }
    });
    let (raw, stdin) = is_open
        .await
        .map_err(|_| ApiError::internal("the attach thread failed"))??;
    let stdin = stdin.map(|s| (s, state.wharf.clone()));
    shape.raw = raw;
    Ok(streams::hijack(
        &mut request,
        shape.content_type(),
        rx,
        stdin,
    ))
}

pub(super) async fn stats(
    Shared(state): Shared<State>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    // Docker streams unless told otherwise.
    let stream = params.get("stream").is_none() || params.flag("stream");
    let one_shot = params.flag("one-shot");
    let (container, _) = state.call(move |wharf| wharf.container(&id)).await?;
    let wharf = state.wharf.clone();
    let names = vec![container.config.id];
    Ok(streams::produce("application/json", move |tx| loop {
        let interval = if one_shot {
            Duration::from_millis(10)
        } else {
            Duration::from_secs(1)
        };
        let Ok(sampled) = wharf.container_stats(&names, interval) else {
            return;
        };
        for s in &sampled {
            if !tx.json(&docker::container_stats(s)) {
                return;
            }
        }
        if !stream {
            return;
        }
    }))
}
