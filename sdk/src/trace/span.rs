//! [`Span`]: the `opentelemetry::trace::Span` implementation, and [`SpanData`], what a finished
//! span hands to the processors.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{InstrumentationScope, KeyValue};

use super::limits::SpanLimits;
use super::pipeline;
use super::provider::ProviderShared;
use crate::platform::clock;

/// A finished span, as processors and exporters see it. Times are nanoseconds since the Unix
/// epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanData {
    /// Trace id, span id, flags and trace state.
    pub span_context: SpanContext,
    /// The parent's span id, or [`SpanId::INVALID`] for a root span.
    pub parent_span_id: SpanId,
    /// Whether the parent came from another process (extracted from headers).
    pub parent_span_is_remote: bool,
    /// Client, server, internal, producer or consumer.
    pub span_kind: SpanKind,
    /// The span's name.
    pub name: Cow<'static, str>,
    /// Start time, nanoseconds since the epoch.
    pub start_time_unix_nano: u64,
    /// End time, nanoseconds since the epoch.
    pub end_time_unix_nano: u64,
    /// Attributes, at most [`SpanLimits::max_attributes_per_span`].
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the limit.
    pub dropped_attributes_count: u32,
    /// Events, at most [`SpanLimits::max_events_per_span`].
    pub events: Vec<SpanEvent>,
    /// Events dropped by the limit.
    pub dropped_events_count: u32,
    /// Links, at most [`SpanLimits::max_links_per_span`].
    pub links: Vec<Link>,
    /// Links dropped by the limit.
    pub dropped_links_count: u32,
    /// Unset, Ok or Error with a description.
    pub status: Status,
    /// The instrumentation scope of the tracer that made the span.
    pub scope: Arc<InstrumentationScope>,
}

impl SpanData {
    /// The span's duration in nanoseconds.
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano.saturating_sub(self.start_time_unix_nano)
    }

    /// Sets an attribute within `limits` (the SDK's own attributes obey them too).
    pub(crate) fn set_attribute(&mut self, attribute: KeyValue, limits: &SpanLimits) {
        self.dropped_attributes_count +=
            limits.set_attribute(&mut self.attributes, attribute, limits.max_attributes_per_span);
    }

    /// Moves every timestamp by `shift_ms` (clock-skew correction) and records the shift.
    #[cfg(feature = "clock-skew")]
    fn shift_times(&mut self, shift_ms: f64, limits: &SpanLimits) {
        self.start_time_unix_nano = clock::shifted(self.start_time_unix_nano, shift_ms);
        self.end_time_unix_nano = clock::shifted(self.end_time_unix_nano, shift_ms);
        for event in &mut self.events {
            event.time_unix_nano = clock::shifted(event.time_unix_nano, shift_ms);
        }
        self.set_attribute(KeyValue::new(crate::semconv::OTELWEB_CLOCK_SHIFT_MS, shift_ms), limits);
    }

    /// The value of attribute `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&opentelemetry::Value> {
        self.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
    }
}

/// A timestamped event inside a span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    /// The event's name (`exception` for recorded errors).
    pub name: Cow<'static, str>,
    /// When it happened, nanoseconds since the epoch.
    pub time_unix_nano: u64,
    /// Its attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by [`SpanLimits::max_attributes_per_event`].
    pub dropped_attributes_count: u32,
}

/// A span being recorded. Ending it (or dropping it) hands its [`SpanData`] to the provider's
/// processors; a span that was sampled out carries only its context.
#[derive(Debug)]
pub struct Span {
    context: SpanContext,
    recording: Option<Box<Recording>>,
}

#[derive(Debug)]
struct Recording {
    data: SpanData,
    limits: SpanLimits,
    provider: Arc<ProviderShared>,
}

impl Span {
    pub(crate) fn non_recording(context: SpanContext) -> Self {
        Self { context, recording: None }
    }

