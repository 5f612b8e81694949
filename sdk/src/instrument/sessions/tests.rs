//! Sessions through the real tracer, natively, with an injected clock: every span carries the
//! session, rollovers record their markers, and the session-consistent sampler keeps or drops
//! whole sessions.

use std::cell::Cell;
use std::collections::HashMap;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
};
use opentelemetry::{Context, Value};

use super::tracker::MemoryStore;
use super::*;
use crate::export::InMemoryExporter;
use crate::trace::SpanData;

const MIN: f64 = 60_000.0;
const T0: f64 = 1_700_000_000_000.0;

thread_local! {
    static NOW: Cell<f64> = const { Cell::new(T0) };
}

fn fake_now() -> f64 {
    NOW.with(Cell::get)
}

fn advance(ms: f64) {
    NOW.with(|now| now.set(now.get() + ms));
}

fn setup(options: Options, store: &MemoryStore) -> (TracerProvider, InMemoryExporter) {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let settings = Settings::from_options(&options).expect("valid options");
    activate(&provider, settings, fake_now, Box::new(store.clone()));
    (provider, exporter)
}

fn session_of(span: &SpanData) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == semconv::SESSION_ID).map(|kv| kv.value.to_string())
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

#[test]
fn options_are_checked_and_name_their_field() {
    let check = |options: Options| Sessions.check(&options);
    assert_eq!(check(Options::default()), Ok(()));
    assert_eq!(check(SessionOptions::default().with_sample_ratio(0.25).into()), Ok(()));
    for (options, field) in [
        (Options::default().with("sampleRatio", 1.5), "instrumentations.sessions.sampleRatio"),
        (Options::default().with("sampleRatio", "half"), "instrumentations.sessions.sampleRatio"),
        (
            Options::default().with("inactivityTimeoutMs", 0.0),
            "instrumentations.sessions.inactivityTimeoutMs",
        ),
        (
            Options::default().with("inactivityTimeoutMs", f64::NAN),
            "instrumentations.sessions.inactivityTimeoutMs",
        ),
        (Options::default().with("maxDurationMs", 1e12), "instrumentations.sessions.maxDurationMs"),
        (Options::default().with("timeout", 5.0), "instrumentations.sessions"),
    ] {
        let err = check(options.clone()).expect_err("refused");
        assert!(err.to_string().contains(&format!("`{field}`")), "{options:?}: {err}");
    }
    let settings = Settings::from_options(&Options::default()).expect("defaults");
    assert_eq!(settings.policy.inactivity_timeout_ms, 15.0 * MIN);
    assert_eq!(settings.policy.max_duration_ms, 240.0 * MIN);
    assert_eq!(settings.sample_ratio, None);
    assert_eq!(settings.write_interval_ms(), 5_000.0);
}

#[test]
fn a_page_configuration_for_sessions_is_checked_by_config_validate() {
    let config = crate::Config::default()
        .with_instrumentation_options("sessions", Options::default().with("sampleRatio", -0.1));
    let err = config.validate().expect_err("out of range");
    assert!(err.to_string().contains("sampleRatio"), "{err}");
}

#[test]
fn every_span_carries_the_session_and_the_first_one_is_marked() {
    let store = MemoryStore::default();
    let (provider, exporter) = setup(Options::default(), &store);
    let tracer = provider.tracer("app");
    let parent = tracer.start("click");
    let cx = Context::current_with_span(parent);
    tracer.start_with_context("fetch", &cx);
    drop(cx);
    let spans = exporter.finished_spans();
    let id = current_session_id().expect("running");
    let names: Vec<_> = spans.iter().map(|s| (s.name.to_string(), session_of(s))).collect();
    assert_eq!(
        names,
        [
            ("session.start".to_string(), Some(id.clone())),
            ("fetch".to_string(), Some(id.clone())),
            ("click".to_string(), Some(id.clone())),
        ]
    );
    assert_eq!(attr(&spans[0], semconv::SESSION_PREVIOUS_ID), None, "a first visit has no previous session");
    assert_eq!(spans[0].start_time_unix_nano, spans[0].end_time_unix_nano);
    assert_eq!(spans[0].start_time_unix_nano, clock::ms_to_nanos(T0));
}

