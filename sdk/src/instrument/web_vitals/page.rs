//! The page side (wasm32): the performance observers and event listeners behind each vital,
//! and when each is final.
//!
//! ```text
//!  activation (now, or prerenderingchange)
//!   ├─ paint ─────────▶ FCP (final at once) ──▶ starts CLS
//!   ├─ largest-contentful-paint (last of each batch, while visible)
//!   │     └─ first trusted keydown/click/visibilitychange ─▶ idle or hidden ─▶ LCP final
//!   ├─ layout-shift ──▶ session windows ─────────────┐
//!   ├─ event (≥ 40 ms) + first-input ─▶ interactions ├─ visibilitychange → hidden: take the
//!   ├─ long-animation-frame ─▶ INP attribution       ┘  pending records, report CLS and INP
//!   └─ load, then a task ─▶ TTFB (final at once)
//!  pageshow (persisted) ─▶ a new measurement of each, `back-forward-cache`
//! ```
//!
//! Every callback borrows the state with `try_borrow_mut` and collects its reports; spans are
//! recorded after the borrow ends, so nothing the span pipeline does can re-enter it.

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Reflect};
use opentelemetry::{Context, KeyValue};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use super::cls::{SessionWindows, Shift};
use super::inp::{EventEntry, Interaction, Interactions, LongFrame, Script};
use super::metric::{Metric, Vital, navigation_type};
use super::navigation::{LcpParts, NavigationTiming};
use super::report::{Report, emit};
use super::selector;
use crate::semconv;
use crate::trace::TracerProvider;

#[wasm_bindgen]
extern "C" {
    /// A `PerformanceObserver`, for the one call that may throw.
    type RawObserver;
    /// `observer.observe(options)`, which throws for options a browser does not know.
    #[wasm_bindgen(method, catch, js_name = observe)]
    fn observe_catching(this: &RawObserver, options: &Object) -> Result<(), JsValue>;
}

/// `web-vitals`' event duration threshold for INP: events of at least 40 ms (2.5 frames).
const DURATION_THRESHOLD_MS: f64 = 40.0;

/// An observer and its callback; disconnected when dropped.
struct Observer {
    observer: web_sys::PerformanceObserver,
    _callback: Closure<dyn FnMut(JsValue)>,
}

