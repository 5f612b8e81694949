//! A minimal Leptos app traced with `tracing`: otel-web with two features (`tracing`,
//! `gloo-net`) and one init call. Each `#[instrument]`ed function is a span; the traced fetch
//! inside it is its child; the server receives the fetch's `traceparent` and continues the
//! same trace.
//!
//! Build like `examples/plain` (wasm-bindgen `--target web`, then copy `index.html`), and
//! serve it with `index.html` for every unknown path, as a client-side router needs.
#![allow(unreachable_pub, reason = "Leptos' #[component] generates `pub` items inside this binary")]

use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::hooks::use_params_map;
use leptos_router::path;

fn main() {
    // The one call: otel-web's provider, and `tracing`'s global subscriber recording into it.
    let config =
        otel_web::Config::default().with_service_name("leptos-example").with_traces_endpoint("/v1/traces");
    if let Err(e) = otel_web::tracing::init(config) {
        web_sys::console::error_1(&format!("tracing is off: {e}").into());
    }
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    view! {
        <Router>
            <nav><A href="/">"Home"</A> " " <A href="/hello/andrew">"Say hello"</A></nav>
            <Routes fallback=|| "Not found.">
                <Route path=path!("/") view=|| view! { <p>"Pick a page."</p> } />
                <Route path=path!("/hello/:name") view=Hello />
            </Routes>
        </Router>
    }
}

/// Greets the `:name` of the route, through the server.
#[component]
fn Hello() -> impl IntoView {
    let params = use_params_map();
    let greeting = LocalResource::new(move || greet(params.read().get("name").unwrap_or_default()));
    view! {
        <p id="greeting">
            <Suspense fallback=|| "…">{move || greeting.get()}</Suspense>
        </p>
    }
}

/// One span, `greet`, with the name as an attribute; the fetch inside is its child.
#[tracing::instrument]
async fn greet(name: String) -> String {
    tracing::info!("asking the server");
    let request = otel_web::http::Request::get(&format!("/api/hello?name={name}")).route("/api/hello");
    match request.send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(e) => {
            tracing::error!(error = %e, "the server did not answer");
            String::new()
        }
    }
}
