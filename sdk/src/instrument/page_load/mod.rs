//! The page load's place in a trace, decided once and shared by `documentLoad` (feature
//! `document-load`) and the web vitals (feature `web-vitals`): the vitals reported while the
//! page loads (FCP, TTFB) and after it (LCP, CLS, INP) are children of the page load, although
//! `documentLoad` is only recorded from the performance timeline after `load`.
//!
//! ```text
//!  [backend GET /]    the span that sent the HTML: Server-Timing traceparent, or <meta>
//!   └─ documentLoad   started when the instrumentation starts (start time: navigation start),
//!      │              filled in and ended from the timeline after load
//!      ├─ documentFetch, resourceFetch…
//!      └─ fcp, ttfb, lcp, cls, inp          ← parent()
//! ```
//!
//! # How the ids are shared
//!
//! No span gets a pre-chosen id. `documentLoad` is an ordinary span that is **started early**:
//! `DocumentLoad::start` starts it with navigation start as its start time (the tracer picks
//! its ids and makes the sampling decision as for any span), publishes its context here with
//! [`document_load_started`], and keeps the open span until the timeline is read; then its
//! URL, milestones and children are added and it ends. So the vitals, reported before or after
//! that, name a span id that the exported `documentLoad` really has, and they share its
//! sampling decision. The one SDK-internal hook is `Span::discard`, for a page whose load
//! never ends (as before, nothing is sent rather than a `documentLoad` without its timeline;
//! vitals already sent then name a parent that never arrives).
//!
//! # The parent of a span of the page load ([`parent`])
//!
//! 1. `documentLoad`, once it has started on this page (feature on and not switched off);
//! 2. else the server's span that sent the HTML ([`parent::remote_parent`], the strict parser);
//! 3. else an **explicit root**: a new trace, which an open interaction or soft navigation
//!    (`instrument::ambient`) never adopts — a vital reported while the user clicks is not
//!    the click's.
//!
//! (The web vitals make one exception: INP and CLS reported while a soft navigation is open
//! are that navigation's children.)
//!
//! `documentLoad` starts before the web vitals do (it comes first in `registered()`), and
//! vitals are only reported from observer callbacks and timers, so they see it.
//!
//! Sampling follows the parent: with the default parent-based sampler, a page load whose
//! server did not sample its trace sends neither `documentLoad` nor the vitals.
// Each side uses its part: the vitals `parent()` (on the page only), documentLoad the rest.
#![cfg_attr(
    not(all(target_arch = "wasm32", feature = "web-vitals", feature = "document-load")),
    allow(dead_code)
)]

mod parent;

use std::cell::RefCell;

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};

#[derive(Debug, Default)]
struct State {
    /// `documentLoad`'s context, once started.
    document_load: Option<SpanContext>,
    /// The server's span, once read (`Some(None)`: the page names none).
    server: Option<Option<SpanContext>>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Reads the server's span that sent the HTML from the page now (the navigation entry's
/// `Server-Timing`, else the `traceparent` metas) and remembers it as the page load's.
/// `None` natively, and when the page names none or an ambiguous or malformed one.
pub(crate) fn read_server_parent() -> Option<SpanContext> {
    let server = if cfg!(target_arch = "wasm32") {
        parent::remote_parent(&page::server_timing(), &page::traceparent_metas())
    } else {
        None
    };
    let _ = STATE.try_with(|s| s.try_borrow_mut().map(|mut s| s.server = Some(server.clone())));
    server
}

/// `documentLoad` has started with `span_context`: from now on the page load's spans are its
/// children.
#[cfg(feature = "document-load")]
pub(crate) fn document_load_started(span_context: SpanContext) {
    let _ = STATE.try_with(|s| s.try_borrow_mut().map(|mut s| s.document_load = Some(span_context)));
}

/// The parent for a span that belongs to the page load (see the module docs).
pub(crate) fn parent() -> Context {
    let known = STATE
        .try_with(|s| s.try_borrow().ok().map(|s| (s.document_load.clone(), s.server.clone())))
        .ok()
        .flatten();
    let (document_load, server) = known.unwrap_or_default();
    let server = match (&document_load, server) {
        (Some(_), _) => None,
        (None, Some(server)) => server,
        (None, None) => read_server_parent(),
    };
    choose(document_load, server)
}

/// A root: a context with a span, so no ambient scope adopts it, whose span is invalid, so the
/// tracer starts a new trace.
pub(crate) fn explicit_root() -> Context {
    Context::new().with_remote_span_context(SpanContext::NONE)
}

fn choose(document_load: Option<SpanContext>, server: Option<SpanContext>) -> Context {
    match document_load.or(server) {
        Some(parent) => Context::new().with_remote_span_context(parent),
        None => explicit_root(),
    }
}

/// What the page says about the server's span. Everything is read through `Reflect`, with
/// JS exceptions caught: a browser without the API reads as nothing.
mod page {
    use wasm_bindgen::{JsCast, JsValue};

