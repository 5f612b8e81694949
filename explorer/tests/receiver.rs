//! The explorer over real HTTP on loopback: OTLP conformance (JSON, protobuf, gzip, unknown
//! fields, every bad input), nothing half-stored, CORS, forwarding with the key added, the API,
//! the views, and persistence across a killed process.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use prost::Message;
use serde_json::{Value, json};
use trace_explorer::config::Upstream;
use trace_explorer::forward::Forwarder;
use trace_explorer::store::{Retention, Store};
use trace_explorer::{AppState, app};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn otlp_json(trace: &str, spans: &[(&str, Option<&str>, &str, i64)]) -> Value {
    let spans: Vec<Value> = spans
        .iter()
        .map(|(id, parent, name, dur_ms)| {
            json!({"traceId": trace, "spanId": id, "parentSpanId": parent.unwrap_or(""), "name": name, "kind": 2,
                   "startTimeUnixNano": (now_ns() - 1_000_000_000).to_string(),
                   "endTimeUnixNano": now_ns() - 1_000_000_000 + dur_ms * 1_000_000,
                   "attributes": [{"key": "user.id", "value": {"stringValue": "andrew"}}],
                   "someFutureField": {"ignored": true}})
        })
        .collect();
    json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "backend"}}]},
           "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}]}]})
}

fn now_ns() -> i64 {
    trace_explorer::store::now_ns()
}

async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(state, &["http://127.0.0.1:3000".to_owned()]);
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// Posts `body` to the explorer's OTLP endpoint at `base`.
async fn post_traces(
    base: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request =
        reqwest::Client::new().post(format!("{base}/v1/traces")).header("content-type", content_type);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    request.body(body).send().await.expect("post")
}

async fn explorer() -> (String, Arc<Store>) {
    let store = Arc::new(Store::in_memory(Retention::default()).expect("store"));
    (serve(AppState { store: Arc::clone(&store), forwarder: None }).await, store)
}

