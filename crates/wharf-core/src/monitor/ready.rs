//! The ready pipe: how a monitor tells its starter, once, that the guest runs or why it could
//! not start.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::{Error, ErrorKind};

/// What the monitor tells its starter on the ready pipe, as one JSON document: the guest
/// is running, or the error that kept it from starting, with its kind (and, for a file that
/// cannot run, its fields), so that the starter reports exactly what a foreground run would.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReadyAnswer {
    /// The guest is instantiated (or another monitor already runs the container).
    Ok,
    /// No such file.
    NoSuchFile {
        /// The file.
        file: PathBuf,
    },
    /// The file cannot run.
    NotRunnable {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// Any other error.
    Failed {
        /// Its kind.
        kind: ErrorKind,
        /// Its sentence.
        message: String,
    },
}

impl From<&Error> for ReadyAnswer {
    fn from(e: &Error) -> ReadyAnswer {
        match e {
            Error::NoSuchFile(file) => ReadyAnswer::NoSuchFile { file: file.clone() },
            Error::NotRunnable { file, reason } => ReadyAnswer::NotRunnable {
                file: file.clone(),
                reason: reason.clone(),
            },
            other => ReadyAnswer::Failed {
                kind: other.kind(),
                message: other.to_string(),
            },
        }
    }
}

/// Reads the monitor's [`ReadyAnswer`] from the ready pipe.
pub(crate) fn parse_ready(answer: &str, id: &str) -> Result<(), Error> {
    let Ok(answer) = serde_json::from_str::<ReadyAnswer>(answer.trim()) else {
        return Err(Error::Internal(anyhow::anyhow!(
            "the monitor of container {} ended before the guest started",
            wharf_containers::short_id(id)
        )));
    };
    Err(match answer {
        ReadyAnswer::Ok => return Ok(()),
        ReadyAnswer::NoSuchFile { file } => Error::NoSuchFile(file),
        ReadyAnswer::NotRunnable { file, reason } => Error::NotRunnable { file, reason },
        ReadyAnswer::Failed { kind, message } => Error::Reported { kind, message },
    })
}

/// The starter's pipe: told once that the guest runs, or why it could not start.
#[derive(Clone)]
pub(super) struct Ready(Arc<Mutex<Option<std::fs::File>>>);

impl Ready {
    /// The starter's pipe, answered once.
    pub(super) fn new(pipe: std::os::fd::OwnedFd) -> Ready {
        Ready(Arc::new(Mutex::new(Some(std::fs::File::from(pipe)))))
    }
}

impl Ready {
    pub(super) fn tell(&self, answer: &ReadyAnswer) {
        let mut pipe = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut file) = pipe.take() {
            let json = serde_json::to_vec(answer).expect("ready answers serialize");
            let _ = file.write_all(&json);
        }
    }
}
