//! Regressions for single requests that broke the explorer (issue #13, items 17–19, and what
//! the review of that issue found): each is sent over real HTTP on loopback, must be answered
//! 4xx (or 200 where the input is merely odd), and must leave the store ingesting and answering.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::{Value, json};
use trace_explorer::otlp::MAX_VALUE_DEPTH;
use trace_explorer::query::{self, MAX_TIME_RANGE, Query};
use trace_explorer::store::{Retention, Store, now_ns};
use trace_explorer::{AppState, app};

async fn explorer() -> (String, Arc<Store>) {
    let store = Arc::new(Store::in_memory(Retention::default()).expect("store"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(AppState { store: Arc::clone(&store), forwarder: None }, &[]);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), store)
}

fn client() -> reqwest::Client {
    // A request that hangs fails the test instead of hanging it.
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client")
}

async fn post(base: &str, path: &str, content_type: &str, gzip: bool, body: Vec<u8>) -> reqwest::Response {
    let mut request = client().post(format!("{base}{path}")).header("content-type", content_type);
    let body = if gzip {
        request = request.header("content-encoding", "gzip");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&body).expect("gzip");
        gz.finish().expect("gzip")
    } else {
        body
    };
    request.body(body).send().await.expect("post")
}

async fn query(base: &str, spec: &Value) -> reqwest::Response {
    post(base, "/api/query", "application/json", false, spec.to_string().into_bytes()).await
}

/// A span with `attributes` (OTLP/JSON), started a second ago.
fn json_span(span_id: &str, attributes: Value) -> Vec<u8> {
    let start = now_ns() - 1_000_000_000;
    json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeSpans": [{"spans": [{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": span_id, "name": "op",
            "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 5_000_000).to_string(),
            "attributes": attributes}]}]}]})
    .to_string()
    .into_bytes()
}

/// Ingests a normal span and counts it back through a query: the store still works.
async fn store_still_works(base: &str, span_id: &str) {
    let body = json_span(span_id, json!([{"key": "probe", "value": {"stringValue": span_id}}]));
    let response = post(base, "/v1/traces", "application/json", false, body).await;
    assert_eq!(response.status(), 200, "the store still ingests");
    let spec = json!({"calculations": [{"op": "COUNT"}], "filters": [{"column": "probe", "op": "=", "value": span_id}]});
    let response = query(base, &spec).await;
    assert_eq!(response.status(), 200, "the store still answers");
    let result: Value = response.json().await.expect("json");
    assert_eq!(result["results"][0]["values"]["COUNT"], 1.0, "{result}");
}

/// `{"arrayValue": {"values": [ … ]}}` nested `depth` times around a string.
fn nested_json(depth: usize) -> Value {
    (0..depth).fold(
        json!({"stringValue": "\"quoted\" \\ leaf"}),
        |inner, _| json!({"arrayValue": {"values": [inner]}}),
    )
}

fn nested_proto(depth: usize) -> AnyValue {
    (0..depth).fold(AnyValue { value: Some(any_value::Value::StringValue("\"leaf\"".into())) }, |inner, _| {
        AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![inner] })) }
    })
}

fn proto_request(resource: Vec<KeyValue>, spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: resource, ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn proto_span(id: u64, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![0x42; 16],
        span_id: id.to_be_bytes().to_vec(),
        name: "op".into(),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        attributes,
        ..Default::default()
    }
}