#[tokio::test]
async fn json_protobuf_and_gzip_are_accepted_and_answered_in_kind() {
    let (base, store) = explorer().await;
    let client = reqwest::Client::new();
    let body = otlp_json(TRACE, &[("00f067aa0ba902b7", None, "GET /api/activities/home", 12)]).to_string();
    let response = post_traces(&base, "application/json", None, body.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().await.expect("body"), "{}");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(
        otlp_json(TRACE, &[("00f067aa0ba902b8", Some("00f067aa0ba902b7"), "SELECT activities", 3)])
            .to_string()
            .as_bytes(),
    )
    .expect("gzip");
    let response = post_traces(&base, "application/json", Some("gzip"), gz.finish().expect("gzip")).await;
    assert_eq!(response.status(), 200);

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    let proto = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![0x11; 16],
                    span_id: vec![0x22; 8],
                    name: "protobuf span".into(),
                    start_time_unix_nano: (now_ns() - 1_000_000) as u64,
                    end_time_unix_nano: now_ns() as u64,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let response = post_traces(&base, "application/x-protobuf", None, proto.encode_to_vec()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    assert_eq!(store.span_count(), 3);

    let trace: Value = client
        .get(format!("{base}/api/traces/{TRACE}"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["service"], "backend");
    assert_eq!(spans[0]["attributes"]["user.id"], "andrew");
    assert_eq!(spans[1]["parent_id"], "00f067aa0ba902b7");
}

#[tokio::test]
async fn bad_input_is_refused_with_a_reason_and_nothing_is_half_stored() {
    let (base, store) = explorer().await;
    // The second span's id is bad: the first must not be stored either.
    let mut half = otlp_json(TRACE, &[("00f067aa0ba902b7", None, "ok", 1), ("nothex", None, "bad", 1)]);
    let response = post_traces(&base, "application/json", None, half.to_string()).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.expect("json");
    assert!(error["message"].as_str().unwrap_or("").contains("spans[1].spanId"), "{error}");
    assert_eq!(store.span_count(), 0);
    half["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = json!("00f067aa0ba902b9");

    for (content_type, encoding, body, status) in [
        ("text/plain", None, b"{}".to_vec(), 415),
        ("application/json", Some("br"), b"{}".to_vec(), 415),
        ("application/json", Some("gzip"), b"not gzip".to_vec(), 400),
        ("application/x-protobuf", None, vec![0xff, 0xff, 0xff], 400),
        ("application/json", None, b"{\"resourceSpans\":".to_vec(), 400),
        ("application/json", None, vec![b' '; trace_explorer::ingest::MAX_BODY_BYTES + 1], 413),
    ] {
        let response = post_traces(&base, content_type, encoding, body).await;
        assert_eq!(response.status(), status, "{content_type} {encoding:?}");
    }
    assert_eq!(store.span_count(), 0);
    let response = post_traces(&base, "application/json", None, half.to_string()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(store.span_count(), 2);
}

#[tokio::test]
async fn configured_browser_origins_may_export_directly() {
    let (base, _) = explorer().await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{base}/v1/traces"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("http://127.0.0.1:3000").await.expect("preflight");
    assert_eq!(
        allowed.headers().get("access-control-allow-origin").map(|v| v.as_bytes()),
        Some(&b"http://127.0.0.1:3000"[..])
    );
    let refused = preflight("https://elsewhere.example").await.expect("preflight");
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn accepted_batches_are_forwarded_with_the_key_and_a_dead_upstream_loses_nothing_locally() {
    let seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let record = Arc::clone(&seen);
    let upstream = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let record = Arc::clone(&record);
        async move {
            record.lock().expect("lock").push((headers, body));
            "{}"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, upstream).await });

    let store = Arc::new(Store::in_memory(Retention::default()).expect("store"));
    let forwarder = Forwarder::spawn(Upstream {
        traces_url: format!("http://{addr}/v1/traces"),
        headers: vec![("x-honeycomb-team".into(), "hc-key".into())],
    })
    .expect("forwarder");
    let base = serve(AppState { store: Arc::clone(&store), forwarder: Some(forwarder) }).await;
    let body = otlp_json(TRACE, &[("00f067aa0ba902b7", None, "forwarded", 5)]).to_string();
    let response = post_traces(&base, "application/json", None, body.clone()).await;
    assert_eq!(response.status(), 200);
    for _ in 0..100 {
        if !seen.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.get("x-honeycomb-team").map(|v| v.as_bytes()), Some(&b"hc-key"[..]));
    assert_eq!(seen[0].1.as_ref(), body.as_bytes());

    // An upstream that is down: the batch is still stored and acknowledged.
    let dead =
        Forwarder::spawn(Upstream { traces_url: "http://127.0.0.1:9/v1/traces".into(), headers: vec![] })
            .expect("forwarder");
    let store = Arc::new(Store::in_memory(Retention::default()).expect("store"));
    let base = serve(AppState { store: Arc::clone(&store), forwarder: Some(dead) }).await;
    let response = post_traces(&base, "application/json", None, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(store.span_count(), 1);
}

#[tokio::test]
async fn the_api_and_the_views_show_the_trace() {
    let (base, _) = explorer().await;
    let client = reqwest::Client::new();
    let now = now_ns();
    let trace = json!({"resourceSpans": [
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]},
         "scopeSpans": [{"scope": {"name": "otel-web.fetch"}, "spans": [{"traceId": TRACE, "spanId": "aaaaaaaaaaaaaaaa", "name": "GET /api/activities/home", "kind": 3,
            "startTimeUnixNano": (now - 100_000_000).to_string(), "endTimeUnixNano": (now - 60_000_000).to_string(),
            "attributes": [{"key": "otelweb.network.duration_ms", "value": {"doubleValue": 30.0}}]}]}]},
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "backend"}}]},
         "scopeSpans": [{"scope": {"name": "cruddur-backend"}, "spans": [{"traceId": TRACE, "spanId": "bbbbbbbbbbbbbbbb", "parentSpanId": "aaaaaaaaaaaaaaaa",
            "name": "GET /api/activities/home", "kind": 2,
            "startTimeUnixNano": (now - 90_000_000).to_string(), "endTimeUnixNano": (now - 80_000_000).to_string()}]}]}]});
    post_traces(&base, "application/json", None, trace.to_string()).await;

    let recent: Value =
        client.get(format!("{base}/api/traces")).send().await.expect("get").json().await.expect("json");
    assert_eq!(recent[0]["trace_id"], TRACE);
    assert_eq!(recent[0]["services"], json!(["backend", "frontend"]));
    assert_eq!(recent[0]["span_count"], 2);
    let missing = client.get(format!("{base}/api/traces/{}", "0".repeat(32))).send().await.expect("get");
    assert_eq!(missing.status(), 404);

    let home = client.get(&base).send().await.expect("get").text().await.expect("html");
    assert!(home.contains(TRACE));
    let waterfall =
        client.get(format!("{base}/traces/{TRACE}")).send().await.expect("get").text().await.expect("html");
    assert!(waterfall.contains("<svg"), "the waterfall is drawn");
    assert!(waterfall.contains("network 30.0 ms"), "the network gap is labelled");

    let result: Value = client
        .post(format!("{base}/api/query"))
        .json(&json!({"calculations": [{"op": "COUNT"}, {"op": "MAX", "column": "duration_ms"}], "breakdowns": ["service.name"],
                      "orders": [{"column": "service.name", "order": "ascending"}]}))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert_eq!(result["results"][0]["group"]["service.name"], "backend");
    assert_eq!(result["results"][0]["values"]["COUNT"], 1.0);
    assert_eq!(result["results"][1]["values"]["MAX(duration_ms)"], 40.0);
    let bad = client
        .post(format!("{base}/api/query"))
        .json(&json!({"calculations": [{"op": "P42", "column": "x"}]}))
        .send()
        .await
        .expect("query");
    assert_eq!(bad.status(), 400);
    let error: Value = bad.json().await.expect("json");
    assert_eq!(error["field"], "calculations[0].op");

    let spec = json!({"calculations": [{"op": "HEATMAP", "column": "duration_ms"}, {"op": "P95", "column": "duration_ms"}], "breakdowns": ["service.name"]});
    let page = client
        .get(format!("{base}/query"))
        .query(&[("q", spec.to_string())])
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("P95(duration_ms)") && page.contains("HEATMAP(duration_ms)"),
        "results, chart and heatmap render"
    );
    let saved: Value =
        client.get(format!("{base}/api/queries")).send().await.expect("get").json().await.expect("json");
    assert!(saved.as_array().is_some());
}

#[tokio::test]
async fn acknowledged_spans_survive_a_killed_explorer() {
    let dir = std::env::temp_dir().join(format!("explorer-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let start = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_trace-explorer"))
            .env("EXPLORER_ADDR", format!("127.0.0.1:{port}"))
            .env("EXPLORER_DATA_DIR", &dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    };
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let wait_up = || async {
        for _ in 0..100 {
            if client.get(format!("{base}/api/traces")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the explorer did not start");
    };
    let mut first = start();
    wait_up().await;
    let body = otlp_json(TRACE, &[("00f067aa0ba902b7", None, "survivor", 7)]).to_string();
    let response = post_traces(&base, "application/json", None, body).await;
    assert_eq!(response.status(), 200);
    first.kill().expect("kill -9");
    first.wait().expect("reap");

    let mut second = start();
    wait_up().await;
    let trace: Value = client
        .get(format!("{base}/api/traces/{TRACE}"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    second.kill().expect("kill");
    let _ = second.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(trace["spans"][0]["name"], "survivor");
}
