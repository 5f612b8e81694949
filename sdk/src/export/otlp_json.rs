//! OTLP/JSON encoding of spans, exactly as the OTLP specification's JSON mapping requires:
//! lowerCamelCase keys, `traceId`/`spanId` as lowercase hex (not base64), enums as integers,
//! 64-bit integers as decimal strings, spans grouped by resource and instrumentation scope.
//!
//! The encoder writes straight into a `String` (no serde): it is on the export path of every
//! batch and its code ships in every page, so it is both fast and small.
//!
//! ```
//! use otel_web::export::otlp_json;
//! use otel_web::Resource;
//!
//! let resource = otlp_json::encode_resource(&Resource::builder().with_service_name("frontend").build());
//! let body = otlp_json::encode_request(&resource, &[]);
//! assert!(body.starts_with(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"telemetry.sdk.name""#));
//! ```

use std::sync::Arc;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};

use crate::platform::number;
use crate::resource::Resource;
use crate::trace::{SpanData, push_hex};

/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
const FLAG_IS_REMOTE: u32 = 0x200;

/// The resource object (`{"attributes":[…]}`); encode it once and reuse it for every request.
pub fn encode_resource(resource: &Resource) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"attributes\":");
    attributes(&mut out, resource.attributes());
    out.push('}');
    out
}

/// One `ExportTraceServiceRequest` holding `spans`.
pub fn encode_request(resource_json: &str, spans: &[SpanData]) -> String {
    let mut out = String::with_capacity(128 + resource_json.len() + spans.len() * 512);
    open_request(&mut out, resource_json);
    for (i, (scope, members)) in group_by_scope(spans).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        open_scope(&mut out, scope);
        for (j, span) in members.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            encode_span(&mut out, span);
        }
        out.push_str("]}");
    }
    out.push_str("]}]}");
    out
}

/// Requests holding `spans`, each at most `max_bytes` long (for `keepalive`, whose bodies the
/// browser limits). A single span larger than `max_bytes` gets a request of its own, which is
/// then larger than the limit; callers send that one another way.
pub fn encode_chunks(resource_json: &str, spans: &[SpanData], max_bytes: usize) -> Vec<String> {
    let groups = group_by_scope(spans);
    let headers: Vec<String> = groups
        .iter()
        .map(|(scope, _)| {
            let mut s = String::new();
            open_scope(&mut s, scope);
            s
        })
        .collect();
    let mut envelope = String::new();
    open_request(&mut envelope, resource_json);
    let base = envelope.len() + "]}]}".len();

    let mut chunks = Vec::new();
    // Per chunk: for each scope group, the encoded spans.
    let mut current: Vec<Vec<String>> = vec![Vec::new(); groups.len()];
    let mut size = base;
    let mut count = 0;
    for (g, (_, members)) in groups.iter().enumerate() {
        for span in members {
            let mut fragment = String::with_capacity(512);
            encode_span(&mut fragment, span);
            let scope_cost = if current[g].is_empty() { headers[g].len() + "]}".len() + 1 } else { 0 };
            let added = fragment.len() + 1 + scope_cost;
            if count > 0 && size + added > max_bytes {
                chunks.push(assemble(&envelope, &headers, &mut current));
                size = base;
                count = 0;
                let scope_cost = headers[g].len() + "]}".len() + 1;
                size += fragment.len() + 1 + scope_cost;
            } else {
                size += added;
            }
            current[g].push(fragment);
            count += 1;
        }
    }
    if count > 0 {
        chunks.push(assemble(&envelope, &headers, &mut current));
    }
    chunks
}

fn assemble(envelope: &str, headers: &[String], current: &mut [Vec<String>]) -> String {
    let mut out = String::from(envelope);
    let mut first_scope = true;
    for (g, fragments) in current.iter_mut().enumerate() {
        if fragments.is_empty() {
            continue;
        }
        if !first_scope {
            out.push(',');
        }
        first_scope = false;
        out.push_str(&headers[g]);
        out.push_str(&fragments.join(","));
        out.push_str("]}");
        fragments.clear();
    }
    out.push_str("]}]}");
    out
}

fn open_request(out: &mut String, resource_json: &str) {
    out.push_str("{\"resourceSpans\":[{\"resource\":");
    out.push_str(resource_json);
    out.push_str(",\"scopeSpans\":[");
}

