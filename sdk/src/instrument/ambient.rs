//! The ambient parent: the user interaction or soft navigation that is "open" right now, which
//! spans started without a parent (and the traced fetches they make) are attached to — without
//! Zone.js, and without the app passing a context.
//!
//! # Why it is needed
//!
//! `Context::current()` is a stack the running code attaches to. An event handler runs inside
//! the dispatch, but the futures it spawns (`wasm_bindgen_futures::spawn_local`, Leptos actions
//! and resources) are polled later, from microtasks and promise callbacks, where nothing is
//! attached. Zone.js solves this in JavaScript by patching every async primitive; Rust futures
//! cannot be patched that way.
//!
//! # The mechanism
//!
//! An instrumentation ([`super::interactions`], [`super::soft_navigations`]) *opens a scope*
//! when the user clicks or the route changes: a span, and the rule for when it is over. While a
//! scope is open, the SDK's tracer gives any span whose parent context has **no active span**
//! the scope's span as parent (the innermost open scope wins). Spans started under an explicit
//! parent are untouched, so the app's own `with_context` always wins.
//!
//! A scope closes at its *idle point*: its dispatch has ended (interactions), no traced fetch
//! of its trace is in flight, and for `quietMs` (100 ms by default) no span has joined it and
//! no fetch has settled;
//! or at its deadline (`maxDurationMs`, 10 s by default); or when the page is hidden; or when a
//! newer interaction opens (a new click closes everything; a new navigation closes the previous
//! navigation). Its span ends at the last moment something happened: the dispatch end or the
//! last span joining or fetch settling — so a click that starts no work is a short span, and
//! one that fetches lasts until its last fetch is done.
//!
//! # Limits, honestly
//!
//! - **Misattribution in the open window.** Anything started without a parent while a scope is
//!   open is adopted, including work the interaction did not cause: a polling timer, a fetch
//!   from an unrelated `setInterval`, an error thrown by something else. The window is short
//!   (the interaction's own work plus `quietMs`), but it is a heuristic. The SDK's page-level
//!   spans (web vitals, `documentLoad`, session markers) are never adopted by an interaction —
//!   the LCP reported at the first click is the page load's — but are by a navigation, whose
//!   new view they describe.
//! - **Work after the window** is not adopted: a future that sleeps longer than `quietMs` with
//!   no fetch in flight and then fetches starts a new trace. [`spawn_local`] is exact: it
//!   captures the context when it is called and carries it into every poll of the future.
//! - A fetch extends its scope only through the traced fetch (`otel_web::fetch`, the
//!   `gloo-net` drop-in, the patched global `fetch`); work the SDK cannot see (a `WebSocket`,
//!   an `XMLHttpRequest`, a long computation in a timer) does not keep a scope open.
//! - One thread, one page: the scope is per page, not per component; two things the user does
//!   at once (click during a navigation's loading) are told apart only by which came last.
// The browser side uses the rest; natively only the logic's tests do.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::cell::RefCell;
use std::future::Future;

use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt, TraceId};

use crate::platform::clock;

/// At most this many scopes are open at once; opening another closes the oldest.
const MAX_OPEN: usize = 4;

/// What opened a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A click, submit or key activation.
    #[cfg_attr(not(feature = "interactions"), allow(dead_code, reason = "opened by `interactions` only"))]
    Interaction,
    /// A soft navigation (route change).
    #[cfg_attr(
        not(feature = "soft-navigations"),
        allow(dead_code, reason = "opened by `soft-navigations` only")
    )]
    Navigation,
}

/// When a scope is over: quiet for `quiet_ms` after its last activity, or `max_ms` after it
/// opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Idle {
    pub(crate) quiet_ms: f64,
    pub(crate) max_ms: f64,
}

/// Default quiet period before a scope is idle (`quietMs`).
pub(crate) const DEFAULT_QUIET_MS: f64 = 100.0;
/// Default longest a scope stays open (`maxDurationMs`).
pub(crate) const DEFAULT_MAX_MS: f64 = 10_000.0;

impl Default for Idle {
    fn default() -> Self {
        Self { quiet_ms: DEFAULT_QUIET_MS, max_ms: DEFAULT_MAX_MS }
    }
}

#[derive(Debug)]
struct Scope {
    id: u64,
    kind: Kind,
    cx: Context,
    trace_id: TraceId,
    /// The event that opened it is still being dispatched.
    dispatching: bool,
    /// Traced fetches of this trace not yet settled.
    in_flight: u32,
    /// Monotonic time of the last thing that happened: opened, dispatch ended, fetch started or
    /// settled.
    last_activity: f64,
    deadline: f64,
    quiet_ms: f64,
}

