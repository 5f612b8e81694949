//! The browser side of sessions, kept thin: `localStorage` as the [`Store`] the tabs share,
//! and the listeners that report user input, other tabs' writes (`storage`) and page hide.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::STORAGE_KEY;
use super::tracker::{MemoryStore, Store, StoreError};
use crate::platform::lifecycle::PageLifecycle;
use crate::report::{self, Problem};

/// User input that counts as activity (captured, so nothing the page does can hide it).
const INPUT_EVENTS: [&str; 3] = ["pointerdown", "keydown", "scroll"];

/// `localStorage`, or the page's memory when it is missing or refused.
pub(super) fn store() -> Box<dyn Store> {
    let storage = web_sys::window().map(|w| w.local_storage());
    match storage {
        Some(Ok(Some(storage))) => Box::new(LocalStorage(storage)),
        Some(Err(e)) => {
            let e = describe(e);
            report::warn(Problem::Config, || {
                format!("sessions: localStorage is refused ({}); the session is kept in this page only", e.0)
            });
            Box::new(MemoryStore::default())
        }
        _ => Box::new(MemoryStore::default()),
    }
}

#[derive(Debug)]
struct LocalStorage(web_sys::Storage);

impl Store for LocalStorage {
    fn load(&mut self) -> Result<Option<String>, StoreError> {
        self.0.get_item(STORAGE_KEY).map_err(describe)
    }

    fn save(&mut self, text: &str) -> Result<(), StoreError> {
        self.0.set_item(STORAGE_KEY, text).map_err(describe)
    }
}

/// `QuotaExceededError: …`, `SecurityError: …`, or whatever was thrown.
fn describe(thrown: JsValue) -> StoreError {
    let field = |name: &str| js_sys::Reflect::get(&thrown, &name.into()).ok().and_then(|v| v.as_string());
    StoreError(match (field("name"), field("message")) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        _ => thrown.as_string().unwrap_or_else(|| "an exception".into()),
    })
}

type Callback = Closure<dyn FnMut(web_sys::Event)>;

/// The listeners of the running sessions instrumentation; removed when dropped.
pub(super) struct Listeners {
    listeners: Vec<(web_sys::EventTarget, &'static str, Callback)>,
    _lifecycle: Option<PageLifecycle>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners").field("listeners", &self.listeners.len()).finish_non_exhaustive()
    }
}

/// Listens for input, other tabs and page hide, for the session started just before.
pub(super) fn watch() {
    let Some(window) = web_sys::window() else { return };
    let target: web_sys::EventTarget = window.into();
    let mut listeners = Vec::new();
    let mut listen = |event: &'static str, callback: Callback| {
        if target
            .add_event_listener_with_callback_and_bool(event, callback.as_ref().unchecked_ref(), true)
            .is_ok()
        {
            listeners.push((target.clone(), event, callback));
        }
    };
    for event in INPUT_EVENTS {
        listen(
            event,
            Closure::new(|_: web_sys::Event| {
                super::activity();
            }),
        );
    }
    listen(
        "storage",
        Closure::new(|event: web_sys::Event| {
            // `key` is null when another tab cleared the storage.
            let key = js_sys::Reflect::get(&event, &"key".into()).ok().and_then(|k| k.as_string());
            if key.is_none_or(|k| k == STORAGE_KEY) {
                super::store_changed();
            }
        }),
    );
    let lifecycle = PageLifecycle::watch(super::flush, || {});
    let listeners = Listeners { listeners, _lifecycle: lifecycle };
    let _ = super::ACTIVE.try_with(|cell| {
        if let Ok(mut active) = cell.try_borrow_mut()
            && let Some(active) = active.as_mut()
        {
            active.page = Some(listeners);
        }
    });
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for (target, event, callback) in &self.listeners {
            let _ = target.remove_event_listener_with_callback_and_bool(
                event,
                callback.as_ref().unchecked_ref(),
                true,
            );
        }
    }
}
