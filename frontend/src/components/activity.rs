//! An activity in a feed: author, handle, text, relative time, reply and like counts, and the
//! reply form.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::{self, Activity};
use crate::session::use_session;
use crate::telemetry;

/// "3m", "2h", "5d" since `created_at` (RFC 3339), or the date for older ones.
pub fn relative_time(created_at: &str) -> String {
    let then = js_sys::Date::parse(created_at);
    if then.is_nan() {
        return String::new();
    }
    let seconds = ((js_sys::Date::now() - then) / 1000.0).max(0.0) as i64;
    match seconds {
        0..=59 => "now".into(),
        60..=3_599 => format!("{}m", seconds / 60),
        3_600..=86_399 => format!("{}h", seconds / 3600),
        86_400..=604_799 => format!("{}d", seconds / 86_400),
        _ => created_at.get(..10).unwrap_or(created_at).to_owned(),
    }
}

fn initials(name: &str) -> String {
    name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect()
}

/// A list of activities, or a friendly line when there are none.
#[component]
pub fn ActivityList(
    /// The activities.
    activities: Vec<Activity>,
    /// Called after a reply is posted (to refresh the feed).
    #[prop(optional)]
    on_change: Option<Callback<()>>,
) -> impl IntoView {
    if activities.is_empty() {
        return view! { <p class="empty">"Nothing here yet."</p> }.into_any();
    }
    view! {
        <ul class="feed">
            {activities.into_iter().map(|a| view! { <ActivityItem activity=a on_change=on_change /> }).collect_view()}
        </ul>
    }
    .into_any()
}

/// One activity, its replies, and a reply form.
#[component]
pub fn ActivityItem(
    /// The activity.
    activity: Activity,
    /// Called after a reply is posted.
    on_change: Option<Callback<()>>,
) -> impl IntoView {
    let session = use_session();
    let replying = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let uuid = StoredValue::new(activity.uuid.clone());
    let reply = Action::new_local(move |(uuid, message): &(String, String)| {
        let (uuid, message) = (uuid.clone(), message.clone());
        let user = session.user.get_untracked().unwrap_or_default();
        async move { telemetry::action("post reply", api::reply(&uuid, &user, &message)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = reply.value().get() {
            text.set(String::new());
            replying.set(false);
            if let Some(cb) = on_change {
                cb.run(());
            }
        }
    });
    let replies = activity.replies.clone();
    view! {
        <li class="activity" data-uuid=activity.uuid.clone()>
            <div class="avatar">{initials(&activity.display_name)}</div>
            <div class="body">
                <div class="meta">
                    <span class="name">{activity.display_name.clone()}</span>
                    <A href=format!("/@{}", activity.handle) attr:class="handle">{format!("@{}", activity.handle)}</A>
                    <span class="time">{relative_time(&activity.created_at)}</span>
                </div>
                <p class="message">{activity.message.clone()}</p>
                <div class="actions">
                    <button class="link" on:click=move |_| replying.update(|r| *r = !*r) disabled=move || session.user.get().is_none()>
                        {format!("↩ {}", activity.replies_count)}
                    </button>
                    <span class="count">{format!("♥ {}", activity.likes_count)}</span>
                    <span class="count">{format!("⟳ {}", activity.reposts_count)}</span>
                </div>
                <Show when=move || replying.get()>
                    <form class="reply" on:submit=move |ev| {
                        ev.prevent_default();
                        reply.dispatch((uuid.get_value(), text.get_untracked()));
                    }>
                        <input type="text" placeholder="Write a reply" prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev)) />
                        <button type="submit" disabled=move || reply.pending().get()>"Reply"</button>
                    </form>
                    {move || reply.value().get().and_then(Result::err).map(|e| view! { <p class="error">{e.to_string()}</p> })}
                </Show>
                {(!replies.is_empty()).then(|| view! {
                    <ul class="replies">
                        {replies.iter().map(|r| view! {
                            <li class="reply-item">
                                <div class="meta">
                                    <span class="name">{r.display_name.clone()}</span>
                                    <A href=format!("/@{}", r.handle) attr:class="handle">{format!("@{}", r.handle)}</A>
                                    <span class="time">{relative_time(&r.created_at)}</span>
                                </div>
                                <p class="message">{r.message.clone()}</p>
                            </li>
                        }).collect_view()}
                    </ul>
                })}
            </div>
        </li>
    }
}
