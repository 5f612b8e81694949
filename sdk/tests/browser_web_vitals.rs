//! `webVitals` in headless Chromium, on the test runner's own page: FCP and TTFB from the real
//! timeline as spans with the `browser.web_vital.*` attributes, checked against the entries
//! themselves; untrusted events never finalize LCP; a hidden page reports CLS, once.
#![cfg(all(target_arch = "wasm32", feature = "web-vitals"))]

mod support;

use opentelemetry::Value;
use otel_web::export::InMemoryExporter;
use otel_web::instrument::web_vitals::WebVitals;
use otel_web::instrument::{Instrumentation, Options};
use otel_web::trace::{SpanData, TracerProvider};
use support::sleep;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body).call0(&JsValue::NULL).expect("test script ran")
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

fn number(span: &SpanData, key: &str) -> f64 {
    match attr(span, key) {
        Some(Value::F64(v)) => v,
        Some(Value::I64(v)) => v as f64,
        other => panic!("{key} is {other:?} on {}", span.name),
    }
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

async fn wait_for(exporter: &InMemoryExporter, name: &str) -> Vec<SpanData> {
    for _ in 0..100 {
        let spans = exporter.finished_spans();
        if spans.iter().any(|s| s.name == name) {
            return spans;
        }
        sleep(50).await;
    }
    panic!("no {name} span within 5 s: {:?}", exporter.finished_spans())
}

#[wasm_bindgen_test]
async fn fcp_and_ttfb_are_the_timelines_own_values_and_only_trusted_input_finalizes_lcp() {
    // Something contentful, so the page paints it.
    js("document.body.insertAdjacentHTML('afterbegin', '<h1 id=vitals-heading>Vitals</h1>')");
    sleep(100).await;
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    WebVitals.start(&provider, &Options::default());
    WebVitals.start(&provider, &Options::default()); // a second start changes nothing

    wait_for(&exporter, "fcp").await;
    let spans = wait_for(&exporter, "ttfb").await;
    let fcp = named(&spans, "fcp");
    let ttfb = named(&spans, "ttfb");
    assert_eq!((fcp.len(), ttfb.len()), (1, 1), "one report each: {spans:?}");
    let (fcp, ttfb) = (fcp[0], ttfb[0]);

    let paint =
        js("return performance.getEntriesByName('first-contentful-paint')[0].startTime").as_f64().unwrap();
    let first_byte =
        js("return performance.getEntriesByType('navigation')[0].responseStart").as_f64().unwrap();
    assert_eq!(number(fcp, "browser.web_vital.value"), paint);
    assert_eq!(number(ttfb, "browser.web_vital.value"), first_byte);
    for (span, name) in [(fcp, "fcp"), (ttfb, "ttfb")] {
        assert_eq!(attr(span, "browser.web_vital.name"), Some(Value::from(name)));
        assert_eq!(attr(span, "browser.web_vital.rating"), Some(Value::from("good")));
        assert_eq!(attr(span, "browser.web_vital.navigation_type"), Some(Value::from("navigate")));
        assert_eq!(number(span, "browser.web_vital.delta"), number(span, "browser.web_vital.value"));
        let Some(Value::String(id)) = attr(span, "browser.web_vital.id") else { panic!("no id") };
        assert!(id.as_str().len() > 10, "{id}");
        let path = js("return location.pathname").as_string().unwrap();
        assert_eq!(attr(span, "url.path"), Some(Value::from(path)));
        // No documentLoad and no server span on this page: each vital is a root.
        assert_eq!(span.parent_span_id, opentelemetry::trace::SpanId::INVALID, "{span:?}");
        // The span is the part of the page the vital measures: from navigation start.
        let duration_ms = (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / 1e6;
        assert!((duration_ms - number(span, "browser.web_vital.value")).abs() < 0.01, "{duration_ms}");
    }
    // The sub-parts add up to the whole.
    let parts: f64 = ["waiting", "cache", "dns", "connection", "request"]
        .iter()
        .map(|p| number(ttfb, &format!("otelweb.web_vital.ttfb.{p}_duration")))
        .sum();
    assert!((parts - first_byte).abs() < 1e-6, "{parts} vs {first_byte}");
    let to_fcp = number(fcp, "otelweb.web_vital.time_to_first_byte")
        + number(fcp, "otelweb.web_vital.fcp.first_byte_to_fcp");
    assert!((to_fcp - paint).abs() < 1e-6);

    // Scripted clicks and key presses are not the user's: LCP stays open.
    js("document.body.dispatchEvent(new MouseEvent('click', {bubbles: true}));
        document.body.dispatchEvent(new KeyboardEvent('keydown', {bubbles: true}))");
    sleep(1_500).await;
    assert!(named(&exporter.finished_spans(), "lcp").is_empty(), "untrusted input finalized LCP");

    // The page "hidden": CLS is final (zero: nothing shifted), and reported once.
    js("Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
        document.dispatchEvent(new Event('visibilitychange'))");
    sleep(50).await;
    js("delete document.visibilityState");
    let spans = exporter.finished_spans();
    let cls = named(&spans, "cls");
    assert_eq!(cls.len(), 1, "{spans:?}");
    assert_eq!(number(cls[0], "browser.web_vital.value"), 0.0);
    assert_eq!(attr(cls[0], "browser.web_vital.rating"), Some(Value::from("good")));
    assert!(named(&spans, "inp").is_empty(), "no interaction, no INP");
}
