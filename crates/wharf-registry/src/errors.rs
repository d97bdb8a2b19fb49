//! Registry failures as the user should read them.

use oci_client::errors::{OciDistributionError, OciErrorCode};
use wharf_image::Reference;

/// Why a pull, push or login failed. Each message names the registry or image and, where
/// there is something to do, says what.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry cannot be reached, timed out, or answered with a server error.
    #[error("{0}")]
    Registry(String),
    /// The registry refused the credentials, or wants some.
    #[error("{0}")]
    Unauthorized(String),
    /// The registry has no such repository, tag or manifest.
    #[error("{0}")]
    NotFound(String),
    /// What the registry sent is malformed, not WebAssembly, or does not match its digest.
    #[error("{0}")]
    Format(String),
    /// Docker's config file cannot be read or written.
    #[error("{0}")]
    Config(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] wharf_store::Error),
}

/// Translates an oci-client error about `reference`.
pub(crate) fn from_oci(error: OciDistributionError, reference: &Reference) -> Error {
    let registry = &reference.registry;
    let denied = || {
        Error::Unauthorized(format!(
            "access to {} denied: the registry {registry} wants credentials it did not get or \
             accept",
            reference.name()
        ))
    };
    let not_found = || {
        Error::NotFound(format!(
            "{reference} not found: the registry {registry} has no such repository, tag or digest"
        ))
    };
    match error {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => denied(),
        OciDistributionError::ImageManifestNotFoundError(_) => not_found(),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                denied()
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                )
            }) {
                not_found()
            } else {
                Error::Registry(format!("registry {registry} refused: {envelope}"))
            }
        }
        OciDistributionError::ServerError { code: 404, .. } => not_found(),
        OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => denied(),
        OciDistributionError::ServerError { code, message, .. } => Error::Registry(format!(
            "registry {registry} answered HTTP {code}{}; try again later",
            if message.trim().is_empty() {
                String::new()
            } else {
                format!(" ({})", message.trim())
            }
        )),
        OciDistributionError::DigestError(e) => Error::Format(format!(
            "content from {registry} does not match its digest ({e}); nothing was stored"
        )),
        OciDistributionError::RequestError(e)
            if matches!(e.status().map(|s| s.as_u16()), Some(401 | 403)) =>
        {
            denied()
        }
        OciDistributionError::RequestError(e) if e.status().is_some_and(|s| s.as_u16() == 404) => {
            not_found()
        }
        OciDistributionError::RequestError(e) if e.status().is_some() => Error::Registry(format!(
            "registry {registry} answered HTTP {}; try again later",
            e.status().map_or(0, |s| s.as_u16())
        )),
        OciDistributionError::RequestError(e) => {
            let what = if e.is_timeout() {
                "it did not answer in time".to_string()
            } else if e.is_connect() {
                format!("cannot connect ({})", root_cause(&e))
            } else {
                root_cause(&e)
            };
            Error::Registry(format!("cannot reach registry {registry}: {what}"))
        }
        OciDistributionError::IoError(e) => {
            Error::Registry(format!("talking to registry {registry}: {e}"))
        }
        other => Error::Registry(format!("registry {registry}: {other}")),
    }
}

/// The innermost error's message: reqwest's own is only "error sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
