//! `/@handle`: one user's activities.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::feed_view;
use crate::api::ApiError;
use crate::{api, telemetry};

/// A user's page.
#[component]
pub fn Profile() -> impl IntoView {
    let params = use_params_map();
    let handle = move || params.read().get("handle").unwrap_or_default();
    let feed = LocalResource::new(move || {
        let segment = handle();
        async move {
            let Some(handle) = segment.strip_prefix('@').filter(|h| !h.is_empty()) else {
                return Err(ApiError::Invalid { field: None, message: "This page does not exist.".into() });
            };
            telemetry::action("load profile", api::user_activities(handle)).await
        }
    });
    view! {
        <section class="page profile">
            <h2>{handle}</h2>
            {feed_view(feed, None)}
        </section>
    }
}
