//! Reading the page load from the browser's performance timeline: the navigation entry and the
//! resource entries (the server's `traceparent` is read by [`crate::instrument::page_load`]).
//!
//! Everything is read through `Reflect` and called with JS exceptions caught, so a browser
//! without an API (or a page that replaced it) yields nothing instead of throwing; a field
//! that is missing, not a number, negative or not finite reads as 0 ("not exposed").

use wasm_bindgen::{JsCast, JsValue};

use crate::platform::timer;

/// The timings of one fetch (the document's or a resource's), in `performance.now()`
/// milliseconds; 0 means the browser did not expose the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Fetch {
    /// The URL.
    pub(super) url: String,
    pub(super) start_time: f64,
    pub(super) fetch_start: f64,
    pub(super) domain_lookup_start: f64,
    pub(super) domain_lookup_end: f64,
    pub(super) connect_start: f64,
    pub(super) secure_connection_start: f64,
    pub(super) connect_end: f64,
    pub(super) request_start: f64,
    pub(super) response_start: f64,
    pub(super) response_end: f64,
    pub(super) transfer_size: f64,
    pub(super) encoded_body_size: f64,
    pub(super) decoded_body_size: f64,
    /// The ALPN id (`http/1.1`, `h2`, `h3`); empty when not exposed.
    pub(super) next_hop_protocol: String,
    /// `responseStatus` (0 when not exposed).
    pub(super) response_status: f64,
    /// What started it (`script`, `link`, `css`, `img`, `fetch`, `navigation`…).
    pub(super) initiator_type: String,
}

impl Fetch {
    /// The network phases as `(event name, time)` in the order they happen, without those the
    /// browser did not expose (the traced fetch's rule: [`crate::fetch::timing::network_phases`]).
    pub(super) fn phases(&self) -> Vec<(&'static str, f64)> {
        crate::fetch::timing::network_phases([
            self.fetch_start,
            self.domain_lookup_start,
            self.domain_lookup_end,
            self.connect_start,
            self.secure_connection_start,
            self.connect_end,
            self.request_start,
            self.response_start,
            self.response_end,
        ])
    }
}

/// The navigation entry: the document's own fetch and what happened to the document after.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Navigation {
    /// The document's fetch.
    pub(super) fetch: Fetch,
    pub(super) unload_event_start: f64,
    pub(super) unload_event_end: f64,
    pub(super) dom_interactive: f64,
    pub(super) dom_content_loaded_event_start: f64,
    pub(super) dom_content_loaded_event_end: f64,
    pub(super) dom_complete: f64,
    pub(super) load_event_start: f64,
    pub(super) load_event_end: f64,
}

impl Navigation {
    /// The document's milestones as `(event name, time)`, in order, without those not exposed.
    pub(super) fn milestones(&self) -> Vec<(&'static str, f64)> {
        [
            ("fetchStart", self.fetch.fetch_start),
            ("unloadEventStart", self.unload_event_start),
            ("unloadEventEnd", self.unload_event_end),
            ("domInteractive", self.dom_interactive),
            ("domContentLoadedEventStart", self.dom_content_loaded_event_start),
            ("domContentLoadedEventEnd", self.dom_content_loaded_event_end),
            ("domComplete", self.dom_complete),
            ("loadEventStart", self.load_event_start),
            ("loadEventEnd", self.load_event_end),
        ]
        .into_iter()
        .filter(|(_, t)| *t > 0.0)
        .collect()
    }
}

/// `performance`, if the global has one.
fn performance() -> Option<JsValue> {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok().filter(JsValue::is_object)
}

