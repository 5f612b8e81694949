//! Traced fetch in headless Chromium against the loopback test receiver: trace headers only where
//! allowed (checked on the server side), span attributes and status, resource timing, the latency
//! split, clock skew, hostile responses, and the exporter's own requests left untraced.
#![cfg(target_arch = "wasm32")]

mod support;

use std::time::Duration;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue, Value, global};
use otel_web::export::InMemoryExporter;
use otel_web::fetch::{self, FetchConfig, FetchOptions, OriginMatcher};
use otel_web::trace::{SpanData, TracerProvider};
use serde_json::json;
use support::{Receiver, receiver_base, sleep};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Installs a fresh global provider exporting to memory, and the fetch settings.
fn setup(config: FetchConfig) -> (TracerProvider, InMemoryExporter) {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    install(&provider, config);
    (provider, exporter)
}

/// Makes `provider` global, with the W3C propagators, and applies `config` (what `init` does).
fn install(provider: &TracerProvider, config: FetchConfig) {
    global::set_tracer_provider(provider.clone());
    global::set_text_map_propagator(otel_web::propagation::default_propagator());
    fetch::configure(config);
}

fn allow_receiver() -> FetchConfig {
    FetchConfig {
        propagate_to: vec![OriginMatcher::parse(receiver_base()).expect("origin")],
        ..Default::default()
    }
}

/// The fetch spans exported so far, once `count` have ended (spans end after the body).
async fn fetch_spans(exporter: &InMemoryExporter, count: usize) -> Vec<SpanData> {
    for _ in 0..200 {
        let spans: Vec<SpanData> =
            exporter.finished_spans().into_iter().filter(|s| s.scope.name() == "otel-web.fetch").collect();
        if spans.len() >= count {
            return spans;
        }
        sleep(20).await;
    }
    panic!("fewer than {count} fetch spans ended: {:?}", exporter.finished_spans());
}

async fn get(url: &str) -> Result<web_sys::Response, JsValue> {
    fetch::fetch(web_sys::Request::new_with_str(url)?).await
}

async fn text(response: &web_sys::Response) -> String {
    JsFuture::from(response.text().expect("text")).await.expect("body").as_string().unwrap_or_default()
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attribute(key)
}

#[wasm_bindgen_test]
async fn trace_headers_reach_allowlisted_origins_and_no_others() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("allow");
    let cx = Context::current()
        .with_baggage([KeyValue::new("user.id", "andrew")])
        .with_span(global::tracer("test").start("click"));
    let _guard = cx.clone().attach();

    let response = get(&format!("{}/api/a", receiver.base)).await.expect("fetch");
    assert_eq!(response.status(), 200);
    // The same receiver under another origin (localhost instead of 127.0.0.1) is not allowed.
    let other = receiver.base.replace("127.0.0.1", "localhost");
    let response = get(&format!("{other}/api/b")).await.expect("fetch");
    assert_eq!(response.status(), 200);

    let spans = fetch_spans(&exporter, 2).await;
    let requests = receiver.requests().await;
    let allowed = requests.iter().find(|r| r["path"] == "/api/a" && r["method"] == "GET").expect("request a");
    let span_a = spans
        .iter()
        .find(|s| attr(s, "url.full").is_some_and(|u| u.to_string().ends_with("/api/a")))
        .expect("span a");
    // Flags 03: sampled, and the trace id is random (W3C Trace Context Level 2).
    let expected = format!("00-{}-{}-03", span_a.span_context.trace_id(), span_a.span_context.span_id());
    assert_eq!(allowed["headers"]["traceparent"], expected.as_str());
    assert_eq!(allowed["headers"]["baggage"], "user.id=andrew");
    assert_eq!(
        span_a.parent_span_id,
        cx.span().span_context().span_id(),
        "the fetch span is the click's child"
    );

    let refused: Vec<_> = requests.iter().filter(|r| r["path"] == "/api/b").collect();
    assert_eq!(refused.len(), 1, "no preflight for the non-allowlisted origin: {refused:?}");
    assert!(refused[0]["headers"].get("traceparent").is_none(), "traceparent leaked: {:?}", refused[0]);
    assert!(refused[0]["headers"].get("baggage").is_none(), "baggage leaked");
}

