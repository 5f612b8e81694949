//! Matching a fetch to the browser's `PerformanceResourceTiming` entry.
//!
//! A `PerformanceObserver` collects `fetch` entries as the browser creates them (observers
//! keep receiving entries after the resource timing buffer is full, unlike
//! `getEntriesByName`). A finished fetch claims the entry with its URL whose `startTime` is the
//! earliest at or after the moment the fetch was called: two fetches of one URL in flight at once
//! each get their own, and an entry is never claimed twice.
//!
//! The entry is also how a traced fetch learns that its response body has ended, without
//! cloning (and so tee-ing) the body the caller reads: the browser creates it at `responseEnd`.
//! [`arrival`] resolves at the next delivery; [`claim`] first takes the records the browser has
//! not delivered yet (`takeRecords`), so nothing waits for the observer's low-priority task.

use std::cell::RefCell;
use std::collections::VecDeque;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::sync;

/// Entries kept while waiting to be claimed.
const MAX_ENTRIES: usize = 500;
/// Entries older than this (monotonic ms) are forgotten.
const MAX_AGE_MS: f64 = 120_000.0;
/// Allowed gap between `fetch()` being called and the entry's `startTime`.
const START_TOLERANCE_MS: f64 = 0.5;

/// The timings of one resource, in monotonic milliseconds (`performance.now()` clock).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ResourceEntry {
    pub(crate) name: String,
    pub(crate) start_time: f64,
    pub(crate) fetch_start: f64,
    pub(crate) domain_lookup_start: f64,
    pub(crate) domain_lookup_end: f64,
    pub(crate) connect_start: f64,
    pub(crate) secure_connection_start: f64,
    pub(crate) connect_end: f64,
    pub(crate) request_start: f64,
    pub(crate) response_start: f64,
    pub(crate) response_end: f64,
    pub(crate) transfer_size: f64,
    pub(crate) encoded_body_size: f64,
    pub(crate) decoded_body_size: f64,
}

impl ResourceEntry {
    /// The phases as `(event name, time)`, in order, leaving out those the browser did not
    /// expose (zero without `Timing-Allow-Origin`, or skipped on a reused connection).
    pub(crate) fn phases(&self) -> Vec<(&'static str, f64)> {
        [
            ("fetchStart", self.fetch_start),
            ("domainLookupStart", self.domain_lookup_start),
            ("domainLookupEnd", self.domain_lookup_end),
            ("connectStart", self.connect_start),
            ("secureConnectionStart", self.secure_connection_start),
            ("connectEnd", self.connect_end),
            ("requestStart", self.request_start),
            ("responseStart", self.response_start),
            ("responseEnd", self.response_end),
        ]
        .into_iter()
        .filter(|(_, t)| *t > 0.0)
        .collect()
    }
}

/// The observer and the callback it holds (kept alive together).
type Observer = (web_sys::PerformanceObserver, Closure<dyn FnMut(JsValue)>);

#[derive(Default)]
struct Store {
    entries: VecDeque<ResourceEntry>,
    observer: Option<Observer>,
    /// Told when new entries arrive.
    waiting: Vec<sync::Sender<()>>,
}

impl Store {
    fn add(&mut self, list: &js_sys::Array) {
        self.entries.extend(list.iter().filter_map(|e| read(&e)));
        while self.entries.len() > MAX_ENTRIES {
            self.entries.pop_front();
        }
    }
}

thread_local! {
    static STORE: RefCell<Store> = RefCell::new(Store::default());
}

fn number(entry: &JsValue, key: &str) -> f64 {
    js_sys::Reflect::get(entry, &JsValue::from_str(key)).ok().and_then(|v| v.as_f64()).unwrap_or(0.0)
}

fn read(entry: &JsValue) -> Option<ResourceEntry> {
    let initiator = js_sys::Reflect::get(entry, &"initiatorType".into()).ok()?.as_string()?;
    if initiator != "fetch" {
        return None;
    }
    Some(ResourceEntry {
        name: js_sys::Reflect::get(entry, &"name".into()).ok()?.as_string()?,
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
    })
}

/// Starts observing resource entries (once per thread).
pub(crate) fn observe() {
    let _ = STORE.try_with(|store| {
        let Ok(mut store) = store.try_borrow_mut() else { return };
        if store.observer.is_some() {
            return;
        }
        let callback = Closure::<dyn FnMut(JsValue)>::new(|list: JsValue| {
            let Ok(list) = list.dyn_into::<web_sys::PerformanceObserverEntryList>() else { return };
            let waiting = STORE.try_with(|store| {
                let mut store = store.try_borrow_mut().ok()?;
                store.add(&list.get_entries());
                Some(std::mem::take(&mut store.waiting))
            });
            for sender in waiting.ok().flatten().unwrap_or_default() {
                sender.send(());
            }
        });
        let Ok(observer) = web_sys::PerformanceObserver::new(callback.as_ref().unchecked_ref()) else {
            return;
        };
        let options = web_sys::PerformanceObserverInit::new(&js_sys::Array::of1(&"resource".into()));
        observer.observe(&options);
        store.observer = Some((observer, callback));
    });
}

/// Resolves when the observer next delivers entries; `None` when nothing observes (no
/// `PerformanceObserver` here), so no entry will ever come.
pub(crate) fn arrival() -> Option<sync::Receiver<()>> {
    STORE
        .try_with(|store| {
            let mut store = store.try_borrow_mut().ok()?;
            store.observer.as_ref()?;
            let (sender, receiver) = sync::oneshot();
            store.waiting.push(sender);
            Some(receiver)
        })
        .ok()
        .flatten()
}

/// Claims the entry for a fetch of `url` called at monotonic time `called_at`.
pub(crate) fn claim(url: &str, called_at: f64, now: f64) -> Option<ResourceEntry> {
    let (claimed, woken) = STORE
        .try_with(|store| {
            let mut store = store.try_borrow_mut().ok()?;
            // Records the observer has not delivered yet; whoever waits for them is told.
            let pending = store.observer.as_ref().map(|(observer, _)| observer.take_records());
            let mut woken = Vec::new();
            if let Some(pending) = pending.filter(|p| p.length() > 0) {
                store.add(&pending);
                woken = std::mem::take(&mut store.waiting);
            }
            store.entries.retain(|e| now - e.start_time < MAX_AGE_MS);
            let index = store
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.name == url && e.start_time >= called_at - START_TOLERANCE_MS)
                .min_by(|(_, a), (_, b)| a.start_time.total_cmp(&b.start_time))
                .map(|(i, _)| i);
            Some((index.and_then(|i| store.entries.remove(i)), woken))
        })
        .ok()
        .flatten()?;
    for sender in woken {
        sender.send(());
    }
    claimed
}
