//! `longAnimationFrames` (feature `long-frames`): frames the main thread kept from rendering
//! for too long, as spans, with the scripts to blame.
//!
//! ```text
//!  PerformanceObserver "long-animation-frame" (Chromium 123+) ─┐
//!       or, where the browser lacks it, "longtask" ────────────┼─▶ ≥ thresholdMs? ─▶ budget ─▶ span
//!  neither: nothing (silence, not an error) ───────────────────┘
//!
//!  longAnimationFrame   startTime ─────────────────────────────▶ startTime + duration
//!    attributes: otelweb.loaf.blocking_duration_ms, and the longest script's
//!                code.file.path, code.function.name, otelweb.script.* (invoker, type, duration…)
//!    events:     script (one per script, in order, at most MAX_SCRIPT_EVENTS),
//!                renderStart, styleAndLayoutStart, firstUIEvent
//!  longtask             startTime ─────────────────────────────▶ startTime + duration
//!    attributes: otelweb.longtask.culprit (the entry's name: self, cross-origin-ancestor…),
//!                otelweb.longtask.container_type
//! ```
//!
//! Script attribution follows the Long Animation Frames API's `PerformanceScriptTiming`: the
//! script's `sourceURL` and `sourceFunctionName` are the semantic conventions' `code.file.path`
//! and `code.function.name`; `invoker` (`BUTTON#post.onclick`, `Response.json.then`…),
//! `invokerType` (`event-listener`, `resolve-promise`, `user-callback`, `classic-script`…),
//! `duration`, `forcedStyleAndLayoutDuration` and `pauseDuration` have no convention and are
//! [`OTELWEB_SCRIPT_INVOKER`](crate::semconv::OTELWEB_SCRIPT_INVOKER) and its siblings. The
//! longest script is also on the span itself, so "which script makes frames long" is a
//! `GROUP BY code.file.path` query.
//!
//! Frames are observed with `buffered: true`, so the ones before the SDK started (the wasm
//! loads late) are reported too. The observer callback runs outside any Rust context, so each
//! frame is its own trace. At most `maxPerMinute` frames a minute become spans (a token bucket:
//! twice that after a quiet minute); the rest are counted and the count rides on the next span
//! as [`OTELWEB_SUPPRESSED_COUNT`](crate::semconv::OTELWEB_SUPPRESSED_COUNT). Frames shorter than
//! `thresholdMs` are ignored and not counted.
//!
//! Options (`instrumentations.longAnimationFrames`): `thresholdMs` (50–60000, default
//! [`DEFAULT_THRESHOLD_MS`]; the browser reports nothing shorter than 50 ms), `maxPerMinute`
//! (1–1000, default [`DEFAULT_MAX_PER_MINUTE`]).

#![cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "natively, no observer feeds frames in; the unit tests drive them")
)]

use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry::{InstrumentationScope, KeyValue};

use super::budget::Budget;
use super::{Instrumentation, Options};
use crate::error::ConfigError;
use crate::platform::clock;
use crate::semconv;
use crate::trace::{Tracer, TracerProvider};

/// Default `thresholdMs`: the Long Animation Frames API's own threshold.
pub const DEFAULT_THRESHOLD_MS: f64 = 50.0;
/// Default `maxPerMinute`.
pub const DEFAULT_MAX_PER_MINUTE: f64 = 30.0;
/// Scripts recorded as events per frame at most (the first ones; the longest is on the span
/// whatever its place).
pub const MAX_SCRIPT_EVENTS: usize = 8;

/// The `longAnimationFrames` instrumentation; [`crate::init`] starts it when the feature is on.
///
/// ```no_run
/// use otel_web::instrument::{Instrumentation, Options, long_frames::LongFrames};
/// # let provider = otel_web::TracerProvider::builder().build();
/// LongFrames.start(&provider, &Options::default().with("thresholdMs", 100.0));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LongFrames;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Settings {
    threshold_ms: f64,
    max_per_minute: u32,
}