    /// Most `Server-Timing` metrics and metas read (a page has a handful).
    const MAX_VALUES: u32 = 32;

    fn get(target: &JsValue, key: &str) -> JsValue {
        js_sys::Reflect::get(target, &key.into()).unwrap_or(JsValue::UNDEFINED)
    }

    fn text(target: &JsValue, key: &str) -> String {
        get(target, key).as_string().unwrap_or_default()
    }

    /// The navigation entry's `serverTiming` as `(name, description)` pairs.
    pub(super) fn server_timing() -> Vec<(String, String)> {
        let performance = get(&js_sys::global(), "performance");
        let entry = get(&performance, "getEntriesByType")
            .dyn_into::<js_sys::Function>()
            .ok()
            .and_then(|f| f.call1(&performance, &"navigation".into()).ok())
            .and_then(|list| list.dyn_into::<js_sys::Array>().ok())
            .map(|list| list.get(0))
            .filter(JsValue::is_object);
        entry
            .and_then(|entry| get(&entry, "serverTiming").dyn_into::<js_sys::Array>().ok())
            .map(|list| {
                list.iter()
                    .take(MAX_VALUES as usize)
                    .map(|metric| (text(&metric, "name"), text(&metric, "description")))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `content` of every `<meta name="traceparent">` on the page.
    pub(super) fn traceparent_metas() -> Vec<String> {
        let Some(document) = js_sys::global().dyn_into::<web_sys::Window>().ok().and_then(|w| w.document())
        else {
            return Vec::new();
        };
        let Ok(list) = document.query_selector_all("meta[name=\"traceparent\"]") else { return Vec::new() };
        (0..list.length().min(MAX_VALUES))
            .filter_map(|i| list.item(i)?.dyn_into::<web_sys::Element>().ok()?.get_attribute("content"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        Span as _, SpanId, TraceFlags, TraceId, TraceState, Tracer as _, TracerProvider as _,
    };

    use crate::trace::TracerProvider;

    fn context(trace: u128, span: u64, remote: bool) -> SpanContext {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            remote,
            TraceState::NONE,
        )
    }

    /// The span a vital would be: started under `parent`.
    fn child_of(parent: &Context) -> SpanContext {
        let provider = TracerProvider::builder().build();
        let tracer = provider.tracer("test");
        let span = tracer.start_with_context("fcp", parent);
        let context = span.span_context().clone();
        drop(span);
        context
    }

    #[test]
    fn document_load_wins_over_the_server_and_the_server_over_a_new_trace() {
        let load = context(1, 10, false);
        let server = context(1, 20, true);
        let cx = choose(Some(load.clone()), Some(server.clone()));
        assert_eq!(cx.span().span_context(), &load);
        assert_eq!(child_of(&cx).trace_id(), TraceId::from(1u128));
        assert_eq!(choose(None, Some(server.clone())).span().span_context(), &server);
        let root = choose(None, None);
        assert!(root.has_active_span(), "an explicit root, not an empty context");
        let child = child_of(&root);
        assert!(child.is_valid() && child.trace_id() != TraceId::from(1u128));
    }

    #[test]
    fn the_shared_state_answers_documentloads_context_once_it_has_started() {
        // Natively the page names no server span: a root until documentLoad starts.
        assert_eq!(read_server_parent(), None);
        #[cfg(feature = "document-load")]
        {
            let load = context(0x4bf9, 0xf067, false);
            document_load_started(load.clone());
            assert_eq!(parent().span().span_context(), &load);
            let child = child_of(&parent());
            assert_eq!(child.trace_id(), load.trace_id());
            let _ = STATE.try_with(|s| s.try_borrow_mut().map(|mut s| *s = State::default()));
        }
        assert!(!parent().span().span_context().is_valid());
    }

    #[test]
    #[cfg(any(feature = "interactions", feature = "soft-navigations"))]
    fn an_open_interaction_or_navigation_never_adopts_a_span_of_the_page_load() {
        use crate::instrument::ambient::{Idle, Kind, close, open};
        use crate::platform::clock;

        let provider = TracerProvider::builder().build();
        let tracer = provider.tracer("test");
        let click = tracer.start("click");
        let click_trace = click.span_context().trace_id();
        close(None);
        open(
            Kind::Interaction,
            Context::new().with_span(click),
            clock::monotonic_ms(),
            Idle::default(),
            true,
        );
        assert_eq!(child_of(&Context::new()).trace_id(), click_trace, "an empty context is adopted");
        let root = child_of(&choose(None, None));
        assert_ne!(root.trace_id(), click_trace, "the page load's root is not");
        let server = context(9, 9, true);
        assert_eq!(child_of(&choose(None, Some(server))).trace_id(), TraceId::from(9u128));
        close(None);
    }
}
