//! `errors` (feature `errors`): uncaught exceptions, unhandled promise rejections, optionally
//! `console.error`, and Rust panics become exception records.
//!
//! ```text
//!  window "error"               ─┐                     ┌─ a span is active: an `exception` event on it
//!  window "unhandledrejection"  ─┼─▶ dedupe ─▶ budget ─┤
//!  console.error (opt-in)       ─┘                     └─ none: a short `exception` span (status Error)
//!
//!  Rust panic (install_panic_hook) ─▶ `exception` event + status Error on the active span,
//!                                     an `exception` span beneath it, the active span ended,
//!                                     every queued span sent at once (keepalive) ─▶ abort
//! ```
//!
//! Each record carries `exception.type`, `exception.message`, `exception.stacktrace` and the
//! source location as `code.file.path` / `code.line.number` / `code.column.number` (the current
//! semantic conventions), plus [`OTELWEB_EXCEPTION_SOURCE`](crate::semconv::OTELWEB_EXCEPTION_SOURCE)
//! (`error`, `unhandledrejection`, `console.error` or `panic`).
//!
//! **What "the active span" is.** The browser dispatches `error` and `unhandledrejection` as
//! their own events, outside any Rust code, so `Context::current()` at that moment is usually
//! empty and the error gets its own `exception` span (a new trace). It is not empty when an
//! instrumentation keeps a context attached across the event (an interaction span, say), or
//! when a JavaScript exception unwound through Rust frames: wasm runs no destructors then, so
//! the context the Rust code had attached is still current, and the error lands on the span
//! that was running — which is where it belongs.
//!
//! **Bounded.** An error is a duplicate when the same (type, message, file, line, column) was
//! reported within `dedupeWindowMs`; duplicates are counted, not reported. What is left passes a
//! token bucket of `maxPerMinute`. Everything held back is counted and sent on the next record
//! let through as [`OTELWEB_SUPPRESSED_COUNT`](crate::semconv::OTELWEB_SUPPRESSED_COUNT), so
//! `COUNT + SUM(otelweb.suppressed_count)` is the true number. Messages are cut at
//! [`MAX_MESSAGE_CHARS`] characters and stack traces at [`MAX_STACK_CHARS`].
//!
//! Options (`instrumentations.errors`): `consoleError` (default `false`), `maxPerMinute`
//! (1–10000, default [`DEFAULT_MAX_PER_MINUTE`]), `dedupeWindowMs` (0–3600000, default
//! [`DEFAULT_DEDUPE_WINDOW_MS`]).
//!
//! # Rust panics
//!
//! A wasm module has no unwinding: a panic runs the panic hook, then aborts the module, and
//! every span still open or queued would be lost with it. [`install_panic_hook`] records the
//! panic and starts the export requests *synchronously, inside the hook*, before the abort: the
//! requests are in the browser's hands by then (with `keepalive`, so they outlive even a
//! navigation), and the trace that led to the panic reaches the collector. The app owns its
//! panic hook, so it installs this one itself, after any other:
//!
//! ```no_run
//! // console_error_panic_hook::set_once();   // the message in the devtools console, as before
//! otel_web::instrument::errors::install_panic_hook(); // wraps the hook installed so far
//! ```
//!
//! The hook records into the provider of the last `init` that started `errors` (switching
//! `errors` off on the page switches the panic records off too), then calls the previous hook.
//! It records once. The abort is a wasm trap (`RuntimeError: unreachable` in the page), and
//! wasm-bindgen (0.2.130, without exception handling) does not mark the instance dead: the
//! page's later events still call into it, with whatever borrows and locks the panic left held.
//! Nothing the SDK sees after that can be trusted, so after the first panic `errors` records
//! nothing more (later panics, and the trap's own `error` event, only reach the previous hook).
//!
//! What it cannot reach: only the span of `Context::current()` at the panic is ended. Its
//! ancestors, spans held by other futures or structs, and traced fetches still waiting for
//! their resource timing entry are not reachable from a panic hook; they are lost if the module
//! never runs again (they do arrive if the trapped instance keeps running, as above). The
//! `exception` span carries the trace id and its parent's span id, so the trace is identified. The hook takes no `RefCell` borrow without
//! `try_borrow` (the panic may come while the SDK holds one: that part is then skipped); the one
//! exception is the `Mutex` OpenTelemetry keeps around a span in a `Context`, which would only
//! be held if the panic came from inside a span method.

