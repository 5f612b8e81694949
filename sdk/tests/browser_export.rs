//! The OTLP/HTTP exporter and the page-hide flush in headless Chromium, against the loopback
//! test receiver: what arrives is decoded and checked, retries and refusals are scripted.
#![cfg(target_arch = "wasm32")]

mod support;

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use otel_web::export::{ExportMode, OtlpHttpExporter, RetryPolicy, SpanExporter};
use otel_web::processor::{BatchConfig, BatchSpanProcessor};
use otel_web::trace::TracerProvider;
use otel_web::{ExportError, Resource};
use serde_json::json;
use support::{Receiver, sleep, spans_of};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn provider(exporter: OtlpHttpExporter, delay: Duration) -> TracerProvider {
    let config = BatchConfig { scheduled_delay: delay, ..Default::default() };
    TracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("frontend").build())
        .with_span_processor(BatchSpanProcessor::new(exporter, config))
        .build()
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy { initial_backoff: Duration::from_millis(50), max_attempts: 3, ..Default::default() }
}

#[wasm_bindgen_test]
async fn the_collector_receives_spec_otlp_json() {
    let receiver = Receiver::new("payload");
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).with_header("x-team", "web").build();
    let provider = provider(exporter.clone(), Duration::from_secs(3600));
    let mut span = provider.tracer("cruddur").start("load home");
    span.set_attribute(KeyValue::new("app.result_length", 3));
    let trace_id = span.span_context().trace_id().to_string();
    span.end();
    provider.force_flush().await.expect("flush");

    let posts = receiver.posts(1).await;
    assert_eq!(posts.len(), 1);
    let request = &posts[0];
    assert_eq!(request["path"], "/v1/traces");
    assert_eq!(request["headers"]["content-type"], "application/json");
    assert_eq!(request["headers"]["x-team"], "web");
    let body: serde_json::Value =
        serde_json::from_str(request["body"].as_str().expect("body")).expect("JSON");
    let resource = &body["resourceSpans"][0]["resource"]["attributes"];
    assert!(
        resource
            .as_array()
            .expect("attrs")
            .iter()
            .any(|a| a["key"] == "service.name" && a["value"]["stringValue"] == "frontend")
    );
    assert_eq!(body["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"], "cruddur");
    let span = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], trace_id, "trace id is lowercase hex");
    assert_eq!(span["spanId"].as_str().map(str::len), Some(16));
    assert_eq!(span["kind"], 1, "enums are integers");
    assert!(span["startTimeUnixNano"].is_string(), "int64 values are strings");
    assert_eq!(span["attributes"][0], json!({"key": "app.result_length", "value": {"intValue": "3"}}));
    assert_eq!(exporter.stats().requests, 1);
}

#[wasm_bindgen_test]
async fn a_503_with_retry_after_is_retried_and_then_delivered() {
    let receiver = Receiver::new("retry");
    receiver.script(json!([{"status": 503, "headers": {"retry-after": "1"}, "body": "busy"}])).await;
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).build();
    let provider = provider(exporter.clone(), Duration::from_secs(3600));
    provider.tracer("test").start("s").end();
    provider.force_flush().await.expect("delivered after a retry");
    let posts = receiver.posts(2).await;
    assert_eq!(posts.len(), 2);
    let waited = posts[1]["received_at_ms"].as_f64().unwrap_or(0.0)
        - posts[0]["received_at_ms"].as_f64().unwrap_or(0.0);
    assert!(waited >= 950.0, "Retry-After: 1 was not honoured (retried after {waited} ms)");
    assert_eq!(posts[0]["body"], posts[1]["body"], "the retry sends the same payload");
    assert_eq!(exporter.stats().retries, 1);
}