/// Groups spans by instrumentation scope, keeping first-appearance order.
pub(crate) fn group_by_scope(spans: &[SpanData]) -> Vec<(&Arc<InstrumentationScope>, Vec<&SpanData>)> {
    let mut groups: Vec<(&Arc<InstrumentationScope>, Vec<&SpanData>)> = Vec::new();
    for span in spans {
        let same = |scope: &Arc<InstrumentationScope>| {
            Arc::ptr_eq(scope, &span.scope)
                || (scope.name() == span.scope.name()
                    && scope.version() == span.scope.version()
                    && scope.schema_url() == span.scope.schema_url())
        };
        match groups.iter_mut().find(|(scope, _)| same(scope)) {
            Some((_, members)) => members.push(span),
            None => groups.push((&span.scope, vec![span])),
        }
    }
    groups
}

fn open_scope(out: &mut String, scope: &InstrumentationScope) {
    out.push_str("{\"scope\":{\"name\":");
    string(out, scope.name());
    if let Some(version) = scope.version() {
        out.push_str(",\"version\":");
        string(out, version);
    }
    let scope_attributes: Vec<KeyValue> = scope.attributes().cloned().collect();
    if !scope_attributes.is_empty() {
        out.push_str(",\"attributes\":");
        attributes(out, &scope_attributes);
    }
    out.push('}');
    if let Some(schema_url) = scope.schema_url() {
        out.push_str(",\"schemaUrl\":");
        string(out, schema_url);
    }
    out.push_str(",\"spans\":[");
}

/// Appends one span object.
pub fn encode_span(out: &mut String, span: &SpanData) {
    let cx = &span.span_context;
    out.push_str("{\"traceId\":\"");
    push_hex(out, &cx.trace_id().to_bytes());
    out.push_str("\",\"spanId\":\"");
    push_hex(out, &cx.span_id().to_bytes());
    out.push('"');
    let trace_state = cx.trace_state().header();
    if !trace_state.is_empty() {
        out.push_str(",\"traceState\":");
        string(out, &trace_state);
    }
    if span.parent_span_id != opentelemetry::trace::SpanId::INVALID {
        out.push_str(",\"parentSpanId\":\"");
        push_hex(out, &span.parent_span_id.to_bytes());
        out.push('"');
    }
    let mut flags = u32::from(cx.trace_flags().to_u8()) | FLAG_HAS_IS_REMOTE;
    if span.parent_span_is_remote {
        flags |= FLAG_IS_REMOTE;
    }
    out.push_str(",\"flags\":");
    uint(out, u64::from(flags));
    out.push_str(",\"name\":");
    string(out, &span.name);
    out.push_str(",\"kind\":");
    uint(out, kind(&span.span_kind));
    out.push_str(",\"startTimeUnixNano\":\"");
    uint(out, span.start_time_unix_nano);
    out.push_str("\",\"endTimeUnixNano\":\"");
    uint(out, span.end_time_unix_nano);
    out.push_str("\",\"attributes\":");
    attributes(out, &span.attributes);
    dropped(out, "droppedAttributesCount", span.dropped_attributes_count);
    if !span.events.is_empty() {
        out.push_str(",\"events\":[");
        for (i, event) in span.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"timeUnixNano\":\"");
            uint(out, event.time_unix_nano);
            out.push_str("\",\"name\":");
            string(out, &event.name);
            out.push_str(",\"attributes\":");
            attributes(out, &event.attributes);
            dropped(out, "droppedAttributesCount", event.dropped_attributes_count);
            out.push('}');
        }
        out.push(']');
    }
    dropped(out, "droppedEventsCount", span.dropped_events_count);
    if !span.links.is_empty() {
        out.push_str(",\"links\":[");
        for (i, link) in span.links.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let lc = &link.span_context;
            out.push_str("{\"traceId\":\"");
            push_hex(out, &lc.trace_id().to_bytes());
            out.push_str("\",\"spanId\":\"");
            push_hex(out, &lc.span_id().to_bytes());
            out.push('"');
            let state = lc.trace_state().header();
            if !state.is_empty() {
                out.push_str(",\"traceState\":");
                string(out, &state);
            }
            out.push_str(",\"attributes\":");
            attributes(out, &link.attributes);
            dropped(out, "droppedAttributesCount", link.dropped_attributes_count);
            out.push_str(",\"flags\":");
            let mut flags = u32::from(lc.trace_flags().to_u8()) | FLAG_HAS_IS_REMOTE;
            if lc.is_remote() {
                flags |= FLAG_IS_REMOTE;
            }
            uint(out, u64::from(flags));
            out.push('}');
        }
        out.push(']');
    }
    dropped(out, "droppedLinksCount", span.dropped_links_count);
    match &span.status {
        Status::Unset => {}
        Status::Ok => out.push_str(",\"status\":{\"code\":1}"),
        Status::Error { description } => {
            out.push_str(",\"status\":{\"code\":2");
            if !description.is_empty() {
                out.push_str(",\"message\":");
                string(out, description);
            }
            out.push('}');
        }
    }
    out.push('}');
}

