//! Benchmark entry points called from `bench/pages/otel-web.html`; the page times them with the
//! same loops as the OpenTelemetry JS page.

use std::time::Duration;

use opentelemetry::trace::{Span, Tracer, TracerProvider as _};
use opentelemetry::{KeyValue, global};
use otel_web::export::{InMemoryExporter, OtlpHttpExporter, otlp_json};
use otel_web::processor::{BatchConfig, BatchSpanProcessor};
use otel_web::trace::{SpanData, TracerProvider};
use wasm_bindgen::prelude::*;

/// A batch processor that never exports during a run (as on the JS page): huge queue and
/// batch, long delay.
fn quiet_batch() -> BatchConfig {
    BatchConfig {
        max_queue_size: 1_000_000,
        max_export_batch_size: 1_000_000,
        scheduled_delay: Duration::from_secs(600),
        export_timeout: Duration::from_secs(30),
    }
}

/// Installs the global provider: batch processor with the OTLP exporter to `collector`.
#[wasm_bindgen]
pub fn setup(collector: &str) {
    let exporter = OtlpHttpExporter::builder(collector).build();
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::new(exporter, quiet_batch()))
        .build();
    global::set_tracer_provider(provider);
    global::set_text_map_propagator(otel_web::propagation::default_propagator());
}

/// The memory figure: the default batch processor (queue 2048, batch 512) with a 200 ms delay,
/// exporting to `collector`, which is down.
#[wasm_bindgen]
pub fn setup_outage(collector: &str) {
    let exporter = OtlpHttpExporter::builder(collector).build();
    let config = BatchConfig { scheduled_delay: Duration::from_millis(200), ..Default::default() };
    let provider =
        TracerProvider::builder().with_span_processor(BatchSpanProcessor::new(exporter, config)).build();
    global::set_tracer_provider(provider);
}

/// The size of this module's linear memory (it only grows: the high-water mark).
#[wasm_bindgen]
pub fn wasm_memory_bytes() -> f64 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as f64
}

/// The benchmarked operation: a span with five attributes (int, string, bool, float, string).
fn record_op<T: Tracer>(tracer: &T, i: u32) {
    let mut span = tracer.start("op");
    span.set_attribute(KeyValue::new("int", i64::from(i)));
    span.set_attribute(KeyValue::new("str", "value"));
    span.set_attribute(KeyValue::new("bool", true));
    span.set_attribute(KeyValue::new("float", 1.5));
    span.set_attribute(KeyValue::new("str2", "another value"));
    span.end();
}

/// Records `n` spans through `opentelemetry::global`, as application code would.
#[wasm_bindgen]
pub fn span_lifecycle(n: u32) {
    let tracer = global::tracer("bench");
    for i in 0..n {
        record_op(&tracer, i);
    }
}

thread_local! {
    static FINISHED: std::cell::RefCell<(String, Vec<SpanData>)> = const { std::cell::RefCell::new((String::new(), Vec::new())) };
}

/// Records 512 finished spans to encode.
#[wasm_bindgen]
pub fn prepare_encode() {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let tracer = provider.tracer("bench");
    for i in 0..512 {
        record_op(&tracer, i);
    }
    let resource = otlp_json::encode_resource(provider.resource());
    FINISHED.with(|f| *f.borrow_mut() = (resource, exporter.finished_spans()));
}

/// Encodes the 512 spans into one OTLP/JSON request body; returns its length.
#[wasm_bindgen]
pub fn encode_512() -> usize {
    FINISHED.with(|f| {
        let f = f.borrow();
        otlp_json::encode_request(&f.0, &f.1).len()
    })
}

/// Patches `window.fetch` with otel-web's traced fetch (as the JS page registers
/// FetchInstrumentation).
#[wasm_bindgen]
pub fn instrument_fetch() -> Result<(), JsValue> {
    otel_web::fetch::install_global()
}
