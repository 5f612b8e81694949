//! One page per route.

pub mod debug;
pub mod home;
pub mod notifications;
pub mod profile;
pub mod search;

use leptos::prelude::*;

use crate::api::{Activity, ApiError};
use crate::components::activity::ActivityList;

/// A feed's loading, error and loaded states.
pub fn feed_view(
    feed: LocalResource<Result<Vec<Activity>, ApiError>>,
    on_change: Option<Callback<()>>,
) -> impl IntoView {
    move || {
        match feed.get() {
        None => view! { <p class="loading">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
        Some(Ok(activities)) => view! { <ActivityList activities=activities on_change=on_change.unwrap_or(Callback::new(|_| {})) /> }.into_any(),
    }
    }
}
