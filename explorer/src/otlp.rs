//! Decoding OTLP trace exports — JSON (the OTLP/JSON mapping) and protobuf — into
//! [`SpanRecord`]s, the explorer's own flat shape (resource attributes merged under the span's).
//!
//! JSON is read leniently where the specification allows it: 64-bit integers as strings or
//! numbers, enums as integers (or their names), unknown fields ignored. Ids must be hex (the
//! mapping's rule); a bad id is an error that names its place in the request.
//!
//! Both encodings decode alike:
//! - `bytesValue` becomes lowercase hex (base64 in JSON, raw bytes in protobuf); JSON that is
//!   not base64 drops the attribute, as any other unreadable value does.
//! - Timestamps are `uint64` nanoseconds since the epoch. The store keeps `i64`, so a time past
//!   `i64::MAX` (after 2262-04-11) is stored as `i64::MAX` in both encodings. JSON also accepts
//!   a negative `int64` (before 1970), which protobuf cannot express.
//!
//! Limits, each refusing the whole request with an error that says which:
//! - A request holds at most [`MAX_SPANS`] spans ([`DecodeError::TooManySpans`], 413).
//! - Its messages (spans, attributes, events, array items…) may cost at most
//!   [`MAX_DECODED_BYTES`] once built ([`DecodeError::TooComplex`], 413). An empty message is
//!   two bytes of protobuf or JSON but up to ~300 bytes in memory, so this is checked before
//!   anything is built for protobuf (a walk of the wire format, [`wire`]) and as it is built for
//!   JSON: memory stays a small multiple of the body however the body is shaped.
//! - `arrayValue` / `kvlistValue` nest at most [`MAX_VALUE_DEPTH`] levels (an array attribute is
//!   one level, an array inside it two); deeper is [`DecodeError::Invalid`] (400 at the receiver).
//!   Arrays and maps are kept as JSON lists and objects, built once however deep they go.
//! - A request decodes to at most [`MAX_ATTRIBUTE_BYTES`] of attributes, counting each span's copy
//!   of its resource's attributes and of its scope's name; more is [`DecodeError::TooLarge`] (413).

mod wire;

use std::cell::RefCell;
use std::collections::HashSet;
use std::marker::PhantomData;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as ProtoAnyValue, KeyValue as ProtoKeyValue, any_value,
};
use prost::Message;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value as Json};
use thiserror::Error;

/// Deepest nesting of `arrayValue` / `kvlistValue` in one attribute value.
pub const MAX_VALUE_DEPTH: usize = 16;

/// Most spans in one request: 32 batches of a batch span processor (512 each), twice the
/// OpenTelemetry Collector's batch (8192).
pub const MAX_SPANS: usize = 16_384;

/// Most memory the messages of one request may take once built, in bytes (the size of each
/// decoded struct: span, attribute, event, link, array item…; strings are bounded by the body).
pub const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;

/// Most attribute data one request may decode to, in bytes: keys and values plus
/// [`ATTRIBUTE_OVERHEAD_BYTES`] per attribute, each span counting its own copy of its resource's
/// attributes and its scope's name (a big resource on many spans would otherwise multiply a
/// small body).
pub const MAX_ATTRIBUTE_BYTES: usize = 64 * 1024 * 1024;

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
         (each span counts its resource's attributes and its scope's name): send smaller batches"
    )]
    TooLarge,
    /// More than [`MAX_SPANS`] spans: send smaller batches.
    #[error("the request holds more than {MAX_SPANS} spans: send at most {MAX_SPANS} per request")]
    TooManySpans,
    /// Its messages would take more than [`MAX_DECODED_BYTES`]: send smaller batches.
    #[error(
        "the request's spans, attributes, events, links and values would take more than \
         {MAX_DECODED_BYTES} bytes once decoded: send smaller batches"
    )]
    TooComplex,
}

/// What a request's messages have cost so far, against [`MAX_DECODED_BYTES`] and [`MAX_SPANS`].
#[derive(Debug, Default)]
struct Tally {
    bytes: usize,
    spans: usize,
}

