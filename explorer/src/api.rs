//! The JSON API for tools and tests.
//!
//! | route | returns |
//! |---|---|
//! | `POST /api/query` | runs a query specification → [`QueryResult`] (400 names the bad `field`; limits in [`crate::query`]) |
//! | `GET /api/traces/{trace_id}` | `{trace_id, spans: [...]}` (404 when unknown) |
//! | `GET /api/traces?limit=&service=` | recent traces |
//! | `GET /api/queries`, `POST /api/queries` | saved queries (`{name, spec}`) |
//!
//! Errors are [`AppError`] bodies. Every store call runs through [`AppState::with_store`], off
//! the async workers.

use axum::extract::{Path, Query as QueryParams, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::AppState;
use crate::error::AppError;
use crate::query::{self, Query, QueryResult};
use crate::store::SavedQuery;

/// Seconds since the epoch, now.
pub fn now_s() -> i64 {
    crate::store::now_ns() / 1_000_000_000
}

/// Parses and runs a specification (on a blocking thread: a scan can take a while).
pub async fn run_spec(state: &AppState, spec: Json) -> Result<(Query, QueryResult), AppError> {
    let parsed = Query::parse(&spec, now_s())?;
    let q = parsed.clone();
    let result = state
        .with_store(move |store| {
            let result = query::run(store, &q);
            let _ = store.remember(&spec);
            result
        })
        .await?;
    Ok((parsed, result))
}

/// `POST /api/query`.
pub async fn post_query(
    State(state): State<AppState>,
    body: Result<axum::Json<Json>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let axum::Json(spec) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let (_, result) = run_spec(&state, spec).await?;
    Ok(axum::Json(result).into_response())
}

/// `GET /api/traces/{trace_id}`.
pub async fn get_trace(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
) -> Result<Response, AppError> {
    let id = trace_id.clone();
    let spans = state.with_store(move |store| store.trace(&id)).await?;
    if spans.is_empty() {
        return Err(AppError::NotFound("trace"));
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
) -> Result<Response, AppError> {
    let limit = params.limit.unwrap_or(50).clamp(1, 500);
    let traces = state.with_store(move |store| store.recent_traces(limit, params.service.as_deref())).await?;
    Ok(axum::Json(traces).into_response())
}

/// `GET /api/queries`.
pub async fn saved(State(state): State<AppState>) -> Result<axum::Json<Vec<SavedQuery>>, AppError> {
    Ok(axum::Json(state.with_store(|store| store.saved_queries()).await?))
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
) -> Result<StatusCode, AppError> {
    if request.name.trim().is_empty() {
        return Err(AppError::BadRequest("name: give the query a name".into()));
    }
    Query::parse(&request.spec, now_s())?;
    state.with_store(move |store| store.save_query(request.name.trim(), &request.spec)).await?;
    Ok(StatusCode::CREATED)
}
