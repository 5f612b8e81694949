//! The built frontend served by the backend (`CRUDDUR_DIST`): the page from inside a SERVER
//! span that `Server-Timing` names, assets untraced, and the API's paths never answered with
//! the page (issue #15 item 4).

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use cruddur_backend::config::{OtlpTarget, Protocol};
use cruddur_backend::db::Db;
use cruddur_backend::relay::Relay;
use cruddur_backend::{AppState, app, frontend, telemetry};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use tower::ServiceExt;

const INDEX: &str = "<!DOCTYPE html><html><head><title>Cruddur</title></head><body></body></html>";

/// A `dist/` with an index and a stylesheet, removed on drop.
struct Dist(PathBuf);

impl Dist {
    fn new(name: &str, with_index: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("cruddur-dist-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dist");
        if with_index {
            std::fs::write(dir.join("index.html"), INDEX).expect("index");
        }
        std::fs::write(dir.join("style-1.css"), "body{}").expect("css");
        Self(dir)
    }
}

impl Drop for Dist {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn router(dist: &Dist) -> (axum::Router, InMemorySpanExporter) {
    let config = cruddur_backend::config::Config::from_lookup(|_| None).expect("defaults").telemetry;
    let spans = InMemorySpanExporter::default();
    let provider = telemetry::builder(&config).with_simple_exporter(spans.clone()).build();
    let tracer = telemetry::tracer(&provider);
    let db = Db::open(std::path::Path::new(":memory:"), tracer.clone()).expect("db");
    let state = AppState {
        db,
        tracer,
        propagator: telemetry::propagator(),
        relay: Relay::new(OtlpTarget {
            traces_url: "http://127.0.0.1:9/v1/traces".into(),
            headers: vec![],
            protocol: Protocol::HttpProtobuf,
        })
        .expect("relay"),
        frontend_origins: Arc::from(vec![]),
    };
    (app(state.clone()).merge(frontend::router(state, &dist.0)), spans)
}

async fn send(
    router: &axum::Router,
    method: Method,
    path: &str,
) -> (StatusCode, Vec<String>, String, String) {
    let request = Request::builder().method(method).uri(path).body(Body::empty()).expect("request");
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let timing: Vec<String> = response
        .headers()
        .get_all("server-timing")
        .iter()
        .map(|v| v.to_str().expect("text").to_owned())
        .collect();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("text").to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, timing, kind, String::from_utf8_lossy(&body).into_owned())
}

/// The `desc` of the `traceparent` metric, if any.
fn traceparent(timing: &[String]) -> Option<String> {
    timing.iter().flat_map(|v| v.split(',')).find_map(|metric| {
        let desc = metric.trim().strip_prefix("traceparent;desc=\"")?;
        Some(desc.strip_suffix('"')?.to_owned())
    })
}

#[tokio::test]
async fn the_page_names_the_server_span_that_served_it_in_server_timing() {
    let dist = Dist::new("page", true);
    let (router, spans) = router(&dist);
    for (path, span_name) in [("/", "GET /"), ("/index.html", "GET /index.html"), ("/@andrewbrown", "GET")] {
        spans.reset();
        let (status, timing, kind, body) = send(&router, Method::GET, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        assert_eq!(body, INDEX, "{path}");
        let traceparent =
            traceparent(&timing).unwrap_or_else(|| panic!("{path}: no traceparent in {timing:?}"));
        let finished = spans.get_finished_spans().expect("spans");
        let [server] = finished.as_slice() else { panic!("{path}: one span, got {finished:?}") };
        assert_eq!(server.span_kind, SpanKind::Server);
        assert_eq!(server.name, span_name);
        assert_eq!(
            traceparent,
            format!("00-{}-{}-01", server.span_context.trace_id(), server.span_context.span_id()),
            "{path}: Server-Timing names another span"
        );
        // The latency split's metrics are still there.
        assert!(timing.iter().any(|t| t.contains("app;dur=")), "{timing:?}");
    }
}

#[tokio::test]
async fn assets_are_served_untraced_and_api_paths_never_get_the_page() {
    let dist = Dist::new("assets", true);
    let (router, spans) = router(&dist);
    let (status, timing, kind, body) = send(&router, Method::GET, "/style-1.css").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "body{}"));
    assert!(kind.starts_with("text/css"), "{kind}");
    assert_eq!(traceparent(&timing), None);
    assert!(spans.get_finished_spans().expect("spans").is_empty(), "an asset was traced");

    for path in ["/api/nope", "/v1/logs", "/api/"] {
        let (status, _, kind, _) = send(&router, Method::GET, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!kind.starts_with("text/html"), "{path} got the page");
    }
    let (status, _, _, _) = send(&router, Method::POST, "/notifications").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // Paths that climb out of dist are not files in it: the page, never the file.
    let (status, _, kind, body) = send(&router, Method::GET, "/../Cargo.toml").await;
    assert!(status == StatusCode::OK && kind.starts_with("text/html") && body == INDEX, "{status} {kind}");
    // The API is still the API.
    let (status, _, kind, _) = send(&router, Method::GET, "/api/health").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!kind.starts_with("text/html"));
}

#[tokio::test]
async fn before_the_frontend_is_built_the_page_says_so() {
    let dist = Dist::new("unbuilt", false);
    let (router, _spans) = router(&dist);
    let (status, _, _, body) = send(&router, Method::GET, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("not built"), "{body}");
}
