//! `tracing` in headless Chromium (feature `tracing`): an `#[instrument]`ed async fn that
//! fetches gives one trace — its span, the traced fetches inside it as its children, and the
//! `traceparent` the server receives pointing at them — also while another instrumented task
//! interleaves with it across `.await`s; and `otel_web::tracing::init` is the one call.
#![cfg(all(target_arch = "wasm32", feature = "tracing", feature = "testing"))]

mod support;

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, global};
use otel_web::export::InMemoryExporter;
use otel_web::fetch::{self, FetchConfig, OriginMatcher};
use otel_web::trace::{SpanData, TracerProvider};
use support::{Receiver, receiver_base, sleep};
use tracing_subscriber::layer::SubscriberExt as _;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh in-memory provider as the global one, W3C propagation, trace headers allowed to the
/// receiver.
fn setup() -> InMemoryExporter {
    let exporter = InMemoryExporter::default();
    global::set_tracer_provider(TracerProvider::builder().with_simple_exporter(exporter.clone()).build());
    global::set_text_map_propagator(otel_web::propagation::default_propagator());
    fetch::configure(FetchConfig {
        propagate_to: vec![OriginMatcher::parse(receiver_base()).expect("origin")],
        ..Default::default()
    });
    exporter
}

async fn get(url: &str) {
    let request = web_sys::Request::new_with_str(url).expect("request");
    let response = fetch::fetch(request).await.expect("fetch");
    assert_eq!(response.status(), 200);
    // Read to the end, as an app does: the fetch span ends with the body.
    wasm_bindgen_futures::JsFuture::from(response.text().expect("text")).await.expect("body");
}

/// The spans exported so far, once `count` fetch spans have ended (they end after the body).
async fn spans_after_fetches(exporter: &InMemoryExporter, count: usize) -> Vec<SpanData> {
    for _ in 0..200 {
        let spans = exporter.finished_spans();
        if spans.iter().filter(|s| s.scope.name() == "otel-web.fetch").count() >= count {
            return spans;
        }
        sleep(20).await;
    }
    panic!("fewer than {count} fetch spans ended: {:#?}", exporter.finished_spans());
}

fn fetch_of<'a>(spans: &'a [SpanData], path: &str) -> &'a SpanData {
    spans
        .iter()
        .filter(|s| s.scope.name() == "otel-web.fetch")
        .find(|s| s.attribute("url.full").is_some_and(|u| u.to_string().ends_with(path)))
        .unwrap_or_else(|| panic!("no fetch of {path}: {spans:#?}"))
}

#[tracing::instrument(skip(base))]
async fn search(base: String, term: &'static str) {
    tracing::info!(term, "searching");
    get(&format!("{base}/api/search-{term}")).await;
    sleep(10).await;
    get(&format!("{base}/api/search-{term}-more")).await;
}

#[wasm_bindgen_test]
async fn an_instrumented_async_fn_that_fetches_is_one_trace_with_the_server_continuing_it() {
    let exporter = setup();
    let receiver = Receiver::new("tracing");
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(otel_web::tracing::layer()));

    // Two instrumented tasks interleave: each poll attaches its own span, so each fetch
    // belongs to the task that made it, not to whichever polled last.
    futures_join(search(receiver.base.clone(), "cats"), search(receiver.base.clone(), "dogs")).await;
    assert!(!Context::current().has_active_span(), "nothing stays attached after the tasks");

    let spans = spans_after_fetches(&exporter, 4).await;
    let requests = receiver.requests().await;
    let searches: Vec<&SpanData> = spans.iter().filter(|s| s.name == "search").collect();
    assert_eq!(searches.len(), 2, "{spans:#?}");
    for term in ["cats", "dogs"] {
        let fn_span = searches
            .iter()
            .find(|s| s.attribute("term").is_some_and(|t| t.to_string() == term))
            .expect("the fn span carries its argument");
        assert_eq!(fn_span.events.len(), 1);
        assert_eq!(fn_span.events[0].name, "searching");
        for path in [format!("/api/search-{term}"), format!("/api/search-{term}-more")] {
            let fetch = fetch_of(&spans, &path);
            assert_eq!(fetch.parent_span_id, fn_span.span_context.span_id(), "{path} is the fn's child");
            assert_eq!(fetch.span_context.trace_id(), fn_span.span_context.trace_id());
            assert!(fetch.start_time_unix_nano >= fn_span.start_time_unix_nano, "{path} starts inside");
            assert!(fetch.end_time_unix_nano <= fn_span.end_time_unix_nano, "{path} ends inside");
            // The server received the fetch span as its parent: it continues this trace.
            let request = requests
                .iter()
                .find(|r| r["path"] == path.as_str() && r["method"] == "GET")
                .expect("the request");
            let expected =
                format!("00-{}-{}-03", fetch.span_context.trace_id(), fetch.span_context.span_id());
            assert_eq!(request["headers"]["traceparent"], expected.as_str());
        }
    }
    assert_ne!(searches[0].span_context.trace_id(), searches[1].span_context.trace_id());
}

#[wasm_bindgen_test]
async fn init_is_the_one_call_and_a_second_one_keeps_the_first_subscriber() {
    let receiver = Receiver::new("tracing-init");
    let config = || {
        otel_web::Config::default()
            .with_service_name("tracing-test")
            .with_traces_endpoint(receiver.traces_url())
    };
    let provider = otel_web::tracing::init(config()).expect("valid configuration");
    // A second call is not an error: the subscriber already set stays (with a warning).
    let _second = otel_web::tracing::init(config()).expect("still a provider");
    tracing::info_span!("checkout", items = 2).in_scope(|| tracing::warn!("card declined"));
    provider.force_flush().await.expect("flush");
    // Other instrumentations compiled in (sessions, document load…) may export first.
    let mut checkout = None;
    for _ in 0..100 {
        let posts = receiver.posts(1).await;
        checkout = posts
            .iter()
            .filter(|r| r["path"] == "/v1/traces")
            .flat_map(|r| support::spans_of(r["body"].as_str().unwrap_or_default()))
            .find(|s| s["name"] == "checkout");
        if checkout.is_some() {
            break;
        }
        sleep(100).await;
    }
    let checkout = checkout.expect("exported through the global subscriber");
    assert_eq!(checkout["events"][0]["name"], "card declined");
}

/// Runs two futures to completion side by side.
async fn futures_join<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = Box::pin(a);
    let mut b = Box::pin(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    (ra.expect("a"), rb.expect("b"))
}
