//! The footer: what the app is, and (when the page names one) the status of a service on another
//! origin — a request that, not being on the propagation allowlist, carries no trace headers.

use leptos::prelude::*;

use crate::{api, telemetry};

/// The page footer.
#[component]
pub fn Footer() -> impl IntoView {
    let status_url = api::meta("cruddur:status-url");
    let status = status_url.clone().map(|url| {
        LocalResource::new(move || {
            let url = url.clone();
            async move { telemetry::action("check status", api::status(&url)).await }
        })
    });
    view! {
        <footer class="footer">
            <span>"Cruddur — every click traced from the browser to the database with otel-web."</span>
            {status.map(|status| view! {
                <span id="service-status" class="status">
                    {move || match status.get() {
                        None => "status: checking…".to_owned(),
                        Some(Ok(())) => "status: all systems normal".to_owned(),
                        Some(Err(_)) => "status: unknown".to_owned(),
                    }}
                </span>
            })}
        </footer>
    }
}
