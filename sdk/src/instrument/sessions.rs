//! `sessions`: a `session.id` on every span, shared by the origin's tabs and kept across
//! reloads in `localStorage`, with `session.start`/`session.end` markers and an optional
//! session-consistent sampler.
//!
//! A session ends after [`DEFAULT_INACTIVITY_TIMEOUT_MS`] (15 minutes) without activity, or
//! [`DEFAULT_MAX_DURATION_MS`] (4 hours) after it started; both are options. Activity is a
//! span starting, or user input (`pointerdown`, `keydown`, `scroll`). The next activity after
//! the end starts a new session, and the tab that starts it records two zero-length spans,
//! each its own trace:
//!
//! - `session.end`, at the moment the old session ended, with the old `session.id`;
//! - `session.start`, with the new `session.id` and `session.previous_id`.
//!
//! (The semantic conventions define these as events; otel-web sends traces only, so they are
//! spans with the events' names and attributes.)
//!
//! The record in `localStorage` (key [`STORAGE_KEY`]) holds the id, the start and the last
//! activity. Tabs hear each other through the `storage` event, and read the record again
//! before declaring a session over, so one busy tab keeps the session alive for an idle one;
//! activity is written at most every five seconds, and when the page is hidden. When
//! `localStorage` is missing, full or refused (a sandboxed frame, cookies disabled), the session
//! lives in the page's memory instead, with one console warning.
//!
//! ## Session-consistent sampling
//!
//! With `sampleRatio`, each session is sampled or not as a whole: the decision is a fixed
//! function of the session id, so every tab and every reload agrees, and a sampled session is
//! complete. A span is recorded when its session is sampled *and* the provider's sampler keeps
//! it (with the default `parentbased_always_on`, that is every span of a sampled session). In
//! an unsampled session nothing is recorded, and the `traceparent` sent to the backend says so;
//! only a trace that began in a sampled session keeps its children after a rollover.
//!
//! ```
//! use otel_web::instrument::sessions::SessionOptions;
//! use std::time::Duration;
//!
//! let config = otel_web::Config::default().with_instrumentation_options(
//!     "sessions",
//!     SessionOptions::default()
//!         .with_inactivity_timeout(Duration::from_secs(10 * 60))
//!         .with_sample_ratio(0.25)
//!         .into(),
//! );
//! # assert!(config.validate().is_ok());
//! ```
//!
//! or on the page: `{"instrumentations": {"sessions": {"sampleRatio": 0.25,
//! "inactivityTimeoutMs": 600000, "maxDurationMs": 14400000}}}`.

#[cfg(target_arch = "wasm32")]
mod page;
mod record;
mod tracker;

use std::cell::RefCell;
use std::time::Duration;

use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use self::record::{EpochMs, Policy, SessionId};
use self::tracker::{Started, Store, Tracker};
use super::{Instrumentation, Options};
use crate::error::ConfigError;
use crate::platform::clock;
use crate::report::{self, Problem};
use crate::semconv;
use crate::trace::{SamplingDecision, Tracer, TracerProvider};

/// A session ends after this long without activity: 15 minutes.
pub const DEFAULT_INACTIVITY_TIMEOUT_MS: u64 = 15 * 60 * 1000;
/// A session ends this long after it started: 4 hours.
pub const DEFAULT_MAX_DURATION_MS: u64 = 4 * 60 * 60 * 1000;
/// The `localStorage` key of the session record.
pub const STORAGE_KEY: &str = "otel-web.session";
/// Activity is written to `localStorage` at most this often (or a tenth of the inactivity
/// timeout, if shorter).
const MAX_WRITE_INTERVAL_MS: f64 = 5_000.0;
/// The longest inactivity timeout: a day.
const MAX_INACTIVITY_TIMEOUT_MS: f64 = 86_400_000.0;
/// The longest session: a week.
const MAX_MAX_DURATION_MS: f64 = 604_800_000.0;

