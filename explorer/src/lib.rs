//! trace-explorer: a local OTLP/HTTP receiver and store with a trace waterfall and
//! Honeycomb-style queries — the default destination when there is no Honeycomb account.
//!
//! ```text
//!  OTLP/HTTP (JSON, protobuf, gzip) ──▶ ingest ──▶ SQLite store (WAL) ──▶ views: traces, waterfall, query
//!                                         └──▶ forward (bounded, never blocking) ──▶ Honeycomb / collector
//! ```
//!
//! [`app`] builds the router from an [`AppState`], so tests run it against an in-memory store.

pub mod api;
pub mod config;
pub mod error;
pub mod forward;
pub mod ingest;
pub mod otlp;
pub mod query;
pub mod store;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Shared by all handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The span store.
    pub store: Arc<store::Store>,
    /// Forwarding, when an upstream is configured.
    pub forwarder: Option<forward::Forwarder>,
}

impl AppState {
    /// Runs `work` on the store on a blocking thread: SQLite calls wait for the store's lock and
    /// may scan, so they never run on the async workers (which keep answering meanwhile). A
    /// panic in `work` is an [`error::AppError::Internal`], and the store stays usable.
    pub async fn with_store<T, E>(
        &self,
        work: impl FnOnce(&store::Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, error::AppError>
    where
        T: Send + 'static,
        E: Send + 'static,
        error::AppError: From<E>,
    {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || work(&store)).await??)
    }
}

/// The explorer's router; `cors_origins` may export straight from the browser.
pub fn app(state: AppState, cors_origins: &[String]) -> Router {
    let origins: Vec<HeaderValue> =
        cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers([
            HeaderName::from_static("content-type"),
            HeaderName::from_static("content-encoding"),
        ]);
    Router::new()
        .route("/v1/traces", post(ingest::receive))
        .route("/api/query", post(api::post_query))
        .route("/api/traces", get(api::recent))
        .route("/api/traces/{trace_id}", get(api::get_trace))
        .route("/api/queries", get(api::saved).post(api::save))
        .route("/", get(views::traces::recent))
        .route("/traces/{trace_id}", get(views::traces::waterfall))
        .route("/query", get(views::query::query_page))
        .route("/query/traces", get(views::query::matching))
        .route("/vitals", get(views::vitals::vitals_page))
        .route("/queries", post(views::query::save))
        .layer(cors)
        .with_state(state)
}
