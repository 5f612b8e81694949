//! The protobuf encoder against two independent decoders: `opentelemetry-proto` (prost) and the
//! trace-explorer's, each compared with the decoded JSON encoding of the same spans.

use std::sync::Arc;

use opentelemetry::trace::{Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::export::{otlp_json, test_span};
use crate::trace::SpanEvent;

fn resource() -> Resource {
    Resource::builder().with_service_name("frontend").build()
}

fn both(spans: &[SpanData]) -> (Vec<u8>, String) {
    let proto = encode_request(&encode_resource(&resource()), spans);
    let json = otlp_json::encode_request(&otlp_json::encode_resource(&resource()), spans);
    (proto, json)
}

fn prost_decoded(proto: &[u8]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(proto).expect("prost decodes our protobuf")
}

fn serde_decoded(json: &str) -> ExportTraceServiceRequest {
    serde_json::from_str(json).expect("opentelemetry-proto decodes our JSON")
}

fn rich_span() -> SpanData {
    let mut span = test_span("GET /api/activities/home");
    span.span_kind = SpanKind::Client;
    span.parent_span_id = SpanId::from(0xaabb_ccdd_eeff_0011u64);
    span.parent_span_is_remote = true;
    span.attributes = vec![
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("zero", 0i64),
        KeyValue::new("negative", -5i64),
        KeyValue::new("no", false),
        KeyValue::new("empty", ""),
        KeyValue::new("ratio", 0.25),
        KeyValue::new("list", Value::Array(Array::String(vec!["a".into(), "".into()]))),
        KeyValue::new("ints", Value::Array(Array::I64(vec![0, i64::MIN]))),
        KeyValue::new("long", "x".repeat(300)),
    ];
    span.events = vec![SpanEvent {
        name: "exception".into(),
        time_unix_nano: 1_700_000_000_100_000_000,
        attributes: vec![KeyValue::new("exception.message", "boom")],
        dropped_attributes_count: 1,
    }];
    span.links = vec![Link::new(
        SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("vendor", "x")]).expect("state"),
        ),
        vec![KeyValue::new("link.kind", "follows")],
        2,
    )];
    span.dropped_attributes_count = 3;
    span.dropped_events_count = 4;
    span.dropped_links_count = 5;
    span.status = Status::error("upstream \"failed\"");
    span
}

#[test]
fn protobuf_decodes_to_what_the_json_encoding_decodes_to() {
    let mut other = test_span("other scope");
    other.scope = Arc::new(
        InstrumentationScope::builder("fetch")
            .with_version("1.0")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("scope.attr", 1i64)])
            .build(),
    );
    let mut ok = test_span("ok");
    ok.status = Status::Ok;
    let spans = [rich_span(), other, ok, test_span("plain")];
    let (proto, json) = both(&spans);
    let decoded = prost_decoded(&proto);
    assert_eq!(decoded, serde_decoded(&json));
    let span = &decoded.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.trace_id, TraceId::from(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10u128).to_bytes());
    assert_eq!(span.flags, 0x301);
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert!(proto.len() * 2 < json.len(), "protobuf {} bytes, JSON {}", proto.len(), json.len());
}

#[test]
fn the_explorer_decodes_protobuf_and_json_alike() {
    let spans = [rich_span(), test_span("plain")];
    let (proto, json) = both(&spans);
    let from_proto = trace_explorer::otlp::decode_protobuf(&proto).expect("the explorer decodes protobuf");
    let from_json = trace_explorer::otlp::decode_json(json.as_bytes()).expect("the explorer decodes JSON");
    assert_eq!(from_proto.len(), 2);
    assert_eq!(from_proto, from_json);
}

