//! Sessions in headless Chromium: the record in the real `localStorage` survives a reload
//! (the instrumentation restarted from storage), another tab's writes arrive through a real
//! `storage` event, real timers roll sessions over, a `localStorage` that throws on write or
//! refuses access leaves an in-memory session, and the session-consistent sampler keeps or
//! drops whole sessions.
#![cfg(all(target_arch = "wasm32", feature = "sessions"))]

mod support;

use std::collections::HashMap;

use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, Value};
use otel_web::export::InMemoryExporter;
use otel_web::instrument::sessions::{STORAGE_KEY, Sessions, current_session_id};
use otel_web::instrument::{Instrumentation, Options};
use otel_web::trace::{SpanData, TracerProvider};
use support::sleep;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn storage() -> web_sys::Storage {
    web_sys::window().expect("window").local_storage().expect("allowed").expect("present")
}

fn stored() -> Option<String> {
    storage().get_item(STORAGE_KEY).expect("readable")
}

/// Starts sessions on a fresh provider exporting to memory: a page load.
fn load_page(options: Options) -> (TracerProvider, InMemoryExporter) {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    Sessions.check(&options).expect("valid options");
    Sessions.start(&provider, &options);
    (provider, exporter)
}

fn session_of(span: &SpanData) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == "session.id").map(|kv| kv.value.to_string())
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// What another tab of the origin does: writes the record, and this tab gets a `storage` event.
fn other_tab_writes(text: &str) {
    storage().set_item(STORAGE_KEY, text).expect("writable");
    js_sys::Function::new_with_args("key", "window.dispatchEvent(new StorageEvent('storage', { key }))")
        .call1(&JsValue::NULL, &STORAGE_KEY.into())
        .expect("dispatched");
}

fn run(script: &str) {
    js_sys::Function::new_no_args(script).call0(&JsValue::NULL).expect("script ran");
}

#[wasm_bindgen_test]
fn a_reload_resumes_the_session_stored_in_local_storage() {
    let _ = storage().remove_item(STORAGE_KEY);
    let (provider, exporter) = load_page(Options::default());
    provider.tracer("app").start("before reload");
    let id = current_session_id().expect("running");
    let record = stored().expect("written at start");
    assert!(record.starts_with(&format!("1:{id}:")), "{record}");

    let (provider, exporter2) = load_page(Options::default());
    provider.tracer("app").start("after reload");
    assert_eq!(current_session_id(), Some(id.clone()));
    let before = exporter.finished_spans();
    let after = exporter2.finished_spans();
    assert_eq!(named(&before, "session.start").len(), 1);
    assert_eq!(after.len(), 1, "a resumed session has no new marker: {after:?}");
    assert_eq!(session_of(&after[0]), Some(id.clone()));
    assert!(before.iter().all(|s| session_of(s) == Some(id.clone())));
}

#[wasm_bindgen_test]
fn a_stored_session_that_expired_while_away_is_ended_and_chained_to_the_new_one() {
    let now = js_sys::Date::now() as u64;
    let old = "0123456789abcdef0123456789abcdef";
    let last = now - 20 * 60 * 1000;
    storage().set_item(STORAGE_KEY, &format!("1:{old}:{}:{last}", last - 1000)).expect("writable");
    let (_provider, exporter) = load_page(Options::default());
    let id = current_session_id().expect("running");
    assert_ne!(id, old);
    let spans = exporter.finished_spans();
    let end = named(&spans, "session.end");
    let start = named(&spans, "session.start");
    assert_eq!((end.len(), start.len()), (1, 1), "{spans:?}");
    assert_eq!(session_of(end[0]).as_deref(), Some(old));
    assert_eq!(end[0].start_time_unix_nano, (last + 15 * 60 * 1000) * 1_000_000, "ended at its deadline");
    assert_eq!(session_of(start[0]), Some(id));
    let previous = start[0].attributes.iter().find(|kv| kv.key.as_str() == "session.previous_id");
    assert_eq!(previous.map(|kv| kv.value.clone()), Some(Value::from(old)));
}

#[wasm_bindgen_test]
async fn a_session_rolls_over_after_real_inactivity() {
    let _ = storage().remove_item(STORAGE_KEY);
    let (provider, exporter) = load_page(Options::default().with("inactivityTimeoutMs", 200.0));
    let tracer = provider.tracer("app");
    tracer.start("first");
    let first = current_session_id().expect("running");
    sleep(100).await;
    tracer.start("still active");
    assert_eq!(current_session_id().as_ref(), Some(&first));
    sleep(300).await;
    tracer.start("after a pause");
    let second = current_session_id().expect("running");
    assert_ne!(second, first);
    assert!(stored().expect("stored").contains(&second), "the new session is shared");
    let spans = exporter.finished_spans();
    let names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(
        names,
        ["session.start", "first", "still active", "session.end", "session.start", "after a pause"]
    );
}

#[wasm_bindgen_test]
async fn user_input_keeps_the_session_alive() {
    let _ = storage().remove_item(STORAGE_KEY);
    let (provider, _) = load_page(Options::default().with("inactivityTimeoutMs", 200.0));
    let first = current_session_id().expect("running");
    for _ in 0..6 {
        sleep(100).await;
        run("document.body.dispatchEvent(new KeyboardEvent('keydown', { bubbles: true, key: 'a' }))");
    }
    provider.tracer("app").start("after 600 ms of typing");
    assert_eq!(current_session_id(), Some(first));
}