/// `performance.getEntriesByType(kind)`; empty when there is no such API, it throws, or it
/// returns something that is not an array.
fn entries(kind: &str) -> Vec<JsValue> {
    let Some(performance) = performance() else { return Vec::new() };
    js_sys::Reflect::get(&performance, &"getEntriesByType".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call1(&performance, &kind.into()).ok())
        .and_then(|list| list.dyn_into::<js_sys::Array>().ok())
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

/// A field as a time or size: 0 unless it is a finite, non-negative number.
fn number(entry: &JsValue, field: &str) -> f64 {
    js_sys::Reflect::get(entry, &field.into())
        .ok()
        .and_then(|v| v.as_f64())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(0.0)
}

/// A field as text: empty unless it is a string.
fn text(entry: &JsValue, field: &str) -> String {
    js_sys::Reflect::get(entry, &field.into()).ok().and_then(|v| v.as_string()).unwrap_or_default()
}

fn fetch(entry: &JsValue) -> Fetch {
    Fetch {
        url: text(entry, "name"),
        start_time: number(entry, "startTime"),
        fetch_start: number(entry, "fetchStart"),
        domain_lookup_start: number(entry, "domainLookupStart"),
        domain_lookup_end: number(entry, "domainLookupEnd"),
        connect_start: number(entry, "connectStart"),
        secure_connection_start: number(entry, "secureConnectionStart"),
        connect_end: number(entry, "connectEnd"),
        request_start: number(entry, "requestStart"),
        response_start: number(entry, "responseStart"),
        response_end: number(entry, "responseEnd"),
        transfer_size: number(entry, "transferSize"),
        encoded_body_size: number(entry, "encodedBodySize"),
        decoded_body_size: number(entry, "decodedBodySize"),
        next_hop_protocol: text(entry, "nextHopProtocol"),
        response_status: number(entry, "responseStatus"),
        initiator_type: text(entry, "initiatorType"),
    }
}

/// The navigation entry, if the browser has one.
pub(super) fn navigation() -> Option<Navigation> {
    let entry = entries("navigation").into_iter().next().filter(JsValue::is_object)?;
    Some(Navigation {
        fetch: fetch(&entry),
        unload_event_start: number(&entry, "unloadEventStart"),
        unload_event_end: number(&entry, "unloadEventEnd"),
        dom_interactive: number(&entry, "domInteractive"),
        dom_content_loaded_event_start: number(&entry, "domContentLoadedEventStart"),
        dom_content_loaded_event_end: number(&entry, "domContentLoadedEventEnd"),
        dom_complete: number(&entry, "domComplete"),
        load_event_start: number(&entry, "loadEventStart"),
        load_event_end: number(&entry, "loadEventEnd"),
    })
}

/// The resource entries the browser holds.
pub(super) fn resources() -> Vec<Fetch> {
    entries("resource").iter().filter(|e| e.is_object()).map(fetch).collect()
}

/// Waits until the `load` event has ended and returns the navigation entry; `None` without one
/// (or when `loadEventEnd` never gets set within `retries` tasks after `load`).
pub(super) async fn after_load(retries: u32) -> Option<Navigation> {
    let window = js_sys::global().dyn_into::<web_sys::Window>().ok()?;
    let document = window.document()?;
    if document.ready_state() != "complete" {
        load_event(&window).await?;
    }
    for _ in 0..=retries {
        let navigation = navigation()?;
        if navigation.load_event_end > 0.0 {
            return Some(navigation);
        }
        // `loadEventEnd` is set once the load handlers have returned: look again a task later.
        timer::sleep(0).await;
    }
    None
}

/// Resolves once `window` fires `load`; the listener is removed either way.
async fn load_event(window: &web_sys::Window) -> Option<()> {
    use std::cell::RefCell;
    use wasm_bindgen::closure::Closure;

    let (sender, receiver) = crate::sync::oneshot();
    let sender = RefCell::new(Some(sender));
    let listener = Closure::<dyn FnMut()>::new(move || {
        if let Some(sender) = sender.try_borrow_mut().ok().and_then(|mut s| s.take()) {
            sender.send(());
        }
    });
    window.add_event_listener_with_callback("load", listener.as_ref().unchecked_ref()).ok()?;
    let fired = receiver.await;
    let _ = window.remove_event_listener_with_callback("load", listener.as_ref().unchecked_ref());
    fired
}
