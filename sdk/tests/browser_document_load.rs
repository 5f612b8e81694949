//! `documentLoad` in headless Chromium: the span tree read from the test page's own timeline,
//! the server's trace continued from `Server-Timing` or `<meta name="traceparent">` (hostile
//! values ignored), and silence when the timeline APIs are missing.
//!
//! Entries with chosen `serverTiming` values are the page's real navigation entry, copied by a
//! stubbed `performance.getEntriesByType` (the test runner's server sends no `Server-Timing`;
//! the e2e test `page_load` covers the real header). Each test restores what it stubbed.
#![cfg(all(target_arch = "wasm32", feature = "document-load"))]

mod support;

use opentelemetry::trace::{SpanId, TraceId};
use otel_web::export::InMemoryExporter;
use otel_web::instrument::document_load::DocumentLoad;
use otel_web::instrument::{Instrumentation, Options};
use otel_web::trace::{SpanData, TracerProvider};
use support::sleep;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const SERVER_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const META_PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Runs JavaScript in the page (stubs and their removal).
fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body).call0(&JsValue::NULL).expect("test script ran")
}

/// Starts the instrumentation on a fresh provider exporting to memory.
fn start() -> InMemoryExporter {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    DocumentLoad.start(&provider, &Options::default());
    exporter
}

/// The spans of the page load, once `documentLoad` has ended (it ends last).
async fn page_load(exporter: &InMemoryExporter) -> Vec<SpanData> {
    for _ in 0..250 {
        let spans = exporter.finished_spans();
        if spans.iter().any(|s| s.name == "documentLoad") {
            return spans;
        }
        sleep(20).await;
    }
    panic!("no documentLoad span within 5 s: {:?}", exporter.finished_spans());
}

fn one<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one {name}: {spans:?}");
    found[0]
}

/// Makes `performance.getEntriesByType('navigation')` return a copy of the real entry whose
/// `serverTiming` is `metrics` (a JS array literal); other types are untouched.
fn stub_server_timing(metrics: &str) {
    js(&format!(
        "const real = Performance.prototype.getEntriesByType;
         performance.getEntriesByType = function (type) {{
           const list = real.call(performance, type);
           if (type !== 'navigation') return list;
           const copy = list[0].toJSON();
           copy.serverTiming = {metrics};
           return [copy];
         }};"
    ));
}

