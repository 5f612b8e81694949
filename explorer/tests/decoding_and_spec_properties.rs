//! Property tests of the explorer's untrusted-input parsers: OTLP JSON and protobuf decoding
//! (arbitrary and mutated bodies never panic, every error is a 4xx, protobuf and JSON of the same
//! request decode alike and store and read back alike) and query specifications (anything parses
//! or names a field with a 400; whatever parses runs, within the documented limits).

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use proptest::prelude::*;
use proptest::sample::select;
use prost::Message;
use serde_json::{Map, Value as Json, json};
use trace_explorer::error::AppError;
use trace_explorer::ingest::{Encoding, decode, read_body};
use trace_explorer::otlp::{SpanRecord, decode_json, decode_protobuf};
use trace_explorer::query::{
    self, MAX_BUCKETS, MAX_LIMIT, MAX_TIME_RANGE, MAX_TIMESTAMP, MIN_BUCKETS, Query,
};
use trace_explorer::store::{Retention, Store};

// ---- OTLP requests ----

fn any_value() -> impl Strategy<Value = AnyValue> {
    use any_value::Value as V;
    let leaf = prop_oneof![
        ".{0,12}".prop_map(V::StringValue),
        any::<bool>().prop_map(V::BoolValue),
        any::<i64>().prop_map(V::IntValue),
        // Eighths: exact in decimal, so JSON text carries them without rounding.
        any::<i32>().prop_map(|n| V::DoubleValue(f64::from(n) / 8.0)),
        prop::collection::vec(any::<u8>(), 0..9).prop_map(V::BytesValue),
    ]
    .prop_map(|v| AnyValue { value: Some(v) });
    let leaf = prop_oneof![9 => leaf, 1 => Just(AnyValue { value: None })];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|values| AnyValue { value: Some(V::ArrayValue(ArrayValue { values })) }),
            prop::collection::vec(key_value(inner), 0..4)
                .prop_map(|values| AnyValue { value: Some(V::KvlistValue(KeyValueList { values })) }),
        ]
    })
}

fn key_value(value: impl Strategy<Value = AnyValue>) -> impl Strategy<Value = KeyValue> {
    (
        prop_oneof![
            select(vec!["service.name", "user.id", "k", "a.b", "q\"uote"]).prop_map(String::from),
            ".{0,6}"
        ],
        value,
    )
        .prop_map(|(key, value)| KeyValue { key, value: Some(value), ..Default::default() })
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(key_value(any_value()), 0..5)
}

