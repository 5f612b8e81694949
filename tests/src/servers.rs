//! Loopback servers for the tests: free ports, and the trunk-built frontend served with the page
//! configuration a test needs (and, for the same-origin setup, a proxy to the backend like
//! `trunk serve`'s). With [`FrontendOptions::page_from`], the page itself comes from the backend
//! (which serves `dist/` with `CRUDDUR_DIST`, inside a SERVER span): its `Server-Timing` reaches
//! the browser and only the configuration is rewritten, so the page load joins the backend's
//! trace.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use tower_http::services::ServeDir;

/// A port the OS says is free on 127.0.0.1 right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Serves `dist` on a free loopback port (unknown paths fall back to `index.html`, as a
/// client-side router expects) until the test's runtime ends. Returns the base URL.
pub async fn serve_dist(dist: &Path) -> anyhow::Result<String> {
    let port = free_port()?;
    serve_frontend(dist, port, FrontendOptions::default()).await
}

/// What the page is told, through its `index.html`.
#[derive(Debug, Clone, Default)]
pub struct FrontendOptions {
    /// `<meta name="cruddur:api-base">`: empty for same-origin.
    pub api_base: String,
    /// The otel-web `tracesEndpoint`.
    pub traces_endpoint: String,
    /// The otel-web `propagateTraceHeaderCorsUrls`.
    pub propagate_to: Vec<String>,
    /// Proxy `/api` and `/v1/traces` to this backend (same-origin setup).
    pub proxy_to: Option<String>,
    /// The browser batch processor's delay.
    pub batch_delay_ms: u64,
    /// `<meta name="cruddur:status-url">`.
    pub status_url: Option<String>,
    /// The otel-web `instrumentGlobalFetch`: `window.fetch` itself is traced.
    pub instrument_global_fetch: bool,
    /// Get the page (`/` and client routes) from this backend, which serves `dist/` itself
    /// (`CRUDDUR_DIST`), keeping its `Server-Timing`; the configuration is still this one.
    pub page_from: Option<String>,
    /// The otel-web `encoding` (`json`, `protobuf`); the SDK's default (JSON) when `None`.
    pub encoding: Option<String>,
    /// The otel-web `compression` (`none`, `gzip`); the SDK's default (none) when `None`.
    pub compression: Option<String>,
    /// The otel-web `offlineStorageBytes`, the outbox's bound (0 turns it off); the SDK's
    /// default when `None`.
    pub offline_storage_bytes: Option<u32>,
}

/// `index.html` with the options applied.
pub fn configure_page(index: &str, options: &FrontendOptions) -> anyhow::Result<String> {
    let mut config = serde_json::json!({
        "serviceName": "frontend",
        "tracesEndpoint": if options.traces_endpoint.is_empty() { "/v1/traces" } else { &options.traces_endpoint },
        "propagateTraceHeaderCorsUrls": options.propagate_to,
        "batch": { "scheduledDelayMs": options.batch_delay_ms.max(1) },
        "instrumentGlobalFetch": options.instrument_global_fetch,
    });
    if let Some(encoding) = &options.encoding {
        config["encoding"] = encoding.as_str().into();
    }
    if let Some(compression) = &options.compression {
        config["compression"] = compression.as_str().into();
    }
    if let Some(bytes) = options.offline_storage_bytes {
        config["offlineStorageBytes"] = bytes.into();
    }
    let open = "id=\"otel-web-config\">";
    let start = index.find(open).context("index.html has no otel-web-config block")? + open.len();
    let end = start + index[start..].find("</script>").context("unterminated otel-web-config")?;
    let mut page = format!("{}{config}{}", &index[..start], &index[end..]);
    let meta = "name=\"cruddur:api-base\"";
    let at = page.find(meta).context("index.html has no cruddur:api-base meta")?;
    let tag_start = page[..at].rfind('<').context("malformed meta")?;
    let tag_end = at + page[at..].find('>').context("malformed meta")? + 1;
    let mut tags = format!("<meta name=\"cruddur:api-base\" content=\"{}\">", options.api_base);
    if let Some(status) = &options.status_url {
        tags.push_str(&format!("<meta name=\"cruddur:status-url\" content=\"{status}\">"));
    }
    page.replace_range(tag_start..tag_end, &tags);
    Ok(page)
}

