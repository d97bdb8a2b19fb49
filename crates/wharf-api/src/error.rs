//! wharf's error kinds as Docker's HTTP answers, in one place: `{"message": ...}` with 404
//! (no such container or image), 409 (a name taken, in use, not running), 400 (a bad
//! parameter), 501 (what Wasm has no meaning for) or 500. The docker CLI prints the message
//! as `Error response from daemon: ...`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use wharf_core::ErrorKind;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Its HTTP status.
    pub status: StatusCode,
    /// The sentence clients print.
    pub message: String,
}

impl ApiError {
    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such object.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 501: a Docker feature that has no meaning for Wasm guests, or that wharf lacks.
    pub fn not_implemented(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, message)
    }

    /// 500: wharf itself failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl From<wharf_core::Error> for ApiError {
    fn from(e: wharf_core::Error) -> ApiError {
        let status = match e.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::InvalidArgument | ErrorKind::NotRunnable => StatusCode::BAD_REQUEST,
            ErrorKind::Registry | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_become_docker_s_statuses() {
        let status = |e: wharf_core::Error| ApiError::from(e).status;
        assert_eq!(
            status(wharf_core::Error::NotFound("no such image: x".into())),
            404
        );
        assert_eq!(status(wharf_core::Error::Conflict("in use".into())), 409);
        assert_eq!(
            status(wharf_core::Error::InvalidArgument("bad".into())),
            400
        );
        let answer = ApiError::not_implemented("exec is not supported").into_response();
        assert_eq!(answer.status(), 501);
    }
}