impl Observer {
    /// Records observed but not yet delivered.
    fn take(&self) -> Vec<JsValue> {
        self.observer.take_records().iter().collect()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

/// A listener on `window` (capture phase); removed when dropped.
struct Listener {
    target: web_sys::EventTarget,
    event: &'static str,
    closure: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback_and_bool(
            self.event,
            self.closure.as_ref().unchecked_ref(),
            true,
        );
    }
}

#[derive(Debug, Clone, PartialEq)]
struct LcpEntry {
    start_time: f64,
    url: String,
    target: Option<String>,
}

struct Lcp {
    metric: Metric,
    entry: Option<LcpEntry>,
    finalized: bool,
    finalize_pending: bool,
    observer: Option<Observer>,
}

struct Fcp {
    metric: Metric,
    observer: Option<Observer>,
}

struct Cls {
    metric: Metric,
    windows: SessionWindows,
    observer: Option<Observer>,
}

struct Inp {
    metric: Metric,
    interactions: Interactions,
    /// The interaction the value came from (`None` for a restored page's 8 ms stand-in).
    chosen: Option<Interaction>,
    observer: Option<Observer>,
    _long_frames: Option<Observer>,
    /// Without `performance.interactionCount`, the smallest and largest interaction ids seen
    /// (ids grow by 7 per interaction).
    count_estimate: Option<(Observer, f64, f64)>,
}

struct Page {
    provider: TracerProvider,
    /// The navigation entry, when it is valid.
    nav: Option<NavigationTiming>,
    nav_entry_type: String,
    path: String,
    first_hidden: f64,
    /// The page's clock when a bfcache restore started the current measurement.
    restored_at: Option<f64>,
    lcp: Option<Lcp>,
    fcp: Option<Fcp>,
    cls: Option<Cls>,
    inp: Option<Inp>,
    /// Whether TTFB was reported for the page load (so restores report one too).
    ttfb_reported: bool,
    _listeners: Vec<Listener>,
}

thread_local! {
    static PAGE: RefCell<Option<Page>> = const { RefCell::new(None) };
    /// The provider, until the page is activated.
    static PROVIDER: RefCell<Option<TracerProvider>> = const { RefCell::new(None) };
}

fn global() -> JsValue {
    js_sys::global().into()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn number(value: &JsValue, key: &str) -> f64 {
    get(value, key).as_f64().unwrap_or(0.0)
}

fn text(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}

fn performance() -> JsValue {
    get(&global(), "performance")
}

fn now() -> f64 {
    crate::platform::clock::monotonic_ms()
}

fn document() -> JsValue {
    get(&global(), "document")
}

fn prerendering() -> bool {
    get(&document(), "prerendering").is_truthy()
}

fn hidden() -> bool {
    text(&document(), "visibilityState") == "hidden"
}

fn still_loading() -> bool {
    text(&document(), "readyState") == "loading"
}

/// Calls `performance.<method>(args…)`, catching whatever it throws.
fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Option<JsValue> {
    let function = get(target, method).dyn_into::<Function>().ok()?;
    let args: Array = args.iter().collect();
    function.apply(target, &args).ok()
}

fn entries_by_type(kind: &str) -> Vec<JsValue> {
    call(&performance(), "getEntriesByType", &[kind.into()])
        .and_then(|list| list.dyn_into::<Array>().ok())
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

/// The navigation entry, if the browser has a valid one (a `responseStart` after zero and
/// before now: some browsers report 0, negative or future values).
fn navigation_entry() -> Option<(NavigationTiming, JsValue)> {
    let entry = entries_by_type("navigation").into_iter().next()?;
    let response_start = number(&entry, "responseStart");
    if !(response_start > 0.0 && response_start < now()) {
        return None;
    }
    let timing = NavigationTiming {
        activation_start: number(&entry, "activationStart"),
        worker_start: number(&entry, "workerStart"),
        fetch_start: number(&entry, "fetchStart"),
        domain_lookup_start: number(&entry, "domainLookupStart"),
        connect_start: number(&entry, "connectStart"),
        connect_end: number(&entry, "connectEnd"),
        response_start,
        dom_interactive: number(&entry, "domInteractive"),
        dom_content_loaded_event_start: number(&entry, "domContentLoadedEventStart"),
        dom_complete: number(&entry, "domComplete"),
    };
    Some((timing, entry))
}

fn path_of(url: &str) -> Option<String> {
    web_sys::Url::new(url).ok().map(|u| u.pathname())
}

fn location_path() -> String {
    text(&get(&global(), "location"), "pathname")
}

/// The entry types this browser can observe (none without `PerformanceObserver`).
fn supported(kind: &str) -> bool {
    let types = get(&get(&global(), "PerformanceObserver"), "supportedEntryTypes");
    types.dyn_into::<Array>().map(|types| types.includes(&kind.into(), 0)).unwrap_or(false)
}

/// Observes `kinds` (those supported; buffered) with `extra` options; `None` when none is.
fn observe(
    kinds: &[&str],
    extra: &[(&str, f64)],
    mut callback: impl FnMut(Vec<JsValue>) + 'static,
) -> Option<Observer> {
    let kinds: Vec<&str> = kinds.iter().copied().filter(|k| supported(k)).collect();
    if kinds.is_empty() {
        return None;
    }
    let several = kinds.len() > 1;
    let closure = Closure::<dyn FnMut(JsValue)>::new(move |list: JsValue| {
        let Some(entries) = call(&list, "getEntries", &[]).and_then(|e| e.dyn_into::<Array>().ok()) else {
            return;
        };
        let mut entries: Vec<JsValue> = entries.iter().collect();
        if several {
            // Entries of different types may come out of order: by end time (a stable sort).
            entries.sort_by(|a, b| {
                let end = |e: &JsValue| number(e, "startTime") + number(e, "duration");
                end(a).total_cmp(&end(b))
            });
        }
        callback(entries);
    });
    let observer = web_sys::PerformanceObserver::new(closure.as_ref().unchecked_ref()).ok()?;
    let observer = Observer { observer, _callback: closure };
    let mut observing = false;
    for kind in kinds {
        let options = Object::new();
        let _ = Reflect::set(&options, &"type".into(), &kind.into());
        let _ = Reflect::set(&options, &"buffered".into(), &true.into());
        for (key, value) in extra {
            let _ = Reflect::set(&options, &(*key).into(), &(*value).into());
        }
        observing |= observer.observer.unchecked_ref::<RawObserver>().observe_catching(&options).is_ok();
    }
    observing.then_some(observer)
}

fn listen(event: &'static str, handler: fn(web_sys::Event)) -> Option<Listener> {
    let target = global().dyn_into::<web_sys::EventTarget>().ok()?;
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    target.add_event_listener_with_callback_and_bool(event, closure.as_ref().unchecked_ref(), true).ok()?;
    Some(Listener { target, event, closure })
}

/// Runs `f` on the state and records the reports it returns once the state is released.
fn with_page(f: impl FnOnce(&mut Page) -> Vec<Report>) {
    let (reports, provider) = PAGE
        .try_with(|page| match page.try_borrow_mut() {
            Ok(mut page) => match page.as_mut() {
                Some(page) => {
                    let reports = f(page);
                    let provider = (!reports.is_empty()).then(|| page.provider.clone());
                    (reports, provider)
                }
                None => (Vec::new(), None),
            },
            Err(_) => (Vec::new(), None),
        })
        .unwrap_or_default();
    let Some(provider) = provider else { return };
    for report in &reports {
        emit(&provider, report, &parent_context(report));
    }
}

/// The trace a vital belongs to: the page load's ([`crate::instrument::page_load`]: the
/// `documentLoad` span, else the server's span that sent the HTML, else a new trace). A page
/// restored from the bfcache was not loaded: its measurements are traces of their own. INP and
/// CLS reported while a soft navigation is open (the page hidden while the new view loads)
/// are that navigation's children; the value is still the page's so far, as `web-vitals`
/// measures it. Never an open interaction (an explicit parent is never adopted).
fn parent_context(report: &Report) -> Context {
    if report.navigation_type == "back-forward-cache" {
        return crate::instrument::page_load::explicit_root();
    }
    #[cfg(feature = "soft-navigations")]
    if matches!(report.vital, Vital::Inp | Vital::Cls)
        && let Some(navigation) =
            crate::instrument::ambient::parent_of(Some(crate::instrument::ambient::Kind::Navigation))
    {
        return navigation;
    }
    crate::instrument::page_load::parent()
}

fn new_id() -> String {
    let mut random = [0u8; 8];
    crate::platform::random::fill(&mut random);
    let random = u64::from_ne_bytes(random) % 9_000_000_000_000 + 1_000_000_000_000;
    format!("ow1-{}-{random}", js_sys::Date::now() as u64)
}

/// Starts watching the page (once per page; silent without the APIs it needs).
pub(super) fn start(provider: &TracerProvider) {
    let started = PAGE.try_with(|p| p.try_borrow().map(|p| p.is_some()).unwrap_or(true)).unwrap_or(true);
    if started || !get(&global(), "PerformanceObserver").is_function() || !document().is_object() {
        return;
    }
    let _ = PROVIDER.try_with(|p| p.try_borrow_mut().map(|mut p| *p = Some(provider.clone())));
    if prerendering() {
        // Measured from activation: wait for it.
        // Kept for the page's life (activation happens once; `activate` is idempotent).
        if let Some(listener) = listen("prerenderingchange", |_| activate()) {
            std::mem::forget(listener);
        }
    } else {
        activate();
    }
}

fn initial_first_hidden(activation_start: f64) -> f64 {
    if !prerendering() {
        let hidden_entry = entries_by_type("visibility-state")
            .into_iter()
            .find(|e| text(e, "name") == "hidden" && number(e, "startTime") >= activation_start);
        if let Some(entry) = hidden_entry {
            return number(&entry, "startTime");
        }
    }
    if hidden() && !prerendering() { 0.0 } else { f64::INFINITY }
}

fn activate() {
    let already = PAGE.try_with(|p| p.try_borrow().map(|p| p.is_some()).unwrap_or(true)).unwrap_or(true);
    let provider = PROVIDER.try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.take())).ok().flatten();
    let Some(provider) = provider.filter(|_| !already) else { return };
    let nav = navigation_entry();
    let (timing, entry) = match &nav {
        Some((timing, entry)) => (Some(*timing), Some(entry.clone())),
        None => (None, None),
    };
    let path = entry.as_ref().and_then(|e| path_of(&text(e, "name"))).unwrap_or_else(location_path);
    let mut page = Page {
        provider,
        nav: timing,
        nav_entry_type: entry.as_ref().map(|e| text(e, "type")).unwrap_or_default(),
        path,
        first_hidden: initial_first_hidden(timing.map(|t| t.activation_start).unwrap_or(0.0)),
        restored_at: None,
        lcp: None,
        fcp: None,
        cls: None,
        inp: None,
        ttfb_reported: false,
        _listeners: Vec::new(),
    };
    let lcp_observer =
        observe(&["largest-contentful-paint"], &[], |entries| with_page(|p| p.on_lcp(entries)));
    if let Some(observer) = lcp_observer {
        page.lcp = Some(Lcp {
            metric: page.metric(Vital::Lcp, -1.0),
            entry: None,
            finalized: false,
            finalize_pending: false,
            observer: Some(observer),
        });
    }
    if let Some(observer) = observe(&["paint"], &[], |entries| with_page(|p| p.on_paint(entries))) {
        page.fcp = Some(Fcp { metric: page.metric(Vital::Fcp, -1.0), observer: Some(observer) });
    }
    page.inp = page.start_inp();
    let listeners = ["keydown", "click", "visibilitychange", "pageshow", "load"];
    page._listeners = listeners
        .into_iter()
        .filter_map(|event| {
            listen(event, |event: web_sys::Event| match event.type_().as_str() {
                "visibilitychange" => on_visibility(&event),
                "pageshow" => on_pageshow(&event),
                "load" => when_ready(),
                _ => on_input(&event),
            })
        })
        .collect();
    let _ = PAGE.try_with(|p| p.try_borrow_mut().map(|mut p| *p = Some(page)));
    when_ready();
}

fn on_input(event: &web_sys::Event) {
    if event.is_trusted() {
        schedule_lcp_finalization();
    }
}

/// LCP is final after the first trusted input or visibility change: once the page is idle (the
/// input's own work done), or at once if it is hidden.
fn schedule_lcp_finalization() {
    let mut schedule = None;
    with_page(|p| {
        if let Some(lcp) = &mut p.lcp
            && !lcp.finalized
            && !lcp.finalize_pending
        {
            lcp.finalize_pending = true;
            schedule = Some(lcp.metric.id.clone());
        }
        Vec::new()
    });
    let Some(id) = schedule else { return };
    if hidden() {
        with_page(|p| p.finalize_lcp(&id));
        return;
    }
    let run = Closure::once_into_js(move || with_page(|p| p.finalize_lcp(&id)));
    let idle = get(&global(), "requestIdleCallback");
    let options = Object::new();
    let _ = Reflect::set(&options, &"timeout".into(), &1000.into());
    let scheduled = match idle.dyn_ref::<Function>() {
        Some(idle) => idle.call2(&global(), &run, &options).is_ok(),
        None => false,
    };
    if !scheduled {
        let _ = call(&global(), "setTimeout", &[run, 0.into()]);
    }
}

fn on_visibility(event: &web_sys::Event) {
    if event.is_trusted() {
        schedule_lcp_finalization();
    }
    if !hidden() {
        return;
    }
    let at = event.time_stamp();
    with_page(|p| {
        let mut reports = Vec::new();
        if let Some(lcp) = &p.lcp
            && lcp.finalize_pending
            && !lcp.finalized
        {
            let id = lcp.metric.id.clone();
            reports.extend(p.finalize_lcp(&id));
        }
        reports.extend(p.on_hidden());
        if p.first_hidden.is_infinite() {
            p.first_hidden = at;
        }
        reports
    });
}

fn on_pageshow(event: &web_sys::Event) {
    if !get(event, "persisted").is_truthy() {
        return;
    }
    let at = event.time_stamp();
    with_page(|p| p.on_restore(at));
    // The hidden time resets once the page had a chance to become visible again.
    let reset = Closure::once_into_js(|| {
        with_page(|p| {
            p.first_hidden = if hidden() { 0.0 } else { f64::INFINITY };
            Vec::new()
        })
    });
    let _ = call(&global(), "setTimeout", &[reset, 0.into()]);
    // LCP and FCP of a restored page: the time to the frame after next.
    after_two_frames(move || {
        with_page(|p| {
            let value = now() - at;
            let mut reports = Vec::new();
            if let Some(lcp) = &mut p.lcp {
                lcp.metric.value = value;
                lcp.finalized = true;
            }
            if let Some(lcp) = &p.lcp {
                let id = lcp.metric.id.clone();
                reports.extend(p.report_lcp(&id));
            }
            if let Some(fcp) = &mut p.fcp {
                fcp.metric.value = value;
            }
            reports.extend(p.report_fcp(None));
            reports
        })
    });
}

fn after_two_frames(f: impl FnOnce() + 'static) {
    let frame = get(&global(), "requestAnimationFrame");
    let Some(frame) = frame.dyn_ref::<Function>().cloned() else { return };
    let inner = frame.clone();
    let first = Closure::once_into_js(move || {
        let second = Closure::once_into_js(f);
        let _ = inner.call1(&global(), &second);
    });
    let _ = frame.call1(&global(), &first);
}

/// TTFB once the page has loaded (in a task after `load`, so `loadEventEnd` is set).
fn when_ready() {
    let reported = PAGE
        .try_with(|p| p.try_borrow().map(|p| p.as_ref().is_none_or(|p| p.ttfb_reported)).unwrap_or(true))
        .unwrap_or(true);
    if reported || text(&document(), "readyState") != "complete" {
        return; // the `load` listener calls again
    }
    let run = Closure::once_into_js(|| with_page(Page::report_ttfb));
    let _ = call(&global(), "setTimeout", &[run, 0.into()]);
}

fn interaction_count(inp: &Inp) -> f64 {
    match &inp.count_estimate {
        Some((_, min, max)) if *max > 0.0 => (max - min) / 7.0 + 1.0,
        Some(_) => 0.0,
        None => number(&performance(), "interactionCount"),
    }
}

impl Page {
    fn navigation_type(&self) -> &'static str {
        if self.restored_at.is_some() {
            "back-forward-cache"
        } else if self.nav.is_some() {
            if prerendering() || self.nav.is_some_and(|n| n.activation_start > 0.0) {
                "prerender"
            } else if get(&document(), "wasDiscarded").is_truthy() {
                "restore"
            } else {
                navigation_type(&self.nav_entry_type)
            }
        } else {
            "navigate"
        }
    }

