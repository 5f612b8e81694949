//! Matching a fetch to the browser's `PerformanceResourceTiming` entry.
//!
//! A `PerformanceObserver` collects `fetch` entries as the browser creates them (observers
//! keep receiving entries after the resource timing buffer is full, unlike
//! `getEntriesByName`). The browser stamps an entry's `startTime` when `fetch()` is called, so
//! an entry belongs to the latest traced call of its URL made at or before that time; each
//! call is registered while it is in flight ([`register`]). A fetch claims an entry of its URL
//! that belongs to it and whose `responseStart` is not after its own headers arrived, so two
//! fetches of one URL in flight at once each get their own, whichever finishes first, and an
//! entry is never claimed twice.
//!
//! The entry is also how a traced fetch learns that its response body has ended, without
//! cloning (and so tee-ing) the body the caller reads: the browser creates it at `responseEnd`.
//! [`arrival`] resolves at the next delivery; [`claim`] first takes the records the browser has
//! not delivered yet (`takeRecords`), so nothing waits for the observer's low-priority task.

use std::cell::RefCell;
use std::collections::VecDeque;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::platform::{clock, timer};
use crate::sync;

/// Entries kept while waiting to be claimed.
const MAX_ENTRIES: usize = 500;
/// Entries older than this (monotonic ms) are forgotten.
const MAX_AGE_MS: f64 = 120_000.0;
/// Allowed gap between `fetch()` being called and the entry's `startTime`.
const START_TOLERANCE_MS: f64 = 0.5;
/// Allowed gap between the entry's `responseStart` and the moment this fetch saw its headers
/// (the clocks are the same; this covers rounding of coarsened timers).
const HEADERS_TOLERANCE_MS: f64 = 1.0;

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
    /// The ALPN id of the protocol (`http/1.1`, `h2`, `h3`); empty when not exposed.
    pub(crate) next_hop_protocol: String,
}

