//! OTLP/protobuf encoding of spans (feature `protobuf`): the `ExportTraceServiceRequest` wire
//! format written by hand, so no protobuf runtime ships in the page.
//!
//! Varints for integers and enums, length-delimited fields for strings, bytes and nested
//! messages, `fixed64` for timestamps and doubles, `fixed32` for span flags, ids as raw bytes
//! (16 and 8, against 32 and 16 hex digits in JSON). Fields holding their proto3 default are
//! left out, as every protobuf encoder does, except inside `AnyValue`'s `oneof` (a `false` or
//! `0` attribute must still say which kind it is). Spans are grouped by resource and
//! instrumentation scope exactly as in [`otlp_json`](super::otlp_json).
//!
//! A nested message's length comes before it: the encoder reserves one byte, writes the
//! message, and widens the prefix in place when the message turned out to be 128 bytes or
//! more, so each message is written once.
//!
//! ```
//! use otel_web::export::otlp_proto;
//! use otel_web::Resource;
//!
//! let resource = otlp_proto::encode_resource(&Resource::builder().with_service_name("frontend").build());
//! let body = otlp_proto::encode_request(&resource, &[]);
//! assert_eq!(body[0], 0x0a); // field 1 (resource_spans), length-delimited
//! ```

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};

use super::otlp_json::group_by_scope;
use crate::resource::Resource;
use crate::trace::SpanData;

/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
const FLAG_IS_REMOTE: u32 = 0x200;

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// The `Resource` message's bytes; encode it once and reuse it for every request.
pub fn encode_resource(resource: &Resource) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    for kv in resource.attributes() {
        key_value(&mut out, 1, kv);
    }
    out
}

/// One `ExportTraceServiceRequest` holding `spans`.
pub fn encode_request(resource: &[u8], spans: &[SpanData]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + resource.len() + spans.len() * 256);
    let groups = group_by_scope(spans);
    let groups: Vec<(&InstrumentationScope, &[&SpanData])> =
        groups.iter().map(|(scope, members)| (scope.as_ref(), members.as_slice())).collect();
    request(&mut out, resource, &groups);
    out
}

/// Requests holding `spans`, each at most `max_bytes` long (for `keepalive`, whose bodies the
/// browser limits). A single span larger than `max_bytes` gets a request of its own, which is
/// then larger than the limit; callers send that one another way.
pub fn encode_chunks(resource: &[u8], spans: &[SpanData], max_bytes: usize) -> Vec<Vec<u8>> {
    // Upper bounds of what surrounds the spans: a length prefix below 2 MiB takes at most 3
    // bytes, so a chunk assembled from these estimates is never over `max_bytes`.
    let envelope = 1 + 3 + 1 + varint_len(resource.len() as u64) + resource.len();
    let groups = group_by_scope(spans);
    let headers: Vec<usize> = groups
        .iter()
        .map(|(scope, _)| {
            let mut s = Vec::new();
            scope_header(&mut s, scope);
            1 + 3 + s.len()
        })
        .collect();
    let mut chunks = Vec::new();
    let mut current: Vec<Vec<&SpanData>> = vec![Vec::new(); groups.len()];
    let mut size = envelope;
    let mut count = 0;
    let mut scratch = Vec::with_capacity(512);
    for (g, (_, members)) in groups.iter().enumerate() {
        for span in members {
            scratch.clear();
            encode_span(&mut scratch, span);
            let span_cost = 1 + varint_len(scratch.len() as u64) + scratch.len();
            let scope_cost = if current[g].is_empty() { headers[g] } else { 0 };
            if count > 0 && size + span_cost + scope_cost > max_bytes {
                chunks.push(assemble(resource, &groups, &mut current));
                size = envelope + headers[g] + span_cost;
                count = 0;
            } else {
                size += span_cost + scope_cost;
            }
            current[g].push(span);
            count += 1;
        }
    }
    if count > 0 {
        chunks.push(assemble(resource, &groups, &mut current));
    }
    chunks
}

type Groups<'a> = [(&'a std::sync::Arc<InstrumentationScope>, Vec<&'a SpanData>)];

fn assemble(resource: &[u8], groups: &Groups<'_>, current: &mut [Vec<&SpanData>]) -> Vec<u8> {
    let picked: Vec<(&InstrumentationScope, &[&SpanData])> = groups
        .iter()
        .zip(current.iter())
        .filter(|(_, members)| !members.is_empty())
        .map(|((scope, _), members)| (scope.as_ref(), members.as_slice()))
        .collect();
    let mut out = Vec::new();
    request(&mut out, resource, &picked);
    current.iter_mut().for_each(Vec::clear);
    out
}

fn request(out: &mut Vec<u8>, resource: &[u8], groups: &[(&InstrumentationScope, &[&SpanData])]) {
    // ExportTraceServiceRequest.resource_spans = 1
    nested(out, 1, |out| {
        // ResourceSpans.resource = 1, scope_spans = 2
        key(out, 1, LEN);
        varint(out, resource.len() as u64);
        out.extend_from_slice(resource);
        for (scope, members) in groups {
            nested(out, 2, |out| {
                scope_header(out, scope);
                for span in members.iter() {
                    nested(out, 2, |out| encode_span(out, span));
                }
            });
        }
    });
}

/// `ScopeSpans.scope` (1) and `schema_url` (3); the spans (2) follow.
fn scope_header(out: &mut Vec<u8>, scope: &InstrumentationScope) {
    nested(out, 1, |out| {
        string(out, 1, scope.name());
        if let Some(version) = scope.version() {
            string(out, 2, version);
        }
        for kv in scope.attributes() {
            key_value(out, 3, kv);
        }
    });
    if let Some(schema_url) = scope.schema_url() {
        string(out, 3, schema_url);
    }
}