/// Regression (issue #13 item 2): an invalid `/regex/` entry threw a `SyntaxError` through the
/// wasm while a fetch was being traced, leaving the fetch unsettled. It is now refused when the
/// configuration is read, with the entry named, and a valid one is compiled once.
#[wasm_bindgen_test]
async fn an_invalid_regex_allowlist_entry_is_a_config_error_and_a_valid_one_matches() {
    let error = OriginMatcher::parse("/(unclosed/").expect_err("the browser's RegExp refuses it");
    let message = error.to_string();
    assert!(message.contains("propagateTraceHeaderCorsUrls") && message.contains("(unclosed"), "{message}");
    assert!(message.contains("Invalid regular expression"), "the browser's reason is kept: {message}");

    let receiver = Receiver::new("regex-allow");
    let pattern = format!("/^{}\\/s\\//", receiver_base().replace('/', "\\/").replace('.', "\\."));
    let (_provider, exporter) = setup(FetchConfig {
        propagate_to: vec![OriginMatcher::parse(&pattern).expect("a valid pattern")],
        ..Default::default()
    });
    let response = get(&format!("{}/api/r", receiver.base)).await.expect("fetch settles");
    assert_eq!(response.status(), 200);
    fetch_spans(&exporter, 1).await;
    let requests = receiver.requests().await;
    let request = requests.iter().find(|r| r["path"] == "/api/r" && r["method"] == "GET").expect("request");
    assert!(request["headers"].get("traceparent").is_some(), "the regex entry did not allow {pattern}");
}

#[wasm_bindgen_test]
async fn same_origin_requests_carry_trace_headers() {
    let (_provider, exporter) = setup(FetchConfig::default());
    let origin = web_sys::window().expect("window").location().origin().expect("origin");
    let request = web_sys::Request::new_with_str(&format!("{origin}/no-such-file")).expect("request");
    let headers = request.headers();
    let response = fetch::fetch(request).await.expect("fetch");
    assert_eq!(response.status(), 404);
    let traceparent =
        headers.get("traceparent").expect("headers").expect("traceparent on a same-origin request");
    let span = &fetch_spans(&exporter, 1).await[0];
    assert!(traceparent.contains(&span.span_context.span_id().to_string()));
    assert_eq!(attr(span, "http.response.status_code"), Some(&Value::I64(404)));
}

#[wasm_bindgen_test]
async fn status_codes_set_attributes_and_error_status() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("status");
    receiver.script(json!([{"status": 404, "body": "missing"}, {"status": 500, "body": "boom"}])).await;
    for path in ["one", "two", "three"] {
        let response = fetch::fetch_with(
            web_sys::Request::new_with_str(&format!("{}/api/{path}?token=secret&q=1", receiver.base))
                .expect("request"),
            FetchOptions::default().with_route("/api/{name}"),
        )
        .await
        .expect("fetch");
        let _ = text(&response).await;
    }
    let spans = fetch_spans(&exporter, 3).await;
    let by_status = |code: i64| {
        spans.iter().find(|s| attr(s, "http.response.status_code") == Some(&Value::I64(code))).expect("span")
    };
    let (missing, broken, fine) = (by_status(404), by_status(500), by_status(200));
    assert_eq!(missing.name, "GET /api/{name}");
    assert_eq!(attr(missing, "error.type"), Some(&Value::from("404")));
    assert!(matches!(missing.status, Status::Error { .. }));
    assert_eq!(attr(broken, "error.type"), Some(&Value::from("500")));
    assert_eq!(fine.status, Status::Unset);
    assert_eq!(attr(fine, "error.type"), None);
    assert_eq!(attr(fine, "http.request.method"), Some(&Value::from("GET")));
    assert_eq!(attr(fine, "url.template"), Some(&Value::from("/api/{name}")));
    assert_eq!(attr(fine, "server.address"), Some(&Value::from("127.0.0.1")));
    assert!(matches!(attr(fine, "server.port"), Some(Value::I64(p)) if *p > 0));
    let url = attr(fine, "url.full").expect("url.full").to_string();
    assert!(url.ends_with("?token=REDACTED&q=1"), "{url}");
    assert_eq!(fine.span_kind, opentelemetry::trace::SpanKind::Client);
}