    pub(crate) fn recording(data: SpanData, provider: Arc<ProviderShared>) -> Self {
        let limits = provider.limits;
        Self {
            context: data.span_context.clone(),
            recording: Some(Box::new(Recording { data, limits, provider })),
        }
    }

    /// The span's data so far, or `None` once ended or when not recording.
    pub fn data(&self) -> Option<&SpanData> {
        self.recording.as_ref().map(|r| &r.data)
    }

    /// Drops the span without ending it: nothing reaches the processors. For a span started
    /// before its data was known that turned out to have none (`documentLoad` for a page whose
    /// load never ends; see `instrument::page_load`).
    #[cfg(feature = "document-load")]
    pub(crate) fn discard(mut self) {
        self.recording = None;
    }

    fn finish(&mut self, end_time_unix_nano: u64) {
        let Some(recording) = self.recording.take() else { return };
        #[cfg_attr(not(feature = "clock-skew"), allow(unused_variables))]
        let Recording { mut data, provider, limits } = *recording;
        data.end_time_unix_nano = end_time_unix_nano.max(data.start_time_unix_nano);
        #[cfg(feature = "clock-skew")]
        {
            let shift = clock::export_shift_ms();
            if shift != 0.0 {
                data.shift_times(shift, &limits);
            }
        }
        if data.span_context.is_sampled() {
            pipeline::on_end(provider.id, data);
        }
    }
}

impl opentelemetry::trace::Span for Span {
    fn add_event<T>(&mut self, name: T, attributes: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        if self.recording.is_some() {
            self.add_event_at(name.into(), clock::now_unix_nanos(), attributes);
        }
    }

    fn add_event_with_timestamp<T>(&mut self, name: T, timestamp: SystemTime, attributes: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        self.add_event_at(name.into(), clock::from_system_time(timestamp), attributes);
    }

    fn span_context(&self) -> &SpanContext {
        &self.context
    }

    fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        let Some(recording) = self.recording.as_mut() else { return };
        recording.data.set_attribute(attribute, &recording.limits);
    }

    fn set_status(&mut self, status: Status) {
        let Some(recording) = self.recording.as_mut() else { return };
        // Ok is final; Unset never overrides (OpenTelemetry specification, Set Status).
        match (&recording.data.status, &status) {
            (Status::Ok, _) | (_, Status::Unset) => {}
            _ => recording.data.status = status,
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Some(recording) = self.recording.as_mut() {
            recording.data.name = new_name.into();
        }
    }

    fn add_link(&mut self, span_context: SpanContext, mut attributes: Vec<KeyValue>) {
        let Some(recording) = self.recording.as_mut() else { return };
        if !span_context.is_valid() {
            return;
        }
        let limits = recording.limits;
        let data = &mut recording.data;
        if data.links.len() >= limits.max_links_per_span as usize {
            data.dropped_links_count += 1;
            return;
        }
        let dropped = limits.cap_attributes(&mut attributes, limits.max_attributes_per_link);
        data.links.push(Link::new(span_context, attributes, dropped));
    }

    fn end(&mut self) {
        if self.recording.is_some() {
            self.finish(clock::now_unix_nanos());
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.finish(clock::from_system_time(timestamp));
    }
}

impl Span {
    fn add_event_at(&mut self, name: Cow<'static, str>, time_unix_nano: u64, mut attributes: Vec<KeyValue>) {
        let Some(recording) = self.recording.as_mut() else { return };
        let limits = recording.limits;
        let data = &mut recording.data;
        if data.events.len() >= limits.max_events_per_span as usize {
            data.dropped_events_count += 1;
            return;
        }
        let dropped_attributes_count =
            limits.cap_attributes(&mut attributes, limits.max_attributes_per_event);
        data.events.push(SpanEvent { name, time_unix_nano, attributes, dropped_attributes_count });
    }
}

impl Drop for Span {
    /// A span that goes out of scope without `end()` ends now, so it is never lost.
    fn drop(&mut self) {
        if self.recording.is_some() {
            self.finish(clock::now_unix_nanos());
        }
    }
}