impl Scope {
    /// When the scope is over at `now`, the time its span ends.
    fn idle_end(&self, now: f64) -> Option<f64> {
        if now >= self.deadline {
            return Some(self.deadline);
        }
        (!self.dispatching && self.in_flight == 0 && now - self.last_activity >= self.quiet_ms)
            .then_some(self.last_activity)
    }

    /// The end time if it is cut short at `now` (a newer interaction, the page hidden).
    fn cut_end(&self, now: f64) -> f64 {
        if self.dispatching || self.in_flight > 0 { now.min(self.deadline) } else { self.last_activity }
    }
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    open: Vec<Scope>,
    watching_page: bool,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    #[cfg(target_arch = "wasm32")]
    static LIFECYCLE: RefCell<Option<crate::platform::lifecycle::PageLifecycle>> = const { RefCell::new(None) };
}

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE.try_with(|s| s.try_borrow_mut().ok().map(|mut s| f(&mut s))).ok().flatten()
}

/// Ends `closed` scopes' spans (outside the state's borrow: ending a span runs processors).
fn end_all(closed: Vec<(Context, f64)>) {
    for (cx, at) in closed {
        cx.span().end_with_timestamp(clock::to_system_time(clock::mono_to_unix_nanos(at)));
    }
}

/// Opens a scope for the span in `cx`, started at `at` (monotonic ms); `dispatching` says the
/// opening event is still being dispatched (see [`dispatch_ended`]). Returns its id.
pub(crate) fn open(kind: Kind, cx: Context, at: f64, idle: Idle, dispatching: bool) -> u64 {
    let trace_id = cx.span().span_context().trace_id();
    let mut closed = Vec::new();
    let id = with_state(|state| {
        state.next_id += 1;
        let id = state.next_id;
        while state.open.len() >= MAX_OPEN {
            let oldest = state.open.remove(0);
            closed.push((oldest.cx.clone(), oldest.cut_end(at)));
        }
        state.open.push(Scope {
            id,
            kind,
            cx,
            trace_id,
            dispatching,
            in_flight: 0,
            last_activity: at,
            deadline: at + idle.max_ms,
            quiet_ms: idle.quiet_ms,
        });
        let first = !std::mem::replace(&mut state.watching_page, true);
        (id, first)
    });
    end_all(closed);
    let Some((id, first)) = id else { return 0 };
    if first {
        watch_page();
    }
    watch(id, idle.quiet_ms);
    id
}

/// Closes every open scope of `kind` (every scope with `None`), ending their spans.
pub(crate) fn close(kind: Option<Kind>) {
    let now = clock::monotonic_ms();
    let closed = with_state(|state| {
        let mut closed = Vec::new();
        state.open.retain(|scope| {
            let keep = kind.is_some_and(|k| k != scope.kind);
            if !keep {
                closed.push((scope.cx.clone(), scope.cut_end(now)));
            }
            keep
        });
        closed
    });
    end_all(closed.unwrap_or_default());
}

/// The parent for a span started without one: the innermost open scope's context, if any
/// (and only of `kind`, if given).
pub(crate) fn parent_of(kind: Option<Kind>) -> Option<Context> {
    let now = clock::monotonic_ms();
    STATE
        .try_with(|s| {
            let state = s.try_borrow().ok()?;
            state
                .open
                .iter()
                .rev()
                .find(|scope| kind.is_none_or(|k| k == scope.kind) && now < scope.deadline)
                .map(|scope| scope.cx.clone())
        })
        .ok()
        .flatten()
}

/// The SDK's own page instrumentations that report about the page, not about what the user
/// just did: an interaction never adopts their spans (the LCP reported at the first click is
/// the page load's, not the click's). Navigations adopt them: they belong to the new view.
const NOT_AN_INTERACTIONS_WORK: &[&str] =
    &["otel-web.document-load", "otel-web.sessions", "otel-web.web-vitals"];

/// The tracer's hook: the parent for a span of instrumentation scope `scope` whose parent
/// context has no active span — the innermost open scope that takes it, for which the span's
/// start counts as activity (it stays open at least `quietMs` longer).
pub(crate) fn adopt(scope: &str) -> Option<Context> {
    let now = clock::monotonic_ms();
    let page_level = NOT_AN_INTERACTIONS_WORK.contains(&scope);
    with_state(|state| {
        let open = state
            .open
            .iter_mut()
            .rev()
            .find(|s| now < s.deadline && !(page_level && s.kind == Kind::Interaction))?;
        open.last_activity = open.last_activity.max(now);
        Some(open.cx.clone())
    })
    .flatten()
}

