//! Who is signed in (a demo user picked from a list; no real authentication), remembered in
//! `localStorage`. Signing in puts `user.id` on every later browser span and, through
//! [`crate::telemetry::action`], in the W3C `baggage` of every API call.

use std::cell::RefCell;

use leptos::prelude::*;
use opentelemetry::KeyValue;
use otel_web::TracerProvider;

const STORAGE_KEY: &str = "cruddur.user";

thread_local! {
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The signed-in user's handle, for the UI.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// `None` when signed out.
    pub user: RwSignal<Option<String>>,
    tracing: StoredValue<Option<TracerProvider>>,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The signed-in user's handle, outside reactive code (telemetry reads it).
pub fn current_user_id() -> Option<String> {
    CURRENT.with(|c| c.borrow().clone())
}

fn apply(handle: Option<&str>, tracing: Option<&TracerProvider>) {
    CURRENT.with(|c| *c.borrow_mut() = handle.map(str::to_owned));
    if let Some(provider) = tracing {
        match handle {
            Some(h) => provider.set_span_attribute(KeyValue::new("user.id", h.to_owned())),
            None => provider.remove_span_attribute("user.id"),
        }
    }
}

/// Restores the user from the last visit, before the app mounts.
pub fn restore(tracing: Option<&TracerProvider>) {
    let saved = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
    apply(saved.as_deref(), tracing);
}

impl Session {
    /// The session, created once by the app.
    pub fn new(tracing: Option<TracerProvider>) -> Self {
        Self { user: RwSignal::new(current_user_id()), tracing: StoredValue::new(tracing) }
    }

    /// Signs in as `handle` (or out with `None`).
    pub fn set(&self, handle: Option<String>) {
        if let Some(storage) = storage() {
            let _ = match &handle {
                Some(h) => storage.set_item(STORAGE_KEY, h),
                None => storage.remove_item(STORAGE_KEY),
            };
        }
        self.tracing.with_value(|t| apply(handle.as_deref(), t.as_ref()));
        self.user.set(handle);
    }
}

/// The session from context.
pub fn use_session() -> Session {
    expect_context::<Session>()
}