#[wasm_bindgen_test]
async fn a_400_is_not_retried() {
    let receiver = Receiver::new("reject");
    receiver.script(json!([{"status": 400, "body": "bad payload"}])).await;
    let exporter =
        OtlpHttpExporter::builder(receiver.traces_url()).with_retry_policy(quick_retries()).build();
    let provider = provider(exporter.clone(), Duration::from_secs(3600));
    provider.tracer("test").start("s").end();
    let result = provider.force_flush().await;
    assert_eq!(result, Err(ExportError::Rejected { status: 400, message: "bad payload".into() }));
    sleep(300).await;
    assert_eq!(receiver.posts(1).await.len(), 1);
    assert_eq!(exporter.stats().retries, 0);
}

#[wasm_bindgen_test]
async fn partial_success_is_counted_and_not_retried() {
    let receiver = Receiver::new("partial");
    let body = json!({"partialSuccess": {"rejectedSpans": "2", "errorMessage": "spans too old"}}).to_string();
    receiver.script(json!([{"status": 200, "body": body}])).await;
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).build();
    let provider = provider(exporter.clone(), Duration::from_secs(3600));
    provider.tracer("test").start("s").end();
    provider.force_flush().await.expect("a partial success is still a success");
    assert_eq!(exporter.stats().rejected_spans, 2);
    assert_eq!(exporter.stats().retries, 0);
}

#[wasm_bindgen_test]
async fn network_errors_are_retried_then_reported() {
    // Nothing listens on this loopback port: every attempt fails to connect.
    let exporter =
        OtlpHttpExporter::builder("http://127.0.0.1:47/v1/traces").with_retry_policy(quick_retries()).build();
    let provider = provider(exporter.clone(), Duration::from_secs(3600));
    provider.tracer("test").start("s").end();
    let result = provider.force_flush().await;
    assert!(matches!(result, Err(ExportError::Failed(_))), "{result:?}");
    assert_eq!(exporter.stats().requests, 3);
    assert_eq!(exporter.stats().retries, 2);
    // The page is still fine: tracing goes on.
    provider.tracer("test").start("after").end();
}

fn span_names(posts: &[serde_json::Value]) -> Vec<String> {
    posts
        .iter()
        .flat_map(|p| spans_of(p["body"].as_str().unwrap_or("{}")))
        .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[wasm_bindgen_test]
async fn unload_spends_the_64_kib_keepalive_budget_on_the_newest_spans_and_sends_the_rest() {
    let receiver = Receiver::new("keepalive");
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).build();
    exporter.set_resource(&Resource::builder().with_service_name("frontend").build());
    let source = otel_web::export::InMemoryExporter::default();
    let collecting = TracerProvider::builder().with_simple_exporter(source.clone()).build();
    for i in 0..300 {
        let mut span = collecting.tracer("test").start(format!("span-{i}"));
        span.set_attribute(KeyValue::new("payload", "x".repeat(500)));
        span.end();
    }
    let spans = source.finished_spans();
    exporter.export(spans, ExportMode::Unload).await.expect("every request started");
    let stats = exporter.stats();
    assert!(
        stats.keepalive_bytes as usize <= otel_web::export::KEEPALIVE_BUDGET_BYTES,
        "{} keepalive bytes in flight: the browser refuses past 64 KiB",
        stats.keepalive_bytes
    );
    assert!(
        stats.keepalive_bytes as usize
            > otel_web::export::KEEPALIVE_BUDGET_BYTES - otel_web::export::KEEPALIVE_MAX_BODY_BYTES,
        "the budget was not used: {} bytes",
        stats.keepalive_bytes
    );
    let total = stats.requests as usize;
    assert_eq!(stats.keepalive_requests + stats.unload_overflow_requests, stats.requests);
    let posts = receiver.posts(total).await;
    assert_eq!(posts.len(), total, "the page stays: the overflow arrives too");
    for post in &posts {
        let body = post["body"].as_str().expect("body");
        assert!(body.len() <= otel_web::export::KEEPALIVE_MAX_BODY_BYTES, "a body of {} bytes", body.len());
    }
    let mut names = span_names(&posts);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 300, "every span arrives exactly once");
}