fn unstub() {
    js("delete performance.getEntriesByType;
        for (const m of document.querySelectorAll('meta[name=traceparent]')) m.remove();");
}

fn add_meta(content: &str) {
    js(&format!(
        "const m = document.createElement('meta'); m.name = 'traceparent'; m.content = {content:?};
         document.head.appendChild(m);"
    ));
}

#[wasm_bindgen_test]
async fn the_page_load_is_a_document_fetch_and_resources_inside_one_document_load() {
    let spans = page_load(&start()).await;
    let load = one(&spans, "documentLoad");
    let fetch = one(&spans, "documentFetch");
    // The test runner's server names no parent: a new trace.
    assert_eq!(load.parent_span_id, SpanId::INVALID);
    let href = js("return location.href").as_string().expect("href");
    assert_eq!(fetch.attribute("url.full").map(|v| v.to_string()), Some(href));
    assert!(fetch.events.iter().any(|e| e.name == "responseStart"), "{fetch:?}");
    assert!(load.events.iter().any(|e| e.name == "loadEventEnd"), "{load:?}");
    // The span ends at loadEventEnd, or with the last resource requested before it.
    let load_end = load.events.iter().find(|e| e.name == "loadEventEnd").expect("loadEventEnd");
    let last_resource_end = spans
        .iter()
        .filter(|s| s.name == "resourceFetch")
        .map(|s| s.end_time_unix_nano)
        .fold(load_end.time_unix_nano, u64::max);
    assert_eq!(load.end_time_unix_nano, last_resource_end);
    let resources_before_load = js("const load = performance.getEntriesByType('navigation')[0].loadEventEnd;
         return performance.getEntriesByType('resource')
           .filter(r => r.startTime <= load && r.responseEnd > 0 && r.responseEnd <= load + 30000).length")
    .as_f64()
    .expect("count");
    let resources: Vec<&SpanData> = spans.iter().filter(|s| s.name == "resourceFetch").collect();
    assert_eq!(resources.len() as f64, resources_before_load, "one span per resource requested before load");
    for span in &spans {
        assert_eq!(span.span_context.trace_id(), load.span_context.trace_id());
        if span.name != "documentLoad" {
            assert_eq!(span.parent_span_id, load.span_context.span_id(), "{span:?}");
        }
        assert!(span.start_time_unix_nano >= load.start_time_unix_nano, "starts before its parent: {span:?}");
        assert!(span.end_time_unix_nano <= load.end_time_unix_nano, "ends after its parent: {span:?}");
        let times: Vec<u64> = span.events.iter().map(|e| e.time_unix_nano).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "phases out of order: {span:?}");
        assert!(
            times.iter().all(|t| (span.start_time_unix_nano..=span.end_time_unix_nano).contains(t)),
            "a phase outside its span: {span:?}"
        );
    }
    // Navigation start is the page's time origin, as every other timestamp's clock has it.
    let origin_ms = js("return performance.timeOrigin").as_f64().expect("timeOrigin");
    assert!((load.start_time_unix_nano as f64 / 1e6 - origin_ms).abs() < 1.0, "{load:?}");
}

#[wasm_bindgen_test]
async fn a_server_timing_traceparent_makes_the_page_load_its_child() {
    stub_server_timing(&format!(
        "[{{name: 'app', duration: 3, description: ''}}, {{name: 'traceparent', duration: 0, description: '{SERVER_PARENT}'}}]"
    ));
    add_meta(META_PARENT);
    let spans = page_load(&start()).await;
    unstub();
    let load = one(&spans, "documentLoad");
    assert_eq!(
        load.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex")
    );
    assert_eq!(load.parent_span_id, SpanId::from_hex("00f067aa0ba902b7").expect("hex"));
    assert!(load.parent_span_is_remote);
    assert!(spans.iter().all(|s| s.span_context.trace_id() == load.span_context.trace_id()));
}

#[wasm_bindgen_test]
async fn without_server_timing_a_traceparent_meta_names_the_parent() {
    add_meta(META_PARENT);
    let spans = page_load(&start()).await;
    unstub();
    let load = one(&spans, "documentLoad");
    assert_eq!(
        load.span_context.trace_id(),
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("hex")
    );
    assert_eq!(load.parent_span_id, SpanId::from_hex("b7ad6b7169203331").expect("hex"));
}

#[wasm_bindgen_test]
async fn hostile_traceparents_are_ignored_and_the_page_load_is_a_new_trace() {
    let long = "0".repeat(100_000);
    for (server_timing, meta) in [
        // Upper-case hex, version ff, zero ids, trailing data on version 00.
        (
            "[{name: 'traceparent', description: '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01'}]",
            None,
        ),
        (
            "[{name: 'traceparent', description: 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'}]",
            None,
        ),
        (
            "[{name: 'traceparent', description: '00-00000000000000000000000000000000-00f067aa0ba902b7-01'}]",
            None,
        ),
        (
            "[{name: 'traceparent', description: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x'}]",
            None,
        ),
        // Two at once: ambiguous. Not strings, not objects, not an array at all.
        (
            "[{name: 'traceparent', description: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'},
              {name: 'traceparent', description: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'}]",
            None,
        ),
        ("[{name: 'traceparent', description: 42}, null, 7, 'traceparent']", None),
        ("'00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'", None),
        // A huge value, and hostile metas.
        (&format!("[{{name: 'traceparent', description: '{long}'}}]"), Some("\u{0}\u{ffff}-<script>")),
        ("[]", Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7")),
    ] {
        stub_server_timing(server_timing);
        if let Some(meta) = meta {
            add_meta(meta);
        }
        let spans = page_load(&start()).await;
        unstub();
        let load = one(&spans, "documentLoad");
        assert_eq!(load.parent_span_id, SpanId::INVALID, "{server_timing} / {meta:?} named a parent");
    }
}

#[wasm_bindgen_test]
async fn with_the_timeline_apis_missing_nothing_throws_and_nothing_is_reported() {
    js("window.__dlWarnings = 0; window.__dlErrors = 0;
        window.__dlWarn = console.warn; console.warn = () => { window.__dlWarnings += 1; };
        window.__dlOnError = (e) => { window.__dlErrors += 1; };
        window.addEventListener('error', window.__dlOnError);
        window.addEventListener('unhandledrejection', window.__dlOnError);
        window.__dlObserver = window.PerformanceObserver; window.PerformanceObserver = undefined;");
    for stub in [
        "performance.getEntriesByType = undefined;",
        "performance.getEntriesByType = () => { throw new Error('no timeline'); };",
        "performance.getEntriesByType = () => 'not a list';",
        "performance.getEntriesByType = () => [null, 3, 'x'];",
        "performance.getEntriesByType = (t) => t === 'navigation' ? [{}] : [];",
        "performance.getEntriesByType = (t) => t === 'navigation' ? [{loadEventEnd: NaN, startTime: -5}] : [{}];",
    ] {
        js(stub);
        let exporter = start();
        sleep(300).await;
        unstub();
        assert_eq!(exporter.finished_spans(), vec![], "{stub}");
    }
    let (warnings, errors) = (js("return window.__dlWarnings"), js("return window.__dlErrors"));
    js("console.warn = window.__dlWarn; window.PerformanceObserver = window.__dlObserver;
        window.removeEventListener('error', window.__dlOnError);
        window.removeEventListener('unhandledrejection', window.__dlOnError);");
    assert_eq!(warnings.as_f64(), Some(0.0), "something was reported");
    assert_eq!(errors.as_f64(), Some(0.0), "something threw");
}

#[wasm_bindgen_test]
fn options_are_refused_by_name() {
    let err = DocumentLoad.check(&Options::default().with("resources", false)).expect_err("no options");
    assert!(err.to_string().contains("instrumentations.documentLoad"), "{err}");
    assert_eq!(DocumentLoad.check(&Options::default()), Ok(()));
}
