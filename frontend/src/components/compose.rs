//! The compose box: write an activity, pick how long it lives, post it.

use leptos::prelude::*;

use crate::api::{self, NewActivity};
use crate::session::use_session;
use crate::telemetry;

const TTLS: &[(&str, &str)] = &[
    ("7-days", "7 days"),
    ("30-days", "30 days"),
    ("3-days", "3 days"),
    ("1-day", "1 day"),
    ("12-hours", "12 hours"),
    ("3-hours", "3 hours"),
    ("1-hour", "1 hour"),
];

/// Posts an activity as the signed-in user; `on_posted` refreshes the feed.
#[component]
pub fn Compose(on_posted: Callback<()>) -> impl IntoView {
    let session = use_session();
    let message = RwSignal::new(String::new());
    let ttl = RwSignal::new("7-days".to_owned());
    let post = Action::new_local(|activity: &NewActivity| {
        let activity = activity.clone();
        async move { telemetry::action("post activity", api::create(activity)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = post.value().get() {
            message.set(String::new());
            on_posted.run(());
        }
    });
    let remaining = move || 280 - message.with(|m| m.chars().count() as i64);
    view! {
        <form class="compose" on:submit=move |ev| {
            ev.prevent_default();
            if let Some(user) = session.user.get_untracked() {
                post.dispatch(NewActivity { user_handle: user, message: message.get_untracked(), ttl: ttl.get_untracked() });
            }
        }>
            <textarea id="compose-message" placeholder="What's happening?" prop:value=move || message.get()
                on:input=move |ev| message.set(event_target_value(&ev))></textarea>
            <div class="compose-bar">
                <select prop:value=move || ttl.get() on:change=move |ev| ttl.set(event_target_value(&ev))>
                    {TTLS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                </select>
                <span class="counter" class:over=move || remaining() < 0>{remaining}</span>
                <button id="compose-post" type="submit" disabled=move || post.pending().get()>
                    {move || if post.pending().get() { "Posting…" } else { "Crud" }}
                </button>
            </div>
            {move || post.value().get().and_then(Result::err).map(|e| view! { <p class="error">{e.to_string()}</p> })}
        </form>
    }
}
