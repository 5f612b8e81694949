//! The outbox (feature `offline`): export bodies that could not be delivered, kept in the
//! page's `localStorage` until a later export can send them.
//!
//! - **What is kept**: whole request bodies as they would go on the wire (protobuf or JSON,
//!   gzipped or not), one entry each, never individual spans: nothing is decoded again, and a
//!   body is deleted only after the collector answered `2xx` for it.
//! - **Bounded in bytes**: entries are at most `max_bytes` in all (counted in UTF-16 code units
//!   of key and value, which is what browsers charge against their ~5 MiB per origin). Saving
//!   past the bound removes the oldest entries first; their spans are counted, and the count is
//!   sent as `otelweb.offline.dropped_spans` on the next exported span. A `QuotaExceededError`
//!   from the browser is handled the same way (the oldest go until the entry fits, or the entry
//!   itself is dropped and counted): the page never sees it.
//! - **Keys order the entries**: `otel-web.outbox.{ms:013}{counter:06}{tab:08x}.{spans}.{size}`,
//!   so the oldest sort first and the sizes are known without reading the values.
//! - **One tab sends at a time**: a lease (`otel-web.outbox-lease`, 30 s, renewed per entry)
//!   keeps two tabs of the same origin from sending the same entry twice.
//!
//! Why `localStorage` and not IndexedDB: bodies are saved at page hide, when the page may be
//! gone before an IndexedDB transaction commits; `localStorage` writes are synchronous and
//! durable once `setItem` returns. Entries are small (one export body, a few KiB gzipped), so a
//! write takes well under a millisecond; the bound keeps the total far under the browser quota.

// Sending from the outbox needs `fetch` and runs only in wasm32; natively its storage logic is
// unit-tested.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::cell::Cell;

use super::otlp_http::Body;

/// Prefix of every outbox entry's key.
pub(crate) const PREFIX: &str = "otel-web.outbox.";
/// The count of spans dropped from the outbox and not yet reported.
const DROPPED_KEY: &str = "otel-web.outbox-dropped";
/// Which tab is sending the outbox, until when.
const LEASE_KEY: &str = "otel-web.outbox-lease";
/// How long a lease holds without renewal.
const LEASE_MS: u64 = 30_000;

/// Default bound of the outbox: 1 MiB.
pub const OFFLINE_STORAGE_BYTES_DEFAULT: u32 = 1024 * 1024;

/// What [`Outbox::save`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Saved {
    /// Whether the body is in storage now.
    pub(crate) stored: bool,
    /// Spans dropped to make room (or this body's, if it could not be stored).
    pub(crate) dropped_spans: u64,
}

/// The outbox in the page's storage.
#[derive(Debug)]
pub(crate) struct Outbox {
    max_bytes: usize,
    store: imp::Store,
    tab: u32,
    counter: Cell<u32>,
    /// Dropped spans the storage itself had no room to count.
    unsaved_dropped: Cell<u64>,
}

/// One stored entry's key, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) spans: u64,
    size: usize,
}

impl Entry {
    fn parse(key: String) -> Option<Self> {
        let rest = key.strip_prefix(PREFIX)?;
        let mut parts = rest.split('.');
        let (_order, spans, size) = (parts.next()?, parts.next()?, parts.next()?);
        let spans = spans.parse().ok()?;
        let size = size.parse().ok()?;
        Some(Self { key, spans, size })
    }
}

impl Outbox {
    /// The outbox, or `None` where the page has no usable storage (a worker, storage disabled).
    pub(crate) fn open(max_bytes: usize) -> Option<Self> {
        Some(Self {
            max_bytes,
            store: imp::Store::open()?,
            tab: crate::platform::random::nonzero_u64() as u32,
            counter: Cell::new(0),
            unsaved_dropped: Cell::new(0),
        })
    }

