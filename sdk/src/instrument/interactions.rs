//! `interactions` (feature `interactions`): clicks, form submits and key activations on
//! interactive elements as spans that **parent the work their handlers start** — fetches and
//! spans begun synchronously in the handler and in the futures it spawns — without Zone.js and
//! without the app passing a context.
//!
//! ```text
//!  click  (app.widget.id = "#compose-post", otelweb.widget.tag = "button", app.widget.name = "Crud")
//!   │ event: submit              ← the form's submit, fired by the click's activation
//!   └─ post activity             ← the app's span, started in a spawned future, no parent given
//!      └─ POST /api/activities   ← the traced fetch
//!         └─ [backend SERVER span → SQL]
//! ```
//!
//! # How a span finds its interaction
//!
//! A capture-phase listener on `window` sees `click`, `submit` and `keydown` before any
//! handler of the app. It starts the span (at the event's `timeStamp`, so input delay is
//! included) and opens an *ambient scope* ([`super::ambient`]) for it: until the interaction is
//! over, any span started without a parent — synchronously in a handler, or later in a future
//! the handler spawned with `wasm_bindgen_futures::spawn_local` (Leptos actions and resources
//! included) — gets the interaction's span as parent, and so do the traced fetches inside it,
//! which carry its trace to the backend. The dispatch ends in a bubble-phase listener on
//! `window` that is moved to the end of the listener list at every event, so it runs after the
//! app's handlers (Leptos delegates its handlers to `window` too); a timer is the fallback when
//! a handler stops propagation.
//!
//! The interaction is over at its idle point: the dispatch has ended, no traced fetch of its
//! trace is in flight, and nothing started for `quietMs` (100 ms). Its span ends at the last
//! thing that happened, so **a click that starts no work is a short span** (the handlers' time)
//! and one that fetches lasts until its last fetch settled; at most `maxDurationMs` (10 s). A
//! newer interaction ends it at once.
//!
//! The limits are those of the ambient scope (see [`super::ambient`]): work started without a
//! parent in the window is adopted even if the click did not cause it (a polling timer), and
//! work started after the window is not. [`crate::spawn_local`] is exact: it captures the
//! interaction when called and carries it into every poll of the future.
//!
//! # Which events
//!
//! - `click` on an interactive element (`a[href]`, `button`, `input`, `select`, `textarea`,
//!   `summary`, `label`, elements with an ARIA widget role, `[onclick]`, `[tabindex]`), found
//!   from the target with `closest`, so a click on the icon inside a button is the button's.
//!   Clicks elsewhere are not recorded (the SDK cannot see handlers added by frameworks that
//!   delegate to `window`).
//! - `submit` of a form. A submit fired by a click on the form's submit button (or by Enter in
//!   its input, which the browser turns into a click) belongs to that click: it is an event
//!   `submit` on the `click` span, and the submit handler's work is the click's.
//! - `keydown` of Enter or Space on an element with an ARIA widget role or a `tabindex` that
//!   the browser does not activate itself (for buttons and links it fires a `click`, which is
//!   recorded instead). Key repeats are ignored.
//!
//! Synthetic events (`element.click()`, `dispatchEvent`) are recorded like the user's.
//!
//! # What a span holds
//!
//! Name: the event type (`click`, `submit`, `keydown`). `app.widget.id`: a stable selector
//! (`#id` when the element or an ancestor has one, else `tag.class:nth-of-type(n)` steps, at
//! most 6 steps and 256 characters); `app.widget.name`: the `aria-label`, or the text of a
//! button (value of an `input` button), whitespace collapsed, at most 64 characters — never
//! the text of links or other elements, which may be the user's content;
//! [`otelweb.widget.tag`](crate::semconv::OTELWEB_WIDGET_TAG);
//! [`otelweb.interaction.key`](crate::semconv::OTELWEB_INTERACTION_KEY) for key activations;
//! [`otelweb.interaction.rage_count`](crate::semconv::OTELWEB_INTERACTION_RAGE_COUNT) on a
//! *rage click*: the `rageClickCount`-th (3) click on one element within `rageClickWindowMs`
//! (1 s).
//!
//! Options: `quietMs` (100), `maxDurationMs` (10000), `rageClickCount` (3),
//! `rageClickWindowMs` (1000).
// The browser side uses the rest; natively only the logic's tests do.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::collections::VecDeque;

