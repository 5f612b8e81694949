//! Decoding OTLP trace exports — JSON (the OTLP/JSON mapping) and protobuf — into
//! [`SpanRecord`]s, the explorer's own flat shape (resource attributes merged under the span's).
//!
//! JSON is read leniently where the specification allows it: 64-bit integers as strings or
//! numbers, enums as integers (or their names), unknown fields ignored. Ids must be hex (the
//! mapping's rule); a bad id is an error that names its place in the request.
//!
//! Limits, each refusing the whole request with an error that says which:
//! - `arrayValue` / `kvlistValue` nest at most [`MAX_VALUE_DEPTH`] levels (an array attribute is
//!   one level, an array inside it two); deeper is [`DecodeError::Invalid`] (400 at the receiver).
//!   Arrays and maps are kept as JSON lists and objects, built once however deep they go.
//! - A request decodes to at most [`MAX_ATTRIBUTE_BYTES`] of attributes, counting each span's copy
//!   of its resource's attributes; more is [`DecodeError::TooLarge`] (413 at the receiver).

use std::collections::HashSet;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as ProtoAnyValue, KeyValue as ProtoKeyValue, any_value,
};
use prost::Message;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use thiserror::Error;

/// Deepest nesting of `arrayValue` / `kvlistValue` in one attribute value.
pub const MAX_VALUE_DEPTH: usize = 16;

/// Most attribute data one request may decode to, in bytes: keys and values plus
/// [`ATTRIBUTE_OVERHEAD_BYTES`] per attribute, each span counting its own copy of its resource's
/// attributes (a big resource on many spans would otherwise multiply a small body).
pub const MAX_ATTRIBUTE_BYTES: usize = 128 * 1024 * 1024;

/// What one decoded attribute costs besides its key and value, for [`MAX_ATTRIBUTE_BYTES`].
pub const ATTRIBUTE_OVERHEAD_BYTES: usize = 48;

/// A request the receiver cannot decode.
#[derive(Debug, Error, PartialEq)]
pub enum DecodeError {
    /// Not OTLP, a bad id, or a value nested deeper than [`MAX_VALUE_DEPTH`]; the text names
    /// the place. Fix the exporter.
    #[error("{0}")]
    Invalid(String),
    /// Over [`MAX_ATTRIBUTE_BYTES`] once decoded: send smaller batches.
    #[error(
        "the request decodes to more than {MAX_ATTRIBUTE_BYTES} bytes of attributes \
         (each span counts its resource's attributes): send smaller batches"
    )]
    TooLarge,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string (`bytesValue` in protobuf becomes lowercase hex).
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An `arrayValue` (a JSON list) or a `kvlistValue` (a JSON object), nested values included.
    Json(Json),
}

impl AttrValue {
    /// As JSON, for storage and display.
    pub fn to_json(&self) -> Json {
        self.clone().into_json()
    }

    /// As JSON, without copying.
    pub fn into_json(self) -> Json {
        match self {
            AttrValue::Str(s) => Json::from(s),
            AttrValue::Int(i) => Json::from(i),
            AttrValue::Float(f) => serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null),
            AttrValue::Bool(b) => Json::from(b),
            AttrValue::Json(json) => json,
        }
    }

    /// Its size for [`MAX_ATTRIBUTE_BYTES`].
    fn size(&self) -> usize {
        fn json_size(json: &Json) -> usize {
            match json {
                Json::String(s) => s.len(),
                Json::Array(items) => items.iter().map(|v| 8 + json_size(v)).sum(),
                Json::Object(map) => map.iter().map(|(k, v)| 8 + k.len() + json_size(v)).sum(),
                Json::Null | Json::Bool(_) | Json::Number(_) => 8,
            }
        }
        match self {
            AttrValue::Str(s) => s.len(),
            AttrValue::Json(json) => json_size(json),
            AttrValue::Int(_) | AttrValue::Float(_) | AttrValue::Bool(_) => 0,
        }
    }
}

/// A span event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Name.
    pub name: String,
    /// Time, ns since the epoch.
    pub time_ns: i64,
    /// Attributes.
    pub attributes: Vec<(String, AttrValue)>,
}

/// One span as the explorer stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The parent's span id; `None` for a root.
    pub parent_id: Option<String>,
    /// Name.
    pub name: String,
    /// OTLP `SpanKind` (1 internal, 2 server, 3 client, 4 producer, 5 consumer; 0 unspecified).
    pub kind: i32,
    /// `service.name` of its resource.
    pub service: String,
    /// Start, ns since the epoch.
    pub start_ns: i64,
    /// End, ns since the epoch.
    pub end_ns: i64,
    /// OTLP status code (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
    /// Resource, then span attributes (a span attribute replaces a resource one of the same key).
    pub attributes: Vec<(String, AttrValue)>,
    /// Events.
    pub events: Vec<EventRecord>,
    /// Instrumentation scope name.
    pub scope: String,
}