impl ResourceEntry {
    /// The phases as `(event name, time)`, in order, leaving out those the browser did not
    /// expose (see [`network_phases`]).
    pub(crate) fn phases(&self) -> Vec<(&'static str, f64)> {
        network_phases([
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

/// The Resource Timing names of a fetch's network phases, in the order they happen.
const NETWORK_PHASES: [&str; 9] = [
    "fetchStart",
    "domainLookupStart",
    "domainLookupEnd",
    "connectStart",
    "secureConnectionStart",
    "connectEnd",
    "requestStart",
    "responseStart",
    "responseEnd",
];

/// The network phases as `(event name, time)` from their times in [`NETWORK_PHASES`] order,
/// leaving out those the browser did not expose (zero without `Timing-Allow-Origin`, or skipped
/// on a reused connection). Shared by traced fetches and the document load's fetches.
pub(crate) fn network_phases(times: [f64; 9]) -> Vec<(&'static str, f64)> {
    NETWORK_PHASES.into_iter().zip(times).filter(|(_, t)| *t > 0.0).collect()
}

/// The observer and the callback it holds (kept alive together).
type Observer = (web_sys::PerformanceObserver, Closure<dyn FnMut(JsValue)>);

/// A `fetch` entry as observed: what matching needs, read once; the rest is read on claim.
struct Observed {
    name: String,
    start_time: f64,
    entry: web_sys::PerformanceResourceTiming,
}

#[derive(Default)]
struct Store {
    entries: VecDeque<Observed>,
    /// Traced calls in flight: registration id, URL and when `fetch()` was called.
    calls: Vec<(u64, String, f64)>,
    /// The last registration id handed out (0 means "not registered").
    next_call: u64,
    observer: Option<Observer>,
    /// Told when new entries arrive, or when their deadline (monotonic ms) has passed.
    waiting: Vec<(f64, sync::Sender<()>)>,
    /// Whether the one timer that tells waiters their deadline passed is running.
    sweeping: bool,
}

impl Store {
    fn add(&mut self, list: &js_sys::Array) {
        self.entries.extend(list.iter().filter_map(observed));
        while self.entries.len() > MAX_ENTRIES {
            self.entries.pop_front();
        }
    }
}

thread_local! {
    static STORE: RefCell<Store> = RefCell::new(Store::default());
}

fn observed(entry: JsValue) -> Option<Observed> {
    let entry: web_sys::PerformanceResourceTiming = entry.dyn_into().ok()?;
    if entry.initiator_type() != "fetch" {
        return None;
    }
    Some(Observed { name: entry.name(), start_time: entry.start_time(), entry })
}

/// The claimed entry's timings, through the typed getters (no property names cross into
/// JavaScript).
fn read(observed: Observed) -> ResourceEntry {
    let e = &observed.entry;
    ResourceEntry {
        fetch_start: e.fetch_start(),
        domain_lookup_start: e.domain_lookup_start(),
        domain_lookup_end: e.domain_lookup_end(),
        connect_start: e.connect_start(),
        secure_connection_start: e.secure_connection_start(),
        connect_end: e.connect_end(),
        request_start: e.request_start(),
        response_start: e.response_start(),
        response_end: e.response_end(),
        transfer_size: e.transfer_size(),
        encoded_body_size: e.encoded_body_size(),
        decoded_body_size: e.decoded_body_size(),
        next_hop_protocol: e.next_hop_protocol(),
        name: observed.name,
        start_time: observed.start_time,
    }
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
            for (_, sender) in waiting.ok().flatten().unwrap_or_default() {
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

/// Resolves when the observer next delivers entries or once `deadline` (monotonic ms) has
/// passed; `None` when nothing observes (no `PerformanceObserver` here), so no entry will come.
///
/// One timer serves every waiter (a fetch in flight does not cost a `setTimeout`).
pub(crate) fn arrival(deadline: f64) -> Option<sync::Receiver<()>> {
    let (receiver, arm) = STORE
        .try_with(|store| {
            let mut store = store.try_borrow_mut().ok()?;
            store.observer.as_ref()?;
            let (sender, receiver) = sync::oneshot();
            store.waiting.push((deadline, sender));
            let arm = !std::mem::replace(&mut store.sweeping, true);
            Some((receiver, arm))
        })
        .ok()
        .flatten()?;
    if arm {
        sweep_at(deadline);
    }
    Some(receiver)
}

fn sweep_at(deadline: f64) {
    let delay = (deadline - clock::monotonic_ms()).clamp(0.0, f64::from(u32::MAX - 1));
    sync::spawn(async move {
        timer::sleep(delay as u32 + 1).await;
        sweep();
    });
}

/// Tells waiters whose deadline passed; keeps the timer running while anyone waits.
fn sweep() {
    let now = clock::monotonic_ms();
    let (due, next) = STORE
        .try_with(|store| {
            let mut store = store.try_borrow_mut().ok()?;
            let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut store.waiting)
                .into_iter()
                .filter(|(_, sender)| !sender.is_abandoned())
                .partition(|(deadline, _)| *deadline <= now);
            let next = waiting.iter().map(|(deadline, _)| *deadline).reduce(f64::min);
            store.waiting = waiting;
            store.sweeping = next.is_some();
            Some((due, next))
        })
        .ok()
        .flatten()
        .unwrap_or_default();
    for (_, sender) in due {
        sender.send(());
    }
    if let Some(next) = next {
        sweep_at(next);
    }
}

/// A traced call in flight; dropping it ends the registration.
#[derive(Debug)]
pub(crate) struct InFlight {
    id: u64,
}

/// Registers a call of `url` made at monotonic time `called_at` until the guard is dropped.
/// The guard holds only an id, so the fetch path copies the URL once.
pub(crate) fn register(url: &str, called_at: f64) -> InFlight {
    let id = STORE
        .try_with(|store| {
            let mut store = store.try_borrow_mut().ok()?;
            store.next_call = store.next_call.wrapping_add(1);
            let id = store.next_call;
            store.calls.push((id, url.to_owned(), called_at));
            Some(id)
        })
        .ok()
        .flatten()
        .unwrap_or(0);
    InFlight { id }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let _ = STORE.try_with(|store| {
            if let Ok(mut store) = store.try_borrow_mut()
                && let Some(i) = store.calls.iter().position(|(id, ..)| *id == self.id)
            {
                store.calls.swap_remove(i);
            }
        });
    }
}

/// Which of `candidates` (`startTime`, `responseStart`) belongs to a call made at `called_at`
/// whose headers arrived at `headers_at`, given when the other calls of the same URL in flight
/// were made (`later_calls`, this one's excluded). The earliest that fits, or `None`.
fn pick(candidates: &[(f64, f64)], called_at: f64, headers_at: f64, other_calls: &[f64]) -> Option<usize> {
    // The first call of this URL made after ours: entries that start at or after it are its.
    let next_call =
        other_calls.iter().copied().filter(|t| *t > called_at).reduce(f64::min).unwrap_or(f64::INFINITY);
    candidates
        .iter()
        .enumerate()
        .filter(|(_, (start, response_start))| {
            *start >= called_at - START_TOLERANCE_MS
                && *start < next_call - START_TOLERANCE_MS
                && *response_start <= headers_at + HEADERS_TOLERANCE_MS
        })
        .min_by(|(_, a), (_, b)| a.0.total_cmp(&b.0))
        .map(|(i, _)| i)
}

/// Claims the entry for a fetch of `url` called at monotonic time `called_at` whose response
/// headers arrived at `headers_at`.
pub(crate) fn claim(url: &str, called_at: f64, headers_at: f64, now: f64) -> Option<ResourceEntry> {
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
            let (indices, candidates): (Vec<usize>, Vec<(f64, f64)>) = store
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.name == url)
                .map(|(i, e)| (i, (e.start_time, e.entry.response_start())))
                .unzip();
            let others: Vec<f64> = store
                .calls
                .iter()
                .filter(|(_, u, t)| u == url && *t != called_at)
                .map(|(_, _, t)| *t)
                .collect();
            let index = pick(&candidates, called_at, headers_at, &others).map(|i| indices[i]);
            Some((index.and_then(|i| store.entries.remove(i)).map(read), woken))
        })
        .ok()
        .flatten()?;
    for (_, sender) in woken {
        sender.send(());
    }
    claimed
}

#[cfg(test)]
mod tests {
    use super::pick;

