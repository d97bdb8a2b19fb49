//! What to do next, in wharf's own commands. The core says what went wrong and of what kind;
//! the CLI, which knows its commands, adds how to go on.

use wharf_core::{Error, ErrorKind};

/// `e`, and when an image was missing, how to get it.
pub(crate) fn missing_image(e: &Error, image: &str) -> String {
    match e {
        Error::NotFound(_) => format!("{e}; pull it (wharf pull {image}) or build it"),
        _ => e.to_string(),
    }
}

/// `e`, and when a registry wants credentials for `image`, how to give them.
pub(crate) fn login(e: &Error, image: &str) -> String {
    match wharf_core::Reference::parse(image) {
        Ok(reference) if e.wants_credentials() => {
            format!("{e}; run `wharf login {}`", reference.registry)
        }
        _ => e.to_string(),
    }
}

/// `e`, and when the image to push has no such name, how to give it one.
pub(crate) fn untagged_push(e: &Error, image: &str) -> String {
    match e {
        Error::NotFound(_) => {
            format!("{e} (tag an image with that name first: wharf tag IMAGE {image})")
        }
        _ => login(e, image),
    }
}

/// `e`, and when a container was running, how to remove it anyway.
pub(crate) fn running_container(e: &Error) -> String {
    match e.kind() {
        ErrorKind::Conflict => format!("{e}: stop it first, or use rm -f"),
        _ => e.to_string(),
    }
}