#[wasm_bindgen_test]
async fn network_errors_aborts_and_timeouts_fail_the_span_and_reach_the_caller() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("failures");
    receiver.script(json!([{"status": 200, "delay_ms": 2000}])).await;

    let refused = get("http://127.0.0.1:47/nothing").await.expect_err("nothing listens there");
    assert_eq!(
        js_sys::Reflect::get(&refused, &"name".into()).ok().and_then(|n| n.as_string()).as_deref(),
        Some("TypeError")
    );

    let controller = web_sys::AbortController::new().expect("controller");
    controller.abort();
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(&controller.signal()));
    let aborted = fetch::fetch(
        web_sys::Request::new_with_str_and_init(&format!("{}/api/aborted", receiver.base), &init)
            .expect("request"),
    )
    .await
    .expect_err("aborted");
    assert_eq!(
        js_sys::Reflect::get(&aborted, &"name".into()).ok().and_then(|n| n.as_string()).as_deref(),
        Some("AbortError")
    );

    let timed_out = fetch::fetch_with(
        web_sys::Request::new_with_str(&format!("{}/api/slow", receiver.base)).expect("request"),
        FetchOptions::default().with_timeout(Duration::from_millis(100)),
    )
    .await
    .expect_err("timed out");
    assert_eq!(
        js_sys::Reflect::get(&timed_out, &"name".into()).ok().and_then(|n| n.as_string()).as_deref(),
        Some("TimeoutError")
    );

    let spans = fetch_spans(&exporter, 3).await;
    let error_types: Vec<String> =
        spans.iter().filter_map(|s| attr(s, "error.type")).map(|v| v.to_string()).collect();
    assert_eq!(error_types, ["TypeError", "AbortError", "timeout"]);
    assert!(spans.iter().all(|s| matches!(s.status, Status::Error { .. })));
}

fn resource_entry(url: &str) -> web_sys::PerformanceEntry {
    let performance = web_sys::window().expect("window").performance().expect("performance");
    let entries = performance.get_entries_by_name_with_entry_type(url, "resource");
    entries.get(entries.length() - 1).dyn_into().expect("a resource timing entry")
}

#[wasm_bindgen_test]
async fn the_span_agrees_with_the_network_panel_and_records_phases() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("timing");
    receiver.script(json!([{"status": 200, "delay_ms": 30, "body": "x".repeat(5000)}])).await;
    let url = format!("{}/api/timed", receiver.base);
    let response = get(&url).await.expect("fetch");
    assert_eq!(text(&response).await.len(), 5000, "the caller still reads the whole body");
    let span = &fetch_spans(&exporter, 1).await[0];
    let entry = resource_entry(&url);
    let span_ms = span.duration_nanos() as f64 / 1e6;
    assert!((span_ms - entry.duration()).abs() < 1.0, "span {span_ms} ms vs entry {} ms", entry.duration());
    let events: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
    for phase in ["fetchStart", "requestStart", "responseStart", "responseEnd"] {
        assert!(events.contains(&phase), "{phase} missing from {events:?}");
    }
    assert_eq!(attr(span, "otelweb.timing.source"), Some(&Value::from("resource-timing")));
    assert_eq!(attr(span, "http.response.body.size"), Some(&Value::I64(5000)));
}

/// The SDK never reads (or tees) the body: the span ends from the browser's timing entry even
/// when the caller has not read the body yet, and the caller's body is untouched.
#[wasm_bindgen_test]
async fn the_span_ends_without_the_sdk_reading_the_body() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("unread");
    receiver.script(json!([{"status": 200, "body": "y".repeat(2000)}])).await;
    let url = format!("{}/api/unread", receiver.base);
    let response = get(&url).await.expect("fetch");
    let span = &fetch_spans(&exporter, 1).await[0];
    assert_eq!(attr(span, "otelweb.timing.source"), Some(&Value::from("resource-timing")));
    assert_eq!(attr(span, "http.response.body.size"), Some(&Value::I64(2000)));
    assert!(!response.body_used(), "the SDK must leave the body to the caller");
    assert_eq!(text(&response).await.len(), 2000);
}

/// `data:` URLs get no timing entry: the span ends at the response headers instead of waiting.
#[wasm_bindgen_test]
async fn a_url_without_timing_entries_ends_at_its_headers() {
    let (_provider, exporter) = setup(FetchConfig::default());
    let response = get("data:text/plain,hello").await.expect("fetch");
    assert_eq!(text(&response).await, "hello");
    let span = &fetch_spans(&exporter, 1).await[0];
    assert_eq!(attr(span, "otelweb.timing.source"), Some(&Value::from("response-headers")));
    assert_eq!(attr(span, "http.response.status_code"), Some(&Value::I64(200)));
}

