//! Cruddur's backend: the API, continuing the browser's trace into SQLite, and the relay that
//! takes the browser's spans to the collector.
//!
//! ```text
//!  request ─▶ CORS ─▶ SERVER span (parent: the browser's traceparent; user.id from baggage)
//!                       └─ handler ─▶ home-activities ─▶ SELECT activities (db spans)
//!  POST /v1/traces ─▶ relay (untraced) ─▶ OTLP endpoint + server-side headers
//! ```
//!
//! [`app`] builds the router from an [`AppState`], so tests drive it with in-memory exporters;
//! [`frontend::router`] adds the built frontend, its HTML traced, when `CRUDDUR_DIST` is set.

pub mod config;
pub mod cors;
pub mod db;
pub mod error;
pub mod frontend;
pub mod http_trace;
pub mod model;
pub mod relay;
pub mod routes;
pub mod state;
pub mod telemetry;

use axum::Router;
use axum::routing::{get, post};

pub use state::AppState;

/// The API router.
pub fn app(state: AppState) -> Router {
    use routes::{activities, health, server_fns, users};
    let api = Router::new()
        .route("/api/health", get(health::health))
        .route("/api/users", get(users::list))
        .route("/api/activities/home", get(activities::home))
        .route("/api/activities/notifications", get(activities::notifications))
        .route("/api/activities/search", get(activities::search))
        .route("/api/activities/@{handle}", get(activities::user))
        .route("/api/activities", post(activities::create))
        .route("/api/activities/{uuid}/reply", post(activities::reply))
        // Server functions (cruddur_api::server_fns), traced like the routes around them.
        .route("/api/search", post(server_fns::handle))
        .layer(axum::middleware::from_fn_with_state(state.clone(), http_trace::trace_request));
    // The relay is deliberately outside the tracing layer: no span per export, no feedback loop.
    let relay = Router::new().route("/v1/traces", post(relay::forward));
    Router::new()
        .merge(api)
        .merge(relay)
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors::timing_allow_origin))
        .layer(cors::layer(&state.frontend_origins))
        .with_state(state)
}