impl Settings {
    fn from_options(options: &Options) -> Result<Self, ConfigError> {
        if let Some(unknown) = options.keys().find(|k| !["thresholdMs", "maxPerMinute"].contains(k)) {
            return Err(ConfigError::field(
                "instrumentations.longAnimationFrames",
                format!("unknown option {unknown:?}; known: thresholdMs, maxPerMinute"),
            ));
        }
        Ok(Self {
            threshold_ms: options.number(
                "instrumentations.longAnimationFrames.thresholdMs",
                "thresholdMs",
                DEFAULT_THRESHOLD_MS,
                (50.0, 60_000.0),
            )?,
            max_per_minute: options.number(
                "instrumentations.longAnimationFrames.maxPerMinute",
                "maxPerMinute",
                DEFAULT_MAX_PER_MINUTE,
                (1.0, 1_000.0),
            )? as u32,
        })
    }
}

impl Instrumentation for LongFrames {
    fn name(&self) -> &'static str {
        "longAnimationFrames"
    }

    fn check(&self, options: &Options) -> Result<(), ConfigError> {
        Settings::from_options(options).map(drop)
    }

    fn start(&self, provider: &TracerProvider, options: &Options) {
        let Ok(settings) = Settings::from_options(options) else { return };
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("otel-web.long-frames")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let frames = Frames {
            tracer,
            budget: Budget::per_minute(settings.max_per_minute),
            threshold_ms: settings.threshold_ms,
        };
        #[cfg(target_arch = "wasm32")]
        page::observe(frames);
        #[cfg(not(target_arch = "wasm32"))]
        drop(frames);
    }
}

/// One script of a long animation frame (`PerformanceScriptTiming`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Script {
    pub(crate) start_ms: f64,
    pub(crate) duration_ms: f64,
    pub(crate) source_url: String,
    pub(crate) function: String,
    pub(crate) invoker: String,
    pub(crate) invoker_type: String,
    pub(crate) forced_style_and_layout_ms: f64,
    pub(crate) pause_ms: f64,
}

impl Script {
    fn attributes(&self) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(6);
        if !self.source_url.is_empty() {
            attributes.push(KeyValue::new(semconv::CODE_FILE_PATH, self.source_url.clone()));
        }
        if !self.function.is_empty() {
            attributes.push(KeyValue::new(semconv::CODE_FUNCTION_NAME, self.function.clone()));
        }
        if !self.invoker.is_empty() {
            attributes.push(KeyValue::new(semconv::OTELWEB_SCRIPT_INVOKER, self.invoker.clone()));
        }
        if !self.invoker_type.is_empty() {
            attributes.push(KeyValue::new(semconv::OTELWEB_SCRIPT_INVOKER_TYPE, self.invoker_type.clone()));
        }
        attributes.push(KeyValue::new(semconv::OTELWEB_SCRIPT_DURATION_MS, self.duration_ms));
        if self.forced_style_and_layout_ms > 0.0 {
            attributes.push(KeyValue::new(
                semconv::OTELWEB_SCRIPT_FORCED_STYLE_AND_LAYOUT_DURATION_MS,
                self.forced_style_and_layout_ms,
            ));
        }
        if self.pause_ms > 0.0 {
            attributes.push(KeyValue::new(semconv::OTELWEB_SCRIPT_PAUSE_DURATION_MS, self.pause_ms));
        }
        attributes
    }
}

/// What a frame entry says, read once from the browser.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum Kind {
    /// A `long-animation-frame` entry.
    #[default]
    Frame,
    /// A `longtask` entry (the fallback): its name and container type.
    Task { culprit: String, container_type: String },
}

/// A long frame (or long task), times on the monotonic clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Frame {
    pub(crate) kind: Kind,
    pub(crate) start_ms: f64,
    pub(crate) duration_ms: f64,
    pub(crate) blocking_ms: f64,
    pub(crate) render_start_ms: f64,
    pub(crate) style_and_layout_start_ms: f64,
    pub(crate) first_ui_event_ms: f64,
    pub(crate) scripts: Vec<Script>,
}

/// Decides which frames are reported, and reports them.
#[derive(Debug)]
pub(crate) struct Frames {
    tracer: Tracer,
    budget: Budget,
    threshold_ms: f64,
}