/// The `sessions` instrumentation ([`crate::init`] starts it; tests may start it on their own
/// provider). Starting it again restarts from the stored record, as a reload does.
#[derive(Debug, Clone, Copy)]
pub struct Sessions;

/// The `sessions` options, typed: convert them into [`Options`] for
/// [`Config::with_instrumentation_options`](crate::Config::with_instrumentation_options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionOptions {
    inactivity_timeout: Duration,
    max_duration: Duration,
    sample_ratio: Option<f64>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            inactivity_timeout: Duration::from_millis(DEFAULT_INACTIVITY_TIMEOUT_MS),
            max_duration: Duration::from_millis(DEFAULT_MAX_DURATION_MS),
            sample_ratio: None,
        }
    }
}

impl SessionOptions {
    /// A session ends after this long without activity (`inactivityTimeoutMs`).
    pub fn with_inactivity_timeout(mut self, timeout: Duration) -> Self {
        self.inactivity_timeout = timeout;
        self
    }

    /// A session ends this long after it started (`maxDurationMs`).
    pub fn with_max_duration(mut self, duration: Duration) -> Self {
        self.max_duration = duration;
        self
    }

    /// Samples this fraction of sessions, each as a whole (`sampleRatio`, 0 to 1).
    pub fn with_sample_ratio(mut self, ratio: f64) -> Self {
        self.sample_ratio = Some(ratio);
        self
    }
}

impl From<SessionOptions> for Options {
    fn from(options: SessionOptions) -> Self {
        let millis = |d: Duration| d.as_millis().min(u64::MAX as u128) as f64;
        let mut out = Options::default()
            .with("inactivityTimeoutMs", millis(options.inactivity_timeout))
            .with("maxDurationMs", millis(options.max_duration));
        if let Some(ratio) = options.sample_ratio {
            out = out.with("sampleRatio", ratio);
        }
        out
    }
}

/// The options, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Settings {
    policy: Policy,
    sample_ratio: Option<f64>,
}

impl Settings {
    fn from_options(options: &Options) -> Result<Self, ConfigError> {
        const KEYS: [&str; 3] = ["inactivityTimeoutMs", "maxDurationMs", "sampleRatio"];
        if let Some(unknown) = options.keys().find(|k| !KEYS.contains(k)) {
            return Err(ConfigError::field(
                "instrumentations.sessions",
                format!("unknown option {unknown:?}; known: {}", KEYS.join(", ")),
            ));
        }
        let inactivity_timeout_ms = options.number(
            "instrumentations.sessions.inactivityTimeoutMs",
            "inactivityTimeoutMs",
            DEFAULT_INACTIVITY_TIMEOUT_MS as f64,
            (1.0, MAX_INACTIVITY_TIMEOUT_MS),
        )?;
        let max_duration_ms = options.number(
            "instrumentations.sessions.maxDurationMs",
            "maxDurationMs",
            DEFAULT_MAX_DURATION_MS as f64,
            (1.0, MAX_MAX_DURATION_MS),
        )?;
        let sample_ratio = match options.get("sampleRatio") {
            None => None,
            Some(_) => Some(options.number(
                "instrumentations.sessions.sampleRatio",
                "sampleRatio",
                1.0,
                (0.0, 1.0),
            )?),
        };
        Ok(Settings { policy: Policy { inactivity_timeout_ms, max_duration_ms }, sample_ratio })
    }

    fn write_interval_ms(&self) -> f64 {
        (self.policy.inactivity_timeout_ms / 10.0).min(MAX_WRITE_INTERVAL_MS)
    }
}

impl Instrumentation for Sessions {
    fn name(&self) -> &'static str {
        "sessions"
    }

    fn check(&self, options: &Options) -> Result<(), ConfigError> {
        Settings::from_options(options).map(|_| ())
    }

    fn start(&self, provider: &TracerProvider, options: &Options) {
        let settings = match Settings::from_options(options) {
            Ok(settings) => settings,
            Err(e) => {
                report::warn(Problem::Config, || format!("sessions are off: {e}"));
                return;
            }
        };
        #[cfg(target_arch = "wasm32")]
        {
            let store = page::store();
            activate(provider, settings, browser_now_ms, store);
            page::watch();
        }
        #[cfg(not(target_arch = "wasm32"))]
        activate(provider, settings, browser_now_ms, Box::new(tracker::MemoryStore::default()));
    }
}