#![cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "natively, no page events reach the reporter; the unit tests drive it")
)]

use std::cell::{Cell, RefCell};

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use super::budget::Budget;
use super::{Instrumentation, Options};
use crate::error::ConfigError;
use crate::platform::clock;
use crate::semconv;
use crate::trace::{Tracer, TracerProvider};

/// Default `maxPerMinute`: exception records let through per minute at most (twice that in a
/// burst after a quiet minute).
pub const DEFAULT_MAX_PER_MINUTE: f64 = 60.0;
/// Default `dedupeWindowMs`: how long an identical error is counted instead of reported.
pub const DEFAULT_DEDUPE_WINDOW_MS: f64 = 60_000.0;
/// Characters kept of an exception's message.
pub const MAX_MESSAGE_CHARS: usize = 1024;
/// Characters kept of a stack trace.
pub const MAX_STACK_CHARS: usize = 8 * 1024;
/// Distinct errors remembered for deduplication (the oldest is forgotten first).
const RECENT_KEYS: usize = 32;

/// The `errors` instrumentation; [`crate::init`] starts it when the feature is on.
///
/// ```no_run
/// use otel_web::instrument::{Instrumentation, Options, errors::Errors};
/// # let provider = otel_web::TracerProvider::builder().build();
/// Errors.start(&provider, &Options::default().with("consoleError", true));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Errors;

/// The options, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Settings {
    console_error: bool,
    max_per_minute: u32,
    dedupe_window_ms: f64,
}

impl Settings {
    fn from_options(options: &Options) -> Result<Self, ConfigError> {
        if let Some(unknown) =
            options.keys().find(|k| !["consoleError", "maxPerMinute", "dedupeWindowMs"].contains(k))
        {
            return Err(ConfigError::field(
                "instrumentations.errors",
                format!("unknown option {unknown:?}; known: consoleError, maxPerMinute, dedupeWindowMs"),
            ));
        }
        Ok(Self {
            console_error: options.bool("instrumentations.errors.consoleError", "consoleError", false)?,
            max_per_minute: options.number(
                "instrumentations.errors.maxPerMinute",
                "maxPerMinute",
                DEFAULT_MAX_PER_MINUTE,
                (1.0, 10_000.0),
            )? as u32,
            dedupe_window_ms: options.number(
                "instrumentations.errors.dedupeWindowMs",
                "dedupeWindowMs",
                DEFAULT_DEDUPE_WINDOW_MS,
                (0.0, 3_600_000.0),
            )?,
        })
    }
}

impl Instrumentation for Errors {
    fn name(&self) -> &'static str {
        "errors"
    }

    fn check(&self, options: &Options) -> Result<(), ConfigError> {
        Settings::from_options(options).map(drop)
    }

    fn start(&self, provider: &TracerProvider, options: &Options) {
        let Ok(settings) = Settings::from_options(options) else { return };
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("otel-web.errors").with_version(env!("CARGO_PKG_VERSION")).build(),
        );
        let _ = PANIC_TARGET.try_with(|target| {
            if let Ok(mut target) = target.try_borrow_mut() {
                *target = Some((provider.clone(), tracer.clone()));
            }
        });
        #[cfg(target_arch = "wasm32")]
        page::start(Reporter::new(tracer, &settings), settings.console_error);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (tracer, settings.console_error);
    }
}

