//! The API's error shape, `{"error": {"code", "message"}}`, and how domain
//! errors map onto statuses: bad input is a 4xx that says what was wrong;
//! only a failure of tvgate itself is a 500 (and its detail goes to the log,
//! not to the client).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tvgate_core::gate::GateError;
use tvgate_core::ports::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The one answer to a missing, malformed, unknown or revoked token:
    /// identical bodies, so a caller cannot tell which.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API token is required (Authorization: Bearer TOKEN)",
        )
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "admin API operation failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; see its log",
        )
    }
}

impl From<GateError> for ApiError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::NoSuchLine(_) => ApiError::not_found(e.to_string()),
            GateError::Credential(_) | GateError::Invalid(_) => {
                ApiError::bad_request(e.to_string())
            }
            GateError::ResetTooSoon { .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_soon", e.to_string())
            }
            GateError::Store(StoreError::Conflict { .. }) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            GateError::Store(StoreError::NotFound { .. }) => ApiError::not_found(e.to_string()),
            // No API operation imports in the request (refreshes run as
            // background jobs), so a failed import here is the server's.
            GateError::Store(StoreError::Backend { .. })
            | GateError::Kdf(_)
            | GateError::ImportFailed(_)
            | GateError::RefreshHeld(_)
            // Only opening a gate says this; never an API operation.
            | GateError::KeyMismatch { .. } => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
