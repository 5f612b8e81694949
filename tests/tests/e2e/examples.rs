//! The examples under `examples/` (built by `cargo xtask test` into `E2E_EXAMPLES_DIR`) load in
//! Chromium and send one trace: their span, the traced fetch inside it as its child, and the
//! `traceparent` the server received pointing at that fetch.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use e2e::browser::Browser;
use serde_json::Value;
use tower_http::services::{ServeDir, ServeFile};

use crate::ARRIVAL;

/// What the example's server saw.
#[derive(Debug, Default)]
struct Seen {
    /// OTLP/JSON bodies posted to `/v1/traces`.
    exports: Vec<Value>,
    /// The `traceparent` of each `/api/hello` request (`None` if it had none).
    hello_traceparents: Vec<Option<String>>,
}

type Shared = Arc<Mutex<Seen>>;

/// Serves the built example `name` (unknown paths get its `index.html`, as a client-side router
/// needs), an `/api/hello` that greets, and a `/v1/traces` that records; returns the base URL.
async fn serve_example(name: &str) -> anyhow::Result<(String, Shared)> {
    let examples = std::env::var_os("E2E_EXAMPLES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| e2e::project_root().join("target/examples"));
    let site = examples.join(name);
    if !site.join("index.html").exists() {
        bail!("{} is not built: run `cargo xtask test` (it builds the examples)", site.display());
    }
    let seen = Shared::default();
    let app = Router::new()
        .route("/api/hello", get(hello))
        .route("/v1/traces", post(traces))
        .fallback_service(ServeDir::new(&site).fallback(ServeFile::new(site.join("index.html"))))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((base, seen))
}

async fn hello(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> String {
    let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok()).map(str::to_owned);
    seen.lock().expect("lock").hello_traceparents.push(traceparent);
    format!("Hello, {}!", query.get("name").map_or("world", String::as_str))
}

async fn traces(State(seen): State<Shared>, body: Bytes) -> &'static str {
    if let Ok(json) = serde_json::from_slice(&body) {
        seen.lock().expect("lock").exports.push(json);
    }
    "{}"
}

/// Every span exported so far.
fn spans(seen: &Shared) -> Vec<Value> {
    let seen = seen.lock().expect("lock");
    let mut spans = Vec::new();
    for export in &seen.exports {
        for resource in export["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                spans.extend(scope["spans"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    spans
}

/// Waits until the spans `parent` and `fetch` (the fetch's name) have arrived; returns them.
async fn wait_for_pair(seen: &Shared, parent: &str, fetch: &str) -> anyhow::Result<(Value, Value)> {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        let spans = spans(seen);
        let find = |name: &str| spans.iter().find(|s| s["name"] == name).cloned();
        if let (Some(p), Some(f)) = (find(parent), find(fetch)) {
            return Ok((p, f));
        }
        if Instant::now() > deadline {
            bail!("no `{parent}` and `{fetch}` spans within {ARRIVAL:?}; got {spans:#?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The fetch is the parent's child, in its trace, and the server got the fetch as its parent.
fn assert_one_trace(seen: &Shared, parent: &Value, fetch: &Value) {
    assert_eq!(fetch["traceId"], parent["traceId"], "one trace: {parent:#} {fetch:#}");
    assert_eq!(fetch["parentSpanId"], parent["spanId"], "the fetch is the span's child");
    let traceparents = &seen.lock().expect("lock").hello_traceparents;
    let expected_prefix = format!(
        "00-{}-{}-",
        fetch["traceId"].as_str().unwrap_or_default(),
        fetch["spanId"].as_str().unwrap_or_default()
    );
    assert!(
        traceparents.iter().flatten().any(|t| t.starts_with(&expected_prefix)),
        "the server received no traceparent {expected_prefix}…: {traceparents:?}"
    );
}

#[tokio::test]
async fn the_plain_wasm_bindgen_example_sends_a_span_with_its_traced_fetch() -> anyhow::Result<()> {
    let (base, seen) = serve_example("plain").await?;
    let browser = Browser::start().await?;
    browser.client.goto(&base).await?;
    browser.wait_for_text("#status", "sent").await.context("the example flushed")?;
    let (greet, fetch) = wait_for_pair(&seen, "greet", "GET").await?;
    assert_one_trace(&seen, &greet, &fetch);
    let length = greet["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["key"] == "app.greeting_length")
        .map(|a| a["value"]["intValue"].to_string());
    // OTLP/JSON writes 64-bit integers as strings.
    assert_eq!(length.as_deref(), Some("\"13\""), "the length of \"Hello, world!\": {greet:#}");
    browser.close().await
}

#[tokio::test]
async fn the_leptos_example_traces_an_instrumented_fn_on_a_route_through_to_the_server() -> anyhow::Result<()>
{
    let (base, seen) = serve_example("leptos").await?;
    let browser = Browser::start().await?;
    // A client route, served `index.html` and matched by the router.
    browser.client.goto(&format!("{base}/hello/andrew")).await?;
    browser.wait_for_text("#greeting", "Hello, andrew!").await?;
    let (greet, fetch) = wait_for_pair(&seen, "greet", "GET /api/hello").await?;
    assert_one_trace(&seen, &greet, &fetch);
    let name = greet["attributes"].as_array().into_iter().flatten().find(|a| a["key"] == "name").cloned();
    assert_eq!(name.map(|a| a["value"]["stringValue"].clone()), Some(Value::from("andrew")));
    assert_eq!(greet["events"][0]["name"], "asking the server", "the tracing event: {greet:#}");
    browser.close().await
}
