//! The SDK core in headless Chromium: ids and clocks from the browser, context across real
//! timers, batching on browser timers, queue overflow, page configuration, global install.
#![cfg(target_arch = "wasm32")]

mod support;

use std::time::Duration;

use opentelemetry::context::FutureExt;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use otel_web::export::{ExportMode, InMemoryExporter};
use otel_web::processor::{BatchConfig, BatchSpanProcessor};
use otel_web::trace::TracerProvider;
use support::sleep;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn batch(exporter: &InMemoryExporter, config: BatchConfig) -> TracerProvider {
    TracerProvider::builder().with_span_processor(BatchSpanProcessor::new(exporter.clone(), config)).build()
}

#[wasm_bindgen_test]
fn ids_are_random_and_timestamps_sub_millisecond_and_current() {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let tracer = provider.tracer("test");
    for _ in 0..200 {
        tracer.start("s").end();
    }
    let spans = exporter.finished_spans();
    let ids: std::collections::HashSet<_> = spans.iter().map(|s| s.span_context.trace_id()).collect();
    assert_eq!(ids.len(), 200, "trace ids repeat");
    assert!(spans.iter().all(|s| s.span_context.is_valid()));
    assert!(
        spans.windows(2).all(|w| w[1].start_time_unix_nano >= w[0].start_time_unix_nano),
        "not monotonic"
    );
    assert!(
        spans.iter().any(|s| s.start_time_unix_nano % 1_000_000 != 0),
        "every timestamp is a whole millisecond: the clock is not performance.now()"
    );
    let now_ms = js_sys::Date::now();
    let last_ms = spans[199].end_time_unix_nano as f64 / 1e6;
    assert!((now_ms - last_ms).abs() < 1_000.0, "span time {last_ms} is far from Date.now() {now_ms}");
}

#[wasm_bindgen_test]
async fn context_follows_a_future_across_real_timers() {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let tracer = provider.tracer("test");
    let parent = tracer.start("click");
    let parent_id = parent.span_context().span_id();
    let cx = Context::current_with_span(parent);
    let child_tracer = tracer.clone();
    async move {
        sleep(20).await;
        // Another task runs meanwhile and must not see this context.
        child_tracer.start("after await").end();
    }
    .with_context(cx.clone())
    .await;
    // Outside the future, the context is gone again.
    assert!(!Context::current().has_active_span());
    cx.span().end();
    let spans = exporter.finished_spans();
    let child = spans.iter().find(|s| s.name == "after await").expect("child");
    assert_eq!(child.parent_span_id, parent_id);
}

#[wasm_bindgen_test]
async fn a_batch_is_exported_on_the_timer() {
    let exporter = InMemoryExporter::default();
    let config = BatchConfig { scheduled_delay: Duration::from_millis(100), ..Default::default() };
    let provider = batch(&exporter, config);
    let tracer = provider.tracer("test");
    tracer.start("a").end();
    tracer.start("b").end();
    assert!(exporter.finished_spans().is_empty(), "exported before the delay");
    sleep(400).await;
    assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 2)]);
}

#[wasm_bindgen_test]
async fn a_full_batch_is_exported_at_once() {
    let exporter = InMemoryExporter::default();
    let config = BatchConfig {
        max_export_batch_size: 4,
        scheduled_delay: Duration::from_secs(3600),
        ..Default::default()
    };
    let provider = batch(&exporter, config);
    let tracer = provider.tracer("test");
    for _ in 0..4 {
        tracer.start("s").end();
    }
    sleep(0).await;
    assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 4)]);
}

#[wasm_bindgen_test]
async fn a_full_queue_drops_counts_and_reports_on_the_next_export() {
    let exporter = InMemoryExporter::default();
    exporter.set_paused(true);
    let config = BatchConfig {
        max_queue_size: 5,
        max_export_batch_size: 5,
        scheduled_delay: Duration::from_secs(3600),
        ..Default::default()
    };
    let provider = batch(&exporter, config);
    let tracer = provider.tracer("test");
    for i in 0..12 {
        tracer.start(format!("s{i}")).end();
    }
    // 5 spans are stuck in a slow export, 5 more fill the queue, 2 are dropped.
    exporter.set_paused(false);
    provider.force_flush().await.expect("flush");
    let spans = exporter.finished_spans();
    assert_eq!(spans.len(), 10);
    let stamped: Vec<_> = spans.iter().filter_map(|s| s.attribute("otelweb.dropped_spans")).collect();
    assert_eq!(stamped, vec![&Value::I64(2)]);
}

#[cfg(feature = "page-config")]
#[wasm_bindgen_test]
fn the_page_configures_the_sdk_without_a_rebuild() {
    let document = web_sys::window().expect("window").document().expect("document");
    let head = document.head().expect("head");
    let script = document.create_element("script").expect("script");
    script.set_attribute("type", "application/json").expect("type");
    script.set_id(otel_web::config::PAGE_CONFIG_ELEMENT_ID);
    script.set_text_content(Some(r#"{"serviceName": "from-json", "sampler": "always_off", "batch": {"maxQueueSize": 10, "maxExportBatchSize": 5}}"#));
    let meta = document.create_element("meta").expect("meta");
    meta.set_attribute("name", "otel-web:environment").expect("name");
    meta.set_attribute("content", "staging").expect("content");
    head.append_child(&script).expect("append");
    head.append_child(&meta).expect("append");

    let config = otel_web::Config::default().merge_page();
    script.set_text_content(Some("{not json"));
    let broken = otel_web::Config::default().merge_page();
    script.remove();
    meta.remove();

    let config = config.expect("valid page config");
    assert_eq!(config.service_name, "from-json");
    assert_eq!(config.deployment_environment.as_deref(), Some("staging"));
    assert_eq!(config.sampler, otel_web::trace::Sampler::AlwaysOff);
    assert_eq!(config.batch.max_queue_size, 10);
    assert!(matches!(broken, Err(otel_web::ConfigError::InvalidJson(_))), "{broken:?}");
}

#[wasm_bindgen_test]
fn init_installs_the_global_provider_with_the_browser_resource() {
    let config = otel_web::Config::default().with_service_name("frontend").with_exporters([]);
    let provider = otel_web::init(config).expect("init");
    let resource = provider.resource();
    assert_eq!(resource.get("service.name"), Some(&Value::from("frontend")));
    let agent = resource.get("user_agent.original").map(|v| v.to_string()).unwrap_or_default();
    assert!(agent.contains("HeadlessChrome"), "{agent}");
    #[cfg(not(feature = "sessions"))]
    {
        let session = resource.get("session.id").map(|v| v.to_string()).expect("session.id");
        assert_eq!(session.len(), 32);
        // The session id lasts as long as the tab.
        let again = otel_web::build_provider(otel_web::Config::default().with_exporters([])).expect("build");
        assert_eq!(again.resource().get("session.id").map(|v| v.to_string()), Some(session));
    }
    // With the sessions instrumentation, session.id is on every span instead (it rolls over).
    #[cfg(feature = "sessions")]
    assert_eq!(resource.get("session.id"), None, "two different session ids would go out");
    let span = opentelemetry::global::tracer("test").start("global");
    assert!(span.span_context().is_sampled());
    provider.set_span_attribute(KeyValue::new("user.id", "andrew"));
}
