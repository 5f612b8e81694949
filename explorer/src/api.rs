//! The JSON API for tools and tests.
//!
//! | route | returns |
//! |---|---|
//! | `POST /api/query` | runs a query specification → [`QueryResult`] (400 names the bad field; limits in [`crate::query`]) |
//! | `GET /api/traces/{trace_id}` | `{trace_id, spans: [...]}` (404 when unknown) |
//! | `GET /api/traces?limit=&service=` | recent traces |
//! | `GET /api/queries`, `POST /api/queries` | saved queries (`{name, spec}`) |

use axum::extract::{Path, Query as QueryParams, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::AppState;
use crate::query::{self, Query, QueryError, QueryResult};
use crate::store::{SavedQuery, StoreError};

/// Errors of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query specification is wrong.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Nothing with that id.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug: the work panicked (the store stays usable).
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Query(e) => {
                (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e.to_string(), "field": e.field })))
                    .into_response()
            }
            ApiError::NotFound(_) => {
                (StatusCode::NOT_FOUND, axum::Json(json!({ "error": self.to_string() }))).into_response()
            }
            ApiError::BadRequest(_) => {
                (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": self.to_string() }))).into_response()
            }
            ApiError::Store(e) => {
                eprintln!("explorer: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({ "error": "the store failed" })))
                    .into_response()
            }
            ApiError::Internal(e) => {
                eprintln!("explorer: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({ "error": "the query failed" })))
                    .into_response()
            }
        }
    }
}

/// Seconds since the epoch, now.
pub fn now_s() -> i64 {
    crate::store::now_ns() / 1_000_000_000
}

/// Parses and runs a specification (on a blocking thread: a scan can take a while).
pub async fn run_spec(state: &AppState, spec: Json) -> Result<(Query, QueryResult), ApiError> {
    let parsed = Query::parse(&spec, now_s())?;
    let store = state.store.clone();
    let q = parsed.clone();
    let result = tokio::task::spawn_blocking(move || {
        let result = query::run(&store, &q);
        let _ = store.remember(&spec);
        result
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok((parsed, result))
}

/// `POST /api/query`.
pub async fn post_query(
    State(state): State<AppState>,
    body: Result<axum::Json<Json>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let axum::Json(spec) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (_, result) = run_spec(&state, spec).await?;
    Ok(axum::Json(result).into_response())
}

/// `GET /api/traces/{trace_id}`.
pub async fn get_trace(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
) -> Result<Response, ApiError> {
    let spans = state.store.trace(&trace_id)?;
    if spans.is_empty() {
        return Err(ApiError::NotFound("trace"));
    }
    Ok(axum::Json(json!({ "trace_id": trace_id.to_ascii_lowercase(), "spans": spans })).into_response())
}

/// The query string of `GET /api/traces`.
#[derive(Debug, Deserialize)]
pub struct RecentParams {
    limit: Option<usize>,
    service: Option<String>,
}

/// `GET /api/traces`.
pub async fn recent(
    State(state): State<AppState>,
    QueryParams(params): QueryParams<RecentParams>,
) -> Result<Response, ApiError> {
    let limit = params.limit.unwrap_or(50).clamp(1, 500);
    Ok(axum::Json(state.store.recent_traces(limit, params.service.as_deref())?).into_response())
}

/// `GET /api/queries`.
pub async fn saved(State(state): State<AppState>) -> Result<axum::Json<Vec<SavedQuery>>, ApiError> {
    Ok(axum::Json(state.store.saved_queries()?))
}

/// `POST /api/queries` body.
#[derive(Debug, Deserialize)]
pub struct SaveRequest {
    name: String,
    spec: Json,
}

/// `POST /api/queries`: validates, then saves.
pub async fn save(
    State(state): State<AppState>,
    axum::Json(request): axum::Json<SaveRequest>,
) -> Result<StatusCode, ApiError> {
    if request.name.trim().is_empty() {
        return Err(ApiError::BadRequest("name: give the query a name".into()));
    }
    Query::parse(&request.spec, now_s())?;
    state.store.save_query(request.name.trim(), &request.spec)?;
    Ok(StatusCode::CREATED)
}
