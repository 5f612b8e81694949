//! `webVitals` where the browser lacks what it needs: no `PerformanceObserver` at all, then one
//! whose every call throws, no Event Timing and a `performance` that throws. Nothing throws
//! into the page and nothing is reported, whatever events come.
#![cfg(all(target_arch = "wasm32", feature = "web-vitals"))]

mod support;

use otel_web::export::InMemoryExporter;
use otel_web::instrument::web_vitals::WebVitals;
use otel_web::instrument::{Instrumentation, Options};
use otel_web::trace::TracerProvider;
use support::sleep;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body).call0(&JsValue::NULL).expect("test script ran")
}

/// Every event a page sees in its life, as the browser would send it (scripted, so untrusted;
/// the hidden state is faked).
const LIFE: &str = "
    window.__errors = 0;
    window.addEventListener('error', () => { window.__errors += 1; });
    window.addEventListener('unhandledrejection', () => { window.__errors += 1; });
    document.body.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    document.body.dispatchEvent(new KeyboardEvent('keydown', {bubbles: true}));
    window.dispatchEvent(new Event('load'));
    Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
    document.dispatchEvent(new Event('visibilitychange'));
    delete document.visibilityState;
    window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}));
    window.dispatchEvent(new Event('prerenderingchange'));
";

#[wasm_bindgen_test]
async fn with_the_observers_stubbed_out_nothing_throws_and_nothing_is_reported() {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();

    // No PerformanceObserver at all.
    js("window.__PO = window.PerformanceObserver; delete window.PerformanceObserver;");
    WebVitals.start(&provider, &Options::default());
    js(LIFE);
    sleep(300).await;
    assert!(exporter.finished_spans().is_empty(), "{:?}", exporter.finished_spans());

    // An observer whose every use throws, no Event Timing, a timeline that throws.
    js("
        window.PerformanceObserver = function () { throw new Error('no observers here'); };
        Object.defineProperty(window.PerformanceObserver, 'supportedEntryTypes', {
            get() { throw new Error('no entry types either'); } });
        window.__PET = window.PerformanceEventTiming; delete window.PerformanceEventTiming;
        window.__gebt = performance.getEntriesByType;
        performance.getEntriesByType = () => { throw new Error('no timeline'); };
        performance.getEntriesByName = () => { throw new Error('no timeline'); };
    ");
    WebVitals.start(&provider, &Options::default());
    js(LIFE);
    sleep(1_500).await;
    let errors = js("return window.__errors").as_f64();
    js("
        window.PerformanceObserver = window.__PO; window.PerformanceEventTiming = window.__PET;
        performance.getEntriesByType = window.__gebt; delete performance.getEntriesByName;
    ");
    assert_eq!(errors, Some(0.0), "something threw into the page");
    assert!(exporter.finished_spans().is_empty(), "{:?}", exporter.finished_spans());
}