impl SpanRecord {
    /// Duration in milliseconds (0 when the end is before the start).
    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns).max(0) as f64 / 1e6
    }
}

/// What a request may still decode to (see [`MAX_ATTRIBUTE_BYTES`]).
struct Budget(usize);

impl Budget {
    fn new() -> Self {
        Self(MAX_ATTRIBUTE_BYTES)
    }

    fn take(&mut self, attributes: &[(String, AttrValue)]) -> Result<(), DecodeError> {
        self.take_bytes(cost(attributes))
    }

    fn take_bytes(&mut self, bytes: usize) -> Result<(), DecodeError> {
        self.0 = self.0.checked_sub(bytes).ok_or(DecodeError::TooLarge)?;
        Ok(())
    }
}

fn cost(attributes: &[(String, AttrValue)]) -> usize {
    attributes.iter().map(|(k, v)| ATTRIBUTE_OVERHEAD_BYTES + k.len() + v.size()).sum()
}

/// An attribute value nested deeper than [`MAX_VALUE_DEPTH`].
struct TooDeep;

fn too_deep(place: String) -> DecodeError {
    DecodeError::Invalid(format!("{place} nests arrayValue/kvlistValue deeper than {MAX_VALUE_DEPTH} levels"))
}

// ---- JSON ----