#[test]
fn inactivity_rolls_the_session_over_with_end_and_start_markers_and_the_previous_id() {
    let store = MemoryStore::default();
    let (provider, exporter) = setup(Options::default(), &store);
    let tracer = provider.tracer("app");
    tracer.start("a");
    let first = current_session_id().expect("running");
    advance(15.0 * MIN - 1.0);
    tracer.start("b");
    assert_eq!(current_session_id().as_ref(), Some(&first), "a millisecond short of fifteen minutes");
    let last_activity = fake_now();
    advance(15.0 * MIN);
    tracer.start("c");
    let second = current_session_id().expect("running");
    assert_ne!(second, first);
    let spans = exporter.finished_spans();
    let names: Vec<_> =
        spans.iter().map(|s| (s.name.to_string(), session_of(s).unwrap_or_default())).collect();
    assert_eq!(
        names,
        [
            ("session.start".into(), first.clone()),
            ("a".into(), first.clone()),
            ("b".into(), first.clone()),
            ("session.end".into(), first.clone()),
            ("session.start".into(), second.clone()),
            ("c".into(), second.clone()),
        ]
    );
    let end = &spans[3];
    assert_eq!(end.start_time_unix_nano, clock::ms_to_nanos(last_activity + 15.0 * MIN), "when it ended");
    assert_eq!(end.start_time_unix_nano, end.end_time_unix_nano);
    assert_eq!(attr(&spans[4], semconv::SESSION_PREVIOUS_ID), Some(Value::from(first)));
    // Each marker is a trace of its own.
    assert!(spans[3].parent_span_id == SpanId::INVALID && spans[4].parent_span_id == SpanId::INVALID);
    assert_ne!(spans[3].span_context.trace_id(), spans[4].span_context.trace_id());
}

#[test]
fn a_session_ends_at_its_maximum_length_however_busy() {
    let store = MemoryStore::default();
    let (provider, exporter) = setup(Options::default().with("maxDurationMs", 60.0 * MIN), &store);
    let tracer = provider.tracer("app");
    let first = current_session_id().expect("running");
    for _ in 0..59 {
        advance(MIN);
        tracer.start("busy");
    }
    assert_eq!(current_session_id().as_ref(), Some(&first));
    advance(MIN);
    tracer.start("busy");
    assert_ne!(current_session_id().as_ref(), Some(&first));
    let ends: Vec<_> = exporter.finished_spans().into_iter().filter(|s| s.name == "session.end").collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].start_time_unix_nano, clock::ms_to_nanos(T0 + 60.0 * MIN));
}

#[test]
fn a_reload_resumes_the_stored_session_without_a_marker() {
    let store = MemoryStore::default();
    let (provider, _) = setup(Options::default(), &store);
    let first = current_session_id().expect("running");
    advance(MIN);
    // The page reloads: a new provider, the same localStorage.
    let (provider2, exporter2) = setup(Options::default(), &store);
    assert_eq!(current_session_id(), Some(first.clone()));
    provider2.tracer("app").start("after reload");
    let spans = exporter2.finished_spans();
    assert_eq!(spans.len(), 1, "no session.start for a resumed session: {spans:?}");
    assert_eq!(session_of(&spans[0]), Some(first));
    drop(provider);
}

#[test]
fn input_counts_as_activity() {
    let store = MemoryStore::default();
    let (provider, _) = setup(Options::default(), &store);
    let first = current_session_id().expect("running");
    for _ in 0..4 {
        advance(10.0 * MIN);
        activity(); // a keydown
    }
    provider.tracer("app").start("after 40 minutes of typing");
    assert_eq!(current_session_id(), Some(first));
}

#[test]
fn a_broken_store_still_gives_every_span_a_session() {
    let store = MemoryStore::default();
    store.0.borrow_mut().fail_loads = true;
    store.0.borrow_mut().fail_saves = true;
    let (provider, exporter) = setup(Options::default(), &store);
    let tracer = provider.tracer("app");
    tracer.start("a");
    advance(16.0 * MIN);
    tracer.start("b");
    let spans = exporter.finished_spans();
    assert!(spans.iter().all(|s| session_of(s).is_some()));
    assert_eq!(spans.iter().filter(|s| s.name == "session.start").count(), 2);
}