/// One error, as read from the page (or the panic).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exception {
    /// [`semconv::OTELWEB_EXCEPTION_SOURCE`].
    pub(crate) source: &'static str,
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) stacktrace: Option<String>,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<i64>,
    pub(crate) column: Option<i64>,
    /// When it happened, on the monotonic clock.
    pub(crate) at_ms: f64,
}

impl Exception {
    /// Identifies duplicates: FNV-1a over type, message and location.
    fn key(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        let mut eat = |bytes: &[u8]| {
            for byte in bytes.iter().chain([&0xff]) {
                hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(self.kind.as_bytes());
        eat(self.message.as_bytes());
        eat(self.file.as_deref().unwrap_or_default().as_bytes());
        eat(&self.line.unwrap_or(-1).to_le_bytes());
        eat(&self.column.unwrap_or(-1).to_le_bytes());
        hash
    }

    fn attributes(&self, suppressed: u64) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(8);
        attributes.push(KeyValue::new(semconv::EXCEPTION_TYPE, self.kind.clone()));
        attributes.push(KeyValue::new(semconv::EXCEPTION_MESSAGE, self.message.clone()));
        if let Some(stack) = &self.stacktrace {
            attributes.push(KeyValue::new(semconv::EXCEPTION_STACKTRACE, stack.clone()));
        }
        if let Some(file) = &self.file {
            attributes.push(KeyValue::new(semconv::CODE_FILE_PATH, file.clone()));
        }
        if let Some(line) = self.line {
            attributes.push(KeyValue::new(semconv::CODE_LINE_NUMBER, line));
        }
        if let Some(column) = self.column {
            attributes.push(KeyValue::new(semconv::CODE_COLUMN_NUMBER, column));
        }
        attributes.push(KeyValue::new(semconv::OTELWEB_EXCEPTION_SOURCE, self.source));
        if suppressed > 0 {
            attributes.push(KeyValue::new(
                semconv::OTELWEB_SUPPRESSED_COUNT,
                suppressed.min(i64::MAX as u64) as i64,
            ));
        }
        attributes
    }
}

/// Cuts `text` to at most `max` characters (on a character boundary).
pub(crate) fn truncated(mut text: String, max: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
    }
    text
}

/// Decides which errors are reported, and reports them.
#[derive(Debug)]
pub(crate) struct Reporter {
    tracer: Tracer,
    budget: Budget,
    dedupe_window_ms: f64,
    /// Recently reported keys and when, oldest overwritten first.
    recent: [(u64, f64); RECENT_KEYS],
    next: usize,
}

impl Reporter {
    fn new(tracer: Tracer, settings: &Settings) -> Self {
        Self {
            tracer,
            budget: Budget::per_minute(settings.max_per_minute),
            dedupe_window_ms: settings.dedupe_window_ms,
            recent: [(0, f64::NEG_INFINITY); RECENT_KEYS],
            next: 0,
        }
    }

    /// Reports `exception` unless it is a duplicate or over the budget; returns whether it was.
    pub(crate) fn report(&mut self, exception: &Exception) -> bool {
        let (key, now) = (exception.key(), exception.at_ms);
        let window = self.dedupe_window_ms;
        if self.recent.iter().any(|(k, at)| *k == key && now - at < window && now >= *at) {
            self.budget.suppress();
            return false;
        }
        let Some(suppressed) = self.budget.admit(now) else { return false };
        self.recent[self.next] = (key, now);
        self.next = (self.next + 1) % RECENT_KEYS;
        record(&self.tracer, exception, suppressed, false);
        true
    }
}

