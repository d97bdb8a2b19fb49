//! wharf's error kinds as ttrpc status codes, mapped in this one place.

use containerd_shim::protos::ttrpc::{self, Code};
use wharf_core::{Error, ErrorKind};

fn status(code: Code, message: impl Into<String>) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, message.into()))
}

/// A wharf error as containerd should see it.
pub fn to_ttrpc(e: Error) -> ttrpc::Error {
    let code = match e.kind() {
        ErrorKind::NotFound => Code::NOT_FOUND,
        ErrorKind::Conflict => Code::ALREADY_EXISTS,
        ErrorKind::InvalidArgument => Code::INVALID_ARGUMENT,
        ErrorKind::NotRunnable => Code::FAILED_PRECONDITION,
        ErrorKind::Registry => Code::UNAVAILABLE,
        ErrorKind::Internal => Code::INTERNAL,
    };
    status(code, e.to_string())
}

/// No such task.
pub fn not_found(message: String) -> ttrpc::Error {
    status(Code::NOT_FOUND, message)
}

/// The task is not in a state that allows it.
pub fn failed_precondition(message: String) -> ttrpc::Error {
    status(Code::FAILED_PRECONDITION, message)
}

/// Something wharf's shim does not do.
pub fn unimplemented(message: &str) -> ttrpc::Error {
    status(Code::UNIMPLEMENTED, message)
}

/// The host failed.
pub fn internal(message: String) -> ttrpc::Error {
    status(Code::INTERNAL, message)
}