#[test]
fn session_consistent_sampling_keeps_or_drops_whole_sessions_near_the_ratio() {
    const SESSIONS: usize = 1_000;
    let store = MemoryStore::default();
    let (provider, exporter) = setup(Options::default().with("sampleRatio", 0.5), &store);
    let tracer = provider.tracer("app");
    let mut started_per_session: HashMap<String, usize> = HashMap::new();
    for _ in 0..SESSIONS {
        advance(16.0 * MIN);
        for _ in 0..3 {
            // A trace of three spans, another trace, and a child of a remote sampled parent.
            let root = tracer.start("click");
            let cx = Context::current_with_span(root);
            tracer.start_with_context("fetch", &cx);
            tracer.start_with_context("parse", &cx);
        }
        let remote = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(7u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        ));
        tracer.start_with_context("continued", &remote);
        *started_per_session.entry(current_session_id().expect("running")).or_default() += 10;
    }
    assert_eq!(started_per_session.len(), SESSIONS, "a session per round");
    let mut recorded: HashMap<String, usize> = HashMap::new();
    for span in exporter.finished_spans() {
        if span.name != "session.end" && span.name != "session.start" {
            *recorded.entry(session_of(&span).expect("session")).or_default() += 1;
        }
    }
    for (session, count) in &recorded {
        assert_eq!(Some(count), started_per_session.get(session), "session {session} is incomplete");
    }
    let share = recorded.len() as f64 / SESSIONS as f64;
    assert!((0.42..0.58).contains(&share), "sampled share {share}");
    // The markers follow their own session.
    for span in exporter.finished_spans().iter().filter(|s| s.name.starts_with("session.")) {
        let session = session_of(span).expect("session");
        let id = SessionId::from_hex(&session).expect("hex id");
        assert!(id.is_sampled(0.5), "{} of an unsampled session was recorded", span.name);
    }
}

#[test]
fn an_unsampled_session_keeps_a_trace_that_began_in_a_sampled_one() {
    let sampled = SpanSession { attribute: KeyValue::new("session.id", "a"), sampled: true };
    let unsampled = SpanSession { attribute: KeyValue::new("session.id", "b"), sampled: false };
    let parent = |remote: bool, flags: TraceFlags| {
        SpanContext::new(TraceId::from(1u128), SpanId::from(1u64), flags, remote, TraceState::NONE)
    };
    let keep = SamplingDecision::RecordAndSample;
    assert_eq!(sample(keep, None, Some(&sampled)), keep);
    assert_eq!(sample(keep, None, None), keep, "no sessions: the provider's sampler alone");
    assert_eq!(sample(keep, None, Some(&unsampled)), SamplingDecision::Drop);
    assert_eq!(sample(keep, Some(&parent(false, TraceFlags::SAMPLED)), Some(&unsampled)), keep);
    assert_eq!(
        sample(keep, Some(&parent(false, TraceFlags::default())), Some(&unsampled)),
        SamplingDecision::Drop
    );
    assert_eq!(
        sample(keep, Some(&parent(true, TraceFlags::SAMPLED)), Some(&unsampled)),
        SamplingDecision::Drop,
        "a server's sampled trace does not make an unsampled session record"
    );
    assert_eq!(sample(SamplingDecision::Drop, None, Some(&sampled)), SamplingDecision::Drop);
}

#[cfg(feature = "interactions")]
#[test]
fn markers_are_traces_of_their_own_even_inside_an_open_interaction() {
    use crate::instrument::ambient::{self, Idle, Kind};
    let store = MemoryStore::default();
    let (provider, exporter) = setup(Options::default(), &store);
    let tracer = provider.tracer("app");
    let click = tracer.start("click");
    let click_id = click.span_context().span_id();
    ambient::open(
        Kind::Interaction,
        Context::current_with_span(click),
        clock::monotonic_ms(),
        Idle::default(),
        true,
    );
    advance(16.0 * MIN);
    tracer.start("fetch"); // adopted by the click, and the activity that rolls the session over
    ambient::close(None);
    let spans = exporter.finished_spans();
    let parent_of = |name: &str| spans.iter().find(|s| s.name == name).map(|s| s.parent_span_id);
    assert_eq!(parent_of("fetch"), Some(click_id), "the interaction adopts the app's span");
    assert_eq!(parent_of("session.end"), Some(SpanId::INVALID));
    assert_eq!(
        spans.iter().filter(|s| s.name == "session.start").map(|s| s.parent_span_id).collect::<Vec<_>>(),
        [SpanId::INVALID, SpanId::INVALID]
    );
}
