//! The Cruddur API against the real server on loopback: trace continuation, baggage, nested
//! spans, hostile headers, CORS, Server-Timing, validation, the relay, and the binary's
//! configuration and graceful-shutdown flush.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use cruddur_backend::config::{OtlpTarget, Protocol};
use cruddur_backend::db::Db;
use cruddur_backend::relay::Relay;
use cruddur_backend::{AppState, app, telemetry};
use opentelemetry::Value;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use prost::Message;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const FRONTEND: &str = "http://127.0.0.1:3000";

/// One request as an upstream received it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// A loopback HTTP server that records what it receives and answers `status`.
async fn upstream(status: u16) -> (String, Arc<Mutex<Vec<Received>>>) {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let record = Arc::clone(&seen);
    let router = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let record = Arc::clone(&record);
        async move {
            record.lock().expect("lock").push(Received { headers, body });
            (axum::http::StatusCode::from_u16(status).expect("status"), "{}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/v1/traces"), seen)
}

struct TestApp {
    base: String,
    spans: InMemorySpanExporter,
    client: reqwest::Client,
}

impl TestApp {
    async fn start() -> Self {
        Self::with_relay_target(OtlpTarget {
            traces_url: "http://127.0.0.1:9/v1/traces".into(),
            headers: vec![],
            protocol: Protocol::HttpProtobuf,
        })
        .await
    }

    async fn with_relay_target(target: OtlpTarget) -> Self {
        let config = cruddur_backend::config::Config::from_lookup(|_| None).expect("defaults").telemetry;
        let spans = InMemorySpanExporter::default();
        let provider = telemetry::builder(&config).with_simple_exporter(spans.clone()).build();
        let tracer = telemetry::tracer(&provider);
        let db = Db::open(std::path::Path::new(":memory:"), tracer.clone()).expect("db");
        let state = AppState {
            db,
            tracer,
            propagator: telemetry::propagator(),
            relay: Relay::new(target).expect("relay"),
            frontend_origins: Arc::from(vec![FRONTEND.to_owned()]),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>()).await
        });
        // Keep the provider alive as long as the test runs.
        std::mem::forget(provider);
        Self { base: format!("http://{addr}"), spans, client: reqwest::Client::new() }
    }

    fn finished(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().expect("spans")
    }

    fn span(&self, name: &str) -> SpanData {
        self.finished()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name}: {:?}", self.finished()))
    }
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
}

#[tokio::test]
async fn the_server_span_continues_the_browser_trace() {
    let app = TestApp::start().await;
    let response = app
        .client
        .get(format!("{}/api/activities/home", app.base))
        .header("traceparent", TRACEPARENT)
        .header("user-agent", "HeadlessChrome test")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let server = app.span("GET /api/activities/home");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(
        server.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("id")
    );
    assert_eq!(server.parent_span_id, SpanId::from_hex("00f067aa0ba902b7").expect("id"));
    assert!(server.parent_span_is_remote);
    for (key, value) in [
        ("http.request.method", Value::from("GET")),
        ("http.route", Value::from("/api/activities/home")),
        ("url.path", Value::from("/api/activities/home")),
        ("http.response.status_code", Value::I64(200)),
        ("user_agent.original", Value::from("HeadlessChrome test")),
        ("client.address", Value::from("127.0.0.1")),
        ("server.address", Value::from("127.0.0.1")),
    ] {
        assert_eq!(attr(&server, key), Some(&value), "{key}");
    }
    assert!(matches!(attr(&server, "server.port"), Some(Value::I64(p)) if *p > 0));
}

