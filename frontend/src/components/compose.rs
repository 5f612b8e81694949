//! The compose box: write an activity, pick how long it lives, post it.

use cruddur_api::{MAX_MESSAGE_CHARS, TTLS};
use leptos::prelude::*;

use crate::api::{self, NewActivity};
use crate::session::use_session;
use crate::telemetry;

/// Posts an activity as the signed-in user; `on_posted` refreshes the feed.
#[component]
pub fn Compose(on_posted: Callback<()>) -> impl IntoView {
    let session = use_session();
    let message = RwSignal::new(String::new());
    let ttl = RwSignal::new(TTLS[0].name.to_owned());
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
    let remaining = move || MAX_MESSAGE_CHARS as i64 - message.with(|m| m.chars().count() as i64);
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
                    {TTLS.iter().map(|ttl| view! { <option value=ttl.name>{ttl.label}</option> }).collect_view()}
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