#[wasm_bindgen_test]
async fn spans_ending_during_a_slow_export_still_leave_on_the_timer() {
    // Regression (issue #13 item 1): a span that ended while an export was pending left the
    // timer marked armed forever, so later spans waited for a full batch or page hide.
    let receiver = Receiver::new("slow-timer");
    receiver.script(json!([{"status": 200, "body": "{}", "delay_ms": 800}])).await;
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).build();
    let provider = provider(exporter.clone(), Duration::from_millis(100));
    let tracer = provider.tracer("test");
    tracer.start("first").end();
    sleep(300).await; // the first export is now waiting for the slow answer
    tracer.start("during").end();
    sleep(900).await; // answered; "during" leaves on the re-armed timer
    tracer.start("after").end();
    let posts = receiver.posts(3).await;
    assert_eq!(span_names(&posts), ["first", "during", "after"]);
    let gap = posts[2]["received_at_ms"].as_f64().unwrap_or(0.0)
        - posts[1]["received_at_ms"].as_f64().unwrap_or(0.0);
    assert!(gap < 2_000.0, "\"after\" waited {gap} ms");
}

#[wasm_bindgen_test]
async fn page_hide_sends_a_batch_whose_answer_is_pending_at_once() {
    let receiver = Receiver::new("hurry-pending");
    receiver.script(json!([{"status": 200, "body": "{}", "delay_ms": 8000}])).await;
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).build();
    let provider = provider(exporter.clone(), Duration::from_millis(50));
    let tracer = provider.tracer("test");
    tracer.start("pending").end();
    sleep(400).await; // exported; the collector sits on it
    tracer.start("queued").end();
    let window = web_sys::window().expect("window");
    window.dispatch_event(&web_sys::Event::new("pagehide").expect("event")).expect("dispatch");
    let posts = receiver.posts(3).await;
    assert_eq!(posts.len(), 3, "the slow request, its keepalive copy and the queued span");
    let names = span_names(&posts[1..]);
    assert!(names.contains(&"pending".to_owned()) && names.contains(&"queued".to_owned()), "{names:?}");
    let stats = exporter.stats();
    assert_eq!(stats.hurried_exports, 1);
    assert_eq!(stats.keepalive_requests, 2);
    show_page(&window);
}

#[wasm_bindgen_test]
async fn page_hide_skips_the_retry_backoff_of_a_refused_batch() {
    let receiver = Receiver::new("hurry-backoff");
    receiver.script(json!([{"status": 503, "headers": {"retry-after": "20"}, "body": "busy"}])).await;
    let policy = RetryPolicy { max_backoff: Duration::from_secs(60), ..quick_retries() };
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).with_retry_policy(policy).build();
    let provider = provider(exporter.clone(), Duration::from_millis(50));
    provider.tracer("test").start("refused").end();
    sleep(400).await; // refused, now waiting 20 s to retry
    let window = web_sys::window().expect("window");
    window.dispatch_event(&web_sys::Event::new("pagehide").expect("event")).expect("dispatch");
    let posts = receiver.posts(2).await;
    assert_eq!(posts.len(), 2, "the batch waiting to retry was not sent on page hide");
    assert_eq!(span_names(&posts[1..]), ["refused"]);
    assert_eq!(exporter.stats().keepalive_requests, 1);
    show_page(&window);
}

/// Issue #13 item 12: the processor's export timeout cut the exporter's retry plan off without
/// a word. It now says so, aborts the request in flight, and nothing retries behind its back.
#[wasm_bindgen_test]
async fn an_export_past_its_timeout_fails_clearly_and_retries_nothing_later() {
    let receiver = Receiver::new("export-timeout");
    receiver.script(json!([{"status": 503, "headers": {"retry-after": "1"}, "body": "busy"}])).await;
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).build();
    let config = BatchConfig {
        scheduled_delay: Duration::from_secs(3600),
        export_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::new(exporter.clone(), config))
        .build();
    provider.tracer("test").start("s").end();
    let result = provider.force_flush().await;
    assert_eq!(result, Err(ExportError::Timeout(500)));
    assert!(result.expect_err("timeout").to_string().contains("retries included"));
    sleep(1_500).await;
    assert_eq!(receiver.posts(1).await.len(), 1, "a retry ran after the export was given up");
}