/// Appends the fields of one `Span` message (without its tag and length).
pub fn encode_span(out: &mut Vec<u8>, span: &SpanData) {
    let cx = &span.span_context;
    bytes(out, 1, &cx.trace_id().to_bytes());
    bytes(out, 2, &cx.span_id().to_bytes());
    let trace_state = cx.trace_state().header();
    if !trace_state.is_empty() {
        string(out, 3, &trace_state);
    }
    if span.parent_span_id != opentelemetry::trace::SpanId::INVALID {
        bytes(out, 4, &span.parent_span_id.to_bytes());
    }
    string(out, 5, &span.name);
    key(out, 6, VARINT);
    varint(out, kind(&span.span_kind));
    key(out, 7, FIXED64);
    out.extend_from_slice(&span.start_time_unix_nano.to_le_bytes());
    key(out, 8, FIXED64);
    out.extend_from_slice(&span.end_time_unix_nano.to_le_bytes());
    for kv in &span.attributes {
        key_value(out, 9, kv);
    }
    uint_field(out, 10, span.dropped_attributes_count);
    for event in &span.events {
        nested(out, 11, |out| {
            key(out, 1, FIXED64);
            out.extend_from_slice(&event.time_unix_nano.to_le_bytes());
            string(out, 2, &event.name);
            for kv in &event.attributes {
                key_value(out, 3, kv);
            }
            uint_field(out, 4, event.dropped_attributes_count);
        });
    }
    uint_field(out, 12, span.dropped_events_count);
    for link in &span.links {
        let lc = &link.span_context;
        nested(out, 13, |out| {
            bytes(out, 1, &lc.trace_id().to_bytes());
            bytes(out, 2, &lc.span_id().to_bytes());
            let state = lc.trace_state().header();
            if !state.is_empty() {
                string(out, 3, &state);
            }
            for kv in &link.attributes {
                key_value(out, 4, kv);
            }
            uint_field(out, 5, link.dropped_attributes_count);
            let mut flags = u32::from(lc.trace_flags().to_u8()) | FLAG_HAS_IS_REMOTE;
            if lc.is_remote() {
                flags |= FLAG_IS_REMOTE;
            }
            key(out, 6, FIXED32);
            out.extend_from_slice(&flags.to_le_bytes());
        });
    }
    uint_field(out, 14, span.dropped_links_count);
    match &span.status {
        Status::Unset => {}
        Status::Ok => nested(out, 15, |out| {
            key(out, 3, VARINT);
            varint(out, 1);
        }),
        Status::Error { description } => nested(out, 15, |out| {
            if !description.is_empty() {
                string(out, 2, description);
            }
            key(out, 3, VARINT);
            varint(out, 2);
        }),
    }
    let mut flags = u32::from(cx.trace_flags().to_u8()) | FLAG_HAS_IS_REMOTE;
    if span.parent_span_is_remote {
        flags |= FLAG_IS_REMOTE;
    }
    key(out, 16, FIXED32);
    out.extend_from_slice(&flags.to_le_bytes());
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

fn key_value(out: &mut Vec<u8>, field: u32, kv: &KeyValue) {
    nested(out, field, |out| {
        string(out, 1, kv.key.as_str());
        nested(out, 2, |out| any_value(out, &kv.value));
    });
}

/// The fields of an `AnyValue`: exactly one of the `oneof`, written even when it is the default.
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => {
            key(out, 2, VARINT);
            out.push(u8::from(*b));
        }
        Value::I64(i) => {
            key(out, 3, VARINT);
            varint(out, *i as u64);
        }
        Value::F64(f) => {
            key(out, 4, FIXED64);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::String(s) => {
            key(out, 1, LEN);
            let s = s.as_str();
            varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(array) => nested(out, 5, |out| match array {
            Array::Bool(items) => {
                items.iter().for_each(|b| nested(out, 1, |out| any_value(out, &Value::Bool(*b))))
            }
            Array::I64(items) => {
                items.iter().for_each(|i| nested(out, 1, |out| any_value(out, &Value::I64(*i))))
            }
            Array::F64(items) => {
                items.iter().for_each(|f| nested(out, 1, |out| any_value(out, &Value::F64(*f))))
            }
            Array::String(items) => items.iter().for_each(|s| {
                nested(out, 1, |out| {
                    key(out, 1, LEN);
                    varint(out, s.as_str().len() as u64);
                    out.extend_from_slice(s.as_str().as_bytes());
                })
            }),
            // A kind of array newer than this encoder: an empty ArrayValue.
            _ => {}
        }),
        // A kind of value newer than this encoder: an empty AnyValue, as the proto allows.
        _ => {}
    }
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    varint(out, u64::from(field << 3 | wire_type));
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint_len(n: u64) -> usize {
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

fn uint_field(out: &mut Vec<u8>, field: u32, n: u32) {
    if n > 0 {
        key(out, field, VARINT);
        varint(out, u64::from(n));
    }
}

fn bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    key(out, field, LEN);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

fn string(out: &mut Vec<u8>, field: u32, value: &str) {
    if !value.is_empty() {
        bytes(out, field, value.as_bytes());
    }
}

/// A length-delimited field holding what `write` appends: one byte is reserved for the length
/// and widened in place if the message is longer than 127 bytes.
fn nested(out: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.push(0);
    write(out);
    let len = (out.len() - at - 1) as u64;
    if len < 0x80 {
        out[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(10);
        varint(&mut prefix, len);
        out[at] = prefix[0];
        out.splice(at + 1..at + 1, prefix[1..].iter().copied());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