#[tokio::test]
async fn home_activities_and_db_spans_hang_beneath_the_server_span_with_the_user() {
    let app = TestApp::start().await;
    app.client
        .get(format!("{}/api/activities/home", app.base))
        .header("traceparent", TRACEPARENT)
        .header("baggage", "user.id=andrewbrown,other=1")
        .send()
        .await
        .expect("request");
    let server = app.span("GET /api/activities/home");
    let custom = app.span("home-activities");
    assert_eq!(custom.parent_span_id, server.span_context.span_id());
    assert!(matches!(attr(&custom, "app.result_length"), Some(Value::I64(n)) if *n > 0));
    assert!(attr(&custom, "app.now").is_some());
    let db: Vec<SpanData> = app.finished().into_iter().filter(|s| s.name == "SELECT activities").collect();
    assert!(!db.is_empty());
    for span in &db {
        assert_eq!(span.parent_span_id, custom.span_context.span_id());
        assert_eq!(span.span_kind, SpanKind::Client);
        assert_eq!(attr(span, "db.system.name"), Some(&Value::from("sqlite")));
        assert_eq!(attr(span, "db.operation.name"), Some(&Value::from("SELECT")));
        assert!(attr(span, "db.query.text").is_some_and(|q| q.to_string().starts_with("SELECT ")));
    }
    for span in app.finished() {
        assert_eq!(attr(&span, "user.id"), Some(&Value::from("andrewbrown")), "{} lacks user.id", span.name);
    }
}

#[tokio::test]
async fn malformed_or_hostile_trace_headers_start_a_new_root() {
    let huge = "a".repeat(20_000);
    let cases: Vec<(&str, String)> = vec![
        ("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".into()),
        ("traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        ("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01".into()),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01".into()),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7".into()),
        ("traceparent", "garbage".into()),
        ("traceparent", huge.clone()),
        ("tracestate", format!("{huge}=1")),
        ("baggage", format!("user.id={huge}")),
        ("baggage", "=;;;,,%%%".into()),
        ("x-amzn-trace-id", "Root=1-zzzz;Parent=xyz;Sampled=1".into()),
        ("x-amzn-trace-id", format!("Root=1-5759e988-{huge};Parent=53995c3f42cd8ad8")),
    ];
    for (header, value) in cases {
        let app = TestApp::start().await;
        let response = app
            .client
            .get(format!("{}/api/activities/home", app.base))
            .header(header, value.as_str())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{header}: {}", &value[..value.len().min(60)]);
        let server = app.span("GET /api/activities/home");
        if header == "traceparent" || header == "x-amzn-trace-id" {
            assert_eq!(server.parent_span_id, SpanId::INVALID, "{value:.60} was accepted as a parent");
        }
        if let Some(user) = attr(&server, "user.id") {
            assert!(user.to_string().len() <= 128, "user.id was not bounded");
        }
    }
}

#[tokio::test]
async fn server_timing_is_on_every_api_response_and_parseable() {
    let app = TestApp::start().await;
    let before =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("now").as_secs_f64() * 1e3;
    for path in ["/api/activities/home", "/api/users", "/api/activities/nope/reply"] {
        let response = app.client.get(format!("{}{path}", app.base)).send().await.expect("request");
        let timing = response
            .headers()
            .get("server-timing")
            .expect("server-timing")
            .to_str()
            .expect("ascii")
            .to_owned();
        let (app_part, ts_part) = timing.split_once(", ").expect("two metrics");
        let duration: f64 = app_part.strip_prefix("app;dur=").expect("app;dur").parse().expect("number");
        let ts: f64 = ts_part
            .strip_prefix("otelweb-ts;desc=\"")
            .and_then(|s| s.strip_suffix('"'))
            .expect("ts")
            .parse()
            .expect("number");
        assert!((0.0..5_000.0).contains(&duration), "{timing}");
        assert!((ts - before).abs() < 5_000.0, "{timing}");
    }
}

