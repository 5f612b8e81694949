//! `longAnimationFrames` in headless Chromium: a 200 ms busy loop in a timer callback is a
//! long animation frame span blaming that callback; a loop of long frames holds the per-minute
//! cap; a browser without the observer types records nothing.
#![cfg(all(target_arch = "wasm32", feature = "long-frames"))]

mod support;

use otel_web::export::InMemoryExporter;
use otel_web::instrument::long_frames::LongFrames;
use otel_web::instrument::{Instrumentation, Options};
use otel_web::trace::{SpanData, TracerProvider};
use support::sleep;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body).call0(&JsValue::NULL).expect("test script ran")
}

fn start(options: Options) -> InMemoryExporter {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    LongFrames.start(&provider, &options);
    exporter
}

fn text(span: &SpanData, key: &str) -> String {
    span.attribute(key).map(|v| v.as_str().into_owned()).unwrap_or_default()
}

/// Busy-loops `ms` milliseconds in a named timer callback, `times` times, one task each; sets
/// `window.__busyDone` when done.
fn busy_loops(ms: u32, times: u32) {
    js(&format!(
        "window.__busyDone = false;
         let left = {times};
         function busyLoopForTheTest() {{
           const end = performance.now() + {ms};
           while (performance.now() < end) {{}}
           if (--left > 0) setTimeout(busyLoopForTheTest, 20);
           else setTimeout(() => {{ window.__busyDone = true; }}, 300);
         }}
         setTimeout(busyLoopForTheTest, 20);"
    ));
}

async fn until_done() {
    for _ in 0..500 {
        if js("return window.__busyDone").as_bool() == Some(true) {
            return;
        }
        sleep(20).await;
    }
    panic!("the busy loops never finished");
}

fn has_loaf() -> bool {
    js("return PerformanceObserver.supportedEntryTypes.includes('long-animation-frame')").as_bool()
        == Some(true)
}

#[wasm_bindgen_test]
async fn a_200_ms_busy_loop_is_a_long_frame_span_blaming_the_timer_callback() {
    // A high threshold: only this loop's frame, not whatever the runner did before.
    let exporter = start(Options::default().with("thresholdMs", 180.0));
    busy_loops(200, 1);
    until_done().await;
    let spans = exporter.finished_spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    let frame = &spans[0];
    let duration_ms = frame.duration_nanos() as f64 / 1e6;
    assert!(duration_ms >= 199.0, "{duration_ms} ms");
    if has_loaf() {
        assert_eq!(frame.name, "longAnimationFrame");
        assert_eq!(text(frame, "code.function.name"), "busyLoopForTheTest", "{frame:#?}");
        assert_eq!(text(frame, "otelweb.script.invoker_type"), "user-callback", "{frame:#?}");
        assert_eq!(text(frame, "otelweb.script.invoker"), "TimerHandler:setTimeout", "{frame:#?}");
        let script_ms = frame.attribute("otelweb.script.duration_ms").and_then(|v| match v {
            opentelemetry::Value::F64(ms) => Some(*ms),
            _ => None,
        });
        assert!(script_ms.is_some_and(|ms| ms >= 199.0), "{frame:#?}");
        assert!(frame.attribute("otelweb.loaf.blocking_duration_ms").is_some());
        assert!(frame.events.iter().any(|e| e.name == "script"), "{frame:#?}");
        web_sys::console::log_1(&format!("LoAF span: {duration_ms:.1} ms, {:?}", frame.attributes).into());
    } else {
        assert_eq!(frame.name, "longtask");
    }
}

#[wasm_bindgen_test]
async fn a_loop_of_long_frames_holds_the_cap() {
    let exporter = start(Options::default().with("thresholdMs", 80.0).with("maxPerMinute", 3.0));
    busy_loops(100, 12);
    until_done().await;
    let spans = exporter.finished_spans();
    // Twelve long frames in under two seconds: the bucket of three, and no refill yet.
    assert_eq!(spans.len(), 3, "{spans:#?}");
}

#[wasm_bindgen_test]
async fn a_browser_without_the_entry_types_records_nothing_and_throws_nothing() {
    js("window.__types = Object.getOwnPropertyDescriptor(PerformanceObserver, 'supportedEntryTypes');
        Object.defineProperty(PerformanceObserver, 'supportedEntryTypes', { value: ['mark'], configurable: true });");
    let exporter = start(Options::default());
    js("Object.defineProperty(PerformanceObserver, 'supportedEntryTypes', window.__types);");
    busy_loops(120, 1);
    until_done().await;
    assert!(exporter.finished_spans().is_empty());
}