/// `SpanKind` as the OTLP enum's integer.
fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn dropped(out: &mut String, key: &str, count: u32) {
    if count > 0 {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":");
        uint(out, u64::from(count));
    }
}

fn attributes(out: &mut String, attributes: &[KeyValue]) {
    out.push('[');
    for (i, kv) in attributes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        string(out, kv.key.as_str());
        out.push_str(",\"value\":");
        any_value(out, &kv.value);
        out.push('}');
    }
    out.push(']');
}

fn any_value(out: &mut String, value: &Value) {
    match value {
        Value::Bool(b) => out.push_str(if *b { "{\"boolValue\":true}" } else { "{\"boolValue\":false}" }),
        Value::I64(i) => {
            out.push_str("{\"intValue\":\"");
            int(out, *i);
            out.push_str("\"}");
        }
        Value::F64(f) => {
            out.push_str("{\"doubleValue\":");
            double(out, *f);
            out.push('}');
        }
        Value::String(s) => {
            out.push_str("{\"stringValue\":");
            string(out, s.as_str());
            out.push('}');
        }
        Value::Array(array) => {
            out.push_str("{\"arrayValue\":{\"values\":[");
            match array {
                Array::Bool(items) => join(out, items, |out, b| any_value(out, &Value::Bool(*b))),
                Array::I64(items) => join(out, items, |out, i| any_value(out, &Value::I64(*i))),
                Array::F64(items) => join(out, items, |out, f| any_value(out, &Value::F64(*f))),
                Array::String(items) => join(out, items, |out, s| {
                    out.push_str("{\"stringValue\":");
                    string(out, s.as_str());
                    out.push('}');
                }),
                _ => {}
            }
            out.push_str("]}}");
        }
        // A kind of value newer than this encoder: an empty AnyValue, as the proto allows.
        _ => out.push_str("{}"),
    }
}

fn join<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
}

/// A JSON number, or the protobuf JSON mapping's strings for values JSON cannot hold.
fn double(out: &mut String, f: f64) {
    if f.is_finite() {
        number::push_f64(out, f);
    } else {
        out.push('"');
        number::push_f64(out, f);
        out.push('"');
    }
}

fn uint(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

fn int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    uint(out, n.unsigned_abs());
}

