//! Issue #17 in headless Chromium: protobuf and gzip bodies as the loopback receiver gets them
//! (inflated by the browser's own `DecompressionStream`, an independent gzip decoder), the
//! keepalive budget counted in compressed bytes, and the offline outbox: bounded, oldest
//! dropped and counted, quota errors absorbed, every saved span delivered once.
#![cfg(all(target_arch = "wasm32", feature = "protobuf", feature = "gzip", feature = "offline"))]

mod support;

use std::sync::Arc;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use otel_web::export::{
    Compression, Encoding, ExportMode, KEEPALIVE_BUDGET_BYTES, OtlpHttpExporter, SpanExporter, otlp_json,
    otlp_proto,
};
use otel_web::trace::SpanData;
use otel_web::{ExportError, Resource};
use serde_json::{Value, json};
use support::{Receiver, sleep, spans_of};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = "
export async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
export function fillStorage() {
  const chunk = 'x'.repeat(256 * 1024);
  let i = 0;
  try { for (; i < 100; i++) localStorage.setItem('test-filler-' + i, chunk); } catch (e) {}
  let small = 0;
  try { for (; small < 100000; small++) localStorage.setItem('test-filler-s' + small, 'x'.repeat(512)); } catch (e) {}
  return i * 256 * 1024 + small * 512;
}
export function clearStorage() { localStorage.clear(); }
export function clearFiller() {
  for (const key of Object.keys(localStorage)) if (key.startsWith('test-filler-')) localStorage.removeItem(key);
}
")]
extern "C" {
    async fn gunzip(bytes: &[u8]) -> JsValue;
    #[wasm_bindgen(js_name = fillStorage)]
    fn fill_storage() -> f64;
    #[wasm_bindgen(js_name = clearStorage)]
    fn clear_storage();
    #[wasm_bindgen(js_name = clearFiller)]
    fn clear_filler();
}

fn resource() -> Resource {
    Resource::builder().with_service_name("frontend").build()
}

/// A span shaped like the benchmark's: five attributes of each kind.
fn span(i: u64) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319cu128),
            SpanId::from(0x1000 + i),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::from(0x0b7a_d6b7_1690_3331u64),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: format!("op {i}").into(),
        start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000,
        end_time_unix_nano: 1_700_000_000_000_500_000 + i * 1_000_000,
        attributes: vec![
            KeyValue::new("app.index", i as i64),
            KeyValue::new("app.kind", "benchmark"),
            KeyValue::new("app.even", i.is_multiple_of(2)),
            KeyValue::new("app.ratio", 0.5),
            KeyValue::new("app.label", format!("label-{}", i % 7)),
        ],
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: Default::default(),
        scope: Arc::new(InstrumentationScope::builder("bench").build()),
    }
}

fn bytes_of(request: &Value) -> Vec<u8> {
    let hex = request["body_hex"].as_str().expect("a binary body is recorded as hex");
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

async fn inflate(bytes: &[u8]) -> Vec<u8> {
    js_sys::Uint8Array::new(&gunzip(bytes).await).to_vec()
}

#[wasm_bindgen_test]
async fn protobuf_gzip_bodies_inflate_to_exactly_what_the_encoder_wrote() {
    let receiver = Receiver::new("wire-proto");
    let exporter = OtlpHttpExporter::builder(receiver.traces_url())
        .with_encoding(Encoding::Protobuf)
        .with_compression(Compression::Gzip)
        .build();
    exporter.set_resource(&resource());
    let batch: Vec<SpanData> = (0..50).map(span).collect();
    let expected = otlp_proto::encode_request(&otlp_proto::encode_resource(&resource()), &batch);
    exporter.export(batch, ExportMode::Normal).await.expect("delivered");
    let posts = receiver.posts(1).await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["headers"]["content-type"], "application/x-protobuf");
    assert_eq!(posts[0]["headers"]["content-encoding"], "gzip");
    let wire = bytes_of(&posts[0]);
    assert_eq!(inflate(&wire).await, expected, "Chromium's gunzip gives back the encoder's protobuf");
    assert!(wire.len() * 4 < expected.len(), "gzip: {} of {} bytes", wire.len(), expected.len());
}

