//! [`AppError`]: every way a request can fail, and the one mapping to a response.
//!
//! Clients get `{"code": <status>, "message": <what to fix>}` (the shape of an OTLP
//! `google.rpc.Status`), plus `"field"` when a query specification names the bad field. A
//! failure of the explorer itself (500) tells the client only that it failed; the details go
//! to the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::otlp::DecodeError;
use crate::query::QueryError;
use crate::store::StoreError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 naming the field: a query specification is wrong.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// 400: the request is malformed; the text says how.
    #[error("{0}")]
    BadRequest(String),
    /// 404: nothing with that id.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 413: the body is over a size limit; the text names it.
    #[error("{0}")]
    TooLarge(String),
    /// 415: a content type or encoding the receiver does not read; the text names the ones it does.
    #[error("{0}")]
    Unsupported(String),
    /// 500: the store failed (logged; the client is told only that it failed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 500: a bug, such as a panic in a blocking task (logged; the store stays usable).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DecodeError> for AppError {
    fn from(error: DecodeError) -> Self {
        match error {
            DecodeError::Invalid(reason) => AppError::BadRequest(reason),
            too_large @ (DecodeError::TooLarge | DecodeError::TooManySpans | DecodeError::TooComplex) => {
                AppError::TooLarge(too_large.to_string())
            }
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(error: tokio::task::JoinError) -> Self {
        AppError::Internal(error.to_string())
    }
}

impl AppError {
    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Query(_) | AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Store(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told: the reason for a 4xx, nothing internal for a 5xx.
    pub fn client_message(&self) -> String {
        match self {
            AppError::Store(_) | AppError::Internal(_) => "something went wrong in the explorer".into(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            eprintln!("explorer: {self}");
        }
        let mut body = json!({ "code": status.as_u16(), "message": self.client_message() });
        if let AppError::Query(e) = &self {
            body["field"] = json!(e.field);
        }
        (status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_stay_in_the_log() {
        let error = AppError::Internal("task 7 panicked at src/store/mod.rs:42".into());
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.client_message().contains("panicked"), "{}", error.client_message());
        let error = AppError::from(DecodeError::TooManySpans);
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(error.client_message().contains("spans"), "{}", error.client_message());
    }
}