use super::ambient::{DEFAULT_MAX_MS, DEFAULT_QUIET_MS, Idle};
use super::{Instrumentation, Options};
use crate::error::ConfigError;
use crate::trace::TracerProvider;

/// Longest selector recorded in `app.widget.id`.
pub const MAX_SELECTOR_LEN: usize = 256;
/// Most steps (elements) in a selector.
const MAX_SELECTOR_DEPTH: usize = 6;
/// Most classes per step.
const MAX_CLASSES: usize = 2;
/// Longest `app.widget.name`, in characters.
const MAX_NAME_CHARS: usize = 64;

/// The `interactions` instrumentation; [`crate::init`] starts it when the feature is on.
///
/// ```no_run
/// use otel_web::instrument::{Instrumentation, Options, interactions::Interactions};
/// # let provider = otel_web::TracerProvider::builder().build();
/// Interactions.start(&provider, &Options::default());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Interactions;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Settings {
    idle: Idle,
    rage_count: u32,
    rage_window_ms: f64,
}

fn settings(options: &Options) -> Result<Settings, ConfigError> {
    const KEYS: &[&str] = &["quietMs", "maxDurationMs", "rageClickCount", "rageClickWindowMs"];
    if let Some(key) = options.keys().find(|k| !KEYS.contains(k)) {
        return Err(ConfigError::field(
            "instrumentations.interactions",
            format!("no option {key:?}; known: {}", KEYS.join(", ")),
        ));
    }
    Ok(Settings {
        idle: Idle {
            quiet_ms: options.number(
                "instrumentations.interactions.quietMs",
                "quietMs",
                DEFAULT_QUIET_MS,
                (10.0, 10_000.0),
            )?,
            max_ms: options.number(
                "instrumentations.interactions.maxDurationMs",
                "maxDurationMs",
                DEFAULT_MAX_MS,
                (100.0, 600_000.0),
            )?,
        },
        rage_count: options.number(
            "instrumentations.interactions.rageClickCount",
            "rageClickCount",
            3.0,
            (2.0, 100.0),
        )? as u32,
        rage_window_ms: options.number(
            "instrumentations.interactions.rageClickWindowMs",
            "rageClickWindowMs",
            1_000.0,
            (1.0, 60_000.0),
        )?,
    })
}