#[derive(Clone)]
struct Frontend {
    page: String,
    options: FrontendOptions,
    client: reqwest::Client,
}

async fn index(State(frontend): State<Frontend>, uri: Uri) -> Response {
    match &frontend.options.page_from {
        Some(backend) => page_from(&frontend, backend, &uri).await,
        None => Html(frontend.page.clone()).into_response(),
    }
}

/// The page as the backend serves it (status and `Server-Timing` kept), configured for the test.
async fn page_from(frontend: &Frontend, backend: &str, uri: &Uri) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let Ok(answer) = frontend.client.get(format!("{backend}{path}")).send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let timing: Vec<_> = answer.headers().get_all("server-timing").iter().cloned().collect();
    let Ok(raw) = answer.text().await else { return StatusCode::BAD_GATEWAY.into_response() };
    let Ok(page) = configure_page(&raw, &frontend.options) else {
        return (StatusCode::BAD_GATEWAY, format!("the backend's page ({status}) is not Cruddur's: {raw}"))
            .into_response();
    };
    let mut response = Html(page).into_response();
    *response.status_mut() = status;
    for value in timing {
        response.headers_mut().append("server-timing", value);
    }
    response
}

/// Forwards a request to the backend, headers (trace context, baggage) and body included.
async fn proxy(State(frontend): State<Frontend>, request: Request) -> Response {
    let Some(backend) = &frontend.options.proxy_to else { return StatusCode::NOT_FOUND.into_response() };
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut upstream = frontend.client.request(parts.method.clone(), format!("{backend}{path}")).body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    match upstream.send().await {
        Ok(answer) => {
            let status = answer.status();
            let headers = answer.headers().clone();
            let bytes: Bytes = answer.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            for (name, value) in &headers {
                if name != "transfer-encoding" && name != "content-length" {
                    response.headers_mut().append(HeaderName::from(name), value.clone());
                }
            }
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// Serves `dist` on `port` with `options`; returns the base URL.
pub async fn serve_frontend(dist: &Path, port: u16, options: FrontendOptions) -> anyhow::Result<String> {
    let index_path = dist.join("index.html");
    let raw = std::fs::read_to_string(&index_path).with_context(|| {
        format!(
            "{} is missing: build the frontend with `trunk build` (cargo xtask test does)",
            index_path.display()
        )
    })?;
    let frontend =
        Frontend { page: configure_page(&raw, &options)?, options, client: reqwest::Client::new() };
    let router = Router::new()
        .route("/api/{*rest}", any(proxy))
        .route("/v1/traces", any(proxy))
        .route("/", get(index))
        .fallback_service(ServeDir::new(dist).fallback(get(index).with_state(frontend.clone())))
        .with_state(frontend);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{addr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_configuration_is_rewritten() {
        let index = r#"<head><meta name="cruddur:api-base" content="" /><script type="application/json" id="otel-web-config">{"old": 1}</script></head>"#;
        let options = FrontendOptions {
            api_base: "http://127.0.0.1:9".into(),
            status_url: Some("http://127.0.0.1:8/status".into()),
            encoding: Some("protobuf".into()),
            compression: Some("gzip".into()),
            offline_storage_bytes: Some(4096),
            ..Default::default()
        };
        let page = configure_page(index, &options).expect("rewritten");
        assert!(page.contains(r#"<meta name="cruddur:api-base" content="http://127.0.0.1:9">"#));
        assert!(page.contains(r#"<meta name="cruddur:status-url" content="http://127.0.0.1:8/status">"#));
        assert!(page.contains(r#""scheduledDelayMs":1"#));
        assert!(!page.contains("old"));
        assert!(page.contains(r#""encoding":"protobuf""#));
        assert!(page.contains(r#""compression":"gzip""#));
        assert!(page.contains(r#""offlineStorageBytes":4096"#));
        let plain = configure_page(index, &FrontendOptions::default()).expect("rewritten");
        assert!(!plain.contains("encoding") && !plain.contains("compression") && !plain.contains("offline"));
    }
}
