//! What a protobuf `ExportTraceServiceRequest` would cost to decode, read from the wire format
//! before anything is built.
//!
//! prost builds every message of a request before the decoder can look at one, and an empty
//! message is two bytes on the wire but a struct of up to ~300 bytes in memory (an empty span:
//! `12 00`). This walk follows the trace schema through the raw bytes without allocating,
//! charging each message the size of the struct prost would build for it (and each repeated
//! string its `String`) to a [`Tally`], and counting spans; it stops at the first limit crossed.
//! Unknown fields are skipped, as prost skips them; a body that is not protobuf is refused here
//! with the reason, exactly where prost would refuse it.

use std::mem::size_of;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use super::{DecodeError, Tally};

/// Deeper than prost's own recursion limit (100): prost refuses what lies below, so nothing
/// there is built and it need not be walked.
const WALK_DEPTH: u32 = 128;

/// The messages of the trace schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Request,
    ResourceSpans,
    Resource,
    EntityRef,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

impl Msg {
    /// The message field `number` holds, if it is a message field.
    fn field(self, number: u64) -> Option<Msg> {
        use Msg::*;
        Some(match (self, number) {
            (Request, 1) => ResourceSpans,
            (ResourceSpans, 1) => Resource,
            (ResourceSpans, 2) => ScopeSpans,
            (Resource, 1) | (Scope, 3) | (Span, 9) | (Event, 3) | (Link, 4) | (KeyValueList, 1) => KeyValue,
            (Resource, 3) => EntityRef,
            (ScopeSpans, 1) => Scope,
            (ScopeSpans, 2) => Span,
            (Span, 11) => Event,
            (Span, 13) => Link,
            (Span, 15) => Status,
            (KeyValue, 2) | (ArrayValue, 1) => AnyValue,
            (AnyValue, 5) => ArrayValue,
            (AnyValue, 6) => KeyValueList,
            _ => return None,
        })
    }

    /// Whether field `number` is a repeated string (each occurrence a new `String`).
    fn repeated_string(self, number: u64) -> bool {
        self == Msg::EntityRef && matches!(number, 3 | 4)
    }

    /// What prost builds for one occurrence.
    fn size(self) -> usize {
        match self {
            Msg::Request => size_of::<ExportTraceServiceRequest>(),
            Msg::ResourceSpans => size_of::<ResourceSpans>(),
            Msg::Resource => size_of::<Resource>(),
            Msg::EntityRef => size_of::<EntityRef>(),
            Msg::ScopeSpans => size_of::<ScopeSpans>(),
            Msg::Scope => size_of::<InstrumentationScope>(),
            Msg::Span => size_of::<Span>(),
            Msg::Event => size_of::<span::Event>(),
            Msg::Link => size_of::<span::Link>(),
            Msg::Status => size_of::<Status>(),
            Msg::KeyValue => size_of::<KeyValue>(),
            Msg::AnyValue => size_of::<AnyValue>(),
            Msg::ArrayValue => size_of::<ArrayValue>(),
            Msg::KeyValueList => size_of::<KeyValueList>(),
        }
    }
}

/// Charges `tally` with what decoding `body` as an `ExportTraceServiceRequest` would build.
pub(super) fn charge(body: &[u8], tally: &mut Tally) -> Result<(), DecodeError> {
    walk(body, Msg::Request, 0, tally)
}

fn invalid(what: &str) -> DecodeError {
    DecodeError::Invalid(format!("invalid OTLP protobuf: {what}"))
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let byte = *buf.get(*pos).ok_or_else(|| invalid("a varint runs past the end"))?;
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err(invalid("a varint overflows 64 bits"));
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(invalid("a varint overflows 64 bits"))
}

fn skip(buf: &[u8], pos: &mut usize, bytes: u64) -> Result<(), DecodeError> {
    let end = usize::try_from(bytes)
        .ok()
        .and_then(|b| pos.checked_add(b))
        .filter(|end| *end <= buf.len())
        .ok_or_else(|| invalid("a field runs past the end"))?;
    *pos = end;
    Ok(())
}

/// Reads a field key: `(number, wire type)`.
fn key(buf: &[u8], pos: &mut usize) -> Result<(u64, u64), DecodeError> {
    let key = varint(buf, pos)?;
    if key >> 3 == 0 || key >> 3 > u64::from(u32::MAX >> 3) {
        return Err(invalid("a field number is out of range"));
    }
    Ok((key >> 3, key & 7))
}

/// Skips a group whose start-group key (field `number`) was just read.
fn skip_group(buf: &[u8], pos: &mut usize, number: u64, depth: u32) -> Result<(), DecodeError> {
    if depth > WALK_DEPTH {
        return Err(invalid("groups nest too deeply"));
    }
    loop {
        if *pos >= buf.len() {
            return Err(invalid("a group runs past the end"));
        }
        let (inner, wire_type) = key(buf, pos)?;
        match wire_type {
            0 => {
                varint(buf, pos)?;
            }
            1 => skip(buf, pos, 8)?,
            2 => {
                let len = varint(buf, pos)?;
                skip(buf, pos, len)?;
            }
            3 => skip_group(buf, pos, inner, depth + 1)?,
            4 if inner == number => return Ok(()),
            4 => return Err(invalid("a group ends with the wrong field number")),
            5 => skip(buf, pos, 4)?,
            _ => return Err(invalid("an unknown wire type")),
        }
    }
}

fn walk(buf: &[u8], msg: Msg, depth: u32, tally: &mut Tally) -> Result<(), DecodeError> {
    let mut pos = 0;
    while pos < buf.len() {
        let (number, wire_type) = key(buf, &mut pos)?;
        match wire_type {
            0 => {
                varint(buf, &mut pos)?;
            }
            1 => skip(buf, &mut pos, 8)?,
            2 => {
                let len = varint(buf, &mut pos)?;
                let start = pos;
                skip(buf, &mut pos, len)?;
                if let Some(child) = msg.field(number) {
                    tally.charge(child.size())?;
                    if child == Msg::Span {
                        tally.span()?;
                    }
                    if depth < WALK_DEPTH {
                        walk(&buf[start..pos], child, depth + 1, tally)?;
                    }
                } else if msg.repeated_string(number) {
                    tally.charge(size_of::<String>() + (pos - start))?;
                }
            }
            3 => skip_group(buf, &mut pos, number, depth + 1)?,
            4 => return Err(invalid("a group ends where none started")),
            5 => skip(buf, &mut pos, 4)?,
            _ => return Err(invalid("an unknown wire type")),
        }
    }
    Ok(())
}
