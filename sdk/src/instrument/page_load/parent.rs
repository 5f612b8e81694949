//! The span that produced the page's HTML, as the page names it: `Server-Timing: traceparent;
//! desc="00-…"` on the navigation entry (Splunk's and Sentry's convention), else
//! `<meta name="traceparent" content="00-…">` (OpenTelemetry JS's).
//!
//! Both are untrusted text. Each is parsed by otel-web's strict W3C parser (through
//! [`TraceContextPropagator`], the one the fetch and the backend use); a malformed value, or
//! more than one `traceparent` in the same place, names no parent.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};

use crate::propagation::TraceContextPropagator;

/// The `Server-Timing` metric name that carries the trace context.
const METRIC: &str = "traceparent";

/// The remote parent of the page load (`documentLoad`, or the vitals without it): from the navigation entry's `serverTiming`
/// (`(name, description)` pairs), else from the `content` of the page's `traceparent` metas.
pub(super) fn remote_parent(server_timing: &[(String, String)], metas: &[String]) -> Option<SpanContext> {
    let from_header: Vec<&str> =
        server_timing.iter().filter(|(name, _)| name == METRIC).map(|(_, desc)| desc.as_str()).collect();
    one(&from_header).or_else(|| one(&metas.iter().map(String::as_str).collect::<Vec<_>>()))
}

/// The span context in `values` if there is exactly one and it is valid.
fn one(values: &[&str]) -> Option<SpanContext> {
    let [value] = values else { return None };
    let cx = TraceContextPropagator::new().extract(&Traceparent(value));
    let span_context = cx.span().span_context().clone();
    (span_context.is_valid() && span_context.is_remote()).then_some(span_context)
}

/// One `traceparent` value, as a carrier.
struct Traceparent<'a>(&'a str);

impl Extractor for Traceparent<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        key.eq_ignore_ascii_case(METRIC).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![METRIC]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceId};

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const OTHER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn timing(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, d)| ((*n).to_owned(), (*d).to_owned())).collect()
    }

    #[test]
    fn the_server_timing_traceparent_names_the_parent() {
        let parent = remote_parent(&timing(&[("app", "1"), ("traceparent", VALID)]), &[]).expect("parent");
        assert_eq!(parent.trace_id(), TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"));
        assert_eq!(parent.span_id(), SpanId::from_hex("00f067aa0ba902b7").expect("hex"));
        assert!(parent.is_sampled() && parent.is_remote());
    }

    #[test]
    fn server_timing_wins_over_the_meta_and_the_meta_is_the_fallback() {
        let both = remote_parent(&timing(&[("traceparent", VALID)]), &[OTHER.to_owned()]).expect("parent");
        assert_eq!(both.span_id(), SpanId::from_hex("00f067aa0ba902b7").expect("hex"));
        let meta = remote_parent(&[], &[OTHER.to_owned()]).expect("meta");
        assert_eq!(meta.span_id(), SpanId::from_hex("b7ad6b7169203331").expect("hex"));
        // A malformed Server-Timing value does not hide a valid meta.
        let bad_header = remote_parent(&timing(&[("traceparent", "00-zz")]), &[OTHER.to_owned()]);
        assert_eq!(bad_header.map(|p| p.span_id()), SpanId::from_hex("b7ad6b7169203331").ok());
    }

    #[test]
    fn hostile_or_ambiguous_values_name_no_parent() {
        for value in [
            "",
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\u{e9}",
            "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"",
        ] {
            assert_eq!(remote_parent(&timing(&[("traceparent", value)]), &[]), None, "{value:?}");
            assert_eq!(remote_parent(&[], &[value.to_owned()]), None, "{value:?}");
        }
        // Two traceparents in one place: ambiguous.
        assert_eq!(remote_parent(&timing(&[("traceparent", VALID), ("traceparent", OTHER)]), &[]), None);
        assert_eq!(remote_parent(&[], &[VALID.to_owned(), OTHER.to_owned()]), None);
        // Another metric's description is never read as a traceparent.
        assert_eq!(remote_parent(&timing(&[("app", VALID)]), &[]), None);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_text_is_a_valid_parent_or_none_and_never_panics(desc in ".{0,80}", meta in ".{0,80}") {
                let parent = remote_parent(&timing(&[("traceparent", &desc)]), &[meta]);
                if let Some(parent) = parent {
                    prop_assert!(parent.is_valid() && parent.is_remote());
                }
            }

            #[test]
            fn a_well_formed_traceparent_is_taken_as_given(trace in 1u128.., span in 1u64.., sampled: bool) {
                let value = format!("00-{trace:032x}-{span:016x}-0{}", u8::from(sampled));
                let parent = remote_parent(&timing(&[("traceparent", &value)]), &[]).expect("valid");
                prop_assert_eq!(parent.trace_id(), TraceId::from(trace));
                prop_assert_eq!(parent.span_id(), SpanId::from(span));
                prop_assert_eq!(parent.is_sampled(), sampled);
            }
        }
    }
}