#[wasm_bindgen_test]
async fn the_keepalive_flush_counts_compressed_bytes_and_fits_far_more_spans() {
    let receiver = Receiver::new("wire-unload");
    let exporter = OtlpHttpExporter::builder(receiver.traces_url())
        .with_encoding(Encoding::Json)
        .with_compression(Compression::Gzip)
        .build();
    exporter.set_resource(&resource());
    let batch: Vec<SpanData> = (0..3000).map(span).collect();
    let plain = otlp_json::encode_request(&otlp_json::encode_resource(&resource()), &batch);
    assert!(plain.len() > 10 * KEEPALIVE_BUDGET_BYTES, "{} bytes uncompressed", plain.len());
    exporter.export(batch, ExportMode::Unload).await.expect("started");
    let stats = exporter.stats();
    assert!(stats.keepalive_bytes <= KEEPALIVE_BUDGET_BYTES as u64, "{stats:?}");
    let posts = receiver.posts(stats.requests as usize).await;
    // (newest span index, span count) per body.
    let mut bodies = Vec::new();
    let mut all = Vec::new();
    for post in &posts {
        let wire = bytes_of(post);
        assert!(wire.len() <= 16 * 1024, "a page-hide body of {} bytes", wire.len());
        let json = String::from_utf8(inflate(&wire).await).expect("UTF-8 JSON");
        let spans = spans_of(&json);
        let newest =
            spans.iter().filter_map(|s| s["name"].as_str()?.strip_prefix("op ")?.parse::<u64>().ok()).max();
        bodies.push((newest, spans.len()));
        all.extend(spans.into_iter().map(|s| s["name"].as_str().map(str::to_owned)));
    }
    all.sort();
    all.dedup();
    // Every span left (the page stayed: bodies past the budget went without keepalive).
    assert_eq!(stats.offline_saved, 0, "no outbox was configured");
    assert_eq!(all.len(), 3000, "{} distinct spans arrived", all.len());
    // The newest bodies went with keepalive: count their spans.
    bodies.sort_by_key(|b| std::cmp::Reverse(b.0));
    let keepalive_spans: usize = bodies.iter().take(stats.keepalive_requests as usize).map(|b| b.1).sum();
    web_sys::console::log_1(
        &format!(
            "gzip JSON: {keepalive_spans} spans in {} keepalive requests, {} bytes",
            stats.keepalive_requests, stats.keepalive_bytes
        )
        .into(),
    );
    // Uncompressed JSON fits about 64 KiB / 330 bytes ≈ 200 of these spans.
    assert!(keepalive_spans > 1000, "only {keepalive_spans} spans fit the keepalive budget");
}