#[wasm_bindgen_test]
async fn another_tab_keeps_an_idle_tab_s_session_alive_and_its_rollover_is_followed() {
    let _ = storage().remove_item(STORAGE_KEY);
    let (provider, exporter) = load_page(Options::default().with("inactivityTimeoutMs", 200.0));
    let tracer = provider.tracer("app");
    let id = current_session_id().expect("running");
    let started = stored().expect("stored").split(':').nth(2).expect("start").to_owned();
    // The other tab is busy for 600 ms while this one sits idle.
    for _ in 0..6 {
        sleep(100).await;
        other_tab_writes(&format!("1:{id}:{started}:{}", js_sys::Date::now() as u64));
    }
    tracer.start("idle tab, busy origin");
    assert_eq!(current_session_id().as_ref(), Some(&id));
    // Then the other tab rolls over to a session of its own.
    let next = "fedcba9876543210fedcba9876543210";
    let now = js_sys::Date::now() as u64;
    other_tab_writes(&format!("1:{next}:{now}:{now}"));
    assert_eq!(current_session_id().as_deref(), Some(next), "followed at once");
    tracer.start("after the other tab's rollover");
    let spans = exporter.finished_spans();
    assert_eq!(named(&spans, "session.start").len(), 1, "the other tab marks its own rollover: {spans:?}");
    assert!(named(&spans, "session.end").is_empty());
    let last = spans.last().expect("span");
    assert_eq!(session_of(last).as_deref(), Some(next));
    // And when another tab clears the storage, the live session is written back.
    run("localStorage.clear(); window.dispatchEvent(new StorageEvent('storage', { key: null }))");
    assert!(stored().expect("written back").contains(next));
}

#[wasm_bindgen_test]
async fn a_full_local_storage_leaves_an_in_memory_session_and_never_throws() {
    let _ = storage().remove_item(STORAGE_KEY);
    run("window.__setItem = Storage.prototype.setItem;
         Storage.prototype.setItem = function () {
           throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
         };");
    let (provider, exporter) = load_page(Options::default().with("inactivityTimeoutMs", 100.0));
    let tracer = provider.tracer("app");
    tracer.start("a");
    let first = current_session_id().expect("running");
    sleep(200).await;
    tracer.start("b");
    run("Storage.prototype.setItem = window.__setItem; delete window.__setItem;");
    let second = current_session_id().expect("running");
    assert_ne!(first, second, "rolls over in memory");
    assert_eq!(stored(), None, "nothing could be written");
    let spans = exporter.finished_spans();
    assert!(spans.iter().all(|s| session_of(s).is_some()));
    assert_eq!(named(&spans, "session.start").len(), 2);
}

#[wasm_bindgen_test]
fn a_refused_local_storage_leaves_an_in_memory_session() {
    // A sandboxed frame or disabled site data: reading `window.localStorage` throws.
    run("window.__ls = Object.getOwnPropertyDescriptor(window, 'localStorage')
           || Object.getOwnPropertyDescriptor(Window.prototype, 'localStorage');
         Object.defineProperty(window, 'localStorage', {
           configurable: true,
           get() { throw new DOMException('access is denied', 'SecurityError'); },
         });");
    let refused = web_sys::window().expect("window").local_storage().is_err();
    let (provider, exporter) = load_page(Options::default());
    provider.tracer("app").start("a");
    let id = current_session_id();
    run("Object.defineProperty(window, 'localStorage', window.__ls); delete window.__ls;");
    assert!(refused, "the stub did not take");
    assert!(id.is_some());
    let spans = exporter.finished_spans();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(spans.iter().all(|s| session_of(s) == id));
}

#[wasm_bindgen_test]
async fn session_consistent_sampling_keeps_or_drops_whole_sessions() {
    const SESSIONS: usize = 120;
    let _ = storage().remove_item(STORAGE_KEY);
    let options = Options::default().with("sampleRatio", 0.5).with("inactivityTimeoutMs", 20.0);
    let (provider, exporter) = load_page(options);
    let tracer = provider.tracer("app");
    let mut spans_per_session: HashMap<String, usize> = HashMap::new();
    for _ in 0..SESSIONS {
        sleep(30).await;
        for _ in 0..2 {
            let root = tracer.start("click");
            let cx = Context::current_with_span(root);
            tracer.start_with_context("fetch", &cx);
        }
        *spans_per_session.entry(current_session_id().expect("running")).or_default() += 4;
    }
    assert_eq!(spans_per_session.len(), SESSIONS, "one session per round");
    let mut recorded: HashMap<String, usize> = HashMap::new();
    for span in exporter.finished_spans().iter().filter(|s| !s.name.starts_with("session.")) {
        *recorded.entry(session_of(span).expect("session")).or_default() += 1;
    }
    for (session, count) in &recorded {
        assert_eq!(Some(count), spans_per_session.get(session), "session {session} is incomplete");
    }
    let share = recorded.len() as f64 / SESSIONS as f64;
    assert!((0.3..0.7).contains(&share), "sampled share {share}");
}
