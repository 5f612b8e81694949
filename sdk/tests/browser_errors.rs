//! `errors` in headless Chromium, against the loopback test receiver: real uncaught errors and
//! unhandled rejections become exception spans; errors dispatched while a Rust span is active
//! land in its trace; `console.error` is captured only when asked, and given back untouched; a
//! loop of 10,000 errors sends a bounded number of spans, counts the rest, and leaves the page
//! responsive. (A Rust panic aborts the test runner's module too: the e2e test `rust_panic`
//! proves the panic path in Cruddur.)
#![cfg(all(target_arch = "wasm32", feature = "errors"))]

mod support;

use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use otel_web::Resource;
use otel_web::export::OtlpHttpExporter;
use otel_web::instrument::errors::Errors;
use otel_web::instrument::{Instrumentation, Options};
use otel_web::processor::{BatchConfig, BatchSpanProcessor};
use otel_web::trace::TracerProvider;
use serde_json::Value;
use support::{Receiver, sleep, spans_of};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Runs JavaScript in the page.
fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body).call0(&JsValue::NULL).expect("test script ran")
}

/// `errors` started on a provider that exports to `receiver` (batches only when flushed).
fn start(receiver: &Receiver, options: Options) -> TracerProvider {
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).build();
    let config = BatchConfig { scheduled_delay: Duration::from_secs(600), ..Default::default() };
    let provider = TracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("frontend").build())
        .with_span_processor(BatchSpanProcessor::new(exporter, config))
        .build();
    Errors.start(&provider, &options);
    provider
}

/// Every span the receiver has, after a flush.
async fn received(provider: &TracerProvider, receiver: &Receiver) -> Vec<Value> {
    provider.force_flush().await.expect("flushed");
    receiver.posts(1).await.iter().flat_map(|post| spans_of(post["body"].as_str().unwrap_or("{}"))).collect()
}

fn attr(span: &Value, key: &str) -> Option<Value> {
    span["attributes"].as_array()?.iter().find(|kv| kv["key"] == key).map(|kv| {
        let v = &kv["value"];
        v.get("stringValue").or_else(|| v.get("intValue")).cloned().unwrap_or(Value::Null)
    })
}