#[wasm_bindgen_test]
async fn the_outbox_keeps_failed_bodies_drops_the_oldest_past_its_bound_and_delivers_the_rest_once() {
    clear_storage();
    let receiver = Receiver::new("outbox");
    // The collector is down for the first five exports.
    receiver
        .script(json!([{"status": 503}, {"status": 503}, {"status": 503}, {"status": 503}, {"status": 503}]))
        .await;
    // Room for about three of the five bodies.
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).with_offline_storage(3 * 1500).build();
    exporter.set_resource(&resource());
    for round in 0..5u64 {
        let batch: Vec<SpanData> = (round * 2..round * 2 + 2).map(span).collect();
        exporter.export(batch, ExportMode::Normal).await.expect("saved, not failed");
    }
    let stats = exporter.stats();
    assert_eq!(stats.offline_saved, 5, "{stats:?}");
    assert_eq!(stats.retries, 0, "the outbox takes over from the retries");
    // The collector is back: the next export succeeds and drains the outbox.
    exporter.export(vec![span(100)], ExportMode::Normal).await.expect("delivered");
    for _ in 0..100 {
        if exporter_outbox_is_empty() {
            break;
        }
        sleep(50).await;
    }
    sleep(200).await;
    // The export after that reports the drops.
    exporter.export(vec![span(101)], ExportMode::Normal).await.expect("delivered");
    let delivered = received_span_ids(&receiver).await;
    let posts = receiver.posts(0).await;
    let report = posts
        .iter()
        .filter(|p| p["body"].as_str().is_some_and(|b| b.contains("otelweb.offline.dropped_spans")))
        .count();
    assert_eq!(report, 1, "the drop count goes out once");
    let stats = exporter.stats();
    let kept = stats.offline_delivered as usize;
    assert!((2..=4).contains(&kept), "{stats:?}");
    let dropped = 5 - kept;
    // Failed attempts are recorded too: count what the collector accepted (the last 1 + kept).
    let accepted: Vec<&Value> = posts.iter().skip(5).collect();
    let mut ids: Vec<String> = Vec::new();
    for post in accepted {
        ids.extend(
            spans_of(post["body"].as_str().expect("JSON"))
                .iter()
                .map(|s| s["spanId"].as_str().expect("id").to_owned()),
        );
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "a span arrived twice: {ids:?}");
    assert_eq!(ids.len(), 2 + 2 * kept);
    // The oldest were dropped: the newest bodies' spans are among those delivered.
    assert!(ids.contains(&format!("{:016x}", 0x1000 + 9)), "the newest saved span was delivered");
    assert!(!ids.contains(&format!("{:016x}", 0x1000)), "the oldest was dropped");
    let first = spans_of(posts.last().expect("a post")["body"].as_str().expect("JSON"));
    let count = first[0]["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .find(|a| a["key"] == "otelweb.offline.dropped_spans")
        .map(|a| a["value"]["intValue"].clone());
    assert_eq!(count, Some(json!((dropped * 2).to_string())), "{delivered:?}");
    assert!(exporter_outbox_is_empty());
}

async fn received_span_ids(receiver: &Receiver) -> Vec<String> {
    receiver
        .posts(0)
        .await
        .iter()
        .filter_map(|p| p["body"].as_str().map(spans_of))
        .flatten()
        .filter_map(|s| s["spanId"].as_str().map(str::to_owned))
        .collect()
}

fn exporter_outbox_is_empty() -> bool {
    let storage = web_sys::window().expect("window").local_storage().expect("storage").expect("storage");
    let len = storage.length().expect("length");
    (0..len).filter_map(|i| storage.key(i).ok().flatten()).all(|k| !k.starts_with("otel-web.outbox."))
}

#[wasm_bindgen_test]
async fn a_full_browser_quota_drops_and_counts_without_the_page_noticing() {
    clear_storage();
    let receiver = Receiver::new("quota");
    receiver.script(json!([{"status": 503}])).await;
    let exporter = OtlpHttpExporter::builder(receiver.traces_url()).with_offline_storage(1 << 20).build();
    exporter.set_resource(&resource());
    let filled = fill_storage();
    assert!(filled > 1e6, "the test filled {filled} bytes of storage");
    let result: Result<(), ExportError> =
        exporter.export((0..20).map(span).collect(), ExportMode::Normal).await;
    clear_filler();
    assert!(result.is_err() || exporter.stats().offline_saved == 0, "nothing could be saved");
    let stats = exporter.stats();
    assert_eq!(stats.offline_saved, 0, "{stats:?}");
    // Once the collector answers again, the next export reports the 20 spans the quota cost.
    exporter.export(vec![span(98)], ExportMode::Normal).await.expect("delivered");
    exporter.export(vec![span(99)], ExportMode::Normal).await.expect("delivered");
    let posts = receiver.posts(3).await;
    let last = spans_of(posts.last().expect("a post")["body"].as_str().expect("JSON"));
    let count = last[0]["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .find(|a| a["key"] == "otelweb.offline.dropped_spans")
        .map(|a| a["value"]["intValue"].clone());
    assert_eq!(count, Some(json!("20")));
    // The page goes on: a fetch of its own still works.
    let response = wasm_bindgen_futures::JsFuture::from(
        web_sys::window().expect("window").fetch_with_str(&format!("{}/_requests", receiver.base)),
    )
    .await;
    assert!(response.is_ok());
}
