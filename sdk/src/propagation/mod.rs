//! W3C Trace Context and Baggage propagators, implementing `opentelemetry`'s
//! `TextMapPropagator` so they compose with `TextMapCompositePropagator` and
//! `opentelemetry::global::set_text_map_propagator`.
//!
//! Both are strict where the specifications say a header is invalid (and then ignore it
//! entirely, starting a new trace) and tolerant only of optional whitespace.
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use otel_web::propagation::TraceContextPropagator;
//!
//! let mut headers = HashMap::new();
//! headers.insert(
//!     "traceparent".to_string(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
//! );
//! let cx = TraceContextPropagator::new().extract(&headers);
//! assert!(cx.span().span_context().is_sampled());
//! ```

mod baggage;
mod trace_context;
#[cfg(feature = "xray")]
mod xray;

pub use baggage::BaggagePropagator;
pub(crate) use trace_context::RANDOM_TRACE_ID;
pub use trace_context::TraceContextPropagator;
#[cfg(feature = "xray")]
pub use xray::XrayPropagator;

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};

/// The propagators a page can name (`OTEL_PROPAGATORS` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagatorKind {
    /// W3C `traceparent`/`tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// AWS X-Ray `X-Amzn-Trace-Id` (feature `xray`; without it [`crate::Config::validate`]
    /// refuses it and [`propagator`] leaves it out).
    XRay,
}

/// The default propagators: W3C `traceparent`/`tracestate`, then W3C `baggage`.
pub fn default_propagator() -> TextMapCompositePropagator {
    propagator(&[PropagatorKind::TraceContext, PropagatorKind::Baggage])
}

/// A composite of `kinds`, in order.
#[cfg_attr(
    feature = "xray",
    allow(clippy::unnecessary_filter_map, reason = "without `xray`, XRay maps to None")
)]
pub fn propagator(kinds: &[PropagatorKind]) -> TextMapCompositePropagator {
    let propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = kinds
        .iter()
        .filter_map(|kind| -> Option<Box<dyn TextMapPropagator + Send + Sync>> {
            match kind {
                PropagatorKind::TraceContext => Some(Box::new(TraceContextPropagator::new())),
                PropagatorKind::Baggage => Some(Box::new(BaggagePropagator::new())),
                #[cfg(feature = "xray")]
                PropagatorKind::XRay => Some(Box::new(XrayPropagator::new())),
                #[cfg(not(feature = "xray"))]
                PropagatorKind::XRay => None,
            }
        })
        .collect();
    TextMapCompositePropagator::new(propagators)
}