#[test]
fn chunks_stay_under_the_limit_decode_and_keep_every_span() {
    let spans: Vec<SpanData> = (0..300)
        .map(|i| {
            let mut s = test_span(&format!("span-{i}"));
            s.attributes.push(KeyValue::new("payload", "x".repeat(200)));
            if i % 3 == 0 {
                s.scope = Arc::new(InstrumentationScope::builder("other").build());
            }
            s
        })
        .collect();
    let resource = encode_resource(&resource());
    let limit = 16 * 1024;
    let chunks = encode_chunks(&resource, &spans, limit);
    assert!(chunks.len() > 1);
    let mut names = Vec::new();
    for chunk in &chunks {
        assert!(chunk.len() <= limit, "chunk of {} bytes", chunk.len());
        for rs in prost_decoded(chunk).resource_spans {
            for ss in rs.scope_spans {
                names.extend(ss.spans.into_iter().map(|s| s.name));
            }
        }
    }
    let expected: Vec<String> = spans.iter().map(|s| s.name.to_string()).collect();
    names.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // A lone span over the limit gets a request of its own.
    let mut big = test_span("big");
    big.attributes.push(KeyValue::new("payload", "x".repeat(10_000)));
    let chunks = encode_chunks(&resource, &[test_span("a"), big, test_span("b")], 2_000);
    assert_eq!(chunks.len(), 3);
}

fn value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        // Short decimals: serde_json's default float parsing is not correctly rounded past 19
        // significant digits (the protobuf side is exact), and NaN is not equal to itself.
        (any::<i32>(), 0i32..8).prop_map(|(m, e)| Value::F64(f64::from(m) / 2f64.powi(e))),
        ".{0,40}".prop_map(|s| Value::String(s.into())),
    ];
    prop_oneof![
        4 => scalar,
        1 => proptest::collection::vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(Array::I64(v))),
        1 => proptest::collection::vec(".{0,8}", 0..4)
            .prop_map(|v| Value::Array(Array::String(v.into_iter().map(Into::into).collect()))),
        1 => proptest::collection::vec(any::<bool>(), 0..4).prop_map(|v| Value::Array(Array::Bool(v))),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec(("[a-z.]{1,12}", value()).prop_map(|(k, v)| KeyValue::new(k, v)), 0..6)
}

prop_compose! {
    fn span()(
        name in ".{0,30}",
        trace in 1u128..,
        id in 1u64..,
        parent in any::<u64>(),
        remote in any::<bool>(),
        kind in 0usize..5,
        start in any::<u64>(),
        end in any::<u64>(),
        attributes in attributes(),
        dropped in 0u32..3,
        events in proptest::collection::vec((".{0,10}", any::<u64>(), attributes()), 0..3),
        status in 0usize..3,
        message in ".{0,20}",
        scope in 0usize..3,
    ) -> SpanData {
        let mut span = test_span(&name);
        span.span_context = SpanContext::new(TraceId::from(trace), SpanId::from(id), TraceFlags::SAMPLED, false, TraceState::NONE);
        span.parent_span_id = SpanId::from(parent);
        span.parent_span_is_remote = remote;
        span.span_kind = [SpanKind::Internal, SpanKind::Server, SpanKind::Client, SpanKind::Producer, SpanKind::Consumer][kind].clone();
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = end;
        span.attributes = attributes;
        span.dropped_attributes_count = dropped;
        span.events = events.into_iter().map(|(name, time, attributes)| SpanEvent {
            name: name.into(), time_unix_nano: time, attributes, dropped_attributes_count: 0,
        }).collect();
        span.status = [Status::Unset, Status::Ok, Status::error(message)][status].clone();
        if scope > 0 {
            span.scope = Arc::new(InstrumentationScope::builder(format!("scope-{scope}")).build());
        }
        span
    }
}

proptest! {
    #[test]
    fn random_spans_decode_from_protobuf_as_from_json(spans in proptest::collection::vec(span(), 0..8)) {
        let (proto, json) = both(&spans);
        prop_assert_eq!(prost_decoded(&proto), serde_decoded(&json));
    }

    #[test]
    fn random_chunks_are_whole_requests_under_the_limit(
        spans in proptest::collection::vec(span(), 1..30),
        limit in 200usize..4000,
    ) {
        let resource = encode_resource(&resource());
        let mut count = 0;
        for chunk in encode_chunks(&resource, &spans, limit) {
            let decoded = prost_decoded(&chunk);
            let in_chunk: usize = decoded.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
            prop_assert!(chunk.len() <= limit || in_chunk == 1, "{} bytes holding {} spans", chunk.len(), in_chunk);
            count += in_chunk;
        }
        prop_assert_eq!(count, spans.len());
    }
}