    fn metric(&self, vital: Vital, value: f64) -> Metric {
        Metric::new(vital, value, new_id(), self.navigation_type())
    }

    /// Where the current measurement starts on the page's clock.
    fn origin(&self) -> f64 {
        match self.restored_at {
            Some(at) => at,
            None => self.nav.map(|n| n.activation_start).unwrap_or(0.0),
        }
    }

    fn activation_start(&self) -> f64 {
        self.nav.map(|n| n.activation_start).unwrap_or(0.0)
    }

    fn report(
        &self,
        metric: &mut Metric,
        (start, end): (f64, f64),
        attributes: Vec<KeyValue>,
    ) -> Option<Report> {
        let reported = metric.report()?;
        Some(Report {
            vital: metric.vital,
            reported,
            id: metric.id.clone(),
            navigation_type: metric.navigation_type,
            path: self.path.clone(),
            start,
            end,
            attributes,
        })
    }

    fn load_state(&self, time: f64) -> &'static str {
        match &self.nav {
            _ if still_loading() => "loading",
            Some(nav) => nav.load_state(time, false),
            None => "complete",
        }
    }

    // ---- LCP ----

    fn on_lcp(&mut self, entries: Vec<JsValue>) -> Vec<Report> {
        let activation = self.activation_start();
        let first_hidden = self.first_hidden;
        let Some(lcp) = &mut self.lcp else { return Vec::new() };
        // Only the last entry of a batch counts.
        let Some(entry) = entries.last() else { return Vec::new() };
        let start_time = number(entry, "startTime");
        let element = get(entry, "element");
        let target = if element.is_object() {
            Some(selector::of_node(&element))
        } else {
            Some(text(entry, "id")).filter(|id| !id.is_empty()).map(|id| format!("#{id}"))
        };
        if start_time < first_hidden {
            lcp.metric.value = (start_time - activation).max(0.0);
            lcp.entry = Some(LcpEntry { start_time, url: text(entry, "url"), target });
        }
        Vec::new()
    }

    fn finalize_lcp(&mut self, id: &str) -> Vec<Report> {
        let Some(lcp) = &mut self.lcp else { return Vec::new() };
        if lcp.finalized {
            return Vec::new();
        }
        lcp.observer = None;
        if lcp.metric.id != id {
            return Vec::new();
        }
        lcp.finalized = true;
        self.report_lcp(id).into_iter().collect()
    }

    fn report_lcp(&mut self, id: &str) -> Option<Report> {
        let origin = self.origin();
        let restored = self.restored_at.is_some();
        let nav = self.nav;
        let lcp = self.lcp.as_mut()?;
        if lcp.metric.id != id {
            return None;
        }
        let value = lcp.metric.value;
        let mut attributes = Vec::new();
        let parts = match (&lcp.entry, nav) {
            (Some(entry), nav) if !restored => {
                if let Some(target) = &entry.target {
                    attributes.push(KeyValue::new(semconv::OTELWEB_WEB_VITAL_TARGET, target.clone()));
                }
                let resource =
                    if entry.url.is_empty() { None } else { lcp_resource(&entry.url, entry.start_time) };
                if !entry.url.is_empty() {
                    attributes.push(KeyValue::new(
                        semconv::OTELWEB_WEB_VITAL_LCP_URL,
                        crate::fetch::url::redact(&entry.url),
                    ));
                }
                match nav {
                    Some(nav) => nav.lcp_parts(value, resource),
                    None => LcpParts::all_render(value),
                }
            }
            _ => LcpParts::all_render(value),
        };
        attributes.extend([
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_TIME_TO_FIRST_BYTE, parts.time_to_first_byte),
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_LCP_RESOURCE_LOAD_DELAY, parts.resource_load_delay),
            KeyValue::new(
                semconv::OTELWEB_WEB_VITAL_LCP_RESOURCE_LOAD_DURATION,
                parts.resource_load_duration,
            ),
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_LCP_ELEMENT_RENDER_DELAY, parts.element_render_delay),
        ]);
        let mut metric = lcp.metric.clone();
        let report = self.report(&mut metric, (origin, origin + value), attributes);
        if let Some(lcp) = &mut self.lcp {
            lcp.metric = metric;
        }
        report
    }

    // ---- FCP (and the start of CLS) ----

    fn on_paint(&mut self, entries: Vec<JsValue>) -> Vec<Report> {
        let activation = self.activation_start();
        let first_hidden = self.first_hidden;
        let Some(fcp) = &mut self.fcp else { return Vec::new() };
        let mut found = None;
        for entry in &entries {
            if text(entry, "name") == "first-contentful-paint" {
                fcp.observer = None;
                let start_time = number(entry, "startTime");
                if start_time < first_hidden {
                    fcp.metric.value = (start_time - activation).max(0.0);
                    found = Some(start_time);
                }
            }
        }
        match found {
            Some(start_time) => self.report_fcp(Some(start_time)),
            None => Vec::new(),
        }
    }

    fn report_fcp(&mut self, entry_time: Option<f64>) -> Vec<Report> {
        let origin = self.origin();
        let Some(fcp) = &self.fcp else { return Vec::new() };
        let value = fcp.metric.value;
        let (ttfb, load_state) = match (entry_time, self.nav) {
            (Some(time), Some(nav)) => (nav.ttfb(), self.load_state(time)),
            _ => (0.0, self.load_state(self.restored_at.unwrap_or(-1.0))),
        };
        let attributes = vec![
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_TIME_TO_FIRST_BYTE, ttfb),
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_FCP_FIRST_BYTE_TO_FCP, value - ttfb),
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_LOAD_STATE, load_state),
        ];
        let mut metric = fcp.metric.clone();
        let report = self.report(&mut metric, (origin, origin + value), attributes);
        if let Some(fcp) = &mut self.fcp {
            fcp.metric = metric;
        }
        if report.is_some() && self.cls.is_none() {
            // CLS is reported only for pages that painted (as CrUX does).
            self.start_cls();
        }
        report.into_iter().collect()
    }

    // ---- CLS ----

    fn start_cls(&mut self) {
        let observer = observe(&["layout-shift"], &[], |entries| with_page(|p| p.on_shifts(entries)));
        if let Some(observer) = observer {
            self.cls = Some(Cls {
                metric: self.metric(Vital::Cls, 0.0),
                windows: SessionWindows::default(),
                observer: Some(observer),
            });
        }
    }

    fn on_shifts(&mut self, entries: Vec<JsValue>) -> Vec<Report> {
        let Some(cls) = &mut self.cls else { return Vec::new() };
        for entry in &entries {
            let had_recent_input = get(entry, "hadRecentInput").is_truthy();
            let target = if had_recent_input { None } else { shift_target(entry) };
            cls.windows.add(Shift {
                start_time: number(entry, "startTime"),
                value: number(entry, "value"),
                had_recent_input,
                target,
            });
        }
        cls.windows.update();
        if cls.windows.value > cls.metric.value {
            cls.metric.value = cls.windows.value;
        }
        Vec::new()
    }

    fn report_cls(&mut self) -> Option<Report> {
        let cls = self.cls.as_ref()?;
        let mut attributes = Vec::new();
        let (start, end) = match (cls.windows.entries.first(), cls.windows.entries.last()) {
            (Some(first), Some(last)) => (first.start_time, last.start_time),
            _ => (now(), now()),
        };
        if let Some(largest) = cls.windows.largest_shift() {
            if let Some(target) = &largest.target {
                attributes.push(KeyValue::new(semconv::OTELWEB_WEB_VITAL_TARGET, target.clone()));
            }
            attributes.extend([
                KeyValue::new(semconv::OTELWEB_WEB_VITAL_CLS_LARGEST_SHIFT_VALUE, largest.value),
                KeyValue::new(semconv::OTELWEB_WEB_VITAL_CLS_LARGEST_SHIFT_TIME, largest.start_time),
                KeyValue::new(semconv::OTELWEB_WEB_VITAL_LOAD_STATE, self.load_state(largest.start_time)),
            ]);
        }
        let mut metric = cls.metric.clone();
        let report = self.report(&mut metric, (start, end), attributes);
        if let Some(cls) = &mut self.cls {
            cls.metric = metric;
        }
        report
    }

    // ---- INP ----

    fn start_inp(&self) -> Option<Inp> {
        // Interaction ids are what INP is made of: without them, no INP.
        let prototype = get(&get(&global(), "PerformanceEventTiming"), "prototype");
        if !prototype.is_object() || !Reflect::has(&prototype, &"interactionId".into()).unwrap_or(false) {
            return None;
        }
        let count_estimate = if Reflect::has(&performance(), &"interactionCount".into()).unwrap_or(false) {
            None
        } else {
            observe(&["event"], &[("durationThreshold", 0.0)], |entries| {
                with_page(|p| {
                    p.estimate_interactions(&entries);
                    Vec::new()
                })
            })
            .map(|observer| (observer, f64::INFINITY, 0.0))
        };
        let observer =
            observe(&["event", "first-input"], &[("durationThreshold", DURATION_THRESHOLD_MS)], |entries| {
                with_page(|p| p.on_events(entries))
            })?;
        let long_frames =
            observe(&["long-animation-frame"], &[], |entries| with_page(|p| p.on_long_frames(entries)));
        Some(Inp {
            metric: self.metric(Vital::Inp, -1.0),
            interactions: Interactions::default(),
            chosen: None,
            observer: Some(observer),
            _long_frames: long_frames,
            count_estimate,
        })
    }

    /// The interaction count polyfill's bookkeeping.
    fn estimate_interactions(&mut self, entries: &[JsValue]) {
        let Some(Inp { count_estimate: Some((_, min, max)), .. }) = &mut self.inp else { return };
        for entry in entries {
            let id = number(entry, "interactionId");
            if id > 0.0 {
                *min = min.min(id);
                *max = max.max(id);
            }
        }
    }

    fn on_events(&mut self, entries: Vec<JsValue>) -> Vec<Report> {
        let restored = self.restored_at.is_some();
        let Some(inp) = &mut self.inp else { return Vec::new() };
        for entry in &entries {
            let node = get(entry, "target");
            let target = if node.is_object() {
                Some(selector::of_node(&node))
            } else {
                Some(text(entry, "targetSelector")).filter(|s| !s.is_empty())
            };
            inp.interactions.process(EventEntry::new(
                text(entry, "name"),
                number(entry, "startTime"),
                number(entry, "duration"),
                (number(entry, "processingStart"), number(entry, "processingEnd")),
                number(entry, "interactionId") as u64,
                target,
            ));
        }
        update_inp(inp, restored);
        inp.interactions.clean_up();
        Vec::new()
    }

    fn on_long_frames(&mut self, entries: Vec<JsValue>) -> Vec<Report> {
        let Some(inp) = &mut self.inp else { return Vec::new() };
        inp.interactions.add_long_frames(entries.iter().map(|frame| {
            LongFrame {
                start_time: number(frame, "startTime"),
                duration: number(frame, "duration"),
                style_and_layout_start: number(frame, "styleAndLayoutStart"),
                scripts: get(frame, "scripts")
                    .dyn_into::<Array>()
                    .map(|scripts| {
                        scripts
                            .iter()
                            .map(|s| Script {
                                start_time: number(&s, "startTime"),
                                duration: number(&s, "duration"),
                                forced_style_and_layout_duration: number(&s, "forcedStyleAndLayoutDuration"),
                                invoker: text(&s, "invoker"),
                                invoker_type: text(&s, "invokerType"),
                                source_url: text(&s, "sourceURL"),
                                source_function_name: text(&s, "sourceFunctionName"),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        }));
        inp.interactions.clean_up();
        Vec::new()
    }

    fn report_inp(&mut self) -> Option<Report> {
        let nav_start = self.origin();
        let inp = self.inp.as_ref()?;
        let value = inp.metric.value;
        let attribution = inp.chosen.as_ref().and_then(|chosen| inp.interactions.attribute(chosen));
        let mut attributes = Vec::new();
        let (start, load_state) = match &attribution {
            Some(a) => {
                if let Some(target) = &a.target {
                    attributes.push(KeyValue::new(semconv::OTELWEB_WEB_VITAL_TARGET, target.clone()));
                }
                attributes.extend([
                    KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_EVENT_TYPE, a.event_type.clone()),
                    KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_INTERACTION_TYPE, a.interaction_type),
                    KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_INPUT_DELAY, a.input_delay),
                    KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_PROCESSING_DURATION, a.processing_duration),
                    KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_PRESENTATION_DELAY, a.presentation_delay),
                    KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_LONG_FRAMES, a.long_frames as i64),
                ]);
                if let Some(scripts) = &a.scripts {
                    if let Some((script, within, subpart)) = &scripts.longest {
                        attributes.extend([
                            KeyValue::new(
                                semconv::OTELWEB_WEB_VITAL_INP_SCRIPT_SOURCE_URL,
                                crate::fetch::url::redact(&script.source_url),
                            ),
                            KeyValue::new(
                                semconv::OTELWEB_WEB_VITAL_INP_SCRIPT_FUNCTION_NAME,
                                script.source_function_name.clone(),
                            ),
                            KeyValue::new(
                                semconv::OTELWEB_WEB_VITAL_INP_SCRIPT_INVOKER,
                                script.invoker.clone(),
                            ),
                            KeyValue::new(
                                semconv::OTELWEB_WEB_VITAL_INP_SCRIPT_INVOKER_TYPE,
                                script.invoker_type.clone(),
                            ),
                            KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_SCRIPT_DURATION, *within),
                            KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_SCRIPT_SUBPART, *subpart),
                        ]);
                    }
                    attributes.extend([
                        KeyValue::new(
                            semconv::OTELWEB_WEB_VITAL_INP_TOTAL_SCRIPT_DURATION,
                            scripts.total_script_duration,
                        ),
                        KeyValue::new(
                            semconv::OTELWEB_WEB_VITAL_INP_TOTAL_STYLE_AND_LAYOUT_DURATION,
                            scripts.total_style_and_layout_duration,
                        ),
                    ]);
                }
                (a.interaction_time, self.load_state(a.interaction_time))
            }
            None => {
                attributes.extend([
                    KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_INPUT_DELAY, 0.0),
                    KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_PROCESSING_DURATION, 0.0),
                    KeyValue::new(semconv::OTELWEB_WEB_VITAL_INP_PRESENTATION_DELAY, value),
                ]);
                (nav_start, self.load_state(nav_start))
            }
        };
        attributes.push(KeyValue::new(semconv::OTELWEB_WEB_VITAL_LOAD_STATE, load_state));
        let mut metric = inp.metric.clone();
        let report = self.report(&mut metric, (start, start + value.max(0.0)), attributes);
        if let Some(inp) = &mut self.inp {
            inp.metric = metric;
        }
        report
    }

    // ---- TTFB ----

    fn report_ttfb(&mut self) -> Vec<Report> {
        if self.ttfb_reported {
            return Vec::new();
        }
        // Read again: the entry is complete now.
        let Some((nav, _)) = navigation_entry() else { return Vec::new() };
        self.nav = Some(nav);
        self.ttfb_reported = true;
        let value = nav.ttfb();
        let parts = nav.ttfb_parts(value);
        let attributes = vec![
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_WAITING_DURATION, parts.waiting),
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_CACHE_DURATION, parts.cache),
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_DNS_DURATION, parts.dns),
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_CONNECTION_DURATION, parts.connection),
            KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_REQUEST_DURATION, parts.request),
        ];
        let mut metric = self.metric(Vital::Ttfb, value);
        let origin = nav.activation_start;
        self.report(&mut metric, (origin, origin + value), attributes).into_iter().collect()
    }

    // ---- page lifecycle ----

    /// The page is hidden: CLS and INP are final until it is shown again.
    fn on_hidden(&mut self) -> Vec<Report> {
        let restored = self.restored_at.is_some();
        let shifts = self.cls.as_ref().and_then(|c| c.observer.as_ref()).map(Observer::take);
        if let Some(shifts) = shifts {
            self.on_shifts(shifts);
        }
        let events = self.inp.as_ref().and_then(|i| i.observer.as_ref()).map(Observer::take);
        self.on_events(events.unwrap_or_default());
        if let Some(inp) = &mut self.inp {
            update_inp(inp, restored);
        }
        self.report_cls().into_iter().chain(self.report_inp()).collect()
    }

    /// A bfcache restore: each vital starts a new measurement.
    fn on_restore(&mut self, at: f64) -> Vec<Report> {
        self.restored_at = Some(at);
        self.path = location_path();
        if self.lcp.is_some() {
            let metric = self.metric(Vital::Lcp, -1.0);
            if let Some(lcp) = &mut self.lcp {
                lcp.metric = metric;
                lcp.entry = None;
                lcp.finalized = false;
                lcp.finalize_pending = false;
            }
        }
        if self.fcp.is_some() {
            let metric = self.metric(Vital::Fcp, -1.0);
            if let Some(fcp) = &mut self.fcp {
                fcp.metric = metric;
            }
        }
        if self.cls.is_some() {
            let metric = self.metric(Vital::Cls, 0.0);
            if let Some(cls) = &mut self.cls {
                cls.metric = metric;
                cls.windows.reset();
            }
        }
        if self.inp.is_some() {
            let metric = self.metric(Vital::Inp, -1.0);
            if let Some(inp) = &mut self.inp {
                let count = interaction_count(inp);
                inp.interactions.reset(count);
                inp.metric = metric;
                inp.chosen = None;
            }
        }
        if self.ttfb_reported {
            let mut metric = self.metric(Vital::Ttfb, 0.0);
            let attributes = vec![
                KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_WAITING_DURATION, 0.0),
                KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_CACHE_DURATION, 0.0),
                KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_DNS_DURATION, 0.0),
                KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_CONNECTION_DURATION, 0.0),
                KeyValue::new(semconv::OTELWEB_WEB_VITAL_TTFB_REQUEST_DURATION, 0.0),
            ];
            return self.report(&mut metric, (at, at), attributes).into_iter().collect();
        }
        Vec::new()
    }
}