#[wasm_bindgen_test]
async fn two_fetches_of_one_url_at_once_each_get_their_own_timing() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("concurrent");
    receiver.script(json!([{"status": 200, "delay_ms": 300}, {"status": 200, "delay_ms": 0}])).await;
    let url = format!("{}/api/same", receiver.base);
    // `no-store`: otherwise Chrome's HTTP cache holds the second GET until the first completes.
    let uncached = || {
        let init = web_sys::RequestInit::new();
        init.set_cache(web_sys::RequestCache::NoStore);
        web_sys::Request::new_with_str_and_init(&url, &init).expect("request")
    };
    let slow = fetch::fetch(uncached());
    let fast = async {
        sleep(5).await;
        fetch::fetch(uncached()).await
    };
    let (slow, fast) = futures_join(slow, fast).await;
    let (_, _) = (text(&slow.expect("slow")).await, text(&fast.expect("fast")).await);
    let spans = fetch_spans(&exporter, 2).await;
    let mut durations: Vec<f64> = spans.iter().map(|s| s.duration_nanos() as f64 / 1e6).collect();
    durations.sort_by(f64::total_cmp);
    assert!(durations[0] < 150.0 && durations[1] >= 290.0, "each span has its own entry: {durations:?}");
}

/// Regression (issue #13 item 4): a fetch claimed the earliest entry of its URL that started
/// after it was called, so when a later fetch of the same URL finished first, the earlier one
/// took that entry and the two swapped timings and sizes.
#[wasm_bindgen_test]
async fn a_later_fetch_of_the_same_url_that_ends_first_keeps_its_own_timing() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("same-url-order");
    let big = 16 << 20;
    receiver
        .script(json!([{"status": 200, "body": "a".repeat(1024), "repeat": big / 1024}, {"status": 200, "body": "b".repeat(100)}]))
        .await;
    let url = format!("{}/api/same", receiver.base);
    let uncached = || {
        let init = web_sys::RequestInit::new();
        init.set_cache(web_sys::RequestCache::NoStore);
        web_sys::Request::new_with_str_and_init(&url, &init).expect("request")
    };
    // The first response's body is not read yet: the browser stops receiving it when its
    // buffer is full, so its entry (made at responseEnd) comes after the second fetch's.
    let first = fetch::fetch(uncached()).await.expect("first headers");
    let second = fetch::fetch(uncached()).await.expect("second");
    assert_eq!(text(&second).await.len(), 100);
    sleep(100).await;
    assert_eq!(text(&first).await.len(), big);
    let spans = fetch_spans(&exporter, 2).await;
    let size = |s: &SpanData| match attr(s, "http.response.body.size") {
        Some(Value::I64(n)) => *n,
        other => panic!("no body size: {other:?}"),
    };
    let (first_span, second_span) = if spans[0].start_time_unix_nano < spans[1].start_time_unix_nano {
        (&spans[0], &spans[1])
    } else {
        (&spans[1], &spans[0])
    };
    assert!(first_span.end_time_unix_nano > second_span.end_time_unix_nano, "the first fetch ended first");
    assert_eq!(size(first_span), big as i64, "the first fetch got the second one's entry");
    assert_eq!(size(second_span), 100);
}

/// The other order: the earlier fetch is slow to answer, the later one is fast; each span's
/// size and duration are its own.
#[wasm_bindgen_test]
async fn an_earlier_slow_fetch_of_the_same_url_keeps_its_own_timing() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("same-url-slow-first");
    receiver
        .script(json!([
            {"status": 200, "delay_ms": 300, "body": "s".repeat(10)},
            {"status": 200, "body": "f".repeat(5_000)}
        ]))
        .await;
    let url = format!("{}/api/same", receiver.base);
    let uncached = || {
        let init = web_sys::RequestInit::new();
        init.set_cache(web_sys::RequestCache::NoStore);
        web_sys::Request::new_with_str_and_init(&url, &init).expect("request")
    };
    let slow = fetch::fetch(uncached());
    let fast = async {
        sleep(5).await;
        fetch::fetch(uncached()).await
    };
    let (slow, fast) = futures_join(slow, fast).await;
    let (_, _) = (text(&slow.expect("slow")).await, text(&fast.expect("fast")).await);
    let spans = fetch_spans(&exporter, 2).await;
    for span in &spans {
        let ms = span.duration_nanos() as f64 / 1e6;
        let size = attr(span, "http.response.body.size").cloned();
        if ms >= 290.0 {
            assert_eq!(size, Some(Value::I64(10)), "the slow fetch has the fast one's size ({ms} ms)");
        } else {
            assert_eq!(size, Some(Value::I64(5_000)), "the fast fetch has the slow one's size ({ms} ms)");
        }
    }
}

