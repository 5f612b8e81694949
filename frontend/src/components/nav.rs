//! The top bar: brand, navigation, and the demo sign-in picker.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::session::use_session;
use crate::{api, telemetry};

/// Navigation and sign-in.
#[component]
pub fn Nav() -> impl IntoView {
    let session = use_session();
    let users = LocalResource::new(|| telemetry::action("load users", api::users()));
    let on_pick = move |ev: leptos::ev::Event| {
        let handle = event_target_value(&ev);
        session.set((!handle.is_empty()).then_some(handle));
    };
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">
                <span class="logo">"◆"</span>
                <h1>"Cruddur"</h1>
            </A>
            <nav class="links">
                <A href="/">"Home"</A>
                <A href="/notifications">"Notifications"</A>
                <A href="/search">"Search"</A>
                {move || session.user.get().map(|h| view! { <A href=format!("/@{h}")>"Profile"</A> })}
            </nav>
            <label class="signin">
                <span class="muted">{move || if session.user.get().is_some() { "Signed in as" } else { "Sign in as" }}</span>
                <select id="signin" on:change=on_pick prop:value=move || session.user.get().unwrap_or_default()>
                    <option value="">"— nobody —"</option>
                    {move || {
                        users
                            .get()
                            .and_then(Result::ok)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|u| {
                                let selected = session.user.get().as_deref() == Some(u.handle.as_str());
                                view! {
                                    <option value=u.handle.clone() selected=selected>
                                        {format!("{} (@{})", u.display_name, u.handle)}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
        </header>
    }
}
