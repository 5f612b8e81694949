//! `/notifications`: replies to the signed-in user's activities.

use leptos::prelude::*;

use super::feed_view;
use crate::session::use_session;
use crate::{api, telemetry};

/// Notifications.
#[component]
pub fn Notifications() -> impl IntoView {
    let session = use_session();
    let feed = LocalResource::new(move || {
        session.user.track();
        telemetry::action("load notifications", api::notifications())
    });
    view! {
        <section class="page notifications">
            <h2>"Notifications"</h2>
            {feed_view(feed, None)}
        </section>
    }
}