/// Regression (issue #13 item 8): the HTTP client semantic conventions, checked against what
/// the receiver saw on the wire.
#[wasm_bindgen_test]
async fn methods_statuses_and_protocol_follow_the_http_client_conventions() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("semconv");
    receiver
        .script(json!([
            {"status": 200}, {"status": 200},
            {"status": 404, "body": "missing"},
            {"status": 302, "headers": {"location": "/elsewhere"}}
        ]))
        .await;
    let request = |method: &str, path: &str| {
        let init = web_sys::RequestInit::new();
        init.set_method(method);
        if path == "redirect" {
            init.set_redirect(web_sys::RequestRedirect::Manual);
        }
        let url = format!("{}/api/{path}?AWSAccessKeyId=AKIA123&x=1", receiver.base);
        web_sys::Request::new_with_str_and_init(&url, &init).expect("request")
    };
    for (method, path) in
        [("patch", "patch"), ("PROPFIND", "propfind"), ("get", "missing"), ("GET", "redirect")]
    {
        let response = fetch::fetch(request(method, path)).await.expect("fetch settles");
        let _ = text(&response).await;
    }
    let spans = fetch_spans(&exporter, 4).await;
    let span = |path: &str| {
        spans
            .iter()
            .find(|s| attr(s, "url.full").is_some_and(|u| u.to_string().contains(&format!("/api/{path}?"))))
            .unwrap_or_else(|| panic!("no span for {path}"))
    };
    let wire = receiver.requests().await;
    let sent = |path: &str| {
        wire.iter()
            .find(|r| {
                r["path"].as_str().is_some_and(|p| p.starts_with(&format!("/api/{path}")))
                    && r["method"] != "OPTIONS"
            })
            .and_then(|r| r["method"].as_str())
            .map(str::to_owned)
    };
    // `patch` went on the wire in lower case: the canonical method plus the original.
    assert_eq!(sent("patch").as_deref(), Some("patch"));
    let patch = span("patch");
    assert_eq!(patch.name, "PATCH");
    assert_eq!(attr(patch, "http.request.method"), Some(&Value::from("PATCH")));
    assert_eq!(attr(patch, "http.request.method_original"), Some(&Value::from("patch")));
    assert_eq!(attr(patch, "network.protocol.version"), Some(&Value::from("1.1")));
    // An unknown method: `_OTHER`, and the span is named `HTTP`.
    let propfind = span("propfind");
    assert_eq!(propfind.name, "HTTP");
    assert_eq!(attr(propfind, "http.request.method"), Some(&Value::from("_OTHER")));
    assert_eq!(attr(propfind, "http.request.method_original"), Some(&Value::from("PROPFIND")));
    // `get` is upper-cased by the browser: nothing to record as original.
    assert_eq!(sent("missing").as_deref(), Some("GET"));
    let missing = span("missing");
    assert_eq!(attr(missing, "http.request.method_original"), None);
    assert_eq!(missing.status, Status::error(""), "the status code says it: no description");
    let url = attr(missing, "url.full").expect("url.full").to_string();
    assert!(url.contains("AWSAccessKeyId=REDACTED&x=1"), "{url}");
    // An opaque redirect hides its status (0): none is recorded, and it is no error.
    let redirect = span("redirect");
    assert_eq!(attr(redirect, "http.response.status_code"), None);
    assert_eq!(redirect.status, Status::Unset);
}