/// Records `exception` against `Context::current()`: an event on its span when there is one
/// (a fatal one also sets the span's status, adds an `exception` span beneath it and ends it),
/// otherwise a short `exception` span.
fn record(tracer: &Tracer, exception: &Exception, suppressed: u64, fatal: bool) {
    let cx = Context::current();
    let attributes = exception.attributes(suppressed);
    let at = clock::to_system_time(clock::mono_to_unix_nanos(exception.at_ms));
    let active = cx.has_active_span() && cx.span().is_recording();
    if active {
        cx.span().add_event_with_timestamp("exception", at, attributes.clone());
        if !fatal {
            return;
        }
        cx.span().set_status(Status::error(exception.message.clone()));
    }
    let mut span = tracer
        .span_builder("exception")
        .with_kind(SpanKind::Internal)
        .with_start_time(at)
        .with_attributes(attributes)
        .start_with_context(tracer, &cx);
    span.set_status(Status::error(exception.message.clone()));
    span.end();
    if fatal && active {
        cx.span().end();
    }
}

thread_local! {
    /// Where panics are recorded: the provider (to send at once) and the errors tracer.
    static PANIC_TARGET: RefCell<Option<(TracerProvider, Tracer)>> = const { RefCell::new(None) };
    /// Set by the first panic: the module is about to abort, nothing more is recorded.
    static PANICKED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a panic hook has run on this thread (the module is aborting or aborted).
#[cfg(target_arch = "wasm32")]
fn panicked() -> bool {
    PANICKED.try_with(Cell::get).unwrap_or(true)
}

/// Installs a panic hook that records a Rust panic and sends every queued span before the
/// module aborts, then calls the hook installed before it (so it composes with
/// `console_error_panic_hook`; install that one first). See the [module docs](self).
///
/// Installing it twice records a panic once. Until [`crate::init`] has started `errors`, the
/// hook only calls the previous one.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        record_panic(info);
        previous(info);
    }));
}

fn record_panic(info: &std::panic::PanicHookInfo<'_>) {
    if PANICKED.try_with(|p| p.replace(true)).unwrap_or(true) {
        return;
    }
    let message = info.payload_as_str().unwrap_or("Box<dyn Any>");
    // Cut before copying: a panic message may be huge, and the hook must not add to that.
    let message = match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => &message[..at],
        None => message,
    };
    let exception = Exception {
        source: "panic",
        kind: "panic".to_owned(),
        message: message.to_owned(),
        stacktrace: current_stack(),
        file: info.location().map(|l| l.file().to_owned()),
        line: info.location().map(|l| i64::from(l.line())),
        column: info.location().map(|l| i64::from(l.column())),
        at_ms: clock::monotonic_ms(),
    };
    record_fatal(&exception);
}

/// Records `exception` as the panic it is, and starts sending everything queued.
pub(crate) fn record_fatal(exception: &Exception) {
    let target = PANIC_TARGET
        .try_with(|t| t.try_borrow().ok().and_then(|t| t.as_ref().map(|(p, t)| (p.clone(), t.clone()))))
        .ok()
        .flatten();
    let Some((provider, tracer)) = target else { return };
    record(&tracer, exception, 0, true);
    provider.flush_before_abort();
}

/// The JavaScript stack at this point (the wasm frames of the panic), if the engine gives one.
fn current_stack() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        let error = js_sys::Error::new("");
        let stack = js_sys::Reflect::get(&error, &"stack".into()).ok()?.as_string()?;
        Some(truncated(stack, MAX_STACK_CHARS))
    }
    #[cfg(not(target_arch = "wasm32"))]
    None
}

#[cfg(target_arch = "wasm32")]
mod page {
    //! The page's side: event listeners and the `console.error` wrapper.

    use std::cell::RefCell;
    use std::rc::Rc;

    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;

    use super::{Exception, MAX_MESSAGE_CHARS, MAX_STACK_CHARS, Reporter, panicked, truncated};

