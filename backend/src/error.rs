//! [`AppError`]: every way a request can fail, and the JSON body the client gets.
//!
//! Validation errors say which field is wrong (`400 {"error": "...", "field": "message"}`);
//! internal failures get a generic message, and the detail goes to the span and the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use crate::model::ErrorBody;

/// A request that cannot be served.
#[derive(Debug, Error)]
pub enum AppError {
    /// The client sent something invalid.
    #[error("{message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// Something else went wrong inside.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A validation error on `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid { .. } => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            AppError::Invalid { field, message } => {
                ErrorBody { error: message.clone(), field: Some((*field).to_owned()) }
            }
            AppError::NotFound(_) => ErrorBody { error: self.to_string(), field: None },
            AppError::Database(_) | AppError::Internal(_) => {
                eprintln!("error: {self}");
                ErrorBody { error: "Something went wrong".into(), field: None }
            }
        };
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(ErrorDetail(self.to_string()));
        response
    }
}

/// The real error behind a response, for the trace middleware to record on the server span.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);