/// The current session's id (32 hex digits), if sessions are running: for a support ticket, a
/// log line, or another telemetry system.
pub fn current_session_id() -> Option<String> {
    ACTIVE
        .try_with(|cell| {
            let active = cell.try_borrow().ok()?;
            active.as_ref().map(|a| a.tracker.current().id.to_string())
        })
        .ok()
        .flatten()
}

/// What a starting span takes from its session.
#[derive(Debug, Clone)]
pub(crate) struct SpanSession {
    /// `session.id`, built once per session (cloning it is a reference count).
    pub(crate) attribute: KeyValue,
    /// Whether the session-consistent sampler keeps this session.
    pub(crate) sampled: bool,
}

impl SpanSession {
    fn new(id: SessionId, sample_ratio: Option<f64>) -> Self {
        SpanSession {
            // Reference-counted, so that each span's copy is not an allocation.
            attribute: KeyValue::new(
                semconv::SESSION_ID,
                opentelemetry::StringValue::from(std::sync::Arc::<str>::from(id.to_string())),
            ),
            sampled: sample_ratio.is_none_or(|ratio| id.is_sampled(ratio)),
        }
    }
}

/// The running sessions instrumentation of this page.
struct Active {
    tracker: Tracker<Box<dyn Store>>,
    clock: fn() -> EpochMs,
    sample_ratio: Option<f64>,
    tracer: Tracer,
    current: SpanSession,
    /// While the `session.end` marker of an old session is being recorded: that session.
    marking: Option<SpanSession>,
    #[cfg(target_arch = "wasm32")]
    page: Option<page::Listeners>,
}

impl std::fmt::Debug for Active {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Active").field("tracker", &self.tracker).finish_non_exhaustive()
    }
}

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
}

/// The time every tab shares: epoch milliseconds from the SDK's clock.
fn browser_now_ms() -> EpochMs {
    clock::now_unix_nanos() as f64 / 1e6
}

fn new_id() -> SessionId {
    SessionId(crate::platform::random::nonzero_u128())
}

/// Starts (or, on a second `init`, restarts from the store) this page's session.
fn activate(provider: &TracerProvider, settings: Settings, clock: fn() -> EpochMs, store: Box<dyn Store>) {
    // A restart first drops the old state and its listeners.
    let _ = ACTIVE.try_with(|cell| cell.try_borrow_mut().map(|mut a| a.take()));
    let (mut tracker, started) =
        Tracker::begin(settings.policy, settings.write_interval_ms(), store, clock(), new_id);
    report_failure(&mut tracker);
    let tracer = provider.tracer_with_scope(
        InstrumentationScope::builder("otel-web.sessions").with_version(env!("CARGO_PKG_VERSION")).build(),
    );
    let active = Active {
        current: SpanSession::new(tracker.current().id, settings.sample_ratio),
        tracker,
        clock,
        sample_ratio: settings.sample_ratio,
        tracer: tracer.clone(),
        marking: None,
        #[cfg(target_arch = "wasm32")]
        page: None,
    };
    let _ = ACTIVE.try_with(|cell| cell.try_borrow_mut().map(|mut a| *a = Some(active)));
    if let Some(started) = started {
        mark(&tracer, started, settings.sample_ratio);
    }
}

fn report_failure(tracker: &mut Tracker<Box<dyn Store>>) {
    if let Some(e) = tracker.take_failure() {
        report::warn(Problem::Config, || {
            format!("sessions: localStorage failed ({}); the session is kept in this page only", e.0)
        });
    }
}

