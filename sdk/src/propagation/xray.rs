//! AWS X-Ray's `X-Amzn-Trace-Id`: `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`.
//!
//! Opt in (`"propagators": ["tracecontext", "baggage", "xray"]` in the page configuration) when
//! the backend is traced by X-Ray; pair it with `"idGenerator": "xray"` so the trace ids the
//! browser starts carry a timestamp X-Ray accepts. Like every propagator, it only injects into
//! requests to allowed origins.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

const HEADER: &str = "x-amzn-trace-id";

/// Injects and extracts `X-Amzn-Trace-Id`.
#[derive(Debug)]
pub struct XrayPropagator {
    fields: [String; 1],
}

impl Default for XrayPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl XrayPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self { fields: [HEADER.to_owned()] }
    }
}

/// The header value for a span context.
pub(crate) fn format(cx: &SpanContext) -> Option<String> {
    if !cx.is_valid() {
        return None;
    }
    let trace = cx.trace_id().to_string();
    Some(format!(
        "Root=1-{}-{};Parent={};Sampled={}",
        &trace[..8],
        &trace[8..],
        cx.span_id(),
        if cx.is_sampled() { 1 } else { 0 }
    ))
}

/// Parses a header value; `None` for anything malformed.
pub(crate) fn parse(value: &str) -> Option<SpanContext> {
    let (mut root, mut parent, mut sampled) = (None, None, false);
    for part in value.split(';') {
        let (key, val) = part.trim().split_once('=')?;
        match key {
            "Root" => {
                let mut pieces = val.split('-');
                let (version, time, rest) = (pieces.next()?, pieces.next()?, pieces.next()?);
                if version != "1" || time.len() != 8 || rest.len() != 24 || pieces.next().is_some() {
                    return None;
                }
                let hex = format!("{time}{rest}");
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                root = TraceId::from_hex(&hex.to_ascii_lowercase()).ok().filter(|t| *t != TraceId::INVALID);
            }
            "Parent" => {
                if val.len() != 16 || !val.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                parent = SpanId::from_hex(&val.to_ascii_lowercase()).ok().filter(|s| *s != SpanId::INVALID);
            }
            "Sampled" => sampled = val == "1",
            _ => {}
        }
    }
    let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    Some(SpanContext::new(root?, parent?, flags, true, TraceState::NONE))
}

impl TextMapPropagator for XrayPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        if let Some(value) = format(cx.span().span_context()) {
            injector.set(HEADER, value);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extractor.get(HEADER).and_then(parse) {
            Some(remote) => cx.with_remote_span_context(remote),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_round_trips() {
        let value = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let cx = parse(value).expect("valid");
        assert_eq!(cx.trace_id().to_string(), "5759e988bd862e3fe1be46a994272793");
        assert!(cx.is_sampled() && cx.is_remote());
        assert_eq!(format(&cx).as_deref(), Some(value));
    }

    #[test]
    fn malformed_values_start_a_new_trace() {
        for bad in [
            "",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e98-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a99427279z;Parent=53995c3f42cd8ad8",
            "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f",
            "garbage",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} was accepted");
        }
    }
}