impl Frames {
    /// Reports `frame` if it is long enough and within the budget; returns whether it was.
    pub(crate) fn report(&mut self, frame: Frame) -> bool {
        // NaN is never long enough.
        if frame.duration_ms.partial_cmp(&self.threshold_ms).is_none_or(|o| o.is_lt()) {
            return false;
        }
        let Some(suppressed) = self.budget.admit(frame.start_ms) else { return false };
        let time = |ms: f64| clock::to_system_time(clock::mono_to_unix_nanos(ms));
        let name = match frame.kind {
            Kind::Frame => "longAnimationFrame",
            Kind::Task { .. } => "longtask",
        };
        let mut attributes = Vec::with_capacity(12);
        match &frame.kind {
            Kind::Frame => {
                attributes.push(KeyValue::new(semconv::OTELWEB_LOAF_BLOCKING_DURATION_MS, frame.blocking_ms));
            }
            Kind::Task { culprit, container_type } => {
                attributes.push(KeyValue::new(semconv::OTELWEB_LONGTASK_CULPRIT, culprit.clone()));
                if !container_type.is_empty() {
                    attributes.push(KeyValue::new(
                        semconv::OTELWEB_LONGTASK_CONTAINER_TYPE,
                        container_type.clone(),
                    ));
                }
            }
        }
        // The longest by a scan, not a sort: sorting code would cost more bytes than the rest.
        if let Some(longest) = frame.scripts.iter().max_by(|a, b| a.duration_ms.total_cmp(&b.duration_ms)) {
            attributes.extend(longest.attributes());
        }
        if suppressed > 0 {
            attributes.push(KeyValue::new(
                semconv::OTELWEB_SUPPRESSED_COUNT,
                suppressed.min(i64::MAX as u64) as i64,
            ));
        }
        let mut span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_start_time(time(frame.start_ms))
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &opentelemetry::Context::current());
        for script in frame.scripts.iter().take(MAX_SCRIPT_EVENTS) {
            span.add_event_with_timestamp("script", time(script.start_ms), script.attributes());
        }
        for (event, at) in [
            ("renderStart", frame.render_start_ms),
            ("styleAndLayoutStart", frame.style_and_layout_start_ms),
            ("firstUIEvent", frame.first_ui_event_ms),
        ] {
            if at > 0.0 {
                span.add_event_with_timestamp(event, time(at), Vec::new());
            }
        }
        span.end_with_timestamp(time(frame.start_ms + frame.duration_ms));
        true
    }
}

#[cfg(target_arch = "wasm32")]
mod page {
    //! The browser's side: the observer, and reading its entries.

    use std::cell::RefCell;

    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;

    use super::{Frame, Frames, Kind, MAX_SCRIPT_EVENTS, Script};

    #[wasm_bindgen]
    extern "C" {
        /// `PerformanceObserver`, with an `observe` that may throw (an unknown type, say).
        type CatchingObserver;
        #[wasm_bindgen(catch, method)]
        fn observe(this: &CatchingObserver, options: &JsValue) -> Result<(), JsValue>;
    }

    type Observer = (web_sys::PerformanceObserver, Closure<dyn FnMut(JsValue)>);

    thread_local! {
        static OBSERVER: RefCell<Option<Observer>> = const { RefCell::new(None) };
    }

