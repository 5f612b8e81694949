//! W3C Trace Context: `traceparent` and `tracestate`.
//!
//! Strict parsing (W3C Trace Context, "traceparent Header Field Values"): lowercase hex only;
//! version `ff` is invalid; version `00` must be exactly 55 characters; later versions may append
//! `-`-separated fields, which are ignored; all-zero trace or parent ids are invalid; flags
//! other than `sampled` are masked off. A `tracestate` with more than 32 members or an invalid
//! member is discarded, without invalidating `traceparent`.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use crate::trace::push_hex;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// Most `tracestate` list members accepted.
pub(crate) const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Injects and extracts `traceparent` and `tracestate`.
#[derive(Debug)]
pub struct TraceContextPropagator {
    fields: [String; 2],
}

impl Default for TraceContextPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceContextPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self { fields: [TRACEPARENT.to_owned(), TRACESTATE.to_owned()] }
    }
}

/// The `traceparent` value for `cx`, or `None` for an invalid context.
pub(crate) fn traceparent(cx: &SpanContext) -> Option<String> {
    cx.is_valid().then(|| {
        let mut value = String::with_capacity(55);
        value.push_str("00-");
        push_hex(&mut value, &cx.trace_id().to_bytes());
        value.push('-');
        push_hex(&mut value, &cx.span_id().to_bytes());
        value.push('-');
        push_hex(&mut value, &[cx.trace_flags().to_u8() & TraceFlags::SAMPLED.to_u8()]);
        value
    })
}

/// Parses a `traceparent` value strictly; `None` when it is invalid.
pub(crate) fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let bytes = value.as_bytes();
    if bytes.len() < 55 {
        return None;
    }
    let version = &value[..2];
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    if (version == "00" && bytes.len() != 55) || (bytes.len() > 55 && bytes[55] != b'-') {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let (trace, span, flags) = (&value[3..35], &value[36..52], &value[53..55]);
    if !is_lower_hex(trace) || !is_lower_hex(span) || !is_lower_hex(flags) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace).ok().filter(|t| *t != TraceId::INVALID)?;
    let span_id = SpanId::from_hex(span).ok().filter(|s| *s != SpanId::INVALID)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id, span_id, TraceFlags::new(flags & TraceFlags::SAMPLED.to_u8())))
}

/// Parses `tracestate`; `None` (discard) when a member is invalid or there are too many.
pub(crate) fn parse_tracestate(value: &str) -> Option<TraceState> {
    let members: Vec<&str> = value
        .split(',')
        .map(|m| m.trim_matches(|c| c == ' ' || c == '\t'))
        .filter(|m| !m.is_empty())
        .collect();
    if members.len() > MAX_TRACESTATE_MEMBERS {
        return None;
    }
    let pairs: Option<Vec<(&str, &str)>> = members.iter().map(|m| m.split_once('=')).collect();
    TraceState::from_key_value(pairs?).ok()
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        let Some(parent) = traceparent(span_context) else { return };
        injector.set(TRACEPARENT, parent);
        let state = span_context.trace_state().header();
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some((trace_id, span_id, flags)) = extractor.get(TRACEPARENT).and_then(parse_traceparent) else {
            return cx.clone();
        };
        let state = extractor.get(TRACESTATE).and_then(parse_tracestate).unwrap_or_default();
        let remote = SpanContext::new(trace_id, span_id, flags, true, state);
        cx.with_remote_span_context(remote)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn valid_traceparent_round_trips() {
        let mut headers = HashMap::new();
        headers.insert("traceparent".to_owned(), VALID.to_owned());
        headers.insert("tracestate".to_owned(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".to_owned());
        let propagator = TraceContextPropagator::new();
        let cx = propagator.extract(&headers);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(sc.trace_state().get("congo"), Some("t61rcWkgMzE"));
        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        assert_eq!(out.get("traceparent").map(String::as_str), Some(VALID));
        assert_eq!(
            out.get("tracestate").map(String::as_str),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
    }

    #[test]
    fn every_invalid_traceparent_form_is_rejected() {
        let invalid = [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // uppercase
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero parent id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", // v00 must be 55 chars
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // short trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",  // short span id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  // short flags
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", // wrong separators
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // non-hex version
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", // non-hex trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", // non-hex flags
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", // future version, bad tail
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{e9}",
        ];
        for value in invalid {
            assert_eq!(parse_traceparent(value), None, "{value:?} was accepted");
        }
    }

    #[test]
    fn future_versions_and_unknown_flags_are_tolerated() {
        let (_, _, flags) =
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-ever")
                .expect("v01");
        assert_eq!(flags, TraceFlags::SAMPLED, "unknown flag bits are masked");
        let (_, _, flags) =
            parse_traceparent(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ").expect("ows");
        assert_eq!(flags, TraceFlags::default());
    }

    #[test]
    fn a_bad_tracestate_is_dropped_but_the_traceparent_kept() {
        assert!(parse_tracestate("a=1,b=2").is_some());
        assert!(parse_tracestate("UPPER=1").is_none());
        assert!(parse_tracestate("novalue").is_none());
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert!(parse_tracestate(&many.join(",")).is_none());
        assert!(parse_tracestate(&many[..32].join(",")).is_some());

        let mut headers = HashMap::new();
        headers.insert("traceparent".to_owned(), VALID.to_owned());
        headers.insert("tracestate".to_owned(), "BAD KEY=1".to_owned());
        let cx = TraceContextPropagator::new().extract(&headers);
        assert!(cx.span().span_context().is_valid());
        assert!(cx.span().span_context().trace_state().header().is_empty());
    }

    #[test]
    fn nothing_is_injected_without_a_valid_span() {
        let mut out: HashMap<String, String> = HashMap::new();
        TraceContextPropagator::new().inject_context(&Context::new(), &mut out);
        assert!(out.is_empty());
    }
}
