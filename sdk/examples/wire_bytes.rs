//! Bytes on the wire per span, spans per 64 KiB keepalive flush, and encode time of 512 spans
//! for each export mode, with the benchmark's span shape (`bench/wasm` `record_op`: five
//! attributes, int, string, bool, float, string; a root span each, so random trace ids).
//!
//! `cargo run --release -p otel-web --example wire_bytes --features protobuf,gzip,testing`
//! (native timings: indicative only, the browser's are in BENCHMARKS.md).

use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use otel_web::Resource;
use otel_web::export::{InMemoryExporter, gzip, otlp_json, otlp_proto};
use otel_web::trace::{SpanData, TracerProvider};

fn spans(n: u32) -> Vec<SpanData> {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let tracer = provider.tracer("bench");
    for i in 0..n {
        let mut span = tracer.start("op");
        span.set_attribute(KeyValue::new("int", i64::from(i)));
        span.set_attribute(KeyValue::new("str", "value"));
        span.set_attribute(KeyValue::new("bool", true));
        span.set_attribute(KeyValue::new("float", 1.5));
        span.set_attribute(KeyValue::new("str2", "another value"));
        span.end();
    }
    exporter.finished_spans()
}

/// Encodes a batch of spans into one request body.
type Encoder<'a> = Box<dyn Fn(&[SpanData]) -> Vec<u8> + 'a>;

fn main() {
    let resource = Resource::builder().with_service_name("bench").build();
    let json_resource = otlp_json::encode_resource(&resource);
    let proto_resource = otlp_proto::encode_resource(&resource);
    let modes: [(&str, Encoder<'_>); 4] = [
        ("json", Box::new(|s| otlp_json::encode_request(&json_resource, s).into_bytes())),
        ("json+gzip", Box::new(|s| gzip::compress(otlp_json::encode_request(&json_resource, s).as_bytes()))),
        ("protobuf", Box::new(|s| otlp_proto::encode_request(&proto_resource, s))),
        ("protobuf+gzip", Box::new(|s| gzip::compress(&otlp_proto::encode_request(&proto_resource, s)))),
    ];
    let batch = spans(512);
    println!(
        "| mode | bytes/span (512-span body) | spans per 64 KiB flush (4 × 16 KiB bodies) | encode 512 spans (native, µs) |"
    );
    println!("|---|---|---|---|");
    for (name, encode) in &modes {
        let body = encode(&batch);
        // The most spans one 16 KiB body holds, four of them in the 64 KiB budget.
        let (mut lo, mut hi) = (1usize, batch.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if encode(&batch[..mid]).len() <= 16 * 1024 { lo = mid } else { hi = mid - 1 }
        }
        let runs = 50;
        let start = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(encode(std::hint::black_box(&batch)));
        }
        let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
        println!("| {name} | {:.1} | {} | {micros:.0} |", body.len() as f64 / 512.0, 4 * lo);
    }
}