/// Regression (issue #13 item 11): where `AbortSignal.any` is missing, a fetch with a timeout
/// replaced the caller's signal with the SDK's, so the caller could no longer abort it.
#[wasm_bindgen_test]
async fn the_callers_abort_signal_works_with_a_timeout_where_abort_signal_any_is_missing() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("abort-without-any");
    receiver.script(json!([{"status": 200, "delay_ms": 3000}])).await;
    let ctor = js_sys::Reflect::get(&js_sys::global(), &"AbortSignal".into()).expect("AbortSignal");
    let any = js_sys::Reflect::get(&ctor, &"any".into()).expect("AbortSignal.any");
    assert!(
        js_sys::Reflect::delete_property(ctor.unchecked_ref::<js_sys::Object>(), &"any".into())
            .expect("delete")
    );

    let controller = web_sys::AbortController::new().expect("controller");
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(&controller.signal()));
    let request = web_sys::Request::new_with_str_and_init(&format!("{}/api/slow", receiver.base), &init)
        .expect("request");
    let started = js_sys::Date::now();
    let pending = fetch::fetch_with(request, FetchOptions::default().with_timeout(Duration::from_secs(10)));
    let abort_soon = async {
        sleep(100).await;
        controller.abort();
    };
    let (result, ()) = futures_join(pending, abort_soon).await;
    js_sys::Reflect::set(&ctor, &"any".into(), &any).expect("restore AbortSignal.any");

    let error = result.expect_err("the caller aborted");
    assert_eq!(
        js_sys::Reflect::get(&error, &"name".into()).ok().and_then(|n| n.as_string()).as_deref(),
        Some("AbortError"),
        "the caller's abort was lost"
    );
    assert!(js_sys::Date::now() - started < 2_000.0, "the fetch waited for the server");
    let span = &fetch_spans(&exporter, 1).await[0];
    assert_eq!(attr(span, "error.type"), Some(&Value::from("AbortError")));
}

/// Runs two futures to completion side by side.
async fn futures_join<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = Box::pin(a);
    let mut b = Box::pin(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    (ra.expect("a"), rb.expect("b"))
}

#[cfg(feature = "server-timing")]
#[wasm_bindgen_test]
async fn server_timing_splits_the_latency_between_server_and_network() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("split");
    receiver
        .script(json!([{"status": 200, "delay_ms": 60, "headers": {"server-timing": "app;dur=50, otelweb-ts;desc=\"{now_ms}\""}}]))
        .await;
    let _ = text(&get(&format!("{}/api/split", receiver.base)).await.expect("fetch")).await;
    let span = &fetch_spans(&exporter, 1).await[0];
    let client_ms = span.duration_nanos() as f64 / 1e6;
    let server = attr(span, "otelweb.server.duration_ms").expect("server duration");
    let network = attr(span, "otelweb.network.duration_ms").expect("network share");
    let (Value::F64(server), Value::F64(network)) = (server, network) else { panic!("not floats") };
    assert_eq!(*server, 50.0);
    assert!((client_ms - server - network).abs() < 1.0, "{client_ms} - {server} != {network}");
    assert!(*network > 0.0);
}

#[cfg(feature = "clock-skew")]
async fn offset_after(shift: &str) -> f64 {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("skew");
    let header = format!("app;dur=1, otelweb-ts;desc=\"{{now_ms{shift}}}\"");
    receiver.script(json!([{"status": 200, "headers": {"server-timing": header}}])).await;
    let _ = text(&get(&format!("{}/api/clock", receiver.base)).await.expect("fetch")).await;
    let span = &fetch_spans(&exporter, 1).await[0];
    match attr(span, "otelweb.clock.offset_ms") {
        Some(Value::F64(offset)) => *offset,
        other => panic!("no clock offset: {other:?}"),
    }
}

#[cfg(feature = "clock-skew")]
#[wasm_bindgen_test]
async fn clock_skew_is_estimated_for_a_server_5s_ahead_and_5s_behind() {
    let ahead = offset_after("+5000").await;
    assert!((ahead - 5_000.0).abs() < 100.0, "ahead: {ahead}");
    let behind = offset_after("-5000").await;
    assert!((behind + 5_000.0).abs() < 100.0, "behind: {behind}");
    assert!((fetch::clock_offset_ms().expect("estimate") - behind).abs() < 1e-9);
}