/// Back to a visible page, so the processors of later tests batch normally.
fn show_page(window: &web_sys::Window) {
    let visible = web_sys::Event::new("visibilitychange").expect("event");
    window
        .document()
        .expect("document")
        .unchecked_into::<web_sys::EventTarget>()
        .dispatch_event(&visible)
        .expect("dispatch");
}

#[wasm_bindgen_test]
async fn pagehide_flushes_at_once_and_later_spans_follow() {
    let receiver = Receiver::new("pagehide");
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).build();
    let provider = provider(exporter.clone(), Duration::from_secs(3600));
    let tracer = provider.tracer("test");
    for i in 0..3 {
        tracer.start(format!("before-{i}")).end();
    }
    let window = web_sys::window().expect("window");
    let event = web_sys::Event::new("pagehide").expect("event");
    window.dispatch_event(&event).expect("dispatch");
    let posts = receiver.posts(1).await;
    assert_eq!(posts.len(), 1, "the hour-long batch delay was not waited for");
    assert_eq!(spans_of(posts[0]["body"].as_str().expect("body")).len(), 3);

    // While hidden, a span that ends is sent right away.
    tracer.start("after").end();
    let posts = receiver.posts(2).await;
    assert_eq!(posts.len(), 2);
    assert_eq!(spans_of(posts[1]["body"].as_str().expect("body"))[0]["name"], "after");
    assert_eq!(exporter.stats().keepalive_requests, 2);

    // Visible again: back to batching.
    let visible = web_sys::Event::new("visibilitychange").expect("event");
    window
        .document()
        .expect("document")
        .unchecked_into::<web_sys::EventTarget>()
        .dispatch_event(&visible)
        .expect("dispatch");
    tracer.start("batched").end();
    sleep(300).await;
    assert_eq!(receiver.posts(2).await.len(), 2);
    provider.shutdown().await.expect("shutdown flushes");
    assert_eq!(receiver.posts(3).await.len(), 3);
}

/// Floats are written by the browser's `Number#toString` and read by `parseFloat` (the SDK
/// ships no float formatting of its own); the text must still be exact JSON numbers.
#[wasm_bindgen_test]
fn floats_round_trip_through_the_browsers_number_text() {
    use otel_web::export::{InMemoryExporter, otlp_json};

    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let values = [0.1, 1.0 / 3.0, 1e21, -2.5e-7, 5e-324, 1_700_000_000_123.25];
    let mut span = provider.tracer("numbers").start("floats");
    for (i, value) in values.iter().enumerate() {
        span.set_attribute(KeyValue::new(format!("f{i}"), *value));
    }
    span.set_attribute(KeyValue::new("nan", f64::NAN));
    span.end();
    let body = otlp_json::encode_request(
        &otlp_json::encode_resource(provider.resource()),
        &exporter.finished_spans(),
    );
    let body: serde_json::Value = serde_json::from_str(&body).expect("the body is JSON");
    let attributes = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"];
    for (i, value) in values.iter().enumerate() {
        assert_eq!(attributes[i]["value"]["doubleValue"].as_f64(), Some(*value), "f{i}");
    }
    assert_eq!(attributes[values.len()]["value"]["doubleValue"], "NaN");

    #[cfg(feature = "server-timing")]
    {
        use otel_web::fetch::server_timing;
        let timing = server_timing::read("app;dur=12.5, otelweb-ts;desc=\"1700000000123.25\"");
        assert_eq!(timing.duration_ms, Some(12.5));
        assert_eq!(timing.received_at_ms, Some(1_700_000_000_123.25));
        // Not a number the browser's grammar accepts: the duration is 0 (Server-Timing: "If
        // |dur| is an error, return 0"), never the hex or infinite value.
        for hostile in ["app;dur=0x10", "app;dur=Infinity", "app;dur= 1e999", "app;dur=1e"] {
            assert_eq!(server_timing::read(hostile).duration_ms, Some(0.0), "{hostile}");
        }
    }
}