    #[test]
    fn an_entry_that_started_after_a_later_call_is_not_taken_by_the_earlier_one() {
        // A called at 0 (slow, headers at 300), B called at 5 (fast, headers at 50). A's headers
        // come first to claim after B's entry exists but before A's own.
        let b_entry = (5.01, 49.0);
        assert_eq!(pick(&[b_entry], 0.0, 300.0, &[5.0]), None, "A took B's entry");
        assert_eq!(pick(&[b_entry], 5.0, 50.0, &[0.0]), Some(0));
        let a_entry = (0.02, 299.5);
        assert_eq!(pick(&[b_entry, a_entry], 0.0, 300.0, &[5.0]), Some(1));
    }

    #[test]
    fn an_entry_whose_response_started_after_our_headers_is_not_ours() {
        // Two calls in the same timer tick: only the response start tells them apart.
        let slow = (1.0, 299.0);
        let fast = (1.0, 40.0);
        assert_eq!(pick(&[slow, fast], 1.0, 41.0, &[1.0]), Some(1));
        assert_eq!(pick(&[slow], 1.0, 300.0, &[]), Some(0));
    }

    #[test]
    fn entries_from_before_the_call_are_never_taken() {
        assert_eq!(pick(&[(9.0, 12.0)], 10.0, 20.0, &[]), None);
        // No Timing-Allow-Origin: responseStart is 0 and only the start time decides.
        assert_eq!(pick(&[(10.2, 0.0)], 10.0, 20.0, &[]), Some(0));
    }
}