fn request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let span = (
        any::<[u8; 16]>(),
        prop_oneof![Just(vec![]), any::<[u8; 8]>().prop_map(|p| p.to_vec())],
        ".{0,10}",
        0..6i32,
        // Past i64::MAX too: both encodings store those as i64::MAX.
        any::<u64>(),
        any::<u64>(),
        attributes(),
        prop::collection::vec((".{0,6}", any::<u64>(), attributes()), 0..3),
        (0..3i32, ".{0,6}"),
    )
        .prop_map(
            |(trace_id, parent_span_id, name, kind, start, end, attributes, events, (code, message))| Span {
                trace_id: trace_id.to_vec(),
                parent_span_id,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                events: events
                    .into_iter()
                    .map(|(name, time, attributes)| span::Event {
                        name,
                        time_unix_nano: time,
                        attributes,
                        ..Default::default()
                    })
                    .collect(),
                status: Some(Status { code, message }),
                ..Default::default()
            },
        );
    let scope = (".{0,6}", prop::collection::vec(span, 1..4)).prop_map(|(name, spans)| ScopeSpans {
        scope: Some(InstrumentationScope { name, ..Default::default() }),
        spans,
        ..Default::default()
    });
    let resource =
        (attributes(), prop::collection::vec(scope, 1..3)).prop_map(|(attributes, scope_spans)| {
            ResourceSpans {
                resource: Some(Resource { attributes, ..Default::default() }),
                scope_spans,
                ..Default::default()
            }
        });
    prop::collection::vec(resource, 0..4).prop_map(|resource_spans| {
        let mut request = ExportTraceServiceRequest { resource_spans };
        // Span ids unique across the request, so every span is stored.
        let mut id = 0u64;
        for span in
            request.resource_spans.iter_mut().flat_map(|r| &mut r.scope_spans).flat_map(|s| &mut s.spans)
        {
            id += 1;
            span.span_id = id.to_be_bytes().to_vec();
        }
        request
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Standard base64, padded (the proto3 JSON mapping of `bytes`).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The request in the OTLP/JSON mapping (ids in upper-case hex: the decoder accepts either).
fn to_otlp_json(request: &ExportTraceServiceRequest) -> Json {
    fn value(v: &AnyValue) -> Json {
        use any_value::Value as V;
        match &v.value {
            None => json!({}),
            Some(V::StringValue(s)) => json!({"stringValue": s}),
            Some(V::BoolValue(b)) => json!({"boolValue": b}),
            Some(V::IntValue(i)) => json!({"intValue": i.to_string()}),
            Some(V::DoubleValue(d)) => json!({"doubleValue": d}),
            Some(V::BytesValue(b)) => json!({"bytesValue": base64(b)}),
            Some(V::ArrayValue(a)) => {
                json!({"arrayValue": {"values": a.values.iter().map(value).collect::<Vec<_>>()}})
            }
            Some(V::KvlistValue(kv)) => json!({"kvlistValue": {"values": attributes(&kv.values)}}),
            Some(other) => panic!("not generated: {other:?}"),
        }
    }
    fn attributes(kvs: &[KeyValue]) -> Vec<Json> {
        kvs.iter().map(|kv| json!({"key": kv.key, "value": kv.value.as_ref().map(value)})).collect()
    }
    let resource_spans: Vec<Json> = request
        .resource_spans
        .iter()
        .map(|rs| {
            let scope_spans: Vec<Json> = rs
                .scope_spans
                .iter()
                .map(|ss| {
                    let spans: Vec<Json> = ss
                        .spans
                        .iter()
                        .map(|s| {
                            let status = s.status.clone().unwrap_or_default();
                            json!({"traceId": hex(&s.trace_id), "spanId": hex(&s.span_id), "parentSpanId": hex(&s.parent_span_id),
                                   "name": s.name, "kind": s.kind, "startTimeUnixNano": s.start_time_unix_nano.to_string(),
                                   "endTimeUnixNano": s.end_time_unix_nano, "attributes": attributes(&s.attributes),
                                   "events": s.events.iter().map(|e| json!({"name": e.name, "timeUnixNano": e.time_unix_nano.to_string(),
                                                                             "attributes": attributes(&e.attributes)})).collect::<Vec<_>>(),
                                   "status": {"code": status.code, "message": status.message}})
                        })
                        .collect();
                    json!({"scope": {"name": ss.scope.as_ref().map(|s| s.name.clone())}, "spans": spans})
                })
                .collect();
            let resource = rs.resource.as_ref().map(|r| attributes(&r.attributes)).unwrap_or_default();
            json!({"resource": {"attributes": resource}, "scopeSpans": scope_spans})
        })
        .collect();
    json!({"resourceSpans": resource_spans})
}

/// How a receiver would answer this decoding error.
fn status_of(error: AppError) -> u16 {
    error.into_response().status().as_u16()
}

fn mutate(mut body: Vec<u8>, mutations: &[(u8, usize, u8)]) -> Vec<u8> {
    for &(kind, at, byte) in mutations {
        if body.is_empty() {
            body.push(byte);
            continue;
        }
        let at = at % body.len();
        match kind % 5 {
            0 => body[at] ^= 1 << (byte % 8),
            1 => body.truncate(at),
            2 => body.insert(at, byte),
            3 => {
                body.remove(at);
            }
            // A length-like byte: in protobuf, a huge varint length or a field tag.
            _ => body.splice(at..at, [0xff, 0xff, 0xff, 0xff, 0x0f]).for_each(drop),
        }
    }
    body
}

fn decoded_or_4xx(encoding: Encoding, body: &[u8]) -> Result<Vec<SpanRecord>, TestCaseError> {
    match decode(encoding, body) {
        Ok(spans) => Ok(spans),
        Err(e) => {
            let status = status_of(e);
            prop_assert!((400..500).contains(&status), "{status}");
            Ok(vec![])
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_a_decoder_and_errors_are_4xx(body in prop::collection::vec(any::<u8>(), 0..512)) {
        decoded_or_4xx(Encoding::Json, &body)?;
        decoded_or_4xx(Encoding::Protobuf, &body)?;
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        if let Err(e) = read_body(&headers, body.into()) {
            let status = status_of(e);
            prop_assert!((400..500).contains(&status), "{status}");
        }
    }

    #[test]
    fn mutated_valid_bodies_never_panic_a_decoder_and_errors_are_4xx(
        request in request(),
        mutations in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..6),
    ) {
        let protobuf = mutate(request.encode_to_vec(), &mutations);
        decoded_or_4xx(Encoding::Protobuf, &protobuf)?;
        let json = mutate(to_otlp_json(&request).to_string().into_bytes(), &mutations);
        decoded_or_4xx(Encoding::Json, &json)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn protobuf_and_json_of_one_request_decode_and_store_alike(request in request()) {
        let from_protobuf = decode_protobuf(&request.encode_to_vec()).expect("valid protobuf");
        let from_json = decode_json(to_otlp_json(&request).to_string().as_bytes()).expect("valid JSON");
        prop_assert_eq!(&from_protobuf, &from_json);
        let spans: usize = request.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        prop_assert_eq!(from_json.len(), spans);

        // Stored and read back: each span's attributes as decoded (a later key wins).
        let store = Store::in_memory(Retention::default()).expect("store");
        store.insert(&from_json).expect("insert");
        for span in &from_json {
            let stored = store.trace(&span.trace_id).expect("trace");
            let stored = stored.iter().find(|s| s.span_id == span.span_id).expect("stored");
            let mut expected = Map::new();
            for (k, v) in &span.attributes {
                expected.insert(k.clone(), v.to_json());
            }
            prop_assert_eq!(&stored.attributes, &expected);
            prop_assert_eq!(&stored.name, &span.name);
            prop_assert_eq!(stored.start_ns, span.start_ns);
        }
    }
}

// ---- query specifications ----

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        select(vec![
            i64::MIN,
            i64::MAX,
            0,
            -1,
            1,
            1 << 55,
            MAX_TIME_RANGE,
            MAX_TIME_RANGE + 1,
            MAX_TIMESTAMP,
            MAX_TIMESTAMP + 1
        ]),
        -100i64..100_000,
        1_600_000_000i64..1_800_000_000,
        any::<i64>(),
    ]
}

fn words(vocabulary: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![9 => select(vocabulary).prop_map(String::from), 1 => ".{0,6}"]
}

const CALCULATIONS: &[&str] =
    &["COUNT", "SUM", "AVG", "MIN", "MAX", "COUNT_DISTINCT", "HEATMAP", "P001", "P50", "P95", "P999"];
const OPERATORS: &[&str] = &[
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "exists",
    "does-not-exist",
    "contains",
    "does-not-contain",
    "starts-with",
    "does-not-start-with",
    "in",
    "not-in",
];
const COLUMNS: &[&str] = &[
    "duration_ms",
    "name",
    "service.name",
    "user.id",
    "list",
    "span.kind",
    "error",
    "trace.parent_id",
    "trace.trace_id",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        words(CALCULATIONS),
        words(OPERATORS),
        words(COLUMNS),
        words(&["ascending", "descending", "AND", "OR"])
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "calculations",
            "filters",
            "breakdowns",
            "orders",
            "havings",
            "limit",
            "time_range",
            "start_time",
            "end_time",
            "granularity",
            "filter_combination",
            "op",
            "column",
            "value",
            "order",
            "calculate_op",
        ])
        .prop_map(String::from),
        ".{0,4}",
    ]
}

