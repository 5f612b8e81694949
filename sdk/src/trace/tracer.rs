//! [`Tracer`]: starts spans with ids, sampling, limits and the provider's span attributes.

use std::sync::Arc;

use opentelemetry::trace::{SpanBuilder, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags};
use opentelemetry::{Context, InstrumentationScope};

use super::IdGenerator;
use super::provider::ProviderShared;
use super::sampler::SamplingDecision;
use super::span::{Span, SpanData, SpanEvent};
use crate::platform::clock;
use crate::propagation::RANDOM_TRACE_ID;

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
        // No parent given: the open interaction or soft navigation, if any (instrument::ambient).
        #[cfg(any(feature = "interactions", feature = "soft-navigations"))]
        let ambient;
        #[cfg(any(feature = "interactions", feature = "soft-navigations"))]
        let parent_cx = match parent_cx.has_active_span() {
            true => parent_cx,
            false => match crate::instrument::ambient::adopt(self.scope.name()) {
                Some(cx) => {
                    ambient = cx;
                    &ambient
                }
                None => parent_cx,
            },
        };
        let parent = parent_cx
            .has_active_span()
            .then(|| parent_cx.span().span_context().clone())
            .filter(SpanContext::is_valid);
        let trace_id = match &parent {
            Some(parent) => parent.trace_id(),
            None => provider.id_generator.new_trace_id(),
        };
        let span_id = provider.id_generator.new_span_id();
        // The session first: this start is activity, and may begin a new session.
        #[cfg(feature = "sessions")]
        let session = crate::instrument::sessions::activity();
        let decision = provider.sampler.should_sample(parent.as_ref(), trace_id);
        #[cfg(feature = "sessions")]
        let decision = crate::instrument::sessions::sample(decision, parent.as_ref(), session.as_ref());
        // W3C Level 2 `random-trace-id`: a continued trace keeps its parent's flag; a new trace
        // has it when its id is uniformly random, which X-Ray ids are not (they start with the
        // epoch second and their last bit is always set).
        let random = match &parent {
            Some(parent) => parent.trace_flags().to_u8() & RANDOM_TRACE_ID.to_u8(),
            None if provider.id_generator == IdGenerator::Random => RANDOM_TRACE_ID.to_u8(),
            None => 0,
        };
        let sampled = match decision {
            SamplingDecision::RecordAndSample => TraceFlags::SAMPLED.to_u8(),
            _ => 0,
        };
        let flags = TraceFlags::new(random | sampled);
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
        #[cfg(feature = "sessions")]
        if let Some(session) = session {
            attributes.push(session.attribute);
        }
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
        for link in &mut links {
            link.dropped_attributes_count +=
                limits.cap_attributes(&mut link.attributes, limits.max_attributes_per_link);
        }

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

#[cfg(test)]
mod tests {
    use opentelemetry::Context;
    use opentelemetry::trace::{
        Span as _, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
        TracerProvider as _,
    };

    use crate::trace::{IdGenerator, Sampler, TracerProvider};

    fn flags(provider: &TracerProvider, parent: &Context) -> u8 {
        provider.tracer("test").start_with_context("s", parent).span_context().trace_flags().to_u8()
    }

    #[test]
    fn new_random_traces_carry_the_random_flag_and_continued_ones_keep_their_parents() {
        // Issue #13 item 7 (W3C Trace Context Level 2, "Random Trace ID Flag").
        let random = TracerProvider::builder().build();
        assert_eq!(flags(&random, &Context::new()), 0x03);
        let unsampled = TracerProvider::builder().with_sampler(Sampler::AlwaysOff).build();
        assert_eq!(flags(&unsampled, &Context::new()), 0x02, "the id is random even when not sampled");
        let xray = TracerProvider::builder().with_id_generator(IdGenerator::XRay).build();
        assert_eq!(flags(&xray, &Context::new()), 0x01, "X-Ray ids are not uniformly random");
        for parent_flags in [0x00, 0x01, 0x02, 0x03] {
            let parent = Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from(7u128),
                SpanId::from(7u64),
                TraceFlags::new(parent_flags),
                true,
                TraceState::NONE,
            ));
            for provider in [&random, &unsampled, &xray] {
                assert_eq!(
                    flags(provider, &parent) & 0x02,
                    parent_flags & 0x02,
                    "parent {parent_flags:#04x}"
                );
            }
        }
    }
}
