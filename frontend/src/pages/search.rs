//! `/search`: activities containing a term.

use leptos::prelude::*;

use crate::components::activity::ActivityList;
use crate::{api, telemetry};

/// Search.
#[component]
pub fn Search() -> impl IntoView {
    let term = RwSignal::new(String::new());
    let search = Action::new_local(|term: &String| {
        let term = term.clone();
        async move { telemetry::action("search", api::search(&term)).await }
    });
    view! {
        <section class="page search">
            <h2>"Search"</h2>
            <form class="search-form" on:submit=move |ev| {
                ev.prevent_default();
                search.dispatch(term.get_untracked());
            }>
                <input id="search-term" type="search" placeholder="Search activities" prop:value=move || term.get()
                    on:input=move |ev| term.set(event_target_value(&ev)) />
                <button type="submit">"Search"</button>
            </form>
            {move || {
                if search.pending().get() {
                    return view! { <p class="loading">"Searching…"</p> }.into_any();
                }
                match search.value().get() {
                    None => view! { <p class="hint">"Try “prune” or “trace”."</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Some(Ok(results)) => view! { <ActivityList activities=results /> }.into_any(),
                }
            }}
        </section>
    }
}
