//! The `opentelemetry` API through otel-web's provider, natively: parenting, attributes,
//! limits, status rules, sampling, and what reaches the exporter.
#![cfg(not(target_arch = "wasm32"))]

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use otel_web::export::InMemoryExporter;
use otel_web::trace::{Sampler, SpanLimits, TracerProvider};

fn provider(exporter: &InMemoryExporter) -> TracerProvider {
    TracerProvider::builder().with_simple_exporter(exporter.clone()).build()
}

#[test]
fn children_share_the_trace_and_point_at_their_parent() {
    let exporter = InMemoryExporter::default();
    let tracer = provider(&exporter).tracer("test");
    tracer.in_span("parent", |cx| {
        let parent = cx.span().span_context().clone();
        let mut child = tracer.start("child");
        assert_eq!(child.span_context().trace_id(), parent.trace_id());
        child.end();
    });
    let spans = exporter.finished_spans();
    assert_eq!(spans.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>(), ["child", "parent"]);
    assert_eq!(spans[0].parent_span_id, spans[1].span_context.span_id());
    assert_ne!(spans[0].span_context.span_id(), spans[1].span_context.span_id());
    assert!(spans[1].end_time_unix_nano >= spans[0].end_time_unix_nano);
}

#[test]
fn attributes_replace_by_key_and_respect_limits() {
    let exporter = InMemoryExporter::default();
    let limits = SpanLimits { max_attributes_per_span: 3, max_events_per_span: 1, ..Default::default() };
    let provider =
        TracerProvider::builder().with_simple_exporter(exporter.clone()).with_span_limits(limits).build();
    let tracer = provider.tracer("test");
    let mut span = tracer.span_builder("work").with_kind(SpanKind::Client).start(&tracer);
    span.set_attribute(KeyValue::new("a", 1));
    span.set_attribute(KeyValue::new("a", 2));
    span.set_attribute(KeyValue::new("b", 1));
    span.set_attribute(KeyValue::new("c", 1));
    span.set_attribute(KeyValue::new("d", 1));
    span.add_event("first", vec![]);
    span.add_event("second", vec![]);
    span.end();
    let data = &exporter.finished_spans()[0];
    assert_eq!(data.span_kind, SpanKind::Client);
    assert_eq!(data.attribute("a"), Some(&Value::I64(2)));
    assert_eq!(data.attributes.len(), 3);
    assert_eq!(data.dropped_attributes_count, 1);
    assert_eq!(data.events.len(), 1);
    assert_eq!(data.dropped_events_count, 1);
}

#[test]
fn ok_status_is_final_and_unset_never_overrides() {
    let exporter = InMemoryExporter::default();
    let tracer = provider(&exporter).tracer("test");
    let mut span = tracer.start("s");
    span.set_status(Status::error("first"));
    span.set_status(Status::Unset);
    span.set_status(Status::Ok);
    span.set_status(Status::error("too late"));
    span.end();
    assert_eq!(exporter.finished_spans()[0].status, Status::Ok);
}

#[test]
fn record_error_adds_an_exception_event() {
    let exporter = InMemoryExporter::default();
    let tracer = provider(&exporter).tracer("test");
    let mut span = tracer.start("s");
    let err = std::io::Error::other("disk on fire");
    span.record_error(&err);
    span.end();
    let event = &exporter.finished_spans()[0].events[0];
    assert_eq!(event.name, "exception");
    assert_eq!(event.attributes, vec![KeyValue::new("exception.message", "disk on fire")]);
}

#[test]
fn a_dropped_span_ends_itself_and_an_ended_span_ignores_changes() {
    let exporter = InMemoryExporter::default();
    let tracer = provider(&exporter).tracer("test");
    {
        let _span = tracer.start("forgotten");
    }
    let mut span = tracer.start("ended");
    span.end();
    span.set_attribute(KeyValue::new("late", true));
    span.end();
    let spans = exporter.finished_spans();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[1].attribute("late"), None);
}

#[test]
fn sampled_out_spans_propagate_but_are_not_exported() {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .with_sampler(Sampler::AlwaysOff)
        .build();
    let tracer = provider.tracer("test");
    let span = tracer.start("invisible");
    assert!(span.span_context().is_valid());
    assert!(!span.span_context().is_sampled());
    assert!(!span.is_recording());
    drop(span);
    assert!(exporter.finished_spans().is_empty());
}

#[test]
fn span_attributes_set_on_the_provider_reach_every_later_span() {
    let exporter = InMemoryExporter::default();
    let provider = provider(&exporter);
    let tracer = provider.tracer("test");
    tracer.start("before").end();
    provider.set_span_attribute(KeyValue::new("user.id", "andrew"));
    tracer.start("signed-in").end();
    provider.remove_span_attribute("user.id");
    tracer.start("signed-out").end();
    let spans = exporter.finished_spans();
    let users: Vec<Option<&Value>> = spans.iter().map(|s| s.attribute("user.id")).collect();
    assert_eq!(users, [None, Some(&Value::from("andrew")), None]);
}

