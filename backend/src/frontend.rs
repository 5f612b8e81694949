//! Cruddur's built frontend, served by the backend itself when `CRUDDUR_DIST` names the
//! directory (`trunk build`'s `dist/`), so the page's HTML comes out of a SERVER span and
//! names it: `Server-Timing: traceparent;desc="00-<trace>-<span>-<flags>"`. otel-web's
//! `documentLoad` reads that from the navigation entry and continues the trace, so the page
//! load and the backend work that produced it are one trace.
//!
//! ```text
//!  GET /, /index.html, client routes (/notifications, /@andrewbrown…)
//!      ─▶ SERVER span ─▶ index.html + Server-Timing: traceparent;desc="…"   (read per request)
//!  GET /style-….css, /cruddur-frontend-…_bg.wasm  ─▶ the file, untraced
//!  GET /api/…, /v1/… that no route matched       ─▶ 404, never the page
//! ```
//!
//! Assets are not traced: the browser sends no trace context with them, so each would be a
//! trace of its own; `documentLoad` already has a `resourceFetch` span for each. The index is
//! read on every request (never cached by the browser), so a rebuild is served at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opentelemetry::Context;
use tower_http::services::ServeDir;

use crate::http_trace;
use crate::state::AppState;
use crate::telemetry::Propagator;

/// Path prefixes that belong to the API and the relay: never answered with the page.
const NOT_THE_PAGE: &[&str] = &["/api/", "/v1/"];

#[derive(Clone)]
struct Documents {
    index: Arc<PathBuf>,
    propagator: Propagator,
}

/// The routes that serve `dist`: the page (traced) for `/`, `/index.html` and any client-side
/// route, the files in `dist` as they are.
pub fn router(state: AppState, dist: &Path) -> Router {
    let documents =
        Documents { index: Arc::new(dist.join("index.html")), propagator: state.propagator.clone() };
    let trace = axum::middleware::from_fn_with_state(state, http_trace::trace_request);
    let client_routes =
        Router::new().fallback(client_route).layer(trace.clone()).with_state(documents.clone());
    Router::new()
        .route("/", get(document))
        .route("/index.html", get(document))
        .layer(trace)
        .with_state(documents)
        .fallback_service(ServeDir::new(dist).append_index_html_on_directories(false).fallback(client_routes))
}

/// The `Server-Timing` value naming the span in `cx`: `traceparent;desc="00-…"`, as otel-web's
/// `documentLoad` reads it; `None` when there is no valid span (tracing off).
pub fn server_timing_traceparent(propagator: &Propagator, cx: &Context) -> Option<HeaderValue> {
    let mut headers = std::collections::HashMap::new();
    propagator.inject_context(cx, &mut headers);
    let traceparent = headers.get("traceparent")?;
    HeaderValue::from_str(&format!("traceparent;desc=\"{traceparent}\"")).ok()
}

/// A path no file matched: the page for a client-side route, a 404 for the API's paths.
async fn client_route(State(documents): State<Documents>, request: Request) -> Response {
    let path = request.uri().path();
    if NOT_THE_PAGE.iter().any(|prefix| path.starts_with(prefix)) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    document(State(documents)).await
}

/// `index.html`, naming the current SERVER span in `Server-Timing`.
async fn document(State(documents): State<Documents>) -> Response {
    let html = match tokio::fs::read(documents.index.as_path()).await {
        Ok(html) => html,
        Err(e) => {
            eprintln!("error: reading {}: {e}", documents.index.display());
            return (StatusCode::SERVICE_UNAVAILABLE, "The frontend is not built yet.").into_response();
        }
    };
    let mut response =
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], html)
            .into_response();
    if let Some(value) = server_timing_traceparent(&documents.propagator, &Context::current()) {
        response.headers_mut().append("server-timing", value);
    }
    response
}