    /// Entries, oldest first.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self.store.keys().into_iter().filter_map(Entry::parse).collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        entries
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// Keeps `body` for a later export, dropping the oldest entries to stay within the bound.
    pub(crate) fn save(&self, body: &Body) -> Saved {
        let value = encode_value(body);
        let n = self.counter.get().wrapping_add(1) % 1_000_000;
        self.counter.set(n);
        let ms = (crate::platform::clock::now_unix_nanos() / 1_000_000).min(9_999_999_999_999);
        let mut key = format!("{PREFIX}{ms:013}{n:06}{:08x}.{}.", self.tab, body.spans);
        // The size is part of the key, which it counts: settle it in two steps.
        let size = key.len() + value.len() + 8;
        key.push_str(&size.to_string());
        let size = key.len() + value.len();
        let mut saved = Saved::default();
        if size > self.max_bytes {
            saved.dropped_spans = body.spans as u64;
            self.add_dropped(saved.dropped_spans);
            return saved;
        }
        let mut entries = self.entries();
        let mut total: usize = entries.iter().map(|e| e.size).sum();
        let mut oldest = 0;
        while total + size > self.max_bytes && oldest < entries.len() {
            total -= entries[oldest].size;
            self.drop_entry(&entries[oldest], &mut saved);
            oldest += 1;
        }
        loop {
            if self.store.set(&key, &value) {
                saved.stored = true;
                break;
            }
            // The browser's quota (shared with the page's own data): make room, oldest first.
            if oldest < entries.len() {
                self.drop_entry(&entries[oldest], &mut saved);
                oldest += 1;
            } else {
                saved.dropped_spans += body.spans as u64;
                self.add_dropped(body.spans as u64);
                break;
            }
        }
        entries.clear();
        saved
    }

    fn drop_entry(&self, entry: &Entry, saved: &mut Saved) {
        self.store.remove(&entry.key);
        saved.dropped_spans += entry.spans;
        self.add_dropped(entry.spans);
    }

    /// The stored body of `entry`; an entry that cannot be read is removed (and counted).
    pub(crate) fn load(&self, entry: &Entry) -> Option<Body> {
        let body = self.store.get(&entry.key).and_then(|v| decode_value(&v, entry.spans as usize));
        if body.is_none() {
            self.store.remove(&entry.key);
            self.add_dropped(entry.spans);
        }
        body
    }

    /// Deletes `entry` (its body was delivered).
    pub(crate) fn remove(&self, entry: &Entry) {
        self.store.remove(&entry.key);
    }

    /// Adds to the count of dropped spans not yet reported.
    pub(crate) fn add_dropped(&self, spans: u64) {
        if spans > 0 {
            let total = self.dropped().saturating_add(spans);
            if !self.store.set(DROPPED_KEY, &total.to_string()) {
                self.unsaved_dropped.set(self.unsaved_dropped.get().saturating_add(spans));
            }
        }
    }

