//! `/`: the compose box (when signed in) and the home feed.

use leptos::prelude::*;

use super::feed_view;
use crate::components::compose::Compose;
use crate::session::use_session;
use crate::{api, telemetry};

/// The home feed.
#[component]
pub fn Home() -> impl IntoView {
    let session = use_session();
    let version = RwSignal::new(0u32);
    let feed = LocalResource::new(move || {
        version.track();
        telemetry::action("load home", api::home())
    });
    let refresh = Callback::new(move |()| version.update(|v| *v += 1));
    view! {
        <section class="page home">
            <h2>"Home"</h2>
            <Show when=move || session.user.get().is_some() fallback=|| view! {
                <p class="hint">"Pick a demo user at the top to post and reply."</p>
            }>
                <Compose on_posted=refresh />
            </Show>
            {feed_view(feed, Some(refresh))}
        </section>
    }
}
