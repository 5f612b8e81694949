//! `softNavigations` (feature `soft-navigations`): route changes of a single-page app as
//! `navigation` spans, from the change to the new view's next idle point, parenting the
//! fetches (and anything else started without a parent) of the new view.
//!
//! ```text
//!  click  (a[href="/notifications"])           ← the interaction that changed the route
//!   └─ /notifications  (the route template, else `navigation`) url.full=…/notifications,
//!                      otelweb.navigation.from=…/, otelweb.navigation.type=push, url.template
//!      └─ load notifications                   ← the new view's work
//!         └─ GET /api/activities/notifications
//! ```
//!
//! # What counts as a route change
//!
//! Where the browser has the Navigation API, its `currententrychange` event: every
//! same-document change of the current history entry — `history.pushState`/`replaceState`,
//! back/forward within the app, intercepted navigations — with its `navigationType`
//! (`push`, `replace`, `traverse`, `reload`). Elsewhere (or with `navigationApi: false`),
//! `history.pushState` and `replaceState` are wrapped (the originals are kept, always called,
//! and their exceptions reach the caller unchanged) and `popstate` is `traverse`. A change
//! that leaves the URL as it was (`replaceState` to save scroll state) is not a navigation.
//! Full page loads are `documentLoad`'s.
//!
//! # The span
//!
//! Name `navigation`, INTERNAL; a child of the span current at the change, else of the open
//! interaction (a click on a link), else a new trace. Attributes: `url.full` (the new URL,
//! redacted as fetch URLs are), `url.path`,
//! [`otelweb.navigation.from`](crate::semconv::OTELWEB_NAVIGATION_FROM) (the previous URL,
//! redacted), [`otelweb.navigation.type`](crate::semconv::OTELWEB_NAVIGATION_TYPE), and
//! `url.template` when the app names the route with [`set_route_template_for`] (before or
//! after the URL changes) or [`set_route_template`] (after); a router integration does it for
//! every route.
//!
//! It opens an ambient scope (see [`super::ambient`] for the mechanism and its limits): spans
//! started without a parent until the new view is idle — no traced fetch of the trace in
//! flight and nothing new for `quietMs` (100 ms), at most `maxDurationMs` (10 s) — are its
//! children, and it ends at the last of them. A newer navigation ends it at once; so does a
//! new interaction.
//!
//! **Routers that render first.** The span starts when the URL changes. A router that renders
//! the new view (and starts its data loading) *before* it changes the URL — Leptos' router
//! does — starts that work while only the click is open: it becomes the click's child and the
//! navigation's sibling, still in the same trace. The span then covers the URL change to the
//! view's idle point; a router integration that tells the SDK when navigation starts is the
//! fix.
//!
//! Options: `quietMs` (100), `maxDurationMs` (10000), `navigationApi` (true: use the
//! Navigation API where the browser has it).
// The browser side uses the rest; natively only the logic's tests do.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use super::ambient::{DEFAULT_MAX_MS, DEFAULT_QUIET_MS, Idle};
use super::{Instrumentation, Options};
use crate::error::ConfigError;
use crate::trace::TracerProvider;

/// The `softNavigations` instrumentation; [`crate::init`] starts it when the feature is on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SoftNavigations;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Settings {
    idle: Idle,
    navigation_api: bool,
}

fn settings(options: &Options) -> Result<Settings, ConfigError> {
    const KEYS: &[&str] = &["quietMs", "maxDurationMs", "navigationApi"];
    if let Some(key) = options.keys().find(|k| !KEYS.contains(k)) {
        return Err(ConfigError::field(
            "instrumentations.softNavigations",
            format!("no option {key:?}; known: {}", KEYS.join(", ")),
        ));
    }
    Ok(Settings {
        idle: Idle {
            quiet_ms: options.number(
                "instrumentations.softNavigations.quietMs",
                "quietMs",
                DEFAULT_QUIET_MS,
                (10.0, 10_000.0),
            )?,
            max_ms: options.number(
                "instrumentations.softNavigations.maxDurationMs",
                "maxDurationMs",
                DEFAULT_MAX_MS,
                (100.0, 600_000.0),
            )?,
        },
        navigation_api: options.bool(
            "instrumentations.softNavigations.navigationApi",
            "navigationApi",
            true,
        )?,
    })
}

impl Instrumentation for SoftNavigations {
    fn name(&self) -> &'static str {
        "softNavigations"
    }

    fn check(&self, options: &Options) -> Result<(), ConfigError> {
        settings(options).map(|_| ())
    }

    fn start(&self, provider: &TracerProvider, options: &Options) {
        let Ok(settings) = settings(options) else { return };
        #[cfg(target_arch = "wasm32")]
        imp::install(provider, settings);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (provider, settings);
    }
}

