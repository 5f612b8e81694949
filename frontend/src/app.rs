//! The application shell: navigation with the sign-in picker, the routed page, the footer.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;
use otel_web::TracerProvider;

use crate::components::footer::Footer;
use crate::components::nav::Nav;
use crate::pages::debug::DebugPanic;
use crate::pages::{home::Home, notifications::Notifications, profile::Profile, search::Search};
use crate::session::Session;
use crate::telemetry;

/// The Cruddur application root.
#[component]
pub fn App(
    /// The tracer provider, when tracing started (the app works without it).
    tracing: Option<TracerProvider>,
) -> impl IntoView {
    provide_context(Session::new(tracing));
    view! {
        <Router>
            <RouteSpans />
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

/// Names each route for otel-web's soft-navigation spans (`url.template`); the route changes
/// themselves are recorded by otel-web.
#[component]
fn RouteSpans() -> impl IntoView {
    let location = use_location();
    Effect::new(move |_| {
        let path = location.pathname.get();
        telemetry::route_matched(&path, route_template(&path));
    });
}

/// The route template of `path`, as the `<Routes>` above match it.
fn route_template(path: &str) -> &'static str {
    match path {
        "/" => "/",
        "/notifications" => "/notifications",
        "/search" => "/search",
        "/debug/panic" => "/debug/panic",
        _ => "/:handle",
    }
}