    #[wasm_bindgen(inline_js = "export function wrap_console_error(original, record) {
        return function (...args) {
            try { record(args); } catch (_) {}
            return original.apply(this, args);
        };
    }")]
    extern "C" {
        fn wrap_console_error(original: &JsValue, record: &JsValue) -> JsValue;
    }

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(catch, js_name = String)]
        fn js_string(value: &JsValue) -> Result<String, JsValue>;
    }

    type Listener = Closure<dyn FnMut(JsValue)>;

    /// `console`, its own `error`, the wrapper put in its place, and the wrapper's callback.
    struct ConsolePatch {
        console: js_sys::Object,
        original: JsValue,
        wrapped: JsValue,
        _record: Closure<dyn FnMut(js_sys::Array)>,
    }

    /// What one `start` installed; dropping it removes the listeners and the wrapper.
    struct Active {
        target: web_sys::EventTarget,
        listeners: Vec<(&'static str, Listener)>,
        console: Option<ConsolePatch>,
    }

    impl Drop for Active {
        fn drop(&mut self) {
            for (event, listener) in &self.listeners {
                let _ =
                    self.target.remove_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
            }
            if let Some(ConsolePatch { console, original, wrapped, .. }) = &self.console
                && js_sys::Reflect::get(console, &"error".into()).is_ok_and(|now| now == *wrapped)
            {
                let _ = js_sys::Reflect::set(console, &"error".into(), original);
            }
        }
    }

    thread_local! {
        static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
    }

    pub(super) fn start(reporter: Reporter, console_error: bool) {
        // A second start replaces the first (its listeners are removed first).
        let _ = ACTIVE.try_with(|a| a.try_borrow_mut().map(|mut a| a.take()));
        let Ok(target) = js_sys::global().dyn_into::<web_sys::EventTarget>() else { return };
        let reporter = Rc::new(RefCell::new(reporter));
        let report = move |reporter: &Rc<RefCell<Reporter>>, exception: Option<Exception>| {
            if let Some(exception) = exception
                && let Ok(mut reporter) = reporter.try_borrow_mut()
            {
                reporter.report(&exception);
            }
        };
        let mut listeners = Vec::with_capacity(2);
        let on_error = Rc::clone(&reporter);
        let error: Listener = Closure::new(move |event: JsValue| {
            if !panicked() {
                report(&on_error, from_error_event(&event));
            }
        });
        let on_rejection = Rc::clone(&reporter);
        let rejection: Listener = Closure::new(move |event: JsValue| {
            if !panicked() {
                report(&on_rejection, from_rejection(&event));
            }
        });
        for (event, listener) in [("error", error), ("unhandledrejection", rejection)] {
            if target.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref()).is_ok() {
                listeners.push((event, listener));
            }
        }
        let console = if console_error { wrap_console(reporter) } else { None };
        let active = Active { target, listeners, console };
        let _ = ACTIVE.try_with(|a| a.try_borrow_mut().map(|mut a| *a = Some(active)));
    }

    fn wrap_console(reporter: Rc<RefCell<Reporter>>) -> Option<ConsolePatch> {
        let console: js_sys::Object =
            js_sys::Reflect::get(&js_sys::global(), &"console".into()).ok()?.dyn_into().ok()?;
        let original = js_sys::Reflect::get(&console, &"error".into()).ok()?;
        if !original.is_function() {
            return None;
        }
        let record: Closure<dyn FnMut(js_sys::Array)> = Closure::new(move |args: js_sys::Array| {
            if panicked() {
                return;
            }
            // `try_borrow_mut` also stops recursion: a console.error while reporting is dropped.
            if let Ok(mut reporter) = reporter.try_borrow_mut() {
                reporter.report(&from_console_args(&args));
            }
        });
        let wrapped = wrap_console_error(&original, record.as_ref());
        js_sys::Reflect::set(&console, &"error".into(), &wrapped).ok()?;
        Some(ConsolePatch { console, original, wrapped, _record: record })
    }

    fn get(target: &JsValue, key: &str) -> Option<JsValue> {
        if !target.is_object() {
            return None;
        }
        // A getter may throw (a hostile or revoked Proxy): that field is simply missing.
        js_sys::Reflect::get(target, &JsValue::from_str(key))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    }

    fn get_string(target: &JsValue, key: &str, max: usize) -> Option<String> {
        get(target, key)?.as_string().map(|s| truncated(s, max))
    }

    fn text_of(value: &JsValue) -> String {
        let text =
            value.as_string().or_else(|| js_string(value).ok()).unwrap_or_else(|| "(unprintable)".into());
        truncated(text, MAX_MESSAGE_CHARS)
    }

    fn now_or(event: &JsValue) -> f64 {
        get(event, "timeStamp")
            .and_then(|t| t.as_f64())
            .filter(|t| t.is_finite() && *t > 0.0)
            .unwrap_or_else(crate::platform::clock::monotonic_ms)
    }

    /// What a thrown value says about itself: (type, message, stack), when it is Error-like.
    fn error_like(value: &JsValue) -> Option<(String, Option<String>, Option<String>)> {
        let kind = get_string(value, "name", 256)?;
        Some((
            kind,
            get_string(value, "message", MAX_MESSAGE_CHARS),
            get_string(value, "stack", MAX_STACK_CHARS),
        ))
    }

    fn positive(event: &JsValue, key: &str) -> Option<i64> {
        get(event, key).and_then(|v| v.as_f64()).filter(|n| n.is_finite() && *n >= 1.0).map(|n| n as i64)
    }

    pub(super) fn from_error_event(event: &JsValue) -> Option<Exception> {
        let thrown = get(event, "error");
        let (kind, message, stacktrace) = match thrown.as_ref().and_then(error_like) {
            Some((kind, message, stack)) => (kind, message, stack),
            None => ("Error".to_owned(), None, None),
        };
        let message = message
            .or_else(|| get_string(event, "message", MAX_MESSAGE_CHARS))
            .or_else(|| thrown.as_ref().map(text_of))
            .unwrap_or_default();
        Some(Exception {
            source: "error",
            kind,
            message,
            stacktrace,
            file: get_string(event, "filename", 2048).filter(|f| !f.is_empty()),
            line: positive(event, "lineno"),
            column: positive(event, "colno"),
            at_ms: now_or(event),
        })
    }

    pub(super) fn from_rejection(event: &JsValue) -> Option<Exception> {
        let reason = get(event, "reason").unwrap_or(JsValue::UNDEFINED);
        let (kind, message, stacktrace) = match error_like(&reason) {
            Some((kind, message, stack)) => (kind, message.unwrap_or_default(), stack),
            None => ("UnhandledRejection".to_owned(), text_of(&reason), None),
        };
        Some(Exception {
            source: "unhandledrejection",
            kind,
            message,
            stacktrace,
            file: None,
            line: None,
            column: None,
            at_ms: now_or(event),
        })
    }

    fn from_console_args(args: &js_sys::Array) -> Exception {
        let mut kind = "console.error".to_owned();
        let mut stacktrace = None;
        let mut message = String::new();
        for arg in args.iter().take(16) {
            if stacktrace.is_none()
                && let Some((name, _, stack)) = error_like(&arg)
                && stack.is_some()
            {
                kind = name;
                stacktrace = stack;
            }
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(&text_of(&arg));
            if message.len() >= MAX_MESSAGE_CHARS {
                break;
            }
        }
        Exception {
            source: "console.error",
            kind,
            message: truncated(message, MAX_MESSAGE_CHARS),
            stacktrace,
            file: None,
            line: None,
            column: None,
            at_ms: crate::platform::clock::monotonic_ms(),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::export::InMemoryExporter;
    use crate::processor::{BatchConfig, BatchSpanProcessor};

    fn reporter(settings: Settings) -> (Reporter, InMemoryExporter) {
        let exporter = InMemoryExporter::default();
        let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let tracer = provider.tracer("test");
        (Reporter::new(tracer, &settings), exporter)
    }

    fn defaults() -> Settings {
        Settings::from_options(&Options::default()).expect("defaults")
    }

    fn thrown(message: &str, at_ms: f64) -> Exception {
        Exception {
            source: "error",
            kind: "TypeError".into(),
            message: message.into(),
            stacktrace: Some("TypeError: x\n    at f (app.js:3:7)".into()),
            file: Some("http://localhost/app.js".into()),
            line: Some(3),
            column: Some(7),
            at_ms,
        }
    }

    #[test]
    fn an_error_outside_any_span_is_a_short_exception_span_with_semconv_attributes() {
        let (mut reporter, exporter) = reporter(defaults());
        assert!(reporter.report(&thrown("x is not a function", 10.0)));
        let spans = exporter.finished_spans();
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        assert_eq!(span.name, "exception");
        assert!(
            matches!(&span.status, Status::Error { description } if description == "x is not a function")
        );
        assert_eq!(
            span.attribute("exception.type").map(|v| v.as_str().into_owned()),
            Some("TypeError".into())
        );
        assert_eq!(
            span.attribute("code.file.path").map(|v| v.as_str().into_owned()),
            Some("http://localhost/app.js".into())
        );
        assert_eq!(span.attribute("code.line.number"), Some(&opentelemetry::Value::I64(3)));
        assert_eq!(span.attribute("code.column.number"), Some(&opentelemetry::Value::I64(7)));
        assert!(span.attribute("exception.stacktrace").is_some());
        assert_eq!(
            span.attribute("otelweb.exception.source").map(|v| v.as_str().into_owned()),
            Some("error".into())
        );
        assert!(span.attribute("otelweb.suppressed_count").is_none());
    }

    #[test]
    fn an_error_while_a_span_is_active_is_an_exception_event_on_it() {
        let (mut reporter, exporter) = reporter(defaults());
        let tracer = reporter.tracer.clone();
        tracer.in_span("click", |_| assert!(reporter.report(&thrown("boom", 10.0))));
        let spans = exporter.finished_spans();
        assert_eq!(spans.len(), 1, "no extra span: {spans:?}");
        assert_eq!(spans[0].name, "click");
        assert_eq!(spans[0].events.len(), 1);
        assert_eq!(spans[0].events[0].name, "exception");
        assert!(spans[0].events[0].attributes.iter().any(|kv| kv.key.as_str() == "exception.message"));
        assert_eq!(spans[0].status, Status::Unset, "a page error does not decide the span's outcome");
    }

    #[test]
    fn duplicates_in_the_window_are_counted_and_the_count_rides_on_the_next_report() {
        let (mut reporter, exporter) =
            reporter(Settings { console_error: false, max_per_minute: 100, dedupe_window_ms: 1_000.0 });
        assert!(reporter.report(&thrown("same", 0.0)));
        for i in 1..=5 {
            assert!(!reporter.report(&thrown("same", f64::from(i))), "a duplicate was reported");
        }
        assert!(reporter.report(&thrown("other", 6.0)), "a different message is not a duplicate");
        assert!(reporter.report(&thrown("same", 1_001.0)), "after the window it is reported again");
        let counts: Vec<Option<i64>> = exporter
            .finished_spans()
            .iter()
            .map(|s| match s.attribute("otelweb.suppressed_count") {
                Some(opentelemetry::Value::I64(n)) => Some(*n),
                _ => None,
            })
            .collect();
        assert_eq!(counts, [None, Some(5), None]);
    }

    #[test]
    fn ten_thousand_distinct_errors_in_a_loop_let_through_only_the_budget() {
        let (mut reporter, exporter) = reporter(defaults());
        // 10,000 in 1.1 s: a full bucket, and the one token that comes back in that time.
        let reported = (0..10_000)
            .filter(|i| reporter.report(&thrown(&format!("error {i}"), f64::from(*i) * 0.11)))
            .count();
        assert_eq!(reported, DEFAULT_MAX_PER_MINUTE as usize + 1);
        assert_eq!(exporter.finished_spans().len(), reported);
    }

    #[test]
    fn options_are_checked_and_name_their_field() {
        let check = |options: Options| Errors.check(&options);
        assert_eq!(check(Options::default().with("consoleError", true).with("maxPerMinute", 5.0)), Ok(()));
        let err = check(Options::default().with("maxPerMinute", 0.0)).expect_err("zero");
        assert!(err.to_string().contains("instrumentations.errors.maxPerMinute"), "{err}");
        let err = check(Options::default().with("consoleErrors", true)).expect_err("typo");
        assert!(err.to_string().contains("\"consoleErrors\""), "{err}");
        let err = check(Options::default().with("dedupeWindowMs", -1.0)).expect_err("negative");
        assert!(err.to_string().contains("dedupeWindowMs"), "{err}");
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncated("héllo".into(), 2), "hé");
        assert_eq!(truncated("abc".into(), 10), "abc");
    }

    /// The panic path natively, where a panic unwinds and can be caught: the hook records it on
    /// the active span and in an `exception` span beneath it, ends the active span, and hands
    /// everything queued to the exporter (unload mode) before the hook returns — before the
    /// unwinding (or, in the browser, the abort) begins.
    #[test]
    fn a_panic_inside_a_span_is_recorded_ended_and_sent_before_the_hook_returns() {
        let exporter = InMemoryExporter::default();
        let config =
            BatchConfig { scheduled_delay: std::time::Duration::from_secs(600), ..Default::default() };
        let provider = TracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::new(exporter.clone(), config))
            .build();
        Errors.start(&provider, &Options::default());
        install_panic_hook();
        let tracer = provider.tracer("app");
        tracer.in_span("earlier", |_| {});
        let sent_at_panic = std::rc::Rc::new(std::cell::RefCell::new(None));
        let seen = std::rc::Rc::clone(&sent_at_panic);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tracer.in_span("action", |_| {
                // Whatever is exported when the hook has run is what an abort would leave.
                let _probe = Probe(seen, exporter.clone());
                panic!("the {} went wrong", "action");
            })
        }));
        assert!(outcome.is_err());
        let exports = sent_at_panic.borrow().clone().expect("probe ran");
        assert_eq!(exports, vec![(crate::export::ExportMode::Unload, 3)], "sent in unload mode at once");
        let spans = exporter.finished_spans();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        assert_eq!(names, ["earlier", "exception", "action"]);
        let (exception, action) = (&spans[1], &spans[2]);
        assert_eq!(exception.parent_span_id, action.span_context.span_id());
        assert_eq!(exception.span_context.trace_id(), action.span_context.trace_id());
        assert!(
            matches!(&action.status, Status::Error { description } if description == "the action went wrong")
        );
        assert_eq!(action.events[0].name, "exception");
        assert_eq!(
            exception.attribute("exception.type").map(|v| v.as_str().into_owned()),
            Some("panic".into())
        );
        assert_eq!(
            exception.attribute("code.file.path").map(|v| v.as_str().into_owned()),
            Some(file!().to_owned())
        );
        // A second panic on this thread records nothing more.
        let _ = std::panic::catch_unwind(|| panic!("again"));
        assert_eq!(exporter.finished_spans().len(), 3);
        let _ = PANIC_TARGET.try_with(|t| t.borrow_mut().take());
    }

    /// What the exporter had received, once the probe has looked.
    type Seen = std::rc::Rc<std::cell::RefCell<Option<Vec<(crate::export::ExportMode, usize)>>>>;

    /// Reads the exports when dropped: during unwinding, i.e. right after the panic hook.
    struct Probe(Seen, InMemoryExporter);

    impl Drop for Probe {
        fn drop(&mut self) {
            *self.0.borrow_mut() = Some(self.1.exports());
        }
    }
}