/// The event that opened scope `id` has been dispatched (at `at`): from now on the scope can be
/// idle.
#[cfg_attr(not(feature = "interactions"), allow(dead_code, reason = "interactions only"))]
pub(crate) fn dispatch_ended(id: u64, at: f64) {
    with_state(|state| {
        if let Some(scope) = state.open.iter_mut().find(|s| s.id == id && s.dispatching) {
            scope.dispatching = false;
            scope.last_activity = scope.last_activity.max(at);
        }
    });
}

/// Another event belonging to scope `id` is being dispatched (a form's `submit` after the click
/// on its button). Returns whether the scope is still open.
#[cfg_attr(not(feature = "interactions"), allow(dead_code, reason = "interactions only"))]
pub(crate) fn dispatch_again(id: u64) -> bool {
    with_state(|state| match state.open.iter_mut().find(|s| s.id == id) {
        Some(scope) => {
            scope.dispatching = true;
            true
        }
        None => false,
    })
    .unwrap_or(false)
}

/// The context of scope `id` while it is open.
pub(crate) fn context_of(id: u64) -> Option<Context> {
    STATE
        .try_with(|s| s.try_borrow().ok()?.open.iter().find(|sc| sc.id == id).map(|sc| sc.cx.clone()))
        .ok()
        .flatten()
}

/// A traced fetch of trace `trace_id` in flight: keeps every open scope of that trace from
/// being idle until dropped.
#[derive(Debug)]
pub(crate) struct Work {
    trace_id: TraceId,
}

/// Registers a traced fetch that just started in trace `trace_id`.
pub(crate) fn work_started(trace_id: TraceId) -> Work {
    let now = clock::monotonic_ms();
    with_state(|state| {
        for scope in state.open.iter_mut().filter(|s| s.trace_id == trace_id) {
            scope.in_flight += 1;
            scope.last_activity = scope.last_activity.max(now);
        }
    });
    Work { trace_id }
}

impl Drop for Work {
    fn drop(&mut self) {
        let now = clock::monotonic_ms();
        with_state(|state| {
            for scope in state.open.iter_mut().filter(|s| s.trace_id == self.trace_id) {
                scope.in_flight = scope.in_flight.saturating_sub(1);
                scope.last_activity = scope.last_activity.max(now);
            }
        });
    }
}

/// Closes scope `id` if it is idle at `now`; returns whether it is still open.
pub(crate) fn poll(id: u64, now: f64) -> bool {
    let closed = with_state(|state| {
        let index = state.open.iter().position(|s| s.id == id)?;
        let end = state.open[index].idle_end(now)?;
        Some((state.open.remove(index).cx, end))
    })
    .flatten();
    if let Some(closed) = closed {
        end_all(vec![closed]);
    }
    is_open(id)
}

fn is_open(id: u64) -> bool {
    // A state busy elsewhere (re-entered) counts as open: the watcher looks again later.
    STATE
        .try_with(|s| s.try_borrow().map(|s| s.open.iter().any(|sc| sc.id == id)).unwrap_or(true))
        .unwrap_or(false)
}

/// Checks scope `id` every `quiet_ms` until it closes.
fn watch(id: u64, quiet_ms: f64) {
    let every = quiet_ms.clamp(10.0, 1_000.0) as u32;
    crate::sync::spawn(async move {
        loop {
            crate::platform::timer::sleep(every).await;
            if !poll(id, clock::monotonic_ms()) {
                break;
            }
        }
    });
}

/// Ends every open scope when the page is hidden: a hidden page may never run another timer.
fn watch_page() {
    #[cfg(target_arch = "wasm32")]
    {
        let lifecycle = crate::platform::lifecycle::PageLifecycle::watch(|| close(None), || {});
        let _ = LIFECYCLE.try_with(|l| l.try_borrow_mut().map(|mut l| *l = lifecycle));
    }
}

/// The context to carry into a future spawned now: `Context::current()` if it has a span,
/// else the innermost open interaction or navigation, else `Context::current()`.
pub fn current_context() -> Context {
    let current = Context::current();
    if current.has_active_span() {
        return current;
    }
    parent_of(None).unwrap_or(current)
}