#[tokio::test]
async fn cors_grants_only_configured_origins() {
    let app = TestApp::start().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/api/activities/home", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "traceparent,baggage,content-type")
            .send()
    };
    let allowed = preflight(FRONTEND).await.expect("preflight");
    let headers = allowed.headers();
    assert_eq!(headers.get("access-control-allow-origin").map(|v| v.as_bytes()), Some(FRONTEND.as_bytes()));
    let allow_headers =
        headers.get("access-control-allow-headers").and_then(|v| v.to_str().ok()).unwrap_or_default();
    for needed in
        ["traceparent", "tracestate", "baggage", "content-type", "content-encoding", "x-amzn-trace-id"]
    {
        assert!(allow_headers.contains(needed), "{needed} not allowed: {allow_headers}");
    }
    let unknown = preflight("https://evil.example").await.expect("preflight");
    assert!(unknown.headers().get("access-control-allow-origin").is_none());

    let get = app
        .client
        .get(format!("{}/api/users", app.base))
        .header("origin", FRONTEND)
        .send()
        .await
        .expect("get");
    assert_eq!(get.headers().get("timing-allow-origin").map(|v| v.as_bytes()), Some(FRONTEND.as_bytes()));
    assert!(
        get.headers()
            .get("access-control-expose-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .contains("server-timing")
    );
    let foreign = app
        .client
        .get(format!("{}/api/users", app.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("get");
    assert!(foreign.headers().get("timing-allow-origin").is_none());
}

#[tokio::test]
async fn posting_and_replying_validate_their_input() {
    let app = TestApp::start().await;
    let post =
        |body: serde_json::Value| app.client.post(format!("{}/api/activities", app.base)).json(&body).send();
    let created =
        post(serde_json::json!({"user_handle": "worf", "message": "Today is a good day", "ttl": "7-days"}))
            .await
            .expect("post");
    assert_eq!(created.status(), 201);
    let activity: serde_json::Value = created.json().await.expect("json");
    assert_eq!(activity["handle"], "worf");
    for (body, field) in [
        (serde_json::json!({"user_handle": "worf", "message": "  ", "ttl": "7-days"}), "message"),
        (serde_json::json!({"user_handle": "worf", "message": "x".repeat(281), "ttl": "7-days"}), "message"),
        (serde_json::json!({"user_handle": "worf", "message": "hi", "ttl": "forever"}), "ttl"),
        (serde_json::json!({"user_handle": "nobody", "message": "hi", "ttl": "1-day"}), "user_handle"),
        (serde_json::json!({"message": "hi"}), "body"),
    ] {
        let response = post(body).await.expect("post");
        assert_eq!(response.status(), 400);
        let error: serde_json::Value = response.json().await.expect("json");
        assert_eq!(error["field"], field, "{error}");
    }
    let uuid = activity["uuid"].as_str().expect("uuid");
    let reply = app
        .client
        .post(format!("{}/api/activities/{uuid}/reply", app.base))
        .json(&serde_json::json!({"user_handle": "garek", "message": "Indeed."}))
        .send()
        .await
        .expect("reply");
    assert_eq!(reply.status(), 201);
    let feed: serde_json::Value = app
        .client
        .get(format!("{}/api/activities/@worf", app.base))
        .send()
        .await
        .expect("feed")
        .json()
        .await
        .expect("json");
    let posted = feed.as_array().expect("list").iter().find(|a| a["uuid"] == uuid).expect("the new activity");
    assert_eq!(posted["replies"][0]["message"], "Indeed.");
    assert_eq!(posted["replies_count"], 1);
    let missing = app.client.get(format!("{}/api/activities/@nobody", app.base)).send().await.expect("get");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_relay_forwards_byte_for_byte_with_the_server_side_key() {
    let (url, seen) = upstream(200).await;
    let app = TestApp::with_relay_target(OtlpTarget {
        traces_url: url,
        headers: vec![("x-honeycomb-team".into(), "secret-key".into())],
        protocol: Protocol::HttpProtobuf,
    })
    .await;
    let json = br#"{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[]}]}"#.to_vec();
    let response = app
        .client
        .post(format!("{}/v1/traces", app.base))
        .header("content-type", "application/json")
        .body(json.clone())
        .send()
        .await
        .expect("relay");
    assert_eq!(response.status(), 200);
    let proto = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::default()
        .encode_to_vec();
    let response = app
        .client
        .post(format!("{}/v1/traces", app.base))
        .header("content-type", "application/x-protobuf")
        .body(proto.clone())
        .send()
        .await
        .expect("relay");
    assert_eq!(response.status(), 200);
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body.as_ref(), json.as_slice());
    assert_eq!(seen[0].headers.get("x-honeycomb-team").map(|v| v.as_bytes()), Some(&b"secret-key"[..]));
    assert_eq!(seen[0].headers.get("content-type").map(|v| v.as_bytes()), Some(&b"application/json"[..]));
    assert_eq!(seen[1].body.as_ref(), proto.as_slice());
    // The relay's work is not traced.
    assert!(app.finished().is_empty(), "{:?}", app.finished());
}

/// Issue #17: otel-web's gzip bodies pass through still compressed, with their encoding; a
/// broken or bomb-sized one is refused before it goes upstream.
#[tokio::test]
async fn the_relay_forwards_gzip_bodies_unchanged_and_checks_what_they_inflate_to() {
    use std::io::Write;
    let gzip = |data: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("gzip");
        encoder.finish().expect("gzip")
    };
    let (url, seen) = upstream(200).await;
    let app = TestApp::with_relay_target(OtlpTarget {
        traces_url: url,
        headers: vec![],
        protocol: Protocol::HttpProtobuf,
    })
    .await;
    let send = |content_type: &'static str, encoding: &'static str, body: Vec<u8>| {
        app.client
            .post(format!("{}/v1/traces", app.base))
            .header("content-type", content_type)
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    let proto = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
        resource_spans: vec![Default::default()],
    }
    .encode_to_vec();
    let body = gzip(&proto);
    let response = send("application/x-protobuf", "gzip", body.clone()).await.expect("relay");
    assert_eq!(response.status(), 200);
    let json = gzip(br#"{"resourceSpans":[]}"#);
    assert_eq!(send("application/json", "gzip", json.clone()).await.expect("relay").status(), 200);
    let forwarded = seen.lock().expect("lock").clone();
    assert_eq!(forwarded.len(), 2);
    assert_eq!(forwarded[0].body.as_ref(), body.as_slice(), "forwarded still compressed, byte for byte");
    assert_eq!(forwarded[0].headers.get("content-encoding").map(|v| v.as_bytes()), Some(&b"gzip"[..]));
    assert_eq!(forwarded[1].body.as_ref(), json.as_slice());
    let not_gzip = send("application/json", "gzip", b"{}".to_vec()).await.expect("relay");
    assert_eq!(not_gzip.status(), 400);
    let not_otlp = send("application/json", "gzip", gzip(b"{\"resourceSpans\": [")).await.expect("relay");
    assert_eq!(not_otlp.status(), 400);
    let bomb = gzip(&vec![b' '; cruddur_backend::relay::MAX_BODY_BYTES + 1]);
    assert!(bomb.len() < 64 * 1024);
    assert_eq!(send("application/json", "gzip", bomb).await.expect("relay").status(), 413);
    assert_eq!(send("application/json", "br", b"{}".to_vec()).await.expect("relay").status(), 415);
    assert_eq!(seen.lock().expect("lock").len(), 2, "nothing refused went upstream");
}

#[tokio::test]
async fn the_relay_refuses_bad_input_and_reports_a_dead_upstream() {
    let app = TestApp::start().await;
    let send = |content_type: &'static str, body: Vec<u8>| {
        app.client
            .post(format!("{}/v1/traces", app.base))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let too_big =
        send("application/json", vec![b' '; cruddur_backend::relay::MAX_BODY_BYTES + 1]).await.expect("send");
    assert_eq!(too_big.status(), 413);
    let wrong_type = send("text/plain", b"{}".to_vec()).await.expect("send");
    assert_eq!(wrong_type.status(), 415);
    let error: serde_json::Value = wrong_type.json().await.expect("json");
    assert!(error["error"].as_str().unwrap_or_default().contains("application/json"));
    let broken_json = send("application/json", b"{\"resourceSpans\": [".to_vec()).await.expect("send");
    assert_eq!(broken_json.status(), 400);
    let broken_proto = send("application/x-protobuf", vec![0xff, 0xff, 0xff]).await.expect("send");
    assert_eq!(broken_proto.status(), 400);
    // Nothing listens upstream: 502, which the browser SDK retries.
    let dead = send("application/json", b"{}".to_vec()).await.expect("send");
    assert_eq!(dead.status(), 502);
    let body = dead.text().await.expect("text");
    assert!(!body.contains("127.0.0.1:9"), "the upstream's address leaked: {body}");
}

#[tokio::test]
async fn the_binary_flushes_its_spans_on_sigterm() {
    let (url, seen) = upstream(200).await;
    let dir = std::env::temp_dir().join(format!("cruddur-flush-{}", std::process::id()));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cruddur-backend"))
        .env("CRUDDUR_ADDR", format!("127.0.0.1:{port}"))
        .env("CRUDDUR_DB", dir.join("db.sqlite"))
        .env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &url)
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=from-env")
        .env("OTEL_TRACES_EXPORTER", "otlp,console")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(r) =
            client.get(format!("{base}/api/activities/home")).header("traceparent", TRACEPARENT).send().await
        {
            ok = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "the backend did not answer");
    // The batch processor would wait 5 s; SIGTERM must flush now.
    std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill");
    let output =
        tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("join").expect("wait");
    assert!(output.status.success(), "exit status {:?}", output.status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("span GET /api/activities/home SERVER")),
        "console output: {stdout}"
    );

    let seen = seen.lock().expect("lock").clone();
    assert!(!seen.is_empty(), "no export reached the collector before exit");
    assert_eq!(seen[0].headers.get("x-honeycomb-team").map(|v| v.as_bytes()), Some(&b"from-env"[..]));
    let mut names = Vec::new();
    for received in &seen {
        let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
            received.body.as_ref(),
        )
        .expect("protobuf");
        for rs in request.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .cloned();
            assert!(format!("{service:?}").contains("backend"), "{service:?}");
            for ss in rs.scope_spans {
                names.extend(ss.spans.into_iter().map(|s| s.name));
            }
        }
    }
    assert!(names.contains(&"GET /api/activities/home".to_owned()), "{names:?}");
    assert!(names.contains(&"home-activities".to_owned()));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_server_function_call_continues_the_browser_trace_and_its_database_spans_are_beneath() {
    let app = TestApp::start().await;
    // What otel-web's TracedClient sends for `search_activities("prune")` (JSON input).
    let response = app
        .client
        .post(format!("{}/api/search", app.base))
        .header("traceparent", TRACEPARENT)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(r#"{"term":"prune"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let found: Vec<cruddur_api::Activity> = response.json().await.expect("json");
    assert!(
        !found.is_empty() && found.iter().all(|a| a.message.to_lowercase().contains("prune")),
        "{found:?}"
    );
    let server = app.span("POST /api/search");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(
        server.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("id")
    );
    assert_eq!(server.parent_span_id, SpanId::from_hex("00f067aa0ba902b7").expect("id"));
    let db = app.span("SELECT activities");
    assert_eq!(db.parent_span_id, server.span_context.span_id(), "the query runs inside the call");

    // A bad term is the function's error, not a server failure.
    let response = app
        .client
        .post(format!("{}/api/search", app.base))
        .header("content-type", "application/json")
        .body(r#"{"term":"  "}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 500, "server_fn answers a function's Err with 500");
    assert!(response.text().await.expect("body").contains("1 to 100 characters"));
}