// Issue #13, item 17.
#[tokio::test]
async fn a_huge_granularity_is_refused_and_the_store_keeps_answering() {
    let (base, store) = explorer().await;
    store_still_works(&base, "0000000000000001").await;
    for spec in [
        json!({"calculations": [{"op": "COUNT"}], "time_range": 3600, "granularity": 1_i64 << 55}),
        json!({"calculations": [{"op": "HEATMAP", "column": "duration_ms"}], "time_range": 3600, "granularity": 3600}),
        json!({"time_range": 3600, "granularity": 3}),
    ] {
        let response = query(&base, &spec).await;
        assert_eq!(response.status(), 400, "{spec}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["field"], "granularity", "{error}");
    }
    store_still_works(&base, "0000000000000002").await;

    // A Query built by hand skips validation: the engine itself neither divides by zero nor
    // overflows, so the store cannot be poisoned by one.
    let valid = Query::parse(
        &json!({"calculations": [{"op": "HEATMAP", "column": "duration_ms"}]}),
        now_ns() / 1_000_000_000,
    )
    .expect("valid");
    for (start_time, end_time, granularity) in [
        (valid.start_time, valid.end_time, 1_i64 << 55),
        (i64::MIN, i64::MAX, 0),
        (i64::MAX - 1, i64::MAX, -1),
    ] {
        let hand_built = Query { start_time, end_time, granularity, ..valid.clone() };
        query::run(&store, &hand_built).expect("the engine answers");
    }
    store_still_works(&base, "0000000000000003").await;
}

// Issue #13, item 19.
#[tokio::test]
async fn a_time_range_of_i64_max_is_refused_by_validation() {
    let (base, _) = explorer().await;
    let huge = i64::MAX;
    for (spec, field) in [
        (json!({"time_range": huge}), "time_range"),
        (json!({"time_range": MAX_TIME_RANGE + 1}), "time_range"),
        (json!({"time_range": huge, "start_time": 0}), "time_range"),
        (json!({"start_time": huge}), "start_time"),
        (json!({"end_time": huge}), "end_time"),
        (json!({"start_time": -huge, "end_time": 10}), "start_time"),
        (json!({"start_time": 0, "end_time": 9_000_000_000_i64}), "end_time"),
        (json!({"end_time": 5}), "start_time"),
    ] {
        let response = query(&base, &spec).await;
        assert_eq!(response.status(), 400, "{spec}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["field"], field, "{spec}: {error}");
        assert!(!error["message"].as_str().unwrap_or("").contains("capacity"), "{error}");
    }
    let longest = query(&base, &json!({"time_range": MAX_TIME_RANGE})).await;
    assert_eq!(longest.status(), 200, "the longest range is accepted");
    store_still_works(&base, "0000000000000001").await;
}

// Issue #13, item 18: the 177-byte body that took GBs. Nested values are built once, and
// nesting beyond MAX_VALUE_DEPTH is refused whole.
#[tokio::test]
async fn deeply_nested_attribute_values_are_refused_with_400_quickly() {
    let (base, store) = explorer().await;
    let started = Instant::now();
    // The shape of the original report: ~40 levels of protobuf arrays, ~180 bytes gzipped.
    let attack = proto_request(
        vec![],
        vec![proto_span(
            1,
            vec![KeyValue { key: "a".into(), value: Some(nested_proto(40)), ..Default::default() }],
        )],
    );
    for gzip in [false, true] {
        let response = post(&base, "/v1/traces", "application/x-protobuf", gzip, attack.clone()).await;
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.expect("json");
        let message = error["message"].as_str().unwrap_or("");
        assert!(
            message.contains("spans[0].attributes[0].value") && message.contains("deeper than 16"),
            "{error}"
        );
    }
    let too_deep =
        json_span("0000000000000001", json!([{"key": "a", "value": nested_json(MAX_VALUE_DEPTH + 1)}]));
    let response = post(&base, "/v1/traces", "application/json", true, too_deep).await;
    assert_eq!(response.status(), 400);
    assert!(started.elapsed() < Duration::from_secs(5), "refused quickly: {:?}", started.elapsed());
    assert_eq!(store.span_count(), 0, "nothing of a refused batch is stored");

    // At the limit: stored once, as nested JSON (the leaf's quotes escaped once, not 2^16 times).
    let deepest = json_span("0000000000000002", json!([{"key": "a", "value": nested_json(MAX_VALUE_DEPTH)}]));
    assert_eq!(post(&base, "/v1/traces", "application/json", false, deepest).await.status(), 200);
    let trace: Value = client()
        .get(format!("{base}/api/traces/4bf92f3577b34da6a3ce929d0e0e4736"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let mut value = &trace["spans"][0]["attributes"]["a"];
    for _ in 0..MAX_VALUE_DEPTH {
        value = &value[0];
    }
    assert_eq!(value, "\"quoted\" \\ leaf", "{trace}");
    let proto = proto_request(
        vec![],
        vec![proto_span(
            3,
            vec![KeyValue {
                key: "a".into(),
                value: Some(nested_proto(MAX_VALUE_DEPTH)),
                ..Default::default()
            }],
        )],
    );
    assert_eq!(post(&base, "/v1/traces", "application/x-protobuf", false, proto).await.status(), 200);
    store_still_works(&base, "0000000000000004").await;
}

// Found while fixing item 18: resource attributes are copied onto every span, so a big resource
// on many tiny spans multiplied a small (gzipped) body by the span count.
#[tokio::test]
async fn a_big_resource_on_many_spans_is_refused_not_copied_onto_each() {
    let (base, store) = explorer().await;
    let big = KeyValue {
        key: "big".into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue("x".repeat(1 << 20))) }),
        ..Default::default()
    };
    let spans: Vec<Span> = (1..=200).map(|i| proto_span(i, vec![])).collect();
    let body = proto_request(vec![big], spans);
    let started = Instant::now();
    let response = post(&base, "/v1/traces", "application/x-protobuf", true, body).await;
    assert_eq!(response.status(), 413);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(store.span_count(), 0);

    // Many attributes on both the resource and the span merge in linear time.
    let many = |prefix: &str| -> Vec<KeyValue> {
        (0..20_000)
            .map(|i| KeyValue {
                key: format!("{prefix}{i}"),
                value: Some(AnyValue { value: Some(any_value::Value::IntValue(i)) }),
                ..Default::default()
            })
            .collect()
    };
    let body = proto_request(many("k"), vec![proto_span(1, many("k"))]);
    let started = Instant::now();
    assert_eq!(post(&base, "/v1/traces", "application/x-protobuf", false, body).await.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    store_still_works(&base, "0000000000000009").await;
}

// Found by the spec property test: SQLite reads a JSON path as a C string, so a column name
// with a NUL ended the path early ("bad JSON path", a 500) once the time range held any span.
#[tokio::test]
async fn odd_column_names_are_answered_not_failed() {
    let (base, _) = explorer().await;
    let body = json_span(
        "0000000000000007",
        json!([{"key": "a\u{0}b", "value": {"stringValue": "nul"}},
                                                    {"key": "a\"b\\c", "value": {"stringValue": "quote"}}]),
    );
    assert_eq!(post(&base, "/v1/traces", "application/json", false, body).await.status(), 200);
    for (column, value) in [("a\u{0}b", "nul"), ("a\"b\\c", "quote")] {
        let response =
            query(&base, &json!({"breakdowns": [column], "filters": [{"column": column, "op": "exists"}]}))
                .await;
        assert_eq!(response.status(), 200, "{column:?}");
        let result: Value = response.json().await.expect("json");
        assert_eq!(result["results"][0]["group"][column], value, "{result}");
    }
    for column in ["a\u{0}b", "", "a\"b\\c", "$", "x[0]", "a.b", "\u{1f}", "'; DROP TABLE spans; --"] {
        let spec = json!({"breakdowns": [column], "filters": [{"column": column, "op": "exists"}],
                          "calculations": [{"op": "COUNT"}, {"op": "MAX", "column": column}]});
        let response = query(&base, &spec).await;
        assert_eq!(response.status(), 200, "{spec}");
    }
    store_still_works(&base, "0000000000000001").await;
}

// Found in review: timestamps at the ends of i64 overflowed duration and waterfall arithmetic
// (a panic in debug builds, while the store was held).
#[tokio::test]
async fn timestamps_at_the_ends_of_i64_are_stored_and_shown() {
    let (base, _) = explorer().await;
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "11111111111111111111111111111111", "spanId": "0000000000000001", "name": "extreme",
         "startTimeUnixNano": i64::MIN.to_string(), "endTimeUnixNano": i64::MAX.to_string(),
         "events": [{"timeUnixNano": i64::MAX.to_string(), "name": "late"}]},
        {"traceId": "11111111111111111111111111111111", "spanId": "0000000000000002", "parentSpanId": "0000000000000001",
         "name": "backwards", "startTimeUnixNano": i64::MAX.to_string(), "endTimeUnixNano": i64::MIN.to_string()}]}]}]});
    let response = post(&base, "/v1/traces", "application/json", false, body.to_string().into_bytes()).await;
    assert_eq!(response.status(), 200);
    for path in [
        "/api/traces".to_owned(),
        "/".to_owned(),
        "/api/traces/11111111111111111111111111111111".to_owned(),
        "/traces/11111111111111111111111111111111".to_owned(),
        format!("/query/traces?q=%7B%7D&cell={},{},duration_ms,0,1", i64::MAX, i64::MIN),
    ] {
        let response = client().get(format!("{base}{path}")).send().await.expect("get");
        assert_eq!(response.status(), 200, "{path}");
    }
    store_still_works(&base, "0000000000000003").await;
}

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kib / 1024
}

