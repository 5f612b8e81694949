//! CORS for the cross-origin setup (page on :3000, API on :4567): the configured origins may send
//! the trace headers and read `Server-Timing`; they also get `Timing-Allow-Origin`, so the
//! browser exposes the request's network phases. Unknown origins get no grant at all.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::state::AppState;

/// The request headers a traced browser sends (`content-encoding` with otel-web's gzipped
/// exports to the relay).
pub const ALLOWED_HEADERS: &[&str] =
    &["traceparent", "tracestate", "baggage", "content-type", "content-encoding", "x-amzn-trace-id"];

/// The CORS layer for `origins`.
pub fn layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(ALLOWED_HEADERS.iter().map(|h| HeaderName::from_static(h)).collect::<Vec<_>>())
        .expose_headers([HeaderName::from_static("server-timing")])
        .max_age(std::time::Duration::from_secs(600))
}

/// Middleware: `Timing-Allow-Origin` for allowed origins.
pub async fn timing_allow_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let mut response = next.run(request).await;
    if let Some(origin) = origin
        && state.frontend_origins.iter().any(|o| origin.as_bytes() == o.as_bytes())
    {
        response.headers_mut().insert("timing-allow-origin", origin);
    }
    response
}