/// Takes the p98 interaction as INP if its latency changed.
fn update_inp(inp: &mut Inp, restored: bool) {
    let count = interaction_count(inp);
    if let Some((latency, index)) = inp.interactions.p98(count, restored)
        && latency != inp.metric.value
    {
        inp.metric.value = latency;
        inp.chosen = index.and_then(|i| inp.interactions.candidate(i)).cloned();
    }
}

/// The LCP element's resource timing entry: the latest of its URL requested before the paint.
fn lcp_resource(url: &str, lcp_time: f64) -> Option<(f64, f64)> {
    let entries = call(&performance(), "getEntriesByName", &[url.into(), "resource".into()])
        .and_then(|list| list.dyn_into::<Array>().ok())?;
    entries.iter().rev().find_map(|e| {
        let request_start = number(&e, "requestStart");
        let requested = if request_start != 0.0 { request_start } else { number(&e, "startTime") };
        (requested <= lcp_time).then(|| (requested, number(&e, "responseEnd")))
    })
}

/// The selector of a shift's largest source: its first element source, else its first.
fn shift_target(entry: &JsValue) -> Option<String> {
    let sources = get(entry, "sources").dyn_into::<Array>().ok()?;
    let source = sources
        .iter()
        .find(|s| number(&get(s, "node"), "nodeType") == 1.0)
        .or_else(|| sources.iter().next())?;
    let node = get(&source, "node");
    node.is_object().then(|| selector::of_node(&node))
}
