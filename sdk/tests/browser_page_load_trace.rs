//! With `document-load` and `web-vitals` both on, the page load is one trace in headless
//! Chromium: the server's span (a stubbed `Server-Timing` traceparent), then `documentLoad`,
//! then its `documentFetch` and resources *and* the vitals — FCP and TTFB, reported before
//! `documentLoad` is recorded, and CLS, reported after — all children of `documentLoad`.
#![cfg(all(target_arch = "wasm32", feature = "document-load", feature = "web-vitals"))]

mod support;

use opentelemetry::trace::{SpanId, TraceId};
use otel_web::export::InMemoryExporter;
use otel_web::instrument::document_load::DocumentLoad;
use otel_web::instrument::web_vitals::WebVitals;
use otel_web::instrument::{Instrumentation, Options};
use otel_web::trace::{SpanData, TracerProvider};
use support::sleep;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const SERVER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SERVER_SPAN: &str = "00f067aa0ba902b7";

fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body).call0(&JsValue::NULL).expect("test script ran")
}

/// The spans once every one of `names` has ended (within 5 s).
async fn wait_for(exporter: &InMemoryExporter, names: &[&str]) -> Vec<SpanData> {
    for _ in 0..250 {
        let spans = exporter.finished_spans();
        if names.iter().all(|n| spans.iter().any(|s| s.name == *n)) {
            return spans;
        }
        sleep(20).await;
    }
    panic!("not all of {names:?} within 5 s: {:?}", exporter.finished_spans());
}

fn one<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one {name}: {spans:?}");
    found[0]
}

#[wasm_bindgen_test]
async fn the_vitals_reported_before_and_after_document_load_is_recorded_are_its_children() {
    // Something contentful, so the page paints it (FCP).
    js("document.body.insertAdjacentHTML('afterbegin', '<h1>Page load</h1>')");
    sleep(100).await;
    // The real navigation entry, with the server's traceparent in its Server-Timing.
    js(&format!(
        "const real = Performance.prototype.getEntriesByType;
         performance.getEntriesByType = function (type) {{
           const list = real.call(performance, type);
           if (type !== 'navigation') return list;
           const copy = list[0].toJSON();
           copy.serverTiming = [{{name: 'traceparent', duration: 0, description: '00-{SERVER_TRACE}-{SERVER_SPAN}-01'}}];
           return [copy];
         }};"
    ));
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    // In `registered()` order.
    DocumentLoad.start(&provider, &Options::default());
    WebVitals.start(&provider, &Options::default());

    // Here the page loaded long ago, so documentLoad may end first or last; the native test
    // `the_ids_named_at_the_start_are_those_documentload_is_exported_with` pins a vital that
    // ends before it.
    let spans = wait_for(&exporter, &["fcp", "ttfb", "documentLoad"]).await;
    // The page "hidden": CLS is final, reported after documentLoad.
    js("Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'))");
    let cls_spans = wait_for(&exporter, &["cls"]).await;
    js("delete document.visibilityState; delete performance.getEntriesByType;");
    let load = one(&spans, "documentLoad");
    assert_eq!(load.span_context.trace_id(), TraceId::from_hex(SERVER_TRACE).expect("hex"));
    assert_eq!(load.parent_span_id, SpanId::from_hex(SERVER_SPAN).expect("hex"));
    assert!(load.parent_span_is_remote);
    let cls = one(&cls_spans, "cls");
    let mut vitals = vec![one(&spans, "fcp"), one(&spans, "ttfb"), cls];
    vitals.extend(spans.iter().filter(|s| s.name == "documentFetch"));
    assert_eq!(vitals.len(), 4, "{spans:?}");
    for span in vitals {
        assert_eq!(span.span_context.trace_id(), load.span_context.trace_id(), "{span:?}");
        assert_eq!(
            span.parent_span_id,
            load.span_context.span_id(),
            "{} is not under documentLoad",
            span.name
        );
        assert!(!span.parent_span_is_remote, "{span:?}");
    }
}