    /// The entry type this browser has: LoAF, else long tasks, else none.
    fn supported_type() -> Option<&'static str> {
        let ctor = js_sys::Reflect::get(&js_sys::global(), &"PerformanceObserver".into()).ok()?;
        let types: js_sys::Array =
            js_sys::Reflect::get(&ctor, &"supportedEntryTypes".into()).ok()?.dyn_into().ok()?;
        ["long-animation-frame", "longtask"].into_iter().find(|t| types.includes(&JsValue::from_str(t), 0))
    }

    pub(super) fn observe(frames: Frames) {
        // A second start replaces the first.
        let _ = OBSERVER.try_with(|o| {
            if let Ok(Some((old, _))) = o.try_borrow_mut().map(|mut o| o.take()) {
                old.disconnect();
            }
        });
        let Some(entry_type) = supported_type() else { return };
        let frames = RefCell::new(frames);
        let callback = Closure::<dyn FnMut(JsValue)>::new(move |list: JsValue| {
            let Ok(list) = list.dyn_into::<web_sys::PerformanceObserverEntryList>() else { return };
            let Ok(mut frames) = frames.try_borrow_mut() else { return };
            for entry in list.get_entries().iter() {
                if let Some(frame) = read(&entry) {
                    frames.report(frame);
                }
            }
        });
        let Ok(observer) = web_sys::PerformanceObserver::new(callback.as_ref().unchecked_ref()) else {
            return;
        };
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"type".into(), &entry_type.into());
        let _ = js_sys::Reflect::set(&options, &"buffered".into(), &JsValue::TRUE);
        if observer.unchecked_ref::<CatchingObserver>().observe(&options).is_err() {
            return;
        }
        let _ = OBSERVER.try_with(|o| o.try_borrow_mut().map(|mut o| *o = Some((observer, callback))));
    }

    fn get(target: &JsValue, key: &str) -> JsValue {
        js_sys::Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    }

    fn number(target: &JsValue, key: &str) -> f64 {
        get(target, key).as_f64().filter(|n| n.is_finite() && *n >= 0.0).unwrap_or(0.0)
    }

    fn text(target: &JsValue, key: &str) -> String {
        let mut text = get(target, key).as_string().unwrap_or_default();
        if let Some((at, _)) = text.char_indices().nth(1024) {
            text.truncate(at);
        }
        text
    }

    fn read(entry: &JsValue) -> Option<Frame> {
        let entry_type = get(entry, "entryType").as_string()?;
        let mut frame = Frame {
            start_ms: number(entry, "startTime"),
            duration_ms: number(entry, "duration"),
            ..Frame::default()
        };
        if entry_type == "longtask" {
            let attribution = get(entry, "attribution");
            let first = if js_sys::Array::is_array(&attribution) {
                js_sys::Array::from(&attribution).get(0)
            } else {
                JsValue::UNDEFINED
            };
            let container_type =
                if first.is_object() { text(&first, "containerType") } else { String::new() };
            frame.kind = Kind::Task { culprit: text(entry, "name"), container_type };
            return Some(frame);
        }
        frame.blocking_ms = number(entry, "blockingDuration");
        frame.render_start_ms = number(entry, "renderStart");
        frame.style_and_layout_start_ms = number(entry, "styleAndLayoutStart");
        frame.first_ui_event_ms = number(entry, "firstUIEventTimestamp");
        let scripts = get(entry, "scripts");
        if js_sys::Array::is_array(&scripts) {
            // Bounded: the longest of the first 4 × MAX_SCRIPT_EVENTS goes on the span.
            for script in js_sys::Array::from(&scripts).iter().take(4 * MAX_SCRIPT_EVENTS) {
                frame.scripts.push(Script {
                    start_ms: number(&script, "startTime"),
                    duration_ms: number(&script, "duration"),
                    source_url: text(&script, "sourceURL"),
                    function: text(&script, "sourceFunctionName"),
                    invoker: text(&script, "invoker"),
                    invoker_type: text(&script, "invokerType"),
                    forced_style_and_layout_ms: number(&script, "forcedStyleAndLayoutDuration"),
                    pause_ms: number(&script, "pauseDuration"),
                });
            }
        }
        Some(frame)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::export::InMemoryExporter;

    fn frames(threshold_ms: f64, max_per_minute: u32) -> (Frames, InMemoryExporter) {
        let exporter = InMemoryExporter::default();
        let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        (
            Frames {
                tracer: provider.tracer("test"),
                budget: Budget::per_minute(max_per_minute),
                threshold_ms,
            },
            exporter,
        )
    }

    fn script(url: &str, duration_ms: f64) -> Script {
        Script {
            start_ms: 1_010.0,
            duration_ms,
            source_url: url.into(),
            function: "busy".into(),
            invoker: "BUTTON#go.onclick".into(),
            invoker_type: "event-listener".into(),
            forced_style_and_layout_ms: 3.0,
            pause_ms: 0.0,
        }
    }

    fn text(span: &crate::trace::SpanData, key: &str) -> Option<String> {
        span.attribute(key).map(|v| v.as_str().into_owned())
    }

    #[test]
    fn a_long_frame_is_a_span_of_its_duration_blaming_its_longest_script() {
        let (mut frames, exporter) = frames(50.0, 30);
        let frame = Frame {
            start_ms: 1_000.0,
            duration_ms: 210.0,
            blocking_ms: 160.0,
            render_start_ms: 1_205.0,
            scripts: vec![script("http://localhost/a.js", 5.0), script("http://localhost/app.js", 200.0)],
            ..Frame::default()
        };
        assert!(frames.report(frame));
        let spans = exporter.finished_spans();
        let span = &spans[0];
        assert_eq!(span.name, "longAnimationFrame");
        assert_eq!(span.duration_nanos(), 210_000_000);
        assert_eq!(text(span, "code.file.path").as_deref(), Some("http://localhost/app.js"));
        assert_eq!(text(span, "code.function.name").as_deref(), Some("busy"));
        assert_eq!(text(span, "otelweb.script.invoker").as_deref(), Some("BUTTON#go.onclick"));
        assert_eq!(text(span, "otelweb.script.invoker_type").as_deref(), Some("event-listener"));
        assert_eq!(span.attribute("otelweb.script.duration_ms"), Some(&opentelemetry::Value::F64(200.0)));
        assert_eq!(
            span.attribute("otelweb.loaf.blocking_duration_ms"),
            Some(&opentelemetry::Value::F64(160.0))
        );
        let events: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(events, ["script", "script", "renderStart"]);
    }

    #[test]
    fn frames_under_the_threshold_are_ignored_and_not_counted() {
        let (mut frames, exporter) = frames(100.0, 30);
        assert!(!frames.report(Frame { duration_ms: 99.9, ..Frame::default() }));
        assert!(!frames.report(Frame { duration_ms: f64::NAN, ..Frame::default() }));
        assert!(frames.report(Frame { duration_ms: 100.0, ..Frame::default() }));
        assert!(exporter.finished_spans()[0].attribute("otelweb.suppressed_count").is_none());
    }

    #[test]
    fn a_loop_of_long_frames_is_capped_and_the_rest_counted() {
        let (mut frames, exporter) = frames(50.0, 5);
        // 62 frames of 200 ms, back to back: 12.4 s, in which one token (12 s) comes back.
        let reported = (0..62)
            .filter(|i| {
                frames.report(Frame {
                    start_ms: f64::from(*i) * 200.0,
                    duration_ms: 200.0,
                    ..Frame::default()
                })
            })
            .count();
        assert_eq!(reported, 5 + 1, "a full bucket, and the one token refilled");
        let spans = exporter.finished_spans();
        assert_eq!(spans.len(), 6);
        let last = spans.last().expect("a span");
        assert!(
            matches!(last.attribute("otelweb.suppressed_count"), Some(opentelemetry::Value::I64(n)) if *n > 0)
        );
    }

    #[test]
    fn a_long_task_names_its_culprit() {
        let (mut frames, exporter) = frames(50.0, 5);
        let kind = Kind::Task { culprit: "self".into(), container_type: "window".into() };
        assert!(frames.report(Frame { kind, duration_ms: 80.0, ..Frame::default() }));
        let span = &exporter.finished_spans()[0];
        assert_eq!(span.name, "longtask");
        assert_eq!(text(span, "otelweb.longtask.culprit").as_deref(), Some("self"));
        assert_eq!(text(span, "otelweb.longtask.container_type").as_deref(), Some("window"));
    }

    #[test]
    fn options_are_checked_and_name_their_field() {
        assert_eq!(LongFrames.check(&Options::default().with("thresholdMs", 200.0)), Ok(()));
        let err = LongFrames.check(&Options::default().with("thresholdMs", 10.0)).expect_err("below 50");
        assert!(err.to_string().contains("instrumentations.longAnimationFrames.thresholdMs"), "{err}");
        let err = LongFrames.check(&Options::default().with("maxPerMinute", 0.0)).expect_err("zero");
        assert!(err.to_string().contains("maxPerMinute"), "{err}");
        assert!(LongFrames.check(&Options::default().with("cap", 1.0)).is_err());
    }
}