fn text(span: &Value, key: &str) -> String {
    attr(span, key).and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Waits until the page has reported what `condition` (a JS expression) says, or 5 s.
async fn until(condition: &str) {
    for _ in 0..250 {
        if js(&format!("return !!({condition})")).as_bool() == Some(true) {
            return;
        }
        sleep(20).await;
    }
    panic!("the page never got to `{condition}`");
}

#[wasm_bindgen_test]
async fn a_real_uncaught_error_and_a_real_rejected_promise_become_exception_spans() {
    let receiver = Receiver::new("errors-real");
    let provider = start(&receiver, Options::default());
    // The test's own listener keeps the runner's console quiet (and counts what happened).
    js("window.__seen = 0;
        window.__quiet = e => { e.preventDefault(); window.__seen++; };
        addEventListener('error', window.__quiet);
        addEventListener('unhandledrejection', window.__quiet);
        setTimeout(() => { const o = null; o.boom(); });
        Promise.reject(new RangeError('the answer is out of range'));
        Promise.reject('a plain string');");
    until("window.__seen >= 3").await;
    js(
        "removeEventListener('error', window.__quiet); removeEventListener('unhandledrejection', window.__quiet);",
    );
    let spans = received(&provider, &receiver).await;
    assert_eq!(spans.len(), 3, "{spans:#?}");
    assert!(spans.iter().all(|s| s["name"] == "exception" && s["status"]["code"] == 2), "{spans:#?}");
    let thrown = spans.iter().find(|s| text(s, "otelweb.exception.source") == "error").expect("the error");
    assert_eq!(text(thrown, "exception.type"), "TypeError");
    assert!(text(thrown, "exception.message").contains("boom"), "{thrown:#?}");
    assert!(text(thrown, "exception.stacktrace").contains("TypeError"), "{thrown:#?}");
    assert!(attr(thrown, "code.line.number").is_some() && attr(thrown, "code.column.number").is_some());
    let rejections: Vec<&Value> =
        spans.iter().filter(|s| text(s, "otelweb.exception.source") == "unhandledrejection").collect();
    let kinds: Vec<String> = rejections.iter().map(|s| text(s, "exception.type")).collect();
    assert!(
        kinds.contains(&"RangeError".to_owned()) && kinds.contains(&"UnhandledRejection".to_owned()),
        "{kinds:?}"
    );
    assert!(rejections.iter().any(|s| text(s, "exception.message") == "a plain string"));
}

#[wasm_bindgen_test]
async fn errors_dispatched_while_a_span_is_active_land_in_its_trace() {
    let receiver = Receiver::new("errors-active");
    let provider = start(&receiver, Options::default());
    let tracer = provider.tracer("app");
    let span = tracer.start("click");
    let trace_id = span.span_context().trace_id().to_string();
    {
        let _attached = Context::current_with_span(span).attach();
        // Dispatched synchronously, as an interaction's handler would see them.
        js("dispatchEvent(new ErrorEvent('error', {
                message: 'Uncaught Error: in the click', filename: 'http://localhost/app.js',
                lineno: 12, colno: 5, error: new Error('in the click') }));
            const promise = Promise.resolve();
            dispatchEvent(new PromiseRejectionEvent('unhandledrejection',
                { promise, reason: new TypeError('rejected in the click') }));");
        Context::current().span().end();
    }
    let spans = received(&provider, &receiver).await;
    assert_eq!(spans.len(), 1, "an event on the active span, no span of its own: {spans:#?}");
    let click = &spans[0];
    assert_eq!(click["traceId"], trace_id);
    let events = click["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events.iter().all(|e| e["name"] == "exception"));
    let messages: Vec<String> = events.iter().map(|e| text(e, "exception.message")).collect();
    assert_eq!(messages, ["in the click", "rejected in the click"]);
    assert_eq!(text(&events[0], "code.file.path"), "http://localhost/app.js");
}

#[wasm_bindgen_test]
async fn console_error_is_captured_only_when_asked_and_given_back_after() {
    let original = js("return console.error");
    let receiver = Receiver::new("errors-console");
    let provider = start(&receiver, Options::default());
    assert_eq!(js("return console.error"), original, "wrapped without being asked");
    let provider_with = start(&receiver, Options::default().with("consoleError", true));
    assert_ne!(js("return console.error"), original);
    js("console.error('saving failed:', new SyntaxError('bad JSON'), 42)");
    // Starting again without it gives the browser's own function back.
    let _provider_without = start(&receiver, Options::default());
    assert_eq!(js("return console.error"), original);
    js("console.error('not captured')");
    let spans = received(&provider_with, &receiver).await;
    let _ = received(&provider, &receiver).await;
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(text(&spans[0], "otelweb.exception.source"), "console.error");
    assert_eq!(text(&spans[0], "exception.type"), "SyntaxError");
    assert_eq!(text(&spans[0], "exception.message"), "saving failed: SyntaxError: bad JSON 42");
}

/// Issue #16: "an error loop of 10,000 errors keeps the queue bounded and the page
/// responsive". Real uncaught errors, each its own task, thrown in chunks of 500 timers; a
/// probe timer measures how late the event loop runs it meanwhile.
#[wasm_bindgen_test]
async fn a_loop_of_ten_thousand_errors_sends_a_bounded_few_and_the_page_stays_responsive() {
    let receiver = Receiver::new("errors-loop");
    let provider = start(&receiver, Options::default());
    js("window.__seen = 0; window.__lag = 0;
        window.__quiet = e => { e.preventDefault(); window.__seen++; };
        addEventListener('error', window.__quiet);
        const started = performance.now();
        let expected = performance.now() + 10;
        const probe = () => {
          window.__lag = Math.max(window.__lag, performance.now() - expected);
          expected = performance.now() + 10;
          if (window.__seen < 10000) setTimeout(probe, 10);
        };
        setTimeout(probe, 10);
        let i = 0;
        const chunk = () => {
          for (let k = 0; k < 500; k++, i++) { const n = i; setTimeout(() => { throw new Error('loop ' + n); }); }
          if (i < 10000) setTimeout(chunk, 0); else window.__threw = performance.now() - started;
        };
        chunk();");
    for _ in 0..1500 {
        if js("return window.__seen").as_f64() == Some(10_000.0) {
            break;
        }
        sleep(20).await;
    }
    // What was held back rides on the next error sent: one more, once a token is back.
    sleep(1_100).await;
    js("setTimeout(() => { throw new Error('after the loop'); })");
    until("window.__seen === 10001").await;
    js("removeEventListener('error', window.__quiet)");
    let lag = js("return window.__lag").as_f64().expect("lag");
    let seen = js("return window.__seen").as_f64().expect("seen");
    assert_eq!(seen, 10_001.0);
    let spans = received(&provider, &receiver).await;
    let suppressed: i64 = spans
        .iter()
        .filter_map(|s| attr(s, "otelweb.suppressed_count"))
        .filter_map(|v| v.as_str().and_then(|n| n.parse().ok()).or_else(|| v.as_i64()))
        .sum();
    web_sys::console::log_1(
        &format!("10,000 errors: {} spans sent, worst event-loop lag {lag:.1} ms", spans.len()).into(),
    );
    // The default budget: 60 a minute, a full bucket plus what refills while the loop runs.
    assert!(spans.len() <= 70, "{} spans for 10,000 errors", spans.len());
    // Everything not sent is counted.
    assert_eq!(suppressed as usize + spans.len(), 10_001, "{suppressed} suppressed");
    assert!(lag < 250.0, "the event loop stalled {lag} ms");
}