    fn dropped(&self) -> u64 {
        self.store.get(DROPPED_KEY).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// The count of dropped spans not yet reported, now reported.
    pub(crate) fn take_dropped(&self) -> u64 {
        let dropped = self.dropped();
        if dropped > 0 {
            self.store.remove(DROPPED_KEY);
        }
        dropped.saturating_add(self.unsaved_dropped.replace(0))
    }

    /// Takes or renews the lease on sending the outbox; `false` if another tab holds it.
    pub(crate) fn lease(&self, now_ms: f64) -> bool {
        // Whole milliseconds: no float formatting or parsing in the bundle for this.
        let now_ms = now_ms.max(0.0) as u64;
        let mine = format!("{:08x}", self.tab);
        if let Some(lease) = self.store.get(LEASE_KEY)
            && let Some((owner, until)) = lease.split_once(';')
            && owner != mine
            && until.parse::<u64>().is_ok_and(|until| until > now_ms)
        {
            return false;
        }
        self.store.set(LEASE_KEY, &format!("{mine};{}", now_ms + LEASE_MS))
            && self.store.get(LEASE_KEY).is_some_and(|l| l.starts_with(&mine))
    }

    /// Gives the lease up.
    pub(crate) fn release(&self) {
        let mine = format!("{:08x}", self.tab);
        if self.store.get(LEASE_KEY).is_some_and(|l| l.starts_with(&mine)) {
            self.store.remove(LEASE_KEY);
        }
    }
}

/// `{p|j}{g|-}` then the body in base64.
fn encode_value(body: &Body) -> String {
    let mut out = String::with_capacity(2 + body.bytes.len().div_ceil(3) * 4);
    out.push(if body.protobuf { 'p' } else { 'j' });
    out.push(if body.gzip { 'g' } else { '-' });
    base64_encode(&mut out, &body.bytes);
    out
}

fn decode_value(value: &str, spans: usize) -> Option<Body> {
    let protobuf = match value.as_bytes().first()? {
        b'p' => true,
        b'j' => false,
        _ => return None,
    };
    let gzip = match value.as_bytes().get(1)? {
        b'g' => true,
        b'-' => false,
        _ => return None,
    };
    Some(Body { bytes: base64_decode(value.get(2..)?)?.into(), protobuf, gzip, spans })
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
}

/// Unpadded standard base64, as [`base64_encode`] writes it; `None` for anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let sextet = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32);
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.as_bytes().chunks(4) {
        let mut n = 0;
        for (i, &c) in chunk.iter().enumerate() {
            n |= sextet(c)? << (18 - 6 * i);
        }
        let bytes = chunk.len() - 1;
        // Bits past the last byte must be zero (one text per body).
        if n & ((1 << (24 - 8 * bytes)) - 1) != 0 {
            return None;
        }
        for i in 0..bytes {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasm_bindgen::JsCast;

    /// The window's `localStorage`; every call catches what the browser throws.
    #[derive(Debug)]
    pub(super) struct Store(web_sys::Storage);

    impl Store {
        pub(super) fn open() -> Option<Self> {
            let window = js_sys::global().dyn_into::<web_sys::Window>().ok()?;
            // Throws where storage is disabled (a sandboxed frame, some privacy modes).
            window.local_storage().ok().flatten().map(Self)
        }

        pub(super) fn keys(&self) -> Vec<String> {
            let len = self.0.length().unwrap_or(0);
            (0..len)
                .filter_map(|i| self.0.key(i).ok().flatten())
                .filter(|k| k.starts_with(super::PREFIX))
                .collect()
        }

        pub(super) fn get(&self, key: &str) -> Option<String> {
            self.0.get_item(key).ok().flatten()
        }

        /// `false` when the browser refused (`QuotaExceededError`).
        pub(super) fn set(&self, key: &str, value: &str) -> bool {
            self.0.set_item(key, value).is_ok()
        }

        pub(super) fn remove(&self, key: &str) {
            let _ = self.0.remove_item(key);
        }
    }
}

/// Natively, a map with a quota, so the outbox's logic is unit-tested on the host.
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;

    #[derive(Debug)]
    pub(super) struct Store {
        pub(super) items: RefCell<BTreeMap<String, String>>,
        pub(super) quota: Cell<usize>,
    }

    impl Store {
        pub(super) fn open() -> Option<Self> {
            Some(Self { items: RefCell::default(), quota: Cell::new(usize::MAX) })
        }

        pub(super) fn keys(&self) -> Vec<String> {
            self.items.borrow().keys().filter(|k| k.starts_with(super::PREFIX)).cloned().collect()
        }

        pub(super) fn get(&self, key: &str) -> Option<String> {
            self.items.borrow().get(key).cloned()
        }

        pub(super) fn set(&self, key: &str, value: &str) -> bool {
            let mut items = self.items.borrow_mut();
            let used: usize = items.iter().filter(|(k, _)| *k != key).map(|(k, v)| k.len() + v.len()).sum();
            if used + key.len() + value.len() > self.quota.get() {
                return false;
            }
            items.insert(key.to_owned(), value.to_owned());
            true
        }

        pub(super) fn remove(&self, key: &str) {
            self.items.borrow_mut().remove(key);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body(spans: usize, len: usize) -> Body {
        Body { bytes: vec![7u8; len].into(), protobuf: true, gzip: true, spans }
    }

    #[test]
    fn bodies_come_back_oldest_first_and_go_when_removed() {
        let outbox = Outbox::open(1 << 20).expect("store");
        for spans in 1..=3 {
            assert_eq!(outbox.save(&body(spans, 100)), Saved { stored: true, dropped_spans: 0 });
        }
        let entries = outbox.entries();
        assert_eq!(entries.iter().map(|e| e.spans).collect::<Vec<_>>(), vec![1, 2, 3]);
        let loaded = outbox.load(&entries[0]).expect("readable");
        assert_eq!((loaded.bytes.len(), loaded.protobuf, loaded.gzip, loaded.spans), (100, true, true, 1));
        outbox.remove(&entries[0]);
        assert_eq!(outbox.entries().len(), 2);
        assert_eq!(outbox.take_dropped(), 0);
    }

    #[test]
    fn past_the_bound_the_oldest_are_dropped_and_counted() {
        // Each entry is ~2 + 4/3·300 + key ≈ 460 code units: three fit in 1500.
        let outbox = Outbox::open(1_500).expect("store");
        for spans in 1..=5 {
            assert!(outbox.save(&body(spans, 300)).stored);
        }
        let kept: Vec<u64> = outbox.entries().iter().map(|e| e.spans).collect();
        assert_eq!(kept, vec![3, 4, 5]);
        assert_eq!(outbox.take_dropped(), 1 + 2);
        assert_eq!(outbox.take_dropped(), 0, "reported once");
        let too_big = outbox.save(&body(9, 5_000));
        assert_eq!(too_big, Saved { stored: false, dropped_spans: 9 });
        assert_eq!(outbox.entries().len(), 3, "a body over the bound drops nothing else");
    }

    #[test]
    fn a_quota_error_drops_the_oldest_then_the_body_itself() {
        let outbox = Outbox::open(1 << 20).expect("store");
        assert!(outbox.save(&body(1, 300)).stored);
        assert!(outbox.save(&body(2, 300)).stored);
        outbox.store.quota.set(1_100);
        let saved = outbox.save(&body(3, 300));
        assert_eq!(saved, Saved { stored: true, dropped_spans: 1 });
        outbox.store.quota.set(10);
        let saved = outbox.save(&body(4, 300));
        assert!(!saved.stored);
        assert_eq!(outbox.entries().len(), 0);
        outbox.store.quota.set(usize::MAX);
        assert_eq!(outbox.take_dropped(), 1 + 2 + 3 + 4);
    }

    #[test]
    fn an_unreadable_entry_is_removed_and_counted() {
        let outbox = Outbox::open(1 << 20).expect("store");
        assert!(outbox.save(&body(4, 10)).stored);
        let entry = outbox.entries().remove(0);
        outbox.store.set(&entry.key, "x?");
        assert!(outbox.load(&entry).is_none());
        assert!(outbox.is_empty());
        assert_eq!(outbox.take_dropped(), 4);
    }

    #[test]
    fn one_tab_holds_the_lease_until_it_expires_or_is_released() {
        let a = Outbox::open(1 << 20).expect("store");
        let b = Outbox {
            store: imp::Store::open().expect("store"),
            tab: a.tab.wrapping_add(1),
            ..Outbox::open(1).expect("store")
        };
        // Share one store between the two "tabs".
        *b.store.items.borrow_mut() = a.store.items.borrow().clone();
        assert!(a.lease(1_000.0));
        *b.store.items.borrow_mut() = a.store.items.borrow().clone();
        assert!(!b.lease(2_000.0), "held by a");
        assert!(b.lease(1_000.0 + LEASE_MS as f64 + 1.0), "expired");
        a.release();
        assert!(a.lease(3_000.0), "released");
    }

    proptest! {
        #[test]
        fn base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut text = String::new();
            base64_encode(&mut text, &bytes);
            prop_assert_eq!(base64_decode(&text), Some(bytes));
        }

        #[test]
        fn stored_values_never_panic_the_decoder(value in ".{0,40}", spans in 0usize..5) {
            let _ = decode_value(&value, spans);
        }
    }
}
