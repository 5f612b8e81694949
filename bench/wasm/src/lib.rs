//! Benchmark entry points called from `bench/pages/otel-web.html`; the page times them with the
//! same loops as the OpenTelemetry JS page.

use std::time::Duration;

use opentelemetry::trace::{Span, Tracer, TracerProvider as _};
use opentelemetry::{KeyValue, global};
use otel_web::export::{
    InMemoryExporter, KEEPALIVE_BUDGET_BYTES, KEEPALIVE_MAX_BODY_BYTES, OtlpHttpExporter, gzip, otlp_json,
    otlp_proto,
};
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

/// Drops the benchmark's provider (and with it the page-hide listener), so the tens of
/// thousands of spans the quiet batch processor holds are not sent when the runner leaves the
/// page: that flood of requests would queue the next page's own requests behind it.
#[wasm_bindgen]
pub fn teardown() {
    global::set_tracer_provider(TracerProvider::builder().build());
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

/// Finished spans to encode, and the resource in both encodings.
#[derive(Default)]
struct Prepared {
    json_resource: String,
    proto_resource: Vec<u8>,
    /// The 512 spans of the encode figures.
    spans: Vec<SpanData>,
    /// More than any keepalive flush holds, for the spans-per-flush figure.
    many: Vec<SpanData>,
}

thread_local! {
    static PREPARED: std::cell::RefCell<Prepared> = std::cell::RefCell::new(Prepared::default());
}

/// Records 512 finished spans to encode (and 4,096 for the keepalive figure).
#[wasm_bindgen]
pub fn prepare_encode() {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let tracer = provider.tracer("bench");
    for i in 0..4096 {
        record_op(&tracer, i);
    }
    let many = exporter.finished_spans();
    PREPARED.with(|p| {
        *p.borrow_mut() = Prepared {
            json_resource: otlp_json::encode_resource(provider.resource()),
            proto_resource: otlp_proto::encode_resource(provider.resource()),
            spans: many[..512].to_vec(),
            many,
        }
    });
}

/// The request body for `spans` in `mode` (0 OTLP/JSON, 1 OTLP/protobuf, 2 OTLP/protobuf with
/// gzip), as the exporter builds it; returns its length in bytes.
fn encode(prepared: &Prepared, mode: u32, spans: &[SpanData]) -> usize {
    match mode {
        1 => otlp_proto::encode_request(&prepared.proto_resource, spans).len(),
        2 => gzip::compress(&otlp_proto::encode_request(&prepared.proto_resource, spans)).len(),
        _ => otlp_json::encode_request(&prepared.json_resource, spans).len(),
    }
}

/// Encodes the 512 spans into one OTLP/JSON request body; returns its length.
#[wasm_bindgen]
pub fn encode_512() -> usize {
    PREPARED.with(|p| encode(&p.borrow(), 0, &p.borrow().spans))
}

/// Encodes the 512 spans into one OTLP/protobuf request body; returns its length.
#[wasm_bindgen]
pub fn encode_512_protobuf() -> usize {
    PREPARED.with(|p| encode(&p.borrow(), 1, &p.borrow().spans))
}

/// Encodes the 512 spans into one gzipped OTLP/protobuf request body; returns its length.
#[wasm_bindgen]
pub fn encode_512_protobuf_gzip() -> usize {
    PREPARED.with(|p| encode(&p.borrow(), 2, &p.borrow().spans))
}

/// Spans one page-hide flush carries in `mode`: the most spans one body of at most
/// `KEEPALIVE_MAX_BODY_BYTES` (16 KiB, as sent) holds, times the bodies that fit the browser's
/// 64 KiB keepalive budget.
#[wasm_bindgen]
pub fn spans_per_keepalive_flush(mode: u32) -> usize {
    PREPARED.with(|p| {
        let p = p.borrow();
        let (mut lo, mut hi) = (0, p.many.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if encode(&p, mode, &p.many[..mid]) <= KEEPALIVE_MAX_BODY_BYTES { lo = mid } else { hi = mid - 1 }
        }
        lo * (KEEPALIVE_BUDGET_BYTES / KEEPALIVE_MAX_BODY_BYTES)
    })
}

/// Patches `window.fetch` with otel-web's traced fetch (as the JS page registers
/// FetchInstrumentation).
#[wasm_bindgen]
pub fn instrument_fetch() -> Result<(), JsValue> {
    otel_web::fetch::install_global()
}