/// A JSON string literal.
fn string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            push_hex(out, &[b]);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_span;
    use crate::trace::SpanEvent;
    use opentelemetry::trace::{Link, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use serde_json::{Value as Json, json};

    fn resource() -> String {
        encode_resource(&Resource::builder().with_service_name("frontend").build())
    }

    fn rich_span() -> SpanData {
        let mut span = test_span("GET /api/activities/home");
        span.span_kind = SpanKind::Client;
        span.parent_span_id = SpanId::from(0xaabb_ccdd_eeff_0011u64);
        span.parent_span_is_remote = true;
        span.attributes = vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.response.status_code", 200i64),
            KeyValue::new("big", i64::MAX),
            KeyValue::new("ratio", 0.25),
            KeyValue::new("ok", true),
            KeyValue::new("quote\"and\\slash\n", "tab\there\u{1}"),
            KeyValue::new("list", Value::Array(Array::String(vec!["a".into(), "b".into()]))),
            KeyValue::new("nan", f64::NAN),
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
            vec![],
            0,
        )];
        span.dropped_attributes_count = 3;
        span.status = Status::error("upstream \"failed\"");
        span
    }

    #[test]
    fn a_request_is_valid_otlp_json() {
        let body = encode_request(&resource(), &[rich_span()]);
        let json: Json = serde_json::from_str(&body).expect("valid JSON");
        let rs = &json["resourceSpans"][0];
        let service = rs["resource"]["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .find(|a| a["key"] == "service.name")
            .expect("service.name");
        assert_eq!(service["value"], json!({"stringValue": "frontend"}));
        assert_eq!(rs["scopeSpans"][0]["scope"]["name"], "test");
        let span = &rs["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "0102030405060708090a0b0c0d0e0f10");
        assert_eq!(span["spanId"], "1112131415161718");
        assert_eq!(span["parentSpanId"], "aabbccddeeff0011");
        assert_eq!(span["kind"], 3);
        assert_eq!(span["flags"], 0x301);
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(span["endTimeUnixNano"], "1700000000250000000");
        assert_eq!(span["droppedAttributesCount"], 3);
        let attrs = span["attributes"].as_array().expect("attributes");
        let value = |key: &str| attrs.iter().find(|a| a["key"] == key).map(|a| a["value"].clone());
        assert_eq!(value("http.response.status_code"), Some(json!({"intValue": "200"})));
        assert_eq!(value("big"), Some(json!({"intValue": "9223372036854775807"})));
        assert_eq!(value("ratio"), Some(json!({"doubleValue": 0.25})));
        assert_eq!(value("ok"), Some(json!({"boolValue": true})));
        assert_eq!(value("quote\"and\\slash\n"), Some(json!({"stringValue": "tab\there\u{1}"})));
        assert_eq!(
            value("list"),
            Some(json!({"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}))
        );
        assert_eq!(value("nan"), Some(json!({"doubleValue": "NaN"})));
        assert_eq!(span["events"][0]["timeUnixNano"], "1700000000100000000");
        assert_eq!(span["events"][0]["droppedAttributesCount"], 1);
        assert_eq!(span["links"][0]["traceId"], "00000000000000000000000000000007");
        assert_eq!(span["links"][0]["traceState"], "vendor=x");
        assert_eq!(span["status"], json!({"code": 2, "message": "upstream \"failed\""}));
    }

    #[test]
    fn spans_are_grouped_by_scope() {
        let mut other = test_span("other-scope");
        other.scope = Arc::new(InstrumentationScope::builder("fetch").with_version("1.0").build());
        // Same scope name and version through a different Arc still groups together.
        let mut same = test_span("same-scope");
        same.scope = Arc::new(InstrumentationScope::builder("test").build());
        let body = encode_request(&resource(), &[test_span("a"), other, same]);
        let json: Json = serde_json::from_str(&body).expect("valid JSON");
        let scopes = json["resourceSpans"][0]["scopeSpans"].as_array().expect("scopeSpans");
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[0]["spans"].as_array().map(Vec::len), Some(2));
        assert_eq!(scopes[1]["scope"], json!({"name": "fetch", "version": "1.0"}));
    }

    #[test]
    fn chunks_stay_under_the_limit_and_keep_every_span() {
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
        let limit = 60 * 1024;
        let chunks = encode_chunks(&resource(), &spans, limit);
        assert!(chunks.len() > 1, "300 spans of ~600 bytes need several chunks");
        let mut names = Vec::new();
        for chunk in &chunks {
            assert!(chunk.len() <= limit, "chunk of {} bytes", chunk.len());
            let json: Json = serde_json::from_str(chunk).expect("each chunk is a whole request");
            for scope in json["resourceSpans"][0]["scopeSpans"].as_array().expect("scopes") {
                for span in scope["spans"].as_array().expect("spans") {
                    names.push(span["name"].as_str().expect("name").to_owned());
                }
            }
        }
        names.sort();
        let mut expected: Vec<String> = spans.iter().map(|s| s.name.to_string()).collect();
        expected.sort();
        assert_eq!(names, expected);
    }

    #[test]
    fn an_oversized_span_gets_a_chunk_of_its_own() {
        let mut big = test_span("big");
        big.attributes.push(KeyValue::new("payload", "x".repeat(10_000)));
        let chunks = encode_chunks(&resource(), &[test_span("a"), big, test_span("b")], 2_000);
        assert_eq!(chunks.len(), 3);
        assert!(chunks[1].len() > 2_000);
    }
}