fn int64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Json::deserialize(d)? {
        Json::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|u| u as i64))
            .ok_or_else(|| serde::de::Error::custom("not an int64")),
        Json::String(s) => s.parse().map_err(|_| serde::de::Error::custom(format!("{s:?} is not an int64"))),
        Json::Null => Ok(0),
        other => Err(serde::de::Error::custom(format!("{other} is not an int64"))),
    }
}
fn enum_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    match Json::deserialize(d)? {
        Json::Number(n) => {
            n.as_i64().map(|i| i as i32).ok_or_else(|| serde::de::Error::custom("not an enum value"))
        }
        Json::String(s) => Ok(match s.as_str() {
            "SPAN_KIND_INTERNAL" | "STATUS_CODE_OK" => 1,
            "SPAN_KIND_SERVER" | "STATUS_CODE_ERROR" => 2,
            "SPAN_KIND_CLIENT" => 3,
            "SPAN_KIND_PRODUCER" => 4,
            "SPAN_KIND_CONSUMER" => 5,
            _ => 0,
        }),
        _ => Ok(0),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JRequest {
    resource_spans: Vec<JResourceSpans>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JResourceSpans {
    resource: JResource,
    scope_spans: Vec<JScopeSpans>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JResource {
    attributes: Vec<JKeyValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JScopeSpans {
    scope: JScope,
    spans: Vec<JSpan>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JScope {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JSpan {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    #[serde(deserialize_with = "enum_value")]
    kind: i32,
    #[serde(deserialize_with = "int64")]
    start_time_unix_nano: i64,
    #[serde(deserialize_with = "int64")]
    end_time_unix_nano: i64,
    attributes: Vec<JKeyValue>,
    events: Vec<JEvent>,
    status: JStatus,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JEvent {
    #[serde(deserialize_with = "int64")]
    time_unix_nano: i64,
    name: String,
    attributes: Vec<JKeyValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JStatus {
    #[serde(deserialize_with = "enum_value")]
    code: i32,
    message: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JKeyValue {
    key: String,
    value: Json,
}

/// The value of an OTLP/JSON `AnyValue` object `depth` arrays or maps down; `None` when it
/// holds nothing the explorer understands.
fn json_any_value(value: &Json, depth: usize) -> Result<Option<AttrValue>, TooDeep> {
    let Some(object) = value.as_object() else { return Ok(None) };
    if let Some(s) = object.get("stringValue") {
        return Ok(s.as_str().map(|s| AttrValue::Str(s.to_owned())));
    }
    if let Some(b) = object.get("boolValue") {
        return Ok(b.as_bool().map(AttrValue::Bool));
    }
    if let Some(i) = object.get("intValue") {
        return Ok(match i {
            Json::String(s) => s.parse().ok().map(AttrValue::Int),
            Json::Number(n) => n.as_i64().map(AttrValue::Int),
            _ => None,
        });
    }
    if let Some(d) = object.get("doubleValue") {
        return Ok(match d {
            Json::Number(n) => n.as_f64().map(AttrValue::Float),
            Json::String(s) => match s.as_str() {
                "NaN" => Some(AttrValue::Float(f64::NAN)),
                "Infinity" => Some(AttrValue::Float(f64::INFINITY)),
                "-Infinity" => Some(AttrValue::Float(f64::NEG_INFINITY)),
                other => other.parse().ok().map(AttrValue::Float),
            },
            _ => None,
        });
    }
    let values = |key: &str| {
        object.get(key).map(|v| v.get("values").and_then(Json::as_array).map(Vec::as_slice).unwrap_or(&[]))
    };
    if let Some(values) = values("arrayValue") {
        if depth >= MAX_VALUE_DEPTH {
            return Err(TooDeep);
        }
        let mut items = Vec::with_capacity(values.len());
        for v in values {
            if let Some(item) = json_any_value(v, depth + 1)? {
                items.push(item.into_json());
            }
        }
        return Ok(Some(AttrValue::Json(Json::Array(items))));
    }
    if let Some(values) = values("kvlistValue") {
        if depth >= MAX_VALUE_DEPTH {
            return Err(TooDeep);
        }
        let mut map = Map::new();
        for kv in values {
            let (Some(key), Some(v)) = (kv.get("key").and_then(Json::as_str), kv.get("value")) else {
                continue;
            };
            if let Some(item) = json_any_value(v, depth + 1)? {
                map.insert(key.to_owned(), item.into_json());
            }
        }
        return Ok(Some(AttrValue::Json(Json::Object(map))));
    }
    Ok(None)
}

fn json_attributes(
    kvs: &[JKeyValue],
    place: &dyn Fn() -> String,
) -> Result<Vec<(String, AttrValue)>, DecodeError> {
    let mut attributes = Vec::with_capacity(kvs.len());
    for (i, kv) in kvs.iter().enumerate() {
        match json_any_value(&kv.value, 0) {
            Ok(Some(v)) => attributes.push((kv.key.clone(), v)),
            Ok(None) => {}
            Err(TooDeep) => return Err(too_deep(format!("{}.attributes[{i}].value", place()))),
        }
    }
    Ok(attributes)
}

fn hex_id(value: &str, len: usize, place: impl Fn() -> String) -> Result<String, DecodeError> {
    let lower = value.to_ascii_lowercase();
    if lower.len() != len || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DecodeError::Invalid(format!("{} must be {len} hex digits, got {value:?}", place())));
    }
    Ok(lower)
}

/// Merges resource and span attributes; the span's win.
fn merge(resource: &[(String, AttrValue)], span: Vec<(String, AttrValue)>) -> Vec<(String, AttrValue)> {
    let mut merged: Vec<(String, AttrValue)> = if resource.len().saturating_mul(span.len()) <= 1024 {
        resource.iter().filter(|(k, _)| !span.iter().any(|(sk, _)| sk == k)).cloned().collect()
    } else {
        // Linear, however many attributes both sides have.
        let own: HashSet<&str> = span.iter().map(|(k, _)| k.as_str()).collect();
        resource.iter().filter(|(k, _)| !own.contains(k.as_str())).cloned().collect()
    };
    merged.extend(span);
    merged
}

fn service_of(resource: &[(String, AttrValue)]) -> String {
    resource
        .iter()
        .find(|(k, _)| k == "service.name")
        .and_then(|(_, v)| if let AttrValue::Str(s) = v { Some(s.clone()) } else { None })
        .unwrap_or_else(|| "unknown_service".into())
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode_json(body: &[u8]) -> Result<Vec<SpanRecord>, DecodeError> {
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(DecodeError::Invalid("invalid OTLP/JSON: the body must be a JSON object".into()));
    }
    let request: JRequest =
        serde_json::from_slice(body).map_err(|e| DecodeError::Invalid(format!("invalid OTLP/JSON: {e}")))?;
    let mut budget = Budget::new();
    let mut spans = Vec::new();
    for (r, rs) in request.resource_spans.iter().enumerate() {
        let resource = json_attributes(&rs.resource.attributes, &|| format!("resourceSpans[{r}].resource"))?;
        let resource_cost = cost(&resource);
        let service = service_of(&resource);
        for (s, ss) in rs.scope_spans.iter().enumerate() {
            for (i, span) in ss.spans.iter().enumerate() {
                let place = |field: &str| format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]{field}");
                budget.take_bytes(resource_cost)?;
                let parent_id = match span.parent_span_id.as_str() {
                    "" => None,
                    p => Some(hex_id(p, 16, || place(".parentSpanId"))?).filter(|p| p != "0000000000000000"),
                };
                let attributes = json_attributes(&span.attributes, &|| place(""))?;
                budget.take(&attributes)?;
                let mut events = Vec::with_capacity(span.events.len());
                for (e, event) in span.events.iter().enumerate() {
                    let attributes = json_attributes(&event.attributes, &|| place(&format!(".events[{e}]")))?;
                    budget.take(&attributes)?;
                    events.push(EventRecord {
                        name: event.name.clone(),
                        time_ns: event.time_unix_nano,
                        attributes,
                    });
                }
                spans.push(SpanRecord {
                    trace_id: hex_id(&span.trace_id, 32, || place(".traceId"))?,
                    span_id: hex_id(&span.span_id, 16, || place(".spanId"))?,
                    parent_id,
                    name: span.name.clone(),
                    kind: span.kind,
                    service: service.clone(),
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    status_code: span.status.code,
                    status_message: span.status.message.clone(),
                    attributes: merge(&resource, attributes),
                    events,
                    scope: ss.scope.name.clone(),
                });
            }
        }
    }
    Ok(spans)
}

// ---- protobuf ----

fn proto_value(value: &ProtoAnyValue, depth: usize) -> Result<Option<AttrValue>, TooDeep> {
    let Some(value) = value.value.as_ref() else { return Ok(None) };
    Ok(Some(match value {
        any_value::Value::StringValue(s) => AttrValue::Str(s.clone()),
        any_value::Value::BoolValue(b) => AttrValue::Bool(*b),
        any_value::Value::IntValue(i) => AttrValue::Int(*i),
        any_value::Value::DoubleValue(d) => AttrValue::Float(*d),
        any_value::Value::BytesValue(b) => AttrValue::Str(hex(b)),
        any_value::Value::StringValueStrindex(i) => AttrValue::Int(i64::from(*i)),
        any_value::Value::ArrayValue(a) => {
            if depth >= MAX_VALUE_DEPTH {
                return Err(TooDeep);
            }
            let mut items = Vec::with_capacity(a.values.len());
            for v in &a.values {
                if let Some(item) = proto_value(v, depth + 1)? {
                    items.push(item.into_json());
                }
            }
            AttrValue::Json(Json::Array(items))
        }
        any_value::Value::KvlistValue(kv) => {
            if depth >= MAX_VALUE_DEPTH {
                return Err(TooDeep);
            }
            let mut map = Map::new();
            for kv in &kv.values {
                if let Some(item) =
                    kv.value.as_ref().map(|v| proto_value(v, depth + 1)).transpose()?.flatten()
                {
                    map.insert(kv.key.clone(), item.into_json());
                }
            }
            AttrValue::Json(Json::Object(map))
        }
    }))
}

fn proto_attributes(
    kvs: &[ProtoKeyValue],
    place: &dyn Fn() -> String,
) -> Result<Vec<(String, AttrValue)>, DecodeError> {
    let mut attributes = Vec::with_capacity(kvs.len());
    for (i, kv) in kvs.iter().enumerate() {
        let Some(value) = kv.value.as_ref() else { continue };
        match proto_value(value, 0) {
            Ok(Some(v)) => attributes.push((kv.key.clone(), v)),
            Ok(None) => {}
            Err(TooDeep) => return Err(too_deep(format!("{}.attributes[{i}].value", place()))),
        }
    }
    Ok(attributes)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Decodes an OTLP protobuf `ExportTraceServiceRequest`.
pub fn decode_protobuf(body: &[u8]) -> Result<Vec<SpanRecord>, DecodeError> {
    let request = ExportTraceServiceRequest::decode(body)
        .map_err(|e| DecodeError::Invalid(format!("invalid OTLP protobuf: {e}")))?;
    let mut budget = Budget::new();
    let mut spans = Vec::new();
    for (r, rs) in request.resource_spans.iter().enumerate() {
        let resource = match &rs.resource {
            Some(resource) => {
                proto_attributes(&resource.attributes, &|| format!("resourceSpans[{r}].resource"))?
            }
            None => Vec::new(),
        };
        let resource_cost = cost(&resource);
        let service = service_of(&resource);
        for (s, ss) in rs.scope_spans.iter().enumerate() {
            for (i, span) in ss.spans.iter().enumerate() {
                let place = |field: &str| format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]{field}");
                if span.trace_id.len() != 16 {
                    return Err(DecodeError::Invalid(format!("{} must be 16 bytes", place(".traceId"))));
                }
                if span.span_id.len() != 8 {
                    return Err(DecodeError::Invalid(format!("{} must be 8 bytes", place(".spanId"))));
                }
                budget.take_bytes(resource_cost)?;
                let parent = (span.parent_span_id.len() == 8 && span.parent_span_id.iter().any(|b| *b != 0))
                    .then(|| hex(&span.parent_span_id));
                let attributes = proto_attributes(&span.attributes, &|| place(""))?;
                budget.take(&attributes)?;
                let mut events = Vec::with_capacity(span.events.len());
                for (e, event) in span.events.iter().enumerate() {
                    let attributes =
                        proto_attributes(&event.attributes, &|| place(&format!(".events[{e}]")))?;
                    budget.take(&attributes)?;
                    events.push(EventRecord {
                        name: event.name.clone(),
                        time_ns: event.time_unix_nano as i64,
                        attributes,
                    });
                }
                let status = span.status.as_ref();
                spans.push(SpanRecord {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_id: parent,
                    name: span.name.clone(),
                    kind: span.kind,
                    service: service.clone(),
                    start_ns: span.start_time_unix_nano as i64,
                    end_ns: span.end_time_unix_nano as i64,
                    status_code: status.map(|s| s.code).unwrap_or(0),
                    status_message: status.map(|s| s.message.clone()).unwrap_or_default(),
                    attributes: merge(&resource, attributes),
                    events,
                    scope: ss.scope.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
                });
            }
        }
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSER_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"frontend"}},
        {"key":"team","value":{"stringValue":"web"}}]},
      "scopeSpans":[{"scope":{"name":"otel-web.fetch","version":"0.1.0"},"futureField":1,"spans":[{
        "traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00f067aa0ba902b7","parentSpanId":"",
        "name":"GET /api/activities/home","kind":3,"flags":257,
        "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000042000000,
        "attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}},
                      {"key":"otelweb.network.duration_ms","value":{"doubleValue":30.5}},
                      {"key":"team","value":{"stringValue":"override"}},
                      {"key":"list","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":2}]}}}],
        "events":[{"timeUnixNano":"1700000000001000000","name":"fetchStart","attributes":[]}],
        "status":{"code":2,"message":"HTTP 500"}}]}]}]}"#;

    #[test]
    fn spec_json_with_hex_ids_string_int64_and_unknown_fields() {
        let spans = decode_json(BROWSER_JSON.as_bytes()).expect("decodes");
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        assert_eq!(span.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.parent_id, None);
        assert_eq!(span.service, "frontend");
        assert_eq!(span.kind, 3);
        assert_eq!(span.duration_ms(), 42.0);
        assert_eq!(span.status_code, 2);
        assert_eq!(span.scope, "otel-web.fetch");
        let get = |k: &str| span.attributes.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("http.response.status_code"), Some(AttrValue::Int(200)));
        assert_eq!(get("otelweb.network.duration_ms"), Some(AttrValue::Float(30.5)));
        assert_eq!(get("team"), Some(AttrValue::Str("override".into())), "span attributes win");
        assert_eq!(get("list"), Some(AttrValue::Json(serde_json::json!(["a", 2]))));
        assert_eq!(span.events[0].time_ns, 1_700_000_000_001_000_000);
    }

    #[test]
    fn bad_ids_and_bad_json_are_named() {
        let bad_id = BROWSER_JSON.replace("00f067aa0ba902b7", "xyz");
        let err = decode_json(bad_id.as_bytes()).expect_err("bad id");
        assert!(err.to_string().contains("resourceSpans[0].scopeSpans[0].spans[0].spanId"), "{err}");
        assert!(decode_json(b"{\"resourceSpans\": [").is_err());
        assert!(decode_json(b"[]").is_err());
        assert_eq!(decode_json(b"{}").expect("empty is fine"), vec![]);
    }

    #[test]
    fn protobuf_decodes_to_the_same_shape() {
        use opentelemetry_proto::tonic::resource::v1::Resource;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![ProtoKeyValue {
                        key: "service.name".into(),
                        value: Some(ProtoAnyValue {
                            value: Some(any_value::Value::StringValue("backend".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![0xab; 16],
                        span_id: vec![0xcd; 8],
                        parent_span_id: vec![0x01; 8],
                        name: "GET /api/activities/home".into(),
                        kind: 2,
                        start_time_unix_nano: 10,
                        end_time_unix_nano: 2_000_010,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let spans = decode_protobuf(&request.encode_to_vec()).expect("decodes");
        assert_eq!(spans[0].trace_id, "ab".repeat(16));
        assert_eq!(spans[0].parent_id.as_deref(), Some("0101010101010101"));
        assert_eq!(spans[0].service, "backend");
        assert_eq!(spans[0].duration_ms(), 2.0);
        assert!(decode_protobuf(&[0xff, 0xff, 0xff]).is_err());
    }
}