/// Activity: a span is starting, or the user did something. Returns the session the span
/// belongs to (rolling over first if the current one is over), `None` when sessions are not
/// running. Allocation-free unless the session changes.
pub(crate) fn activity() -> Option<SpanSession> {
    let (session, started) = ACTIVE
        .try_with(|cell| {
            let mut active = cell.try_borrow_mut().ok()?;
            let active = active.as_mut()?;
            if let Some(marking) = &active.marking {
                return Some((marking.clone(), None));
            }
            let started = active.tracker.touch((active.clock)(), new_id);
            if let Some(started) = &started {
                active.current = SpanSession::new(started.record.id, active.sample_ratio);
                report_failure(&mut active.tracker);
            }
            let marker = started.map(|s| (s, active.tracer.clone(), active.sample_ratio));
            Some((active.current.clone(), marker))
        })
        .ok()
        .flatten()?;
    // The markers are spans too: recorded with the borrow released.
    if let Some((started, tracer, ratio)) = started {
        mark(&tracer, started, ratio);
    }
    Some(session)
}

/// Another tab changed the shared record.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "the storage event is the browser's"))]
fn store_changed() {
    let _ = ACTIVE.try_with(|cell| {
        let Ok(mut active) = cell.try_borrow_mut() else { return };
        let Some(active) = active.as_mut() else { return };
        let now = (active.clock)();
        if let Some(record) = active.tracker.on_store_changed(now) {
            active.current = SpanSession::new(record.id, active.sample_ratio);
        }
        report_failure(&mut active.tracker);
    });
}

/// The page is being hidden: the last activity goes to the store.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "page hide is the browser's"))]
fn flush() {
    let _ = ACTIVE.try_with(|cell| {
        if let Ok(mut active) = cell.try_borrow_mut()
            && let Some(active) = active.as_mut()
        {
            active.tracker.flush();
            report_failure(&mut active.tracker);
        }
    });
}

/// Records `session.end` for the session that ended (in that session, so it is sampled as that
/// session is) and `session.start` for the new one.
fn mark(tracer: &Tracer, started: Started, sample_ratio: Option<f64>) {
    let at = |ms: EpochMs| clock::to_system_time(clock::ms_to_nanos(ms));
    // An explicit root: the markers are traces of their own, never adopted by an open
    // interaction or navigation (which takes spans started with no parent at all).
    let root = Context::new().with_remote_span_context(SpanContext::NONE);
    let set_marking = |marking: Option<SpanSession>| {
        let _ = ACTIVE.try_with(|cell| {
            if let Ok(mut active) = cell.try_borrow_mut()
                && let Some(active) = active.as_mut()
            {
                active.marking = marking;
            }
        });
    };
    if let Some(previous) = started.previous {
        set_marking(Some(SpanSession::new(previous.record.id, sample_ratio)));
        let time = at(previous.at_ms);
        let mut span = tracer
            .build_with_context(SpanBuilder::from_name(semconv::SESSION_END).with_start_time(time), &root);
        span.end_with_timestamp(time);
        set_marking(None);
    }
    let time = at(started.record.started_ms);
    let mut builder = SpanBuilder::from_name(semconv::SESSION_START).with_start_time(time);
    if let Some(previous) = started.previous {
        builder = builder
            .with_attributes([KeyValue::new(semconv::SESSION_PREVIOUS_ID, previous.record.id.to_string())]);
    }
    let mut span = tracer.build_with_context(builder, &root);
    span.end_with_timestamp(time);
}

/// The session-consistent sampler, applied after the provider's: in an unsampled session a span
/// is dropped, unless it continues a sampled trace from this page (one that began before a
/// rollover), so that traces stay whole too.
pub(crate) fn sample(
    decision: SamplingDecision,
    parent: Option<&SpanContext>,
    session: Option<&SpanSession>,
) -> SamplingDecision {
    match (session, parent) {
        (Some(session), _) if session.sampled => decision,
        (Some(_), Some(parent)) if !parent.is_remote() && parent.is_sampled() => decision,
        (Some(_), _) => SamplingDecision::Drop,
        (None, _) => decision,
    }
}

#[cfg(test)]
mod tests;
