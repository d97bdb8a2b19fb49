//! The core's one error type, with kinds that each front end maps once: the CLI to exit codes,
//! the Docker API to HTTP statuses, the containerd shim to ttrpc codes.
//!
//! Errors of the crates below are kept whole as sources (their messages are already sentences
//! for users); hints that name CLI commands are the CLI's to add, by kind.

use std::path::PathBuf;

/// What kind of failure an [`Error`] is, whatever its cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No such file, image or container.
    NotFound,
    /// The state forbids it: a name taken, an image in use, a container running or not.
    Conflict,
    /// What the caller asked for is malformed (a reference, a name, a Dockerfile, a flag value).
    InvalidArgument,
    /// The program cannot run: not WebAssembly, invalid, missing imports or entry point, an
    /// image wharf cannot use.
    NotRunnable,
    /// A registry could not be reached, timed out, or refused (credentials, server errors).
    Registry,
    /// wharf itself failed (I/O, damaged state).
    Internal,
}

/// Why a core operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file to run does not exist.
    #[error("cannot run {}: no such file", .0.display())]
    NoSuchFile(PathBuf),
    /// The file exists but cannot be run: not Wasm, invalid, missing imports or entry point.
    #[error("cannot run {}: {reason}", file.display())]
    NotRunnable {
        /// The file (or image) that was asked for.
        file: PathBuf,
        /// Why, in a sentence for the user.
        reason: String,
    },
    /// No such image or container (the sentence says which).
    #[error("{0}")]
    NotFound(String),
    /// The state forbids the operation (the sentence says why).
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed (the sentence says how).
    #[error("{0}")]
    InvalidArgument(String),
    /// An image is malformed or not WebAssembly.
    #[error("{0}")]
    Image(String),
    /// Container state: a missing or ambiguous container, a bad or taken name, damaged state.
    #[error(transparent)]
    Containers(#[from] wharf_containers::Error),
    /// The image store.
    #[error(transparent)]
    Store(#[from] wharf_store::Error),
    /// A pull, push or login.
    #[error(transparent)]
    Registry(#[from] wharf_registry::Error),
    /// A build.
    #[error(transparent)]
    Build(#[from] wharf_build::BuildError),
    /// An error another wharf process reported (a container's monitor), its kind kept.
    #[error("{message}")]
    Reported {
        /// Its kind.
        kind: ErrorKind,
        /// Its sentence.
        message: String,
    },
    /// wharf itself failed.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        use wharf_containers::Error as C;
        use wharf_registry::Error as R;
        use wharf_store::Error as S;
        let store_kind = |e: &S| match e {
            S::NotFound(_) => ErrorKind::NotFound,
            S::Conflict(_) => ErrorKind::Conflict,
            S::DigestMismatch { .. } | S::TooLarge { .. } => ErrorKind::InvalidArgument,
            S::Io { .. } | S::MissingBlob(_) | S::CorruptIndex { .. } => ErrorKind::Internal,
        };
        match self {
            Error::NoSuchFile(_) | Error::NotFound(_) => ErrorKind::NotFound,
            Error::NotRunnable { .. } | Error::Image(_) => ErrorKind::NotRunnable,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Containers(e) => match e {
                C::NotFound(_) => ErrorKind::NotFound,
                C::NameInUse { .. } => ErrorKind::Conflict,
                C::Ambiguous { .. } | C::BadName(_) => ErrorKind::InvalidArgument,
                C::Io { .. } | C::Corrupt { .. } => ErrorKind::Internal,
            },
            Error::Store(e) => store_kind(e),
            Error::Registry(e) => match e {
                R::Registry(_) | R::Unauthorized(_) => ErrorKind::Registry,
                R::NotFound(_) => ErrorKind::NotFound,
                R::Format(_) => ErrorKind::NotRunnable,
                R::Config(_) => ErrorKind::Internal,
                R::Store(e) => store_kind(e),
            },
            Error::Build(e) => match e {
                wharf_build::BuildError::Store(e) => store_kind(e),
                _ => ErrorKind::InvalidArgument,
            },
            Error::Reported { kind, .. } => *kind,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The exit code Docker gives a container that could not start this way (and `docker run`
    /// exits with): 127 when the program does not exist, 126 when it cannot run, 125 for
    /// everything else. Container verbs other than `run` report failures their own way.
    pub fn start_exit_code(&self) -> i32 {
        match self {
            Error::NoSuchFile(_) => 127,
            _ if self.kind() == ErrorKind::NotRunnable => 126,
            _ => 125,
        }
    }

    /// Whether a registry refused for want of (good) credentials: a login would help.
    pub fn wants_credentials(&self) -> bool {
        matches!(
            self,
            Error::Registry(wharf_registry::Error::Unauthorized(_))
        )
    }

    /// A file (or image) that cannot run, and why.
    pub(crate) fn not_runnable(file: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
        Error::NotRunnable {
            file: file.into(),
            reason: reason.into(),
        }
    }

    /// Wraps an I/O error of wharf's own.
    pub fn io(e: std::io::Error) -> Error {
        Error::Internal(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_cause() {
        let name_taken = wharf_containers::Error::NameInUse {
            name: "web".into(),
            id: "0123456789ab".into(),
        };
        assert_eq!(Error::from(name_taken).kind(), ErrorKind::Conflict);
        let missing = wharf_containers::Error::NotFound("web".into());
        assert_eq!(Error::from(missing).kind(), ErrorKind::NotFound);
        let refused = wharf_registry::Error::Unauthorized("denied".into());
        assert_eq!(Error::from(refused).kind(), ErrorKind::Registry);
        let in_use = wharf_store::Error::Conflict("in use".into());
        assert_eq!(Error::from(in_use).kind(), ErrorKind::Conflict);
        assert_eq!(
            Error::NoSuchFile(PathBuf::from("x")).kind(),
            ErrorKind::NotFound
        );
        let reported = Error::Reported {
            kind: ErrorKind::NotRunnable,
            message: "m".into(),
        };
        assert_eq!(
            (reported.kind(), reported.to_string()),
            (ErrorKind::NotRunnable, "m".into())
        );
        assert_eq!(reported.start_exit_code(), 126);
        assert_eq!(Error::NoSuchFile(PathBuf::new()).start_exit_code(), 127);
        assert_eq!(Error::Conflict("port in use".into()).start_exit_code(), 125);
    }
}