/// Names the route of the current navigation (`/@:handle`): `url.template` on its span, if
/// it is still open. Returns whether there was one.
pub fn set_route_template(template: &str) -> bool {
    #[cfg(target_arch = "wasm32")]
    return imp::set_route_template(None, template);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = template;
        false
    }
}

/// Names the route of the navigation to `path` (`/@andrewbrown` → `/@:handle`), whichever
/// comes first: routers that match the route before they change the URL call it before the
/// navigation starts, and it is applied when the URL changes to `path` (within
/// [`PENDING_TEMPLATE_MS`]); called after, it names the open navigation to `path`. Returns
/// whether a navigation was named now.
pub fn set_route_template_for(path: &str, template: &str) -> bool {
    #[cfg(target_arch = "wasm32")]
    return imp::set_route_template(Some(path), template);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (path, template);
        false
    }
}

/// How long a template given before its navigation waits for it.
pub const PENDING_TEMPLATE_MS: f64 = 1_000.0;

/// `otelweb.navigation.type` for a Navigation API `navigationType` (anything else is
/// `unknown`).
fn navigation_type(raw: Option<&str>) -> &'static str {
    match raw {
        Some("push") => "push",
        Some("replace") => "replace",
        Some("traverse") => "traverse",
        Some("reload") => "reload",
        _ => "unknown",
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::cell::RefCell;

    use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
    use opentelemetry::{Context, InstrumentationScope, KeyValue};
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};

    use super::super::ambient::{self, Kind};
    use super::{Settings, navigation_type};
    use crate::fetch::url::redact;
    use crate::platform::clock;
    use crate::semconv;
    use crate::trace::{Tracer, TracerProvider};

    type Patch = Closure<dyn FnMut(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>;

    struct State {
        tracer: Tracer,
        settings: Settings,
        /// The URL as last seen.
        href: String,
        /// The latest navigation's scope and path.
        latest: Option<(u64, String)>,
        /// A template given for a path before the navigation to it: path, template, when.
        pending: Option<(String, String, f64)>,
    }

    /// What keeps the hooks alive (installed once per page).
    #[derive(Default)]
    struct Hooks {
        installed: bool,
        _event: Option<Closure<dyn FnMut(web_sys::Event)>>,
        _patches: Vec<Patch>,
    }

    thread_local! {
        static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
        static HOOKS: RefCell<Hooks> = RefCell::new(Hooks::default());
    }

    fn get(target: &JsValue, key: &str) -> Option<JsValue> {
        js_sys::Reflect::get(target, &key.into()).ok().filter(|v| !v.is_undefined() && !v.is_null())
    }

    fn location_href() -> Option<String> {
        get(&get(&js_sys::global(), "location")?, "href")?.as_string()
    }

    pub(super) fn install(provider: &TracerProvider, settings: Settings) {
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("otel-web.soft-navigations")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let Some(href) = location_href() else { return };
        let _ = STATE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = Some(State { tracer, settings, href, latest: None, pending: None });
            }
        });
        let _ = HOOKS.try_with(|hooks| {
            let Ok(mut hooks) = hooks.try_borrow_mut() else { return };
            if hooks.installed {
                return;
            }
            hooks.installed = true;
            let navigation = get(&js_sys::global(), "navigation")
                .filter(|n| get(n, "addEventListener").is_some() && get(n, "currentEntry").is_some());
            match navigation.filter(|_| settings.navigation_api) {
                Some(navigation) => {
                    let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                        let kind = get(&event, "navigationType").and_then(|t| t.as_string());
                        let from =
                            get(&event, "from").and_then(|f| get(&f, "url")).and_then(|u| u.as_string());
                        let to = get(&navigation, "currentEntry")
                            .and_then(|e| get(&e, "url"))
                            .and_then(|u| u.as_string());
                        if let Some(to) = to.or_else(location_href) {
                            changed(from, to, navigation_type(kind.as_deref()));
                        }
                    });
                    if let Some(target) = get(&js_sys::global(), "navigation")
                        .and_then(|n| n.dyn_into::<web_sys::EventTarget>().ok())
                        && target
                            .add_event_listener_with_callback(
                                "currententrychange",
                                listener.as_ref().unchecked_ref(),
                            )
                            .is_ok()
                    {
                        hooks._event = Some(listener);
                    }
                }
                None => {
                    hooks._patches = ["pushState", "replaceState"].into_iter().filter_map(patch).collect();
                    let listener = Closure::<dyn FnMut(web_sys::Event)>::new(|_| {
                        if let Some(to) = location_href() {
                            changed(None, to, "traverse");
                        }
                    });
                    if let Ok(window) = js_sys::global().dyn_into::<web_sys::EventTarget>()
                        && window
                            .add_event_listener_with_callback("popstate", listener.as_ref().unchecked_ref())
                            .is_ok()
                    {
                        hooks._event = Some(listener);
                    }
                }
            }
        });
    }

    /// Wraps `history[method]`: the original is always called with the caller's arguments, its
    /// result or exception goes back unchanged, and a changed URL is a navigation.
    fn patch(method: &'static str) -> Option<Patch> {
        let history = get(&js_sys::global(), "history")?;
        let original: js_sys::Function = get(&history, method)?.dyn_into().ok()?;
        let kind = if method == "pushState" { "push" } else { "replace" };
        let this = history.clone();
        let patched: Patch = Closure::new(move |state: JsValue, unused: JsValue, url: JsValue| {
            let result = if url.is_undefined() {
                original.call2(&this, &state, &unused)
            } else {
                original.call3(&this, &state, &unused, &url)
            };
            if result.is_ok()
                && let Some(to) = location_href()
            {
                changed(None, to, kind);
            }
            result
        });
        js_sys::Reflect::set(&history, &method.into(), patched.as_ref()).ok()?;
        Some(patched)
    }

    /// The URL changed from `from` (or the last one seen) to `to`.
    fn changed(from: Option<String>, to: String, kind: &'static str) {
        let prepared = STATE
            .try_with(|s| {
                let mut s = s.try_borrow_mut().ok()?;
                let state = s.as_mut()?;
                let from = from.unwrap_or_else(|| state.href.clone());
                state.href = to.clone();
                (from != to).then(|| (from, state.tracer.clone(), state.settings.idle))
            })
            .ok()
            .flatten();
        let Some((from, tracer, idle)) = prepared else { return };
        // The previous navigation is over; an interaction that caused this one stays open.
        ambient::close(Some(Kind::Navigation));
        let now = clock::monotonic_ms();
        let mut attributes = vec![
            KeyValue::new(semconv::URL_FULL, redact(&to)),
            KeyValue::new(semconv::OTELWEB_NAVIGATION_FROM, redact(&from)),
            KeyValue::new(semconv::OTELWEB_NAVIGATION_TYPE, kind),
        ];
        let path = web_sys::Url::new(&to).map(|url| url.pathname()).unwrap_or_default();
        if !path.is_empty() {
            attributes.push(KeyValue::new(semconv::URL_PATH, path.clone()));
        }
        // A template the router gave before it changed the URL.
        let template = STATE
            .try_with(|s| {
                let mut s = s.try_borrow_mut().ok()?;
                let (for_path, template, at) = s.as_mut()?.pending.take()?;
                (for_path == path && now - at <= super::PENDING_TEMPLATE_MS).then_some(template)
            })
            .ok()
            .flatten();
        // Named by its route template when the app gave one (`/@:handle`), else `navigation`.
        let name: std::borrow::Cow<'static, str> = match template {
            Some(template) => {
                attributes.push(KeyValue::new(semconv::URL_TEMPLATE, template.clone()));
                template.into()
            }
            None => "navigation".into(),
        };
        // No parent given: the tracer takes the open interaction, if any.
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_start_time(clock::to_system_time(clock::mono_to_unix_nanos(now)))
            .with_attributes(attributes)
            .start_with_context(&tracer, &Context::current());
        let scope = ambient::open(Kind::Navigation, Context::current().with_span(span), now, idle, false);
        let _ = STATE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut()
                && let Some(state) = s.as_mut()
            {
                state.latest = Some((scope, path));
            }
        });
    }

    pub(super) fn set_route_template(path: Option<&str>, template: &str) -> bool {
        let open = STATE
            .try_with(|s| {
                let mut s = s.try_borrow_mut().ok()?;
                let state = s.as_mut()?;
                let latest = state
                    .latest
                    .as_ref()
                    .filter(|(_, p)| path.is_none_or(|path| path == p))
                    .and_then(|(scope, _)| ambient::context_of(*scope));
                if latest.is_none()
                    && let Some(path) = path
                {
                    state.pending = Some((path.to_owned(), template.to_owned(), clock::monotonic_ms()));
                }
                latest
            })
            .ok()
            .flatten();
        match open {
            Some(cx) => {
                let span = cx.span();
                span.set_attribute(KeyValue::new(semconv::URL_TEMPLATE, template.to_owned()));
                span.update_name(template.to_owned());
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigation_types_are_the_navigation_apis_or_unknown() {
        assert_eq!(navigation_type(Some("push")), "push");
        assert_eq!(navigation_type(Some("traverse")), "traverse");
        assert_eq!(navigation_type(Some("teleport")), "unknown");
        assert_eq!(navigation_type(None), "unknown");
    }

    #[test]
    fn options_are_checked_by_name_and_type() {
        assert_eq!(settings(&Options::default()).map(|s| s.navigation_api), Ok(true));
        assert!(settings(&Options::default().with("navigationApi", 1.0)).is_err());
        let err = settings(&Options::default().with("idleMs", 5.0)).expect_err("unknown");
        assert!(err.to_string().contains("maxDurationMs"), "{err}");
    }
}