fn length_delimited(field: u8, inner: &[u8]) -> Vec<u8> {
    let mut out = vec![field << 3 | 2];
    prost::encoding::encode_varint(inner.len() as u64, &mut out);
    out.extend_from_slice(inner);
    out
}

// Issue #13: a gzipped body of a few KB inflated to millions of empty spans (two bytes each on
// the wire, ~300 in memory): 2.1 GiB for 16 MiB of protobuf before any check ran.
#[tokio::test]
async fn issue_13_small_gzipped_bodies_of_empty_messages_are_refused_quickly_and_memory_stays_bounded() {
    use trace_explorer::ingest::MAX_BODY_BYTES;
    let (base, store) = explorer().await;
    let before = peak_rss_mib();
    let started = Instant::now();
    let just_under = MAX_BODY_BYTES - 64;
    let empty_spans = length_delimited(1, &length_delimited(2, &[0x12, 0x00].repeat(just_under / 2)));
    let empty_attributes = length_delimited(1, &length_delimited(1, &[0x0a, 0x00].repeat(just_under / 2)));
    // A 1 MiB scope name copied onto 2000 valid spans.
    let mut scope_spans = length_delimited(1, &length_delimited(1, &vec![b'a'; 1 << 20]));
    for id in 1..=2000u64 {
        scope_spans.extend(length_delimited(2, &proto_span(id, vec![]).encode_to_vec()));
    }
    let scope_copies = length_delimited(1, &length_delimited(2, &scope_spans));
    let json_spans = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}{{}}]}}]}}]}}"#,
        "{},".repeat(just_under / 3 - 20)
    );
    for (content_type, body, says) in [
        ("application/x-protobuf", empty_spans, "spans"),
        ("application/x-protobuf", empty_attributes, "once decoded"),
        ("application/x-protobuf", scope_copies, "scope's name"),
        ("application/json", json_spans.into_bytes(), "spans"),
    ] {
        assert!(body.len() <= MAX_BODY_BYTES);
        let response = post(&base, "/v1/traces", content_type, true, body).await;
        assert_eq!(response.status(), 413, "{content_type} {says}");
        let error: Value = response.json().await.expect("json");
        assert!(error["message"].as_str().unwrap_or("").contains(says), "{error}");
    }
    let over = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(post(&base, "/v1/traces", "application/json", true, over).await.status(), 413);
    let grew = peak_rss_mib().saturating_sub(before);
    assert!(started.elapsed() < Duration::from_secs(10), "refused quickly: {:?}", started.elapsed());
    assert!(grew < 300, "peak memory grew {grew} MiB");
    assert_eq!(store.span_count(), 0, "nothing of a refused batch is stored");
    store_still_works(&base, "0000000000000001").await;
}
