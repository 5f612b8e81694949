//! The `tracing` layer, natively: spans, parentage with `opentelemetry` spans, fields, events,
//! levels, and the context it attaches while a span is entered (also across the polls of an
//! `#[instrument]`ed future and when spans exit out of order).
#![cfg(all(not(target_arch = "wasm32"), feature = "tracing", feature = "testing"))]

use std::future::Future;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, Waker};

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, Value, global};
use otel_web::export::InMemoryExporter;
use otel_web::trace::{SpanData, TracerProvider};
use otel_web::tracing::TracingLayer;
use tracing::{Instrument, Level};
use tracing_subscriber::layer::SubscriberExt;

/// The global tracer provider is process-wide: one test at a time.
static GLOBAL: Mutex<()> = Mutex::new(());

/// Runs `body` with a fresh in-memory provider as the global one and `layer` as this thread's
/// subscriber; returns the finished spans.
fn record(layer: TracingLayer, body: impl FnOnce()) -> Vec<SpanData> {
    let _serial: MutexGuard<'_, ()> = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let exporter = InMemoryExporter::default();
    global::set_tracer_provider(TracerProvider::builder().with_simple_exporter(exporter.clone()).build());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), body);
    exporter.finished_spans()
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}: {spans:#?}"))
}

#[test]
fn spans_nest_carry_their_fields_and_end_when_closed() {
    let spans = record(otel_web::tracing::layer(), || {
        let outer = tracing::info_span!("load home", user = "andrewbrown", count = tracing::field::Empty);
        outer.in_scope(|| {
            let inner = tracing::info_span!("render", items = 3_u64, ratio = 0.5, cached = false);
            inner.in_scope(|| {});
        });
        outer.record("count", 7);
    });
    assert_eq!(spans.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>(), ["render", "load home"]);
    let (render, home) = (&spans[0], &spans[1]);
    assert_eq!(render.span_context.trace_id(), home.span_context.trace_id());
    assert_eq!(render.parent_span_id, home.span_context.span_id());
    assert_eq!(home.parent_span_id, SpanId::INVALID);
    assert_eq!(render.scope.name(), "otel-web.tracing");
    assert_eq!(home.attribute("user"), Some(&Value::from("andrewbrown")));
    assert_eq!(home.attribute("count"), Some(&Value::I64(7)), "recorded after creation");
    assert_eq!(render.attribute("items"), Some(&Value::I64(3)));
    assert_eq!(render.attribute("ratio"), Some(&Value::F64(0.5)));
    assert_eq!(render.attribute("cached"), Some(&Value::Bool(false)));
    assert!(home.end_time_unix_nano >= render.end_time_unix_nano);
    assert!(render.start_time_unix_nano >= home.start_time_unix_nano);
}

#[test]
fn an_opentelemetry_span_started_inside_an_entered_span_is_its_child_and_the_context_is_restored() {
    let spans = record(otel_web::tracing::layer(), || {
        assert!(!Context::current().has_active_span());
        tracing::info_span!("search").in_scope(|| {
            // What the traced fetch does: a CLIENT span, child of `Context::current()`.
            let tracer = global::tracer("test");
            let span =
                tracer.span_builder("GET /api/activities/search").with_kind(SpanKind::Client).start(&tracer);
            drop(span);
        });
        assert!(!Context::current().has_active_span(), "exiting the span detaches its context");
    });
    let (fetch, search) = (named(&spans, "GET /api/activities/search"), named(&spans, "search"));
    assert_eq!(fetch.parent_span_id, search.span_context.span_id());
    assert_eq!(fetch.span_context.trace_id(), search.span_context.trace_id());
}

#[test]
fn a_span_with_no_tracing_parent_continues_the_current_opentelemetry_context() {
    let spans = record(otel_web::tracing::layer(), || {
        global::tracer("test").in_span("click", |_| {
            tracing::info_span!("handler").in_scope(|| {});
        });
        tracing::info_span!(parent: None, "detached").in_scope(|| {});
    });
    assert_eq!(named(&spans, "handler").parent_span_id, named(&spans, "click").span_context.span_id());
    assert_eq!(named(&spans, "detached").parent_span_id, SpanId::INVALID, "an explicit root starts a trace");
}

#[test]
fn every_poll_of_an_instrumented_future_attaches_its_span_and_only_while_polled() {
    #[tracing::instrument]
    async fn load_profile(handle: &'static str) {
        let tracer = global::tracer("test");
        drop(tracer.start("before the await"));
        Yield(false).await;
        drop(tracer.start("after the await"));
    }
    let spans = record(otel_web::tracing::layer(), || {
        let mut future = pin!(load_profile("andrewbrown"));
        let mut cx = TaskContext::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert!(!Context::current().has_active_span(), "a pending future leaves nothing attached");
        // Another task runs in between, with its own span.
        tracing::info_span!("other task").in_scope(|| drop(global::tracer("test").start("other fetch")));
        assert!(future.as_mut().poll(&mut cx).is_ready());
    });
    let profile = named(&spans, "load_profile");
    assert_eq!(profile.attribute("handle"), Some(&Value::from("andrewbrown")));
    for child in ["before the await", "after the await"] {
        assert_eq!(named(&spans, child).parent_span_id, profile.span_context.span_id(), "{child}");
    }
    assert_eq!(
        named(&spans, "other fetch").parent_span_id,
        named(&spans, "other task").span_context.span_id()
    );
}