#[cfg(feature = "clock-skew")]
#[wasm_bindgen_test]
async fn skew_correction_moves_browser_spans_into_server_time() {
    let (provider, exporter) = setup(FetchConfig { correct_clock_skew: true, ..allow_receiver() });
    let receiver = Receiver::new("shift");
    receiver.script(json!([{"status": 200, "headers": {"server-timing": "app;dur=1, otelweb-ts;desc=\"{now_ms+5000}\""}}])).await;
    let _ = text(&get(&format!("{}/api/clock", receiver.base)).await.expect("fetch")).await;
    fetch_spans(&exporter, 1).await;
    use opentelemetry::trace::{Span as _, TracerProvider as _};
    provider.tracer("test").start("later").end();
    let later = exporter.finished_spans().into_iter().find(|s| s.name == "later").expect("span");
    let shifted_by = later.start_time_unix_nano as f64 / 1e6 - js_sys::Date::now();
    assert!((shifted_by - 5_000.0).abs() < 200.0, "shifted by {shifted_by} ms");
    assert!(
        matches!(attr(&later, "otelweb.clock.shift_ms"), Some(Value::F64(s)) if (s - 5_000.0).abs() < 100.0)
    );
    fetch::configure(FetchConfig::default());
}

#[wasm_bindgen_test]
async fn hostile_responses_never_break_the_fetch() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("hostile");
    let huge = "x".repeat(16 * 1024);
    receiver
        .script(json!([
            {"status": 200, "body": "one", "headers": {"server-timing": "app;dur=NaN;;\"\"\",,,otelweb-ts;desc=\"soon\""}},
            {"status": 200, "body": "two", "headers": {"server-timing": huge, "x-huge": huge}},
            // What a no-cors script load gets (Chrome blocks opaque JSON or HTML responses).
            {"status": 200, "body": "void 0;", "headers": {"content-type": "text/javascript"}},
        ]))
        .await;
    for expected in ["one", "two"] {
        let response = get(&format!("{}/api/hostile", receiver.base)).await.expect("fetch");
        assert_eq!(text(&response).await, expected);
    }
    let spans = fetch_spans(&exporter, 2).await;
    // `dur=NaN` is not a duration: Server-Timing makes it 0 ("if |dur| is an error, return 0"),
    // never NaN or a negative network share.
    for span in &spans {
        match attr(span, "otelweb.server.duration_ms") {
            None => {}
            Some(Value::F64(ms)) => assert!(ms.is_finite() && *ms >= 0.0, "server duration {ms}"),
            Some(other) => panic!("server duration {other:?}"),
        }
    }
    // A no-cors request to another origin gives an opaque response: returned as is, no status.
    let init = web_sys::RequestInit::new();
    init.set_mode(web_sys::RequestMode::NoCors);
    let opaque = fetch::fetch(
        web_sys::Request::new_with_str_and_init(&format!("{}/api/opaque", receiver.base), &init)
            .expect("request"),
    )
    .await
    .expect("fetch");
    assert_eq!(opaque.type_(), web_sys::ResponseType::Opaque);
    let spans = fetch_spans(&exporter, 3).await;
    assert!(attr(&spans[2], "http.response.status_code").is_none());
}

#[wasm_bindgen_test]
async fn the_patched_global_fetch_is_traced_but_the_exporter_is_not() {
    let receiver = Receiver::new("global");
    let memory = InMemoryExporter::default();
    let otlp = otel_web::export::OtlpHttpExporter::builder(receiver.traces_url()).build();
    let provider =
        TracerProvider::builder().with_simple_exporter(memory.clone()).with_simple_exporter(otlp).build();
    global::set_tracer_provider(provider.clone());
    fetch::configure(allow_receiver());
    fetch::install_global().expect("patch");
    fetch::install_global().expect("idempotent");
    // A plain JS fetch through the page's global.
    let window = web_sys::window().expect("window");
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str(&format!("{}/api/from-js", receiver.base)))
            .await
            .expect("fetch")
            .unchecked_into();
    assert_eq!(response.status(), 200);
    let _ = text(&response).await;
    fetch_spans(&memory, 1).await;
    // The span was exported over OTLP through the browser's own fetch; give it time to arrive.
    let exports = receiver.posts(2).await;
    fetch::uninstall_global().expect("restore");
    // The test's own polling of the receiver went through the patched fetch too: leave it out.
    let urls: Vec<String> = memory
        .finished_spans()
        .into_iter()
        .filter(|s| s.scope.name() == "otel-web.fetch")
        .filter_map(|s| s.attribute("url.full").map(|u| u.to_string()))
        .filter(|u| !u.ends_with("/_requests"))
        .collect();
    assert_eq!(urls.len(), 1, "only the page's request is traced: {urls:?}");
    assert!(urls[0].ends_with("/api/from-js"));
    let traces_post = exports.iter().find(|r| r["path"] == "/v1/traces").expect("an export arrived");
    assert!(
        traces_post["headers"].get("traceparent").is_none(),
        "the exporter's request carried trace headers"
    );
    let requests = receiver.requests().await;
    let api = requests
        .iter()
        .find(|r| r["path"] == "/api/from-js" && r["method"] == "GET")
        .expect("the page's request");
    assert!(api["headers"].get("traceparent").is_some());
}