impl Instrumentation for Interactions {
    fn name(&self) -> &'static str {
        "interactions"
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

/// One element on the way from the target up, as the selector needs it.
#[derive(Debug, Clone, PartialEq, Default)]
struct Step {
    tag: String,
    id: Option<String>,
    classes: Vec<String>,
    /// Its position among siblings of the same tag (1-based), when it has any.
    nth_of_type: Option<usize>,
}

/// A CSS identifier for `value`, escaped as `CSS.escape` does.
fn escape_ident(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let chars: Vec<char> = value.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let code = c as u32;
        match c {
            '\0' => out.push('\u{FFFD}'),
            _ if (1..=0x1f).contains(&code) || code == 0x7f => out.push_str(&format!("\\{code:x} ")),
            '0'..='9' if i == 0 || (i == 1 && chars[0] == '-') => out.push_str(&format!("\\{code:x} ")),
            '-' if i == 0 && chars.len() == 1 => out.push_str("\\-"),
            _ if code >= 0x80 || c == '-' || c == '_' || c.is_ascii_alphanumeric() => out.push(c),
            _ => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out
}

/// One step of a selector: `#id`, or `tag.class:nth-of-type(n)`.
fn step_selector(step: &Step) -> String {
    if let Some(id) = &step.id {
        return format!("#{}", escape_ident(id));
    }
    let mut out = escape_ident(&step.tag);
    for class in step.classes.iter().take(MAX_CLASSES) {
        out.push('.');
        out.push_str(&escape_ident(class));
    }
    if let Some(n) = step.nth_of_type {
        out.push_str(&format!(":nth-of-type({n})"));
    }
    out
}

/// The selector for the first of `steps` (target first, ancestors after): up to the first step
/// with an id, at most [`MAX_SELECTOR_DEPTH`] steps and [`MAX_SELECTOR_LEN`] bytes (the
/// outermost steps go first; a single step too long is cut).
fn selector(steps: &[Step]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for step in steps.iter().take(MAX_SELECTOR_DEPTH) {
        parts.push(step_selector(step));
        if step.id.is_some() {
            break;
        }
    }
    let mut len = parts.iter().map(String::len).sum::<usize>() + parts.len().saturating_sub(1) * 3;
    while len > MAX_SELECTOR_LEN && parts.len() > 1 {
        if let Some(outer) = parts.pop() {
            len -= outer.len() + 3;
        }
    }
    parts.reverse();
    let mut out = parts.join(" > ");
    if out.len() > MAX_SELECTOR_LEN {
        let mut cut = MAX_SELECTOR_LEN;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// `app.widget.name` from a label: whitespace collapsed, at most [`MAX_NAME_CHARS`]; `None`
/// when empty.
fn widget_name(raw: &str) -> Option<String> {
    let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let name: String = collapsed.chars().take(MAX_NAME_CHARS).collect();
    (!name.is_empty()).then_some(name)
}

/// The key name for an activation key (`KeyboardEvent.key`).
fn activation_key(key: &str) -> Option<&'static str> {
    match key {
        "Enter" => Some("Enter"),
        " " | "Spacebar" => Some("Space"),
        _ => None,
    }
}

/// Recent clicks, to tell rage clicks.
#[derive(Debug, Default)]
struct Rage {
    recent: VecDeque<(String, f64)>,
}

impl Rage {
    /// Records a click on `selector` at `at`; returns how many clicks on it fell within
    /// `window_ms` when that reaches `threshold`.
    fn click(&mut self, selector: &str, at: f64, threshold: u32, window_ms: f64) -> Option<u32> {
        while self.recent.front().is_some_and(|(_, t)| at - t > window_ms || *t > at) {
            self.recent.pop_front();
        }
        self.recent.push_back((selector.to_owned(), at));
        while self.recent.len() > 100 {
            self.recent.pop_front();
        }
        let count = self.recent.iter().filter(|(s, _)| s == selector).count() as u32;
        (count >= threshold).then_some(count)
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::cell::RefCell;

    use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
    use opentelemetry::{Context, InstrumentationScope, KeyValue};
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    use super::super::ambient::{self, Kind};
    use super::{Rage, Settings, Step, activation_key, selector, widget_name};
    use crate::platform::{clock, timer};
    use crate::semconv;
    use crate::trace::{Tracer, TracerProvider};

    /// What `closest` looks for when a click lands.
    const INTERACTIVE: &str = "a[href],button,input,select,textarea,summary,label,[role=button],[role=link],\
        [role=menuitem],[role=menuitemcheckbox],[role=menuitemradio],[role=tab],[role=checkbox],[role=radio],\
        [role=switch],[role=option],[onclick],[tabindex]";
    /// Elements the browser activates itself on Enter/Space (it fires a click).
    const NATIVE: &str = "a[href],button,input,select,textarea,summary";
    /// Elements whose Enter/Space activation is the page's to implement.
    const KEY_ACTIVATABLE: &str = "[role=button],[role=link],[role=menuitem],[role=menuitemcheckbox],\
        [role=menuitemradio],[role=tab],[role=checkbox],[role=radio],[role=switch],[role=option],[tabindex]";
    const EVENTS: [&str; 3] = ["click", "submit", "keydown"];

    type Listener = Closure<dyn FnMut(web_sys::Event)>;

    struct Latest {
        scope: u64,
        target: web_sys::Element,
        /// The task that dispatched it has not ended (its timer has not fired).
        same_task: bool,
    }

    struct State {
        tracer: Tracer,
        settings: Settings,
        rage: Rage,
        latest: Option<Latest>,
        /// The event being dispatched and its scope, for the bubble listener.
        dispatching: Option<(web_sys::Event, u64)>,
    }

    struct Listeners {
        window: web_sys::EventTarget,
        _capture: Listener,
        bubble: Listener,
    }

    thread_local! {
        static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
        static LISTENERS: RefCell<Option<Listeners>> = const { RefCell::new(None) };
    }

    pub(super) fn install(provider: &TracerProvider, settings: Settings) {
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("otel-web.interactions")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let _ = STATE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = Some(State { tracer, settings, rage: Rage::default(), latest: None, dispatching: None });
            }
        });
        let installed =
            LISTENERS.try_with(|l| l.try_borrow().map(|l| l.is_some()).unwrap_or(true)).unwrap_or(true);
        if installed {
            return;
        }
        let Ok(window) = js_sys::global().dyn_into::<web_sys::EventTarget>() else { return };
        if js_sys::Reflect::get(&window, &"document".into()).map_or(true, |d| d.is_undefined()) {
            return; // a worker: no user interactions
        }
        let capture: Listener = Closure::new(on_capture);
        let bubble: Listener = Closure::new(on_bubble);
        for event in EVENTS {
            let _ = window.add_event_listener_with_callback_and_bool(
                event,
                capture.as_ref().unchecked_ref(),
                true,
            );
        }
        let _ = LISTENERS.try_with(|l| {
            l.try_borrow_mut().map(|mut l| *l = Some(Listeners { window, _capture: capture, bubble }))
        });
    }

    fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
        STATE.try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.as_mut().map(f))).ok().flatten()
    }

    /// Moves the bubble listener for `event` to the end of `window`'s list, so it runs after
    /// every handler registered so far (the list is copied when the bubble phase reaches it).
    fn listen_for_dispatch_end(event: &str) {
        let _ = LISTENERS.try_with(|l| {
            if let Ok(l) = l.try_borrow()
                && let Some(l) = l.as_ref()
            {
                let f = l.bubble.as_ref().unchecked_ref();
                let _ = l.window.remove_event_listener_with_callback(event, f);
                let _ = l.window.add_event_listener_with_callback(event, f);
            }
        });
    }

    fn on_bubble(event: web_sys::Event) {
        let ended = with_state(|state| match &state.dispatching {
            Some((e, scope)) if js_sys::Object::is(e, &event) => {
                let scope = *scope;
                state.dispatching = None;
                Some(scope)
            }
            _ => None,
        })
        .flatten();
        if let Some(scope) = ended {
            ambient::dispatch_ended(scope, clock::monotonic_ms());
        }
    }

    fn on_capture(event: web_sys::Event) {
        let Some(target) = event.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else { return };
        let kind = event.type_();
        match kind.as_str() {
            "submit" if !fold_submit(&event, &target) => begin(&event, "submit", target, None),
            "click" => {
                if let Ok(Some(element)) = target.closest(INTERACTIVE) {
                    begin(&event, "click", element, None);
                }
            }
            "keydown" => {
                let read = |key: &str| js_sys::Reflect::get(&event, &key.into()).ok();
                if read("repeat").and_then(|r| r.as_bool()).unwrap_or(false) {
                    return;
                }
                let Some(key) = read("key").and_then(|k| k.as_string()) else { return };
                let Some(key) = activation_key(&key) else { return };
                let Ok(Some(element)) = target.closest(KEY_ACTIVATABLE) else { return };
                if element.matches(NATIVE).unwrap_or(true) {
                    return;
                }
                begin(&event, "keydown", element, Some(key));
            }
            _ => {}
        }
    }

    /// A submit fired by the latest click (same task, its form): an event on the click's span.
    fn fold_submit(event: &web_sys::Event, form: &web_sys::Element) -> bool {
        let scope = with_state(|state| {
            let latest = state.latest.as_ref().filter(|l| l.same_task)?;
            let its_form = latest.target.closest("form").ok().flatten()?;
            js_sys::Object::is(&its_form, form).then_some(latest.scope)
        })
        .flatten();
        let Some(scope) = scope else { return false };
        if !ambient::dispatch_again(scope) {
            return false;
        }
        if let Some(cx) = ambient::context_of(scope) {
            cx.span().add_event("submit", vec![]);
        }
        with_state(|state| state.dispatching = Some((event.clone(), scope)));
        listen_for_dispatch_end("submit");
        end_of_task(scope);
        true
    }

    fn begin(
        event: &web_sys::Event,
        name: &'static str,
        element: web_sys::Element,
        key: Option<&'static str>,
    ) {
        let now = clock::monotonic_ms();
        // The event's own time, when it is plausible: input delay belongs to the interaction.
        let stamp = event.time_stamp();
        let start = if stamp.is_finite() && stamp > 0.0 && stamp <= now && now - stamp < 10_000.0 {
            stamp
        } else {
            now
        };
        let widget = selector(&steps(&element));
        let tag = element.tag_name().to_ascii_lowercase();
        let mut attributes = vec![
            KeyValue::new(semconv::APP_WIDGET_ID, widget.clone()),
            KeyValue::new(semconv::OTELWEB_WIDGET_TAG, tag),
        ];
        if let Some(name) = label(&element) {
            attributes.push(KeyValue::new(semconv::APP_WIDGET_NAME, name));
        }
        if let Some(key) = key {
            attributes.push(KeyValue::new(semconv::OTELWEB_INTERACTION_KEY, key));
        }
        // A new interaction: whatever the user did before is over.
        ambient::close(None);
        let started = with_state(|state| {
            if name == "click"
                && let Some(count) =
                    state.rage.click(&widget, start, state.settings.rage_count, state.settings.rage_window_ms)
            {
                attributes.push(KeyValue::new(semconv::OTELWEB_INTERACTION_RAGE_COUNT, i64::from(count)));
            }
            let span = state
                .tracer
                .span_builder(name)
                .with_kind(SpanKind::Internal)
                .with_start_time(clock::to_system_time(clock::mono_to_unix_nanos(start)))
                .with_attributes(std::mem::take(&mut attributes))
                .start_with_context(&state.tracer, &Context::current());
            (Context::current().with_span(span), state.settings.idle)
        });
        let Some((cx, idle)) = started else { return };
        let scope = ambient::open(Kind::Interaction, cx, start, idle, true);
        with_state(|state| {
            state.latest = Some(Latest { scope, target: element, same_task: true });
            state.dispatching = Some((event.clone(), scope));
        });
        listen_for_dispatch_end(name);
        end_of_task(scope);
    }

    /// After the dispatching task: no more folding into `scope`, and its dispatch is over even
    /// if the bubble listener never ran (propagation stopped).
    fn end_of_task(scope: u64) {
        crate::sync::spawn(async move {
            timer::sleep(0).await;
            with_state(|state| {
                if let Some(latest) = state.latest.as_mut().filter(|l| l.scope == scope) {
                    latest.same_task = false;
                }
                if state.dispatching.as_ref().is_some_and(|(_, s)| *s == scope) {
                    state.dispatching = None;
                }
            });
            ambient::dispatch_ended(scope, clock::monotonic_ms());
        });
    }

    /// The element and its ancestors, as the selector needs them.
    fn steps(element: &web_sys::Element) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut next = Some(element.clone());
        while let Some(el) = next {
            if steps.len() >= super::MAX_SELECTOR_DEPTH {
                break;
            }
            let tag = el.tag_name().to_ascii_lowercase();
            if tag == "html" || tag == "body" {
                break;
            }
            let id = Some(el.id()).filter(|id| !id.is_empty());
            let has_id = id.is_some();
            let classes = el
                .get_attribute("class")
                .map(|c| c.split_whitespace().take(super::MAX_CLASSES).map(str::to_owned).collect())
                .unwrap_or_default();
            steps.push(Step { nth_of_type: nth_of_type(&el, &tag), tag, id, classes });
            if has_id {
                break;
            }
            next = el.parent_element();
        }
        steps
    }

    /// `el`'s position among its same-tag siblings, when it has some (at most 1000 looked at).
    fn nth_of_type(el: &web_sys::Element, tag: &str) -> Option<usize> {
        let same = |e: &web_sys::Element| e.tag_name().eq_ignore_ascii_case(tag);
        let mut index = 1;
        let mut sibling = el.previous_element_sibling();
        while let Some(s) = sibling {
            index += usize::from(same(&s));
            if index > 1000 {
                break;
            }
            sibling = s.previous_element_sibling();
        }
        let mut later = el.next_element_sibling();
        let mut has_later = false;
        for _ in 0..1000 {
            let Some(s) = later else { break };
            if same(&s) {
                has_later = true;
                break;
            }
            later = s.next_element_sibling();
        }
        (index > 1 || has_later).then_some(index)
    }

    /// `aria-label`, or a button's text (an input button's value); never other elements' text.
    fn label(el: &web_sys::Element) -> Option<String> {
        if let Some(aria) = el.get_attribute("aria-label").and_then(|a| widget_name(&a)) {
            return Some(aria);
        }
        let tag = el.tag_name().to_ascii_lowercase();
        let input_type = el.get_attribute("type").unwrap_or_default().to_ascii_lowercase();
        let raw = match tag.as_str() {
            "button" => js_sys::Reflect::get(el, &"textContent".into()).ok()?.as_string()?,
            "input" if matches!(input_type.as_str(), "submit" | "button" | "reset") => {
                el.get_attribute("value")?
            }
            _ => return None,
        };
        widget_name(&raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(tag: &str, id: Option<&str>, classes: &[&str], nth: Option<usize>) -> Step {
        Step {
            tag: tag.into(),
            id: id.map(Into::into),
            classes: classes.iter().map(|c| (*c).to_owned()).collect(),
            nth_of_type: nth,
        }
    }

    #[test]
    fn selectors_stop_at_the_nearest_id_and_count_same_tag_siblings() {
        let steps = [
            step("button", None, &["primary", "big", "third"], Some(2)),
            step("div", None, &["compose-bar"], None),
            step("form", Some("compose"), &["compose"], None),
            step("main", None, &[], None),
        ];
        assert_eq!(selector(&steps), "#compose > div.compose-bar > button.primary.big:nth-of-type(2)");
        assert_eq!(selector(&[step("button", Some("compose-post"), &["x"], None)]), "#compose-post");
        assert_eq!(selector(&[step("a", None, &[], None)]), "a");
    }

    #[test]
    fn identifiers_are_escaped_as_css_escape_does() {
        assert_eq!(escape_ident("compose-post"), "compose-post");
        assert_eq!(escape_ident("1st"), "\\31 st");
        assert_eq!(escape_ident("-2"), "-\\32 ");
        assert_eq!(escape_ident("-"), "\\-");
        assert_eq!(escape_ident("a.b:c"), "a\\.b\\:c");
        assert_eq!(escape_ident("é"), "é");
    }

    #[test]
    fn widget_names_are_collapsed_and_bounded() {
        assert_eq!(widget_name("  Crud \n "), Some("Crud".into()));
        assert_eq!(widget_name(" \t "), None);
        assert_eq!(widget_name(&"é".repeat(100)).map(|n| n.chars().count()), Some(MAX_NAME_CHARS));
    }

    #[test]
    fn only_enter_and_space_activate() {
        assert_eq!(activation_key("Enter"), Some("Enter"));
        assert_eq!(activation_key(" "), Some("Space"));
        assert_eq!(activation_key("a"), None);
        assert_eq!(activation_key("Tab"), None);
    }

    #[test]
    fn the_third_click_on_one_target_within_a_second_is_a_rage_click() {
        let mut rage = Rage::default();
        assert_eq!(rage.click("#a", 0.0, 3, 1000.0), None);
        assert_eq!(rage.click("#b", 100.0, 3, 1000.0), None);
        assert_eq!(rage.click("#a", 200.0, 3, 1000.0), None);
        assert_eq!(rage.click("#a", 300.0, 3, 1000.0), Some(3));
        assert_eq!(rage.click("#a", 400.0, 3, 1000.0), Some(4));
        assert_eq!(rage.click("#a", 5_000.0, 3, 1000.0), None, "the window moved on");
    }

    #[test]
    fn options_are_checked_by_name_and_range() {
        assert!(settings(&Options::default()).is_ok());
        let err = settings(&Options::default().with("quiet", 5.0)).expect_err("unknown");
        assert!(err.to_string().contains("quietMs"), "{err}");
        assert!(settings(&Options::default().with("rageClickCount", 1.0)).is_err());
        let s = settings(&Options::default().with("maxDurationMs", 2_000.0)).expect("valid");
        assert_eq!(s.idle.max_ms, 2_000.0);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// Reads a CSS identifier back (the inverse of `escape_ident`, for the tests).
        fn unescape(value: &str) -> String {
            let mut out = String::new();
            let mut chars = value.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                let mut hex = String::new();
                while hex.len() < 6 && chars.peek().is_some_and(char::is_ascii_hexdigit) {
                    hex.extend(chars.next());
                }
                if hex.is_empty() {
                    out.extend(chars.next());
                } else {
                    if chars.peek() == Some(&' ') {
                        chars.next();
                    }
                    out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                }
            }
            out
        }

        proptest! {
            #[test]
            fn escaped_identifiers_read_back_as_written(value in "\\PC{0,40}") {
                prop_assert_eq!(unescape(&escape_ident(&value)).replace('\u{FFFD}', "\0"), value.replace('\u{FFFD}', "\0"));
            }

            #[test]
            fn selectors_are_bounded_whatever_the_page(
                tags in proptest::collection::vec("[a-z]{1,300}", 1..10),
                ids in proptest::collection::vec(proptest::option::of("\\PC{1,400}"), 1..10),
                classes in proptest::collection::vec("\\PC{0,200}", 0..5),
            ) {
                let steps: Vec<Step> = tags.iter().zip(ids.iter().chain(std::iter::repeat(&None))).map(|(tag, id)| Step {
                    tag: tag.clone(),
                    id: id.clone(),
                    classes: classes.clone(),
                    nth_of_type: Some(3),
                }).collect();
                let s = selector(&steps);
                prop_assert!(s.len() <= MAX_SELECTOR_LEN, "{} bytes", s.len());
                prop_assert!(!s.is_empty());
            }
        }
    }
}
