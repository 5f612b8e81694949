//! `/debug/panic`: a button that panics inside a traced action, to prove that the trace that
//! led to a Rust panic reaches the collector (otel-web's panic hook sends it before the module
//! aborts). Debug builds only: a release build shows a notice and its button does nothing.

use leptos::prelude::*;

use crate::{api, telemetry};

/// The panic trigger.
#[component]
pub fn DebugPanic() -> impl IntoView {
    let run = move |_| {
        if cfg!(debug_assertions) {
            leptos::task::spawn_local(async {
                let _ = telemetry::action("debug panic", load_then_panic()).await;
            });
        }
    };
    view! {
        <section class="page debug">
            <h2>"Debug: panic"</h2>
            {if cfg!(debug_assertions) {
                view! { <p class="hint">"Loads the users, then panics inside the action. The app is dead afterwards: reload."</p> }.into_any()
            } else {
                view! { <p class="hint">"Only in debug builds."</p> }.into_any()
            }}
            <button id="debug-panic" on:click=run>"Panic inside a traced action"</button>
        </section>
    }
}

/// A traced fetch, then a panic while the action's span is the current one.
async fn load_then_panic() -> Result<(), api::ApiError> {
    let users = api::users().await?;
    panic!("debug: a panic inside a traced action, after loading {} users", users.len());
}