#[test]
fn a_remote_parent_from_headers_becomes_the_parent() {
    use opentelemetry::propagation::TextMapPropagator;
    let exporter = InMemoryExporter::default();
    let tracer = provider(&exporter).tracer("test");
    let mut headers = std::collections::HashMap::new();
    headers.insert(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    );
    let parent = otel_web::propagation::TraceContextPropagator::new().extract(&headers);
    tracer.start_with_context("child", &parent).end();
    let span = &exporter.finished_spans()[0];
    assert_eq!(span.span_context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(span.parent_span_is_remote);
}

#[test]
fn shutdown_is_idempotent_and_stops_recording() {
    let exporter = InMemoryExporter::default();
    let provider = provider(&exporter);
    let ready = |f: std::pin::Pin<
        &mut dyn std::future::Future<Output = Result<(), otel_web::ExportError>>,
    >| match f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => Err(otel_web::ExportError::Failed("pending".into())),
    };
    assert_eq!(ready(std::pin::pin!(provider.shutdown())), Ok(()));
    assert_eq!(ready(std::pin::pin!(provider.shutdown())), Err(otel_web::ExportError::AlreadyShutdown));
    let span = provider.tracer("test").start("after");
    assert!(!span.is_recording());
}

#[test]
fn the_resource_reaches_the_exporter() {
    let exporter = InMemoryExporter::default();
    let _provider = TracerProvider::builder()
        .with_resource(otel_web::Resource::builder().with_service_name("frontend").build())
        .with_simple_exporter(exporter.clone())
        .build();
    let resource = exporter.resource().expect("resource handed over");
    assert_eq!(resource.get("service.name"), Some(&Value::from("frontend")));
}

/// Regression (issue #13 item 6): provider-wide and span attributes were concatenated, so a key
/// set in both (`user.id`) was exported twice.
#[test]
fn a_key_set_provider_wide_and_on_the_span_is_exported_once_with_the_span_value() {
    let exporter = InMemoryExporter::default();
    let provider = provider(&exporter);
    provider.set_span_attribute(KeyValue::new("user.id", "provider"));
    let tracer = provider.tracer("test");
    tracer
        .span_builder("work")
        .with_attributes([KeyValue::new("user.id", "span"), KeyValue::new("a", 1), KeyValue::new("a", 2)])
        .start(&tracer)
        .end();
    let span = &exporter.finished_spans()[0];
    let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["user.id", "a"]);
    assert_eq!(span.attribute("user.id"), Some(&Value::from("span")));
    assert_eq!(span.attribute("a"), Some(&Value::I64(2)));
    assert_eq!(span.dropped_attributes_count, 0);
}

/// Regression (issue #13 item 6): links given to the span builder skipped the per-link limits.
#[test]
fn links_given_to_the_builder_obey_the_per_link_attribute_limit() {
    use opentelemetry::trace::{Link, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    let exporter = InMemoryExporter::default();
    let limits =
        SpanLimits { max_attributes_per_link: 2, max_attribute_value_length: Some(4), ..Default::default() };
    let provider =
        TracerProvider::builder().with_simple_exporter(exporter.clone()).with_span_limits(limits).build();
    let tracer = provider.tracer("test");
    let linked = SpanContext::new(
        TraceId::from(7u128),
        SpanId::from(9u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    let attributes = vec![KeyValue::new("a", "long value"), KeyValue::new("b", 2), KeyValue::new("c", 3)];
    tracer.span_builder("work").with_links(vec![Link::new(linked, attributes, 0)]).start(&tracer).end();
    let link = &exporter.finished_spans()[0].links[0];
    assert_eq!(link.attributes, vec![KeyValue::new("a", "long"), KeyValue::new("b", 2)]);
    assert_eq!(link.dropped_attributes_count, 1);
}

/// Regression (issue #13 item 6): `otelweb.dropped_spans`, added by the batch processor, went
/// past `max_attributes_per_span`.
#[test]
fn the_dropped_span_count_obeys_the_attribute_limit() {
    use otel_web::processor::{BatchConfig, BatchSpanProcessor};
    let exporter = InMemoryExporter::default();
    let config = BatchConfig {
        max_queue_size: 2,
        max_export_batch_size: 2,
        scheduled_delay: std::time::Duration::from_secs(3600),
        ..Default::default()
    };
    let limits = SpanLimits { max_attributes_per_span: 1, ..Default::default() };
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::new(exporter.clone(), config))
        .with_span_limits(limits)
        .build();
    let tracer = provider.tracer("test");
    exporter.set_paused(true);
    for name in ["a", "b"] {
        tracer.span_builder(name).with_attributes([KeyValue::new("k", 1)]).start(&tracer).end();
    }
    // A batch is being exported; these overflow the queue: two fit, one is dropped.
    for name in ["c", "d", "e"] {
        tracer.span_builder(name).with_attributes([KeyValue::new("k", 1)]).start(&tracer).end();
    }
    exporter.set_paused(false);
    let spans = exporter.finished_spans();
    let c = spans.iter().find(|s| s.name == "c").expect("c exported");
    assert_eq!(c.attributes.len(), 1, "the count went past the limit: {:?}", c.attributes);
    assert_eq!(c.dropped_attributes_count, 1);
}