/// JSON shaped like specifications: their keys and words, extreme numbers, any nesting.
fn spec_like() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        int().prop_map(Json::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        word().prop_map(Json::from),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kvs| Json::Object(kvs.into_iter().collect())),
        ]
    });
    let arbitrary = prop::collection::vec((key(), value.clone()), 0..8)
        .prop_map(|kvs| Json::Object(kvs.into_iter().collect()));
    // Specifications built from well-formed parts with words and values drawn at random, so that
    // many parse and reach the engine with filters, breakdowns, orders and havings.
    let calculation =
        (words(CALCULATIONS), words(COLUMNS)).prop_map(|(op, column)| json!({"op": op, "column": column}));
    let filter = (words(COLUMNS), words(OPERATORS), value.clone())
        .prop_map(|(column, op, value)| json!({"column": column, "op": op, "value": value}));
    let order = (words(CALCULATIONS), words(COLUMNS), words(&["ascending", "descending"]))
        .prop_map(|(op, column, order)| json!({"op": op, "column": column, "order": order}));
    let having = (words(CALCULATIONS), words(COLUMNS), words(OPERATORS), value)
        .prop_map(|(calculate_op, column, op, value)| json!({"calculate_op": calculate_op, "column": column, "op": op, "value": value}));
    let optional_int = prop_oneof![6 => Just(Json::Null), 1 => int().prop_map(Json::from)];
    let shaped = (
        prop::collection::vec(calculation, 0..4),
        prop::collection::vec(filter, 0..3),
        prop::collection::vec(words(COLUMNS), 0..3),
        prop_oneof![3 => Just(vec![]), 1 => prop::collection::vec(order, 1..2)],
        prop_oneof![3 => Just(vec![]), 1 => prop::collection::vec(having, 1..2)],
        (optional_int.clone(), optional_int.clone(), optional_int.clone(), optional_int.clone(), optional_int),
        prop_oneof![Just(Json::Null), words(&["AND", "OR"]).prop_map(Json::from)],
    )
        .prop_map(|(calculations, filters, breakdowns, orders, havings, (time_range, start, end, granularity, limit), combination)| {
            json!({"calculations": calculations, "filters": filters, "breakdowns": breakdowns, "orders": orders,
                   "havings": havings, "time_range": time_range, "start_time": start, "end_time": end,
                   "granularity": granularity, "limit": limit, "filter_combination": combination})
        });
    prop_oneof![1 => arbitrary, 3 => shaped]
}