/// `wasm_bindgen_futures::spawn_local`, carrying the context of *now* into every poll of
/// `future`: spans and traced fetches inside are children of the span active when it was
/// called — or of the open interaction or navigation (see the module docs) — however long the
/// future runs. The exact alternative to the ambient parent's time window.
///
/// ```no_run
/// otel_web::spawn_local(async {
///     // A traced fetch here is a child of the click being handled.
/// });
/// ```
pub fn spawn_local<F: Future<Output = ()> + 'static>(future: F) {
    wasm_bindgen_futures::spawn_local(future.with_context(current_context()));
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        Span as _, SpanContext, SpanId, TraceFlags, TraceState, Tracer as _, TracerProvider as _,
    };

    use super::*;
    use crate::export::InMemoryExporter;
    use crate::trace::TracerProvider;

    fn scope(dispatching: bool, in_flight: u32, last_activity: f64) -> Scope {
        Scope {
            id: 1,
            kind: Kind::Interaction,
            cx: Context::new(),
            trace_id: TraceId::INVALID,
            dispatching,
            in_flight,
            last_activity,
            deadline: 10_000.0,
            quiet_ms: 100.0,
        }
    }

    #[test]
    fn a_scope_is_idle_once_quiet_after_its_dispatch_and_its_fetches() {
        assert_eq!(scope(true, 0, 0.0).idle_end(500.0), None, "still dispatching");
        assert_eq!(scope(false, 1, 0.0).idle_end(500.0), None, "a fetch in flight");
        assert_eq!(scope(false, 0, 450.0).idle_end(500.0), None, "not quiet long enough");
        assert_eq!(scope(false, 0, 400.0).idle_end(500.0), Some(400.0), "ends at the last activity");
        assert_eq!(scope(false, 3, 0.0).idle_end(10_500.0), Some(10_000.0), "the deadline wins");
        assert_eq!(scope(true, 0, 0.0).cut_end(700.0), 700.0);
        assert_eq!(scope(false, 0, 30.0).cut_end(700.0), 30.0);
    }

    #[test]
    fn spans_without_a_parent_join_the_open_scope_and_fetches_hold_it_open() {
        let exporter = InMemoryExporter::default();
        let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let tracer = provider.tracer("test");
        let click = tracer.start("click");
        let click_id = click.span_context().clone();
        close(None);
        let at = clock::monotonic_ms();
        let id = open(Kind::Interaction, Context::new().with_span(click), at, Idle::default(), true);

        let child = tracer.start_with_context("action", &Context::new());
        assert_eq!(child.span_context().trace_id(), click_id.trace_id(), "adopted");
        let vitals = provider
            .tracer_with_scope(opentelemetry::InstrumentationScope::builder("otel-web.web-vitals").build());
        let lcp = vitals.start_with_context("lcp", &Context::new());
        assert_ne!(lcp.span_context().trace_id(), click_id.trace_id(), "the page's, not the click's");
        let remote = SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(7u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        let explicit =
            tracer.start_with_context("explicit", &Context::new().with_remote_span_context(remote));
        assert_eq!(explicit.span_context().trace_id(), TraceId::from(7u128), "an explicit parent wins");

        let work = work_started(click_id.trace_id());
        dispatch_ended(id, at + 5.0);
        let far = clock::monotonic_ms() + 5_000.0;
        assert!(poll(id, far), "a fetch is in flight");
        drop(work);
        assert!(poll(id, clock::monotonic_ms() + 50.0), "not quiet yet");
        assert!(!poll(id, far), "idle: closed");
        assert!(parent_of(None).is_none(), "no scope is open");
        let ended: Vec<_> = exporter.finished_spans().into_iter().map(|s| s.name.into_owned()).collect();
        assert_eq!(ended, ["click"]);
        drop((child, explicit, lcp));
    }

    #[test]
    fn a_new_interaction_closes_every_scope_and_a_navigation_only_navigations() {
        let provider = TracerProvider::builder().build();
        let tracer = provider.tracer("test");
        let open_one = |kind| {
            let span = tracer.start_with_context("s", &Context::new().with_value(0u8));
            open(kind, Context::new().with_span(span), clock::monotonic_ms(), Idle::default(), false)
        };
        close(None);
        let click = open_one(Kind::Interaction);
        let navigation = open_one(Kind::Navigation);
        assert!(is_open(click) && is_open(navigation));
        close(Some(Kind::Navigation));
        assert!(is_open(click) && !is_open(navigation));
        let second = open_one(Kind::Navigation);
        close(None);
        assert!(!is_open(click) && !is_open(second));
        for _ in 0..MAX_OPEN + 2 {
            open_one(Kind::Interaction);
        }
        assert!(with_state(|s| s.open.len()).is_some_and(|n| n <= MAX_OPEN), "bounded");
        close(None);
    }
}