/// The patched global takes every form pages call `fetch` with: a string and a plain init (sent
/// as given, trace headers added to a copy), a `URL`, and a `Request`.
#[wasm_bindgen_test]
async fn the_patched_global_takes_strings_urls_and_requests() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("arguments");
    fetch::install_global().expect("patch");
    let global = js_sys::global();
    let call = |input: JsValue, init: JsValue| {
        let fetch: js_sys::Function =
            js_sys::Reflect::get(&global, &"fetch".into()).expect("fetch").unchecked_into();
        let promise: js_sys::Promise = fetch.call2(&global, &input, &init).expect("call").unchecked_into();
        JsFuture::from(promise)
    };
    let init: JsValue =
        js_sys::JSON::parse(r#"{"method": "POST", "headers": {"x-app": "cruddur"}, "body": "hi"}"#)
            .expect("init");
    let with_init =
        call(format!("{}/api/args-init", receiver.base).into(), init.clone()).await.expect("fetch");
    let url = web_sys::Url::new(&format!("{}/api/args-url", receiver.base)).expect("URL");
    let with_url = call(url.into(), JsValue::UNDEFINED).await.expect("fetch");
    let request =
        web_sys::Request::new_with_str(&format!("{}/api/args-request", receiver.base)).expect("Request");
    let with_request = call(request.into(), JsValue::UNDEFINED).await.expect("fetch");
    for response in [with_init, with_url, with_request] {
        let response: web_sys::Response = response.unchecked_into();
        assert_eq!(response.status(), 200);
        let _ = text(&response).await;
    }
    let spans = fetch_spans(&exporter, 3).await;
    fetch::uninstall_global().expect("restore");

    let requests = receiver.requests().await;
    for path in ["/api/args-init", "/api/args-url", "/api/args-request"] {
        let sent = requests
            .iter()
            .find(|r| r["path"] == path && r["method"] != "OPTIONS")
            .unwrap_or_else(|| panic!("{path} not received: {requests:?}"));
        assert!(sent["headers"].get("traceparent").is_some(), "{path} without traceparent");
        assert!(
            spans.iter().any(|s| s.attribute("url.full").is_some_and(|u| u.to_string().ends_with(path))),
            "no span for {path}"
        );
    }
    let posted =
        requests.iter().find(|r| r["path"] == "/api/args-init" && r["method"] == "POST").expect("POST");
    assert_eq!(posted["headers"]["x-app"], "cruddur", "the page's own headers still go out");
    assert_eq!(posted["body"], "hi");
    let headers = js_sys::Reflect::get(&init, &"headers".into()).expect("headers");
    let own: Vec<String> = js_sys::Object::keys(headers.unchecked_ref::<js_sys::Object>())
        .iter()
        .filter_map(|k| k.as_string())
        .collect();
    assert_eq!(own, ["x-app"], "the caller's init object was changed");
    let post_span = spans
        .iter()
        .find(|s| s.attribute("url.full").is_some_and(|u| u.to_string().ends_with("/api/args-init")))
        .expect("span");
    assert_eq!(post_span.attribute("http.request.method"), Some(&Value::from("POST")));
}

#[cfg(feature = "gloo-net")]
#[wasm_bindgen_test]
async fn gloo_net_code_only_changes_its_import() {
    let (_provider, exporter) = setup(allow_receiver());
    let receiver = Receiver::new("gloo");
    receiver.script(json!([{"status": 200, "body": "{\"activities\": 3}", "headers": {"content-type": "application/json"}}])).await;
    let body: serde_json::Value =
        otel_web::http::Request::get(&format!("{}/api/activities/home", receiver.base))
            .route("/api/activities/home")
            .header("x-cruddur", "1")
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
    assert_eq!(body["activities"], 3);
    let span = &fetch_spans(&exporter, 1).await[0];
    assert_eq!(span.name, "GET /api/activities/home");
    let request = &receiver.requests().await.into_iter().find(|r| r["method"] == "GET").expect("request");
    assert_eq!(request["headers"]["x-cruddur"], "1");
    assert!(request["headers"].get("traceparent").is_some());
}