impl Tally {
    fn charge(&mut self, bytes: usize) -> Result<(), DecodeError> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > MAX_DECODED_BYTES { Err(DecodeError::TooComplex) } else { Ok(()) }
    }

    fn span(&mut self) -> Result<(), DecodeError> {
        self.spans += 1;
        if self.spans > MAX_SPANS { Err(DecodeError::TooManySpans) } else { Ok(()) }
    }
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

thread_local! {
    /// The tally of the JSON request being decoded on this thread (serde gives a visitor no
    /// other way to share state), and the limit it crossed.
    static JSON_TALLY: RefCell<(Tally, Option<DecodeError>)> = RefCell::default();
}

fn json_charge(bytes: usize, span: bool) -> Result<(), String> {
    JSON_TALLY.with(|cell| {
        let (tally, crossed) = &mut *cell.borrow_mut();
        let result = tally.charge(bytes).and_then(|()| if span { tally.span() } else { Ok(()) });
        result.map_err(|e| {
            let message = e.to_string();
            *crossed = Some(e);
            message
        })
    })
}

/// A JSON list whose items are charged to [`JSON_TALLY`] as they are built; `SPANS` counts
/// them as spans too.
struct Counted<T, const SPANS: bool>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const SPANS: bool> Visitor<'de> for Counted<T, SPANS> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            json_charge(std::mem::size_of::<T>(), SPANS).map_err(de::Error::custom)?;
            items.push(item);
        }
        Ok(items)
    }
}

fn counted<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(Counted::<T, false>(PhantomData))
}

fn counted_spans<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<JSpan>, D::Error> {
    d.deserialize_seq(Counted::<JSpan, true>(PhantomData))
}

