//! [`Tracer`]: starts spans with ids, sampling, limits and the provider's span attributes.

use std::sync::Arc;

use opentelemetry::trace::{SpanBuilder, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags};
use opentelemetry::{Context, InstrumentationScope};

use super::provider::ProviderShared;
use super::sampler::SamplingDecision;
use super::span::{Span, SpanData, SpanEvent};
use crate::platform::clock;

/// Creates spans for one instrumentation scope. Get one from
/// `opentelemetry::global::tracer(..)` or [`TracerProvider`](super::TracerProvider).
#[derive(Debug, Clone)]
pub struct Tracer {
    provider: Arc<ProviderShared>,
    scope: Arc<InstrumentationScope>,
}

impl Tracer {
    pub(crate) fn new(provider: Arc<ProviderShared>, scope: InstrumentationScope) -> Self {
        Self { provider, scope: Arc::new(scope) }
    }
}

impl opentelemetry::trace::Tracer for Tracer {
    type Span = Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Span {
        let provider = &self.provider;
        if provider.is_shut_down() {
            return Span::non_recording(SpanContext::empty_context());
        }
        let parent = parent_cx
            .has_active_span()
            .then(|| parent_cx.span().span_context().clone())
            .filter(SpanContext::is_valid);
        let trace_id = match &parent {
            Some(parent) => parent.trace_id(),
            None => provider.id_generator.new_trace_id(),
        };
        let span_id = provider.id_generator.new_span_id();
        let decision = provider.sampler.should_sample(parent.as_ref(), trace_id);
        let flags = match decision {
            SamplingDecision::RecordAndSample => TraceFlags::SAMPLED,
            _ => TraceFlags::default(),
        };
        let trace_state = parent.as_ref().map(|p| p.trace_state().clone()).unwrap_or_default();
        let span_context = SpanContext::new(trace_id, span_id, flags, false, trace_state);
        if decision == SamplingDecision::Drop {
            return Span::non_recording(span_context);
        }

        let limits = provider.limits;
        let start_time_unix_nano =
            builder.start_time.map(clock::from_system_time).unwrap_or_else(clock::now_unix_nanos);
        // Room for the builder's attributes and a few set later (set_attribute), so a typical span
        // does not reallocate.
        let expected = builder.attributes.as_ref().map_or(0, Vec::len) + 8;
        let mut attributes = provider.span_attributes(expected);
        if let Some(builder_attributes) = builder.attributes {
            attributes.extend(builder_attributes);
        }
        let dropped_attributes_count = limits.cap_attributes(&mut attributes, limits.max_attributes_per_span);
        let mut events: Vec<SpanEvent> = builder
            .events
            .unwrap_or_default()
            .into_iter()
            .map(|mut e| {
                let dropped = limits.cap_attributes(&mut e.attributes, limits.max_attributes_per_event);
                SpanEvent {
                    name: e.name,
                    time_unix_nano: clock::from_system_time(e.timestamp),
                    attributes: e.attributes,
                    dropped_attributes_count: e.dropped_attributes_count + dropped,
                }
            })
            .collect();
        let dropped_events_count = events.len().saturating_sub(limits.max_events_per_span as usize) as u32;
        events.truncate(limits.max_events_per_span as usize);
        let mut links = builder.links.unwrap_or_default();
        links.retain(|l| l.span_context.is_valid());
        let dropped_links_count = links.len().saturating_sub(limits.max_links_per_span as usize) as u32;
        links.truncate(limits.max_links_per_span as usize);

        let mut data = SpanData {
            span_context,
            parent_span_id: parent.as_ref().map(|p| p.span_id()).unwrap_or(SpanId::INVALID),
            parent_span_is_remote: parent.as_ref().is_some_and(|p| p.is_remote()),
            span_kind: builder.span_kind.unwrap_or(SpanKind::Internal),
            name: builder.name,
            start_time_unix_nano,
            end_time_unix_nano: start_time_unix_nano,
            attributes,
            dropped_attributes_count,
            events,
            dropped_events_count,
            links,
            dropped_links_count,
            status: Default::default(),
            scope: Arc::clone(&self.scope),
        };
        super::pipeline::on_start(provider.id, &mut data, parent_cx);
        Span::recording(data, Arc::clone(provider))
    }
}