#[test]
fn spans_exited_out_of_order_detach_their_own_context() {
    let spans = record(otel_web::tracing::layer(), || {
        let (a, b) = (tracing::info_span!("a"), tracing::info_span!(parent: None, "b"));
        let entered_a = a.enter();
        let entered_b = b.enter();
        drop(entered_a);
        // b is still entered: new spans are its children.
        drop(global::tracer("test").start("under b"));
        drop(entered_b);
        assert!(!Context::current().has_active_span());
    });
    assert_eq!(named(&spans, "under b").parent_span_id, named(&spans, "b").span_context.span_id());
}

#[test]
fn events_become_span_events_with_level_and_target_and_an_error_sets_the_status() {
    let spans = record(otel_web::tracing::layer(), || {
        tracing::info_span!("post activity").in_scope(|| {
            tracing::info!(length = 42, "posting {}", "now");
            tracing::warn!("slow");
            tracing::error!(status = 503, "the server could not do that");
        });
        tracing::info!("outside every span goes nowhere");
    });
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    let names: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["posting now", "slow", "the server could not do that"]);
    let posting = &span.events[0];
    let attr =
        |key: &str| posting.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
    assert_eq!(attr("length"), Some(Value::I64(42)));
    assert_eq!(attr("level"), Some(Value::from("INFO")));
    assert_eq!(attr("target"), Some(Value::from(module_path!())));
    assert_eq!(attr("message"), None, "the message is the event's name");
    assert_eq!(span.status, Status::error("the server could not do that"));
}

#[test]
fn levels_filter_spans_and_events_and_a_filtered_span_s_children_go_to_its_nearest_recorded_ancestor() {
    let body = || {
        tracing::info_span!("page").in_scope(|| {
            tracing::debug_span!("layout").in_scope(|| {
                tracing::debug!("measured");
                tracing::info!("laid out");
                tracing::info_span!("paint").in_scope(|| drop(global::tracer("test").start("fetch")));
            });
        });
    };
    let spans = record(otel_web::tracing::layer(), body);
    let page = named(&spans, "page");
    assert!(spans.iter().all(|s| s.name != "layout"), "DEBUG is below the default level");
    assert_eq!(named(&spans, "paint").parent_span_id, page.span_context.span_id());
    assert_eq!(named(&spans, "fetch").parent_span_id, named(&spans, "paint").span_context.span_id());
    assert_eq!(page.events.iter().map(|e| e.name.as_ref()).collect::<Vec<_>>(), ["laid out"]);

    let spans = record(otel_web::tracing::layer().with_max_level(Level::DEBUG), body);
    let layout = named(&spans, "layout");
    assert_eq!(layout.parent_span_id, named(&spans, "page").span_context.span_id());
    assert_eq!(layout.events.iter().map(|e| e.name.as_ref()).collect::<Vec<_>>(), ["measured", "laid out"]);

    let spans = record(otel_web::tracing::layer().with_max_level(tracing_core::LevelFilter::OFF), body);
    assert_eq!(spans.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>(), ["fetch"], "only the otel span");
}

#[test]
fn otel_fields_set_name_kind_and_status_and_huge_unsigned_values_keep_their_digits() {
    let spans = record(otel_web::tracing::layer(), || {
        let span = tracing::info_span!(
            "request",
            otel.name = "GET /api/users",
            otel.kind = "client",
            otel.status_code = "error",
            otel.status_message = "refused",
            big = u64::MAX,
        );
        span.in_scope(|| {});
        let later = tracing::info_span!("later", otel.name = tracing::field::Empty);
        later.record("otel.name", "renamed");
    });
    let request = named(&spans, "GET /api/users");
    assert_eq!(request.span_kind, SpanKind::Client);
    assert_eq!(request.status, Status::error("refused"));
    assert_eq!(request.attribute("big"), Some(&Value::from(u64::MAX.to_string())));
    assert!(request.attribute("otel.name").is_none() && request.attribute("otel.kind").is_none());
    named(&spans, "renamed");
}

#[test]
fn follows_from_becomes_a_link() {
    let spans = record(otel_web::tracing::layer(), || {
        let cause = tracing::info_span!("click");
        let effect = tracing::info_span!(parent: None, "refresh");
        effect.follows_from(&cause);
    });
    let (click, refresh) = (named(&spans, "click"), named(&spans, "refresh"));
    assert_eq!(refresh.links.len(), 1);
    assert_eq!(refresh.links[0].span_context, click.span_context);
}

/// Pending once (waking itself), then ready: one `.await` that crosses two polls.
struct Yield(bool);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn instrument_on_a_future_without_the_attribute_works_the_same() {
    let spans = record(otel_web::tracing::layer(), || {
        let future =
            async { drop(global::tracer("test").start("inner")) }.instrument(tracing::info_span!("task"));
        let mut future = pin!(future);
        assert!(future.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())).is_ready());
    });
    assert_eq!(named(&spans, "inner").parent_span_id, named(&spans, "task").span_context.span_id());
}
