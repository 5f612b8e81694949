//! The application shell: navigation with the sign-in picker, the routed page, the footer.

use leptos::prelude::*;
use leptos_router::components::{Router, Routes};
use leptos_router::path;
use otel_web::TracerProvider;
// leptos_router's <Route>, naming each route change by its template (`/:handle`).
use otel_web::leptos::Route;

use crate::components::footer::Footer;
use crate::components::nav::Nav;
use crate::pages::debug::DebugPanic;
use crate::pages::{home::Home, notifications::Notifications, profile::Profile, search::Search};
use crate::session::Session;

/// The Cruddur application root.
#[component]
pub fn App(
    /// The tracer provider, when tracing started (the app works without it).
    tracing: Option<TracerProvider>,
) -> impl IntoView {
    provide_context(Session::new(tracing));
    view! {
        <Router>
            <Nav />
            <div class="shell">
                <main id="app-ready" class="content">
                    <Routes fallback=|| view! { <p class="empty">"This page does not exist."</p> }>
                        <Route path=path!("/") view=Home />
                        <Route path=path!("/notifications") view=Notifications />
                        <Route path=path!("/search") view=Search />
                        <Route path=path!("/debug/panic") view=DebugPanic />
                        <Route path=path!("/:handle") view=Profile />
                    </Routes>
                </main>
            </div>
            <Footer />
        </Router>
    }
}