/// Any JSON value, kept only when it is a scalar (lists and objects are skipped unbuilt).
enum Scalar {
    Str(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    Null,
    Other,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Uint(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A timestamp: `uint64` nanoseconds as a string or a number (see the module docs).
fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Scalar::deserialize(d)? {
        Scalar::Int(i) => Ok(i),
        Scalar::Uint(u) => Ok(saturating_ns(u)),
        Scalar::Str(s) => s
            .parse::<u64>()
            .map(saturating_ns)
            .or_else(|_| s.parse::<i64>())
            .map_err(|_| de::Error::custom(format!("{s:?} is not a uint64 timestamp"))),
        Scalar::Null => Ok(0),
        Scalar::Float(_) | Scalar::Bool(_) | Scalar::Other => {
            Err(de::Error::custom("a timestamp must be a uint64 (a string or a whole number)"))
        }
    }
}

/// Nanoseconds as the store keeps them: past `i64::MAX` saturates.
fn saturating_ns(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

fn enum_value<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    match Scalar::deserialize(d)? {
        Scalar::Int(i) => i32::try_from(i).map_err(|_| de::Error::custom("not an enum value")),
        Scalar::Uint(u) => i32::try_from(u).map_err(|_| de::Error::custom("not an enum value")),
        Scalar::Str(s) => Ok(match s.as_str() {
            "SPAN_KIND_INTERNAL" | "STATUS_CODE_OK" => 1,
            "SPAN_KIND_SERVER" | "STATUS_CODE_ERROR" => 2,
            "SPAN_KIND_CLIENT" => 3,
            "SPAN_KIND_PRODUCER" => 4,
            "SPAN_KIND_CONSUMER" => 5,
            _ => 0,
        }),
        Scalar::Float(_) => Err(de::Error::custom("not an enum value")),
        Scalar::Bool(_) | Scalar::Null | Scalar::Other => Ok(0),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JRequest {
    #[serde(deserialize_with = "counted")]
    resource_spans: Vec<JResourceSpans>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JResourceSpans {
    resource: JResource,
    #[serde(deserialize_with = "counted")]
    scope_spans: Vec<JScopeSpans>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JResource {
    #[serde(deserialize_with = "counted")]
    attributes: Vec<JKeyValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JScopeSpans {
    scope: JScope,
    #[serde(deserialize_with = "counted_spans")]
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
    #[serde(deserialize_with = "timestamp")]
    start_time_unix_nano: i64,
    #[serde(deserialize_with = "timestamp")]
    end_time_unix_nano: i64,
    #[serde(deserialize_with = "counted")]
    attributes: Vec<JKeyValue>,
    #[serde(deserialize_with = "counted")]
    events: Vec<JEvent>,
    status: JStatus,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JEvent {
    #[serde(deserialize_with = "timestamp")]
    time_unix_nano: i64,
    name: String,
    #[serde(deserialize_with = "counted")]
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
    value: JAnyValue,
}

/// A `kvlistValue` entry: one without a key is dropped.
#[derive(Deserialize, Default)]
#[serde(default)]
struct JEntry {
    key: Option<String>,
    value: JAnyValue,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JArray {
    #[serde(deserialize_with = "counted")]
    values: Vec<JAnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JKvList {
    #[serde(deserialize_with = "counted")]
    values: Vec<JEntry>,
}

/// An OTLP/JSON `AnyValue`, built straight into an [`AttrValue`] (`None` when it holds nothing
/// the explorer understands), with how many `arrayValue`/`kvlistValue` levels it nests.
#[derive(Default)]
struct JAnyValue {
    value: Option<AttrValue>,
    levels: usize,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum AnyValueField {
    StringValue,
    BoolValue,
    IntValue,
    DoubleValue,
    BytesValue,
    ArrayValue,
    KvlistValue,
    StringValueStrindex,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for JAnyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JAnyValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an AnyValue object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JAnyValue, A::Error> {
                // Like a protobuf oneof, the last field read wins.
                let mut out = JAnyValue::default();
                while let Some(field) = map.next_key::<AnyValueField>()? {
                    out = match field {
                        AnyValueField::ArrayValue => {
                            let array: JArray = map.next_value()?;
                            let levels = 1 + array.values.iter().map(|v| v.levels).max().unwrap_or(0);
                            let items =
                                array.values.into_iter().filter_map(|v| v.value).map(AttrValue::into_json);
                            JAnyValue { value: Some(AttrValue::Json(Json::Array(items.collect()))), levels }
                        }
                        AnyValueField::KvlistValue => {
                            let list: JKvList = map.next_value()?;
                            let mut levels = 1;
                            let mut object = Map::new();
                            for entry in list.values {
                                let Some(key) = entry.key else { continue };
                                levels = levels.max(1 + entry.value.levels);
                                if let Some(v) = entry.value.value {
                                    object.insert(key, v.into_json());
                                }
                            }
                            JAnyValue { value: Some(AttrValue::Json(Json::Object(object))), levels }
                        }
                        AnyValueField::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                        scalar => JAnyValue { value: scalar_value(scalar, map.next_value()?), levels: 0 },
                    };
                }
                Ok(out)
            }
            fn visit_str<E>(self, _: &str) -> Result<JAnyValue, E> {
                Ok(JAnyValue::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<JAnyValue, E> {
                Ok(JAnyValue::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<JAnyValue, E> {
                Ok(JAnyValue::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<JAnyValue, E> {
                Ok(JAnyValue::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<JAnyValue, E> {
                Ok(JAnyValue::default())
            }
            fn visit_unit<E>(self) -> Result<JAnyValue, E> {
                Ok(JAnyValue::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JAnyValue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(JAnyValue::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// A scalar `AnyValue` field's value, read leniently; `None` when unreadable.
fn scalar_value(field: AnyValueField, value: Scalar) -> Option<AttrValue> {
    match (field, value) {
        (AnyValueField::StringValue, Scalar::Str(s)) => Some(AttrValue::Str(s)),
        (AnyValueField::BoolValue, Scalar::Bool(b)) => Some(AttrValue::Bool(b)),
        (AnyValueField::IntValue, Scalar::Int(i)) => Some(AttrValue::Int(i)),
        (AnyValueField::IntValue, Scalar::Uint(u)) => i64::try_from(u).ok().map(AttrValue::Int),
        (AnyValueField::IntValue, Scalar::Str(s)) => s.parse().ok().map(AttrValue::Int),
        (AnyValueField::DoubleValue, Scalar::Float(f)) => Some(AttrValue::Float(f)),
        (AnyValueField::DoubleValue, Scalar::Int(i)) => Some(AttrValue::Float(i as f64)),
        (AnyValueField::DoubleValue, Scalar::Uint(u)) => Some(AttrValue::Float(u as f64)),
        (AnyValueField::DoubleValue, Scalar::Str(s)) => match s.as_str() {
            "NaN" => Some(AttrValue::Float(f64::NAN)),
            "Infinity" => Some(AttrValue::Float(f64::INFINITY)),
            "-Infinity" => Some(AttrValue::Float(f64::NEG_INFINITY)),
            other => other.parse().ok().map(AttrValue::Float),
        },
        (AnyValueField::BytesValue, Scalar::Str(s)) => base64(&s).map(|b| AttrValue::Str(hex(&b))),
        (AnyValueField::StringValueStrindex, Scalar::Int(i)) => {
            i32::try_from(i).ok().map(|i| AttrValue::Int(i64::from(i)))
        }
        (AnyValueField::StringValueStrindex, Scalar::Uint(u)) => {
            i32::try_from(u).ok().map(|i| AttrValue::Int(i64::from(i)))
        }
        (AnyValueField::StringValueStrindex, Scalar::Str(s)) => {
            s.parse::<i32>().ok().map(|i| AttrValue::Int(i64::from(i)))
        }
        _ => None,
    }
}

/// Decodes base64, standard or URL-safe alphabet, padded or not (proto3 JSON accepts either).
fn base64(text: &str) -> Option<Vec<u8>> {
    let digits = text.trim_end_matches('=');
    if text.len() - digits.len() > 2 || digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in digits.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn json_attributes(
    kvs: Vec<JKeyValue>,
    place: &dyn Fn() -> String,
) -> Result<Vec<(String, AttrValue)>, DecodeError> {
    let mut attributes = Vec::with_capacity(kvs.len());
    for (i, kv) in kvs.into_iter().enumerate() {
        if kv.value.levels > MAX_VALUE_DEPTH {
            return Err(too_deep(format!("{}.attributes[{i}].value", place())));
        }
        if let Some(v) = kv.value.value {
            attributes.push((kv.key, v));
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

/// Parses an OTLP/JSON request, charging what it builds against the limits.
fn parse_json(body: &[u8]) -> Result<JRequest, DecodeError> {
    JSON_TALLY.with(|cell| *cell.borrow_mut() = Default::default());
    let parsed = serde_json::from_slice(body);
    let (_, crossed) = JSON_TALLY.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    match (parsed, crossed) {
        (_, Some(limit)) => Err(limit),
        (Ok(request), None) => Ok(request),
        (Err(e), None) => Err(DecodeError::Invalid(format!("invalid OTLP/JSON: {e}"))),
    }
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode_json(body: &[u8]) -> Result<Vec<SpanRecord>, DecodeError> {
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(DecodeError::Invalid("invalid OTLP/JSON: the body must be a JSON object".into()));
    }
    let request = parse_json(body)?;
    let mut budget = Budget::new();
    let mut spans = Vec::new();
    for (r, rs) in request.resource_spans.into_iter().enumerate() {
        let resource = json_attributes(rs.resource.attributes, &|| format!("resourceSpans[{r}].resource"))?;
        let resource_cost = cost(&resource);
        let service = service_of(&resource);
        for (s, ss) in rs.scope_spans.into_iter().enumerate() {
            let copy_cost = resource_cost.saturating_add(ss.scope.name.len());
            for (i, span) in ss.spans.into_iter().enumerate() {
                let place = |field: &str| format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]{field}");
                budget.take_bytes(copy_cost)?;
                let parent_id = match span.parent_span_id.as_str() {
                    "" => None,
                    p => Some(hex_id(p, 16, || place(".parentSpanId"))?).filter(|p| p != "0000000000000000"),
                };
                let trace_id = hex_id(&span.trace_id, 32, || place(".traceId"))?;
                let span_id = hex_id(&span.span_id, 16, || place(".spanId"))?;
                let attributes = json_attributes(span.attributes, &|| place(""))?;
                budget.take(&attributes)?;
                let mut events = Vec::with_capacity(span.events.len());
                for (e, event) in span.events.into_iter().enumerate() {
                    let attributes = json_attributes(event.attributes, &|| place(&format!(".events[{e}]")))?;
                    budget.take(&attributes)?;
                    events.push(EventRecord { name: event.name, time_ns: event.time_unix_nano, attributes });
                }
                spans.push(SpanRecord {
                    trace_id,
                    span_id,
                    parent_id,
                    name: span.name,
                    kind: span.kind,
                    service: service.clone(),
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    status_code: span.status.code,
                    status_message: span.status.message,
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
    wire::charge(body, &mut Tally::default())?;
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
            let scope = ss.scope.as_ref().map(|s| s.name.as_str()).unwrap_or_default();
            let copy_cost = resource_cost.saturating_add(scope.len());
            for (i, span) in ss.spans.iter().enumerate() {
                let place = |field: &str| format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]{field}");
                if span.trace_id.len() != 16 {
                    return Err(DecodeError::Invalid(format!("{} must be 16 bytes", place(".traceId"))));
                }
                if span.span_id.len() != 8 {
                    return Err(DecodeError::Invalid(format!("{} must be 8 bytes", place(".spanId"))));
                }
                budget.take_bytes(copy_cost)?;
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
                        time_ns: saturating_ns(event.time_unix_nano),
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
                    start_ns: saturating_ns(span.start_time_unix_nano),
                    end_ns: saturating_ns(span.end_time_unix_nano),
                    status_code: status.map(|s| s.code).unwrap_or(0),
                    status_message: status.map(|s| s.message.clone()).unwrap_or_default(),
                    attributes: merge(&resource, attributes),
                    events,
                    scope: scope.to_owned(),
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

    #[test]
    fn json_and_protobuf_agree_on_bytes_and_timestamps_past_i64_max() {
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        let bytes = vec![0xde, 0xad, 0xbe, 0xef, 0x01];
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![0xab; 16],
                        span_id: vec![0xcd; 8],
                        start_time_unix_nano: u64::MAX - 1,
                        end_time_unix_nano: u64::MAX,
                        attributes: vec![ProtoKeyValue {
                            key: "b".into(),
                            value: Some(ProtoAnyValue { value: Some(any_value::Value::BytesValue(bytes)) }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let from_protobuf = decode_protobuf(&request.encode_to_vec()).expect("protobuf");
        let json = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{}","spanId":"{}",
                "startTimeUnixNano":"{}","endTimeUnixNano":{},
                "attributes":[{{"key":"b","value":{{"bytesValue":"3q2+7wE="}}}}]}}]}}]}}]}}"#,
            "ab".repeat(16),
            "cd".repeat(8),
            u64::MAX - 1,
            u64::MAX
        );
        let from_json = decode_json(json.as_bytes()).expect("json");
        assert_eq!(from_json, from_protobuf);
        assert_eq!(from_json[0].attributes, vec![("b".to_owned(), AttrValue::Str("deadbeef01".into()))]);
        assert_eq!((from_json[0].start_ns, from_json[0].end_ns), (i64::MAX, i64::MAX));
        // Unpadded and URL-safe base64 read alike; what is not base64 is dropped like any unreadable value.
        for (text, expected) in [("3q2-7wE", Some("deadbeef01")), ("3q2+7w", Some("deadbeef")), ("*", None)] {
            assert_eq!(base64(text).map(|b| hex(&b)).as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn span_and_message_counts_are_refused_before_they_are_built() {
        let spans = "{},".repeat(MAX_SPANS);
        let json = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{spans}{{}}]}}]}}]}}"#);
        assert_eq!(decode_json(json.as_bytes()), Err(DecodeError::TooManySpans));
        // One ScopeSpans holding MAX_SPANS + 1 empty spans (`12 00` each).
        let mut scope = Vec::new();
        for _ in 0..=MAX_SPANS {
            scope.extend([0x12, 0x00]);
        }
        let mut body = vec![0x0a];
        let mut inner = vec![0x12];
        prost::encoding::encode_varint(scope.len() as u64, &mut inner);
        inner.extend(scope);
        prost::encoding::encode_varint(inner.len() as u64, &mut body);
        body.extend(inner);
        assert_eq!(decode_protobuf(&body), Err(DecodeError::TooManySpans));
        // Four million empty resource attributes: 8 MiB of protobuf, ~256 MiB once built.
        let attributes = [0x0a, 0x00].repeat(4 << 20);
        let mut resource = vec![0x0a];
        prost::encoding::encode_varint(attributes.len() as u64, &mut resource);
        resource.extend(attributes);
        let mut body = vec![0x0a];
        prost::encoding::encode_varint(resource.len() as u64, &mut body);
        body.extend(resource);
        assert_eq!(decode_protobuf(&body), Err(DecodeError::TooComplex));
    }
}