fn small_store() -> Arc<Store> {
    let store = Store::in_memory(Retention::default()).expect("store");
    let body = json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeSpans": [{"spans": (1..=20).map(|i| json!({"traceId": format!("{:032x}", i % 3 + 1), "spanId": format!("{i:016x}"),
            "name": format!("op{}", i % 4), "startTimeUnixNano": (1_700_000_000_000_000_000_i64 + i * 37_000_000_000).to_string(),
            "endTimeUnixNano": (1_700_000_000_000_000_000_i64 + i * 37_000_000_000 + i * 1_000_000).to_string(),
            "attributes": [{"key": "user.id", "value": {"stringValue": format!("u{}", i % 5)}},
                           {"key": "list", "value": {"arrayValue": {"values": [{"intValue": i}]}}}]})).collect::<Vec<_>>()}]}]});
    store.insert(&decode_json(body.to_string().as_bytes()).expect("valid")).expect("insert");
    Arc::new(store)
}

const NOW: i64 = 1_700_000_400;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_spec_parses_within_the_limits_or_is_a_400_and_what_parses_runs(spec in spec_like()) {
        thread_local!(static STORE: Arc<Store> = small_store());
        match Query::parse(&spec, NOW) {
            Err(e) => {
                prop_assert!(!e.field.is_empty());
                prop_assert_eq!(AppError::Query(e).into_response().status().as_u16(), 400);
            }
            Ok(q) => {
                let range = q.end_time - q.start_time;
                prop_assert!(q.start_time >= 0 && q.end_time <= MAX_TIMESTAMP, "{q:?}");
                prop_assert!((1..=MAX_TIME_RANGE + 1).contains(&range), "{q:?}");
                prop_assert!(q.granularity >= 1 && range / q.granularity <= MAX_BUCKETS, "{q:?}");
                prop_assert!(q.granularity == 1 || range / q.granularity >= MIN_BUCKETS, "{q:?}");
                prop_assert!((1..=MAX_LIMIT).contains(&q.limit));
                let result = STORE.with(|store| query::run(store, &q)).expect("a parsed query runs");
                prop_assert!(result.heatmaps.iter().all(|h| h.times.len() as i64 <= MAX_BUCKETS + 1));
            }
        }
    }

    #[test]
    fn a_valid_spec_round_trips_into_the_query(
        limit in 1..=MAX_LIMIT,
        start in 0..MAX_TIMESTAMP - MAX_TIME_RANGE,
        range in 1..=MAX_TIME_RANGE,
        pick in 0.0..=1.0f64,
        column in ".{1,8}",
    ) {
        // The documented rule: from range / MAX_BUCKETS (rounded up) to range / MIN_BUCKETS, at least 1 s.
        let finest = ((range + MAX_BUCKETS - 1) / MAX_BUCKETS).max(1);
        let coarsest = (range / MIN_BUCKETS).max(finest);
        let granularity = finest + ((coarsest - finest) as f64 * pick) as i64;
        let spec = json!({"calculations": [{"op": "P95", "column": column}], "breakdowns": [column],
                          "limit": limit, "start_time": start, "end_time": start + range, "granularity": granularity,
                          "orders": [{"column": column, "order": "ascending"}]});
        let q = Query::parse(&spec, NOW).expect("valid");
        prop_assert_eq!((q.limit, q.start_time, q.end_time, q.granularity), (limit, start, start + range, granularity));
        prop_assert_eq!(q.calculations[0].label(), format!("P95({column})"));
        prop_assert_eq!(&q.breakdowns, &vec![column]);
    }
}
