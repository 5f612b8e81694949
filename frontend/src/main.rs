//! Cruddur, the micro-blogging demo app, as a Leptos client-side-rendered app instrumented with
//! otel-web: every user action is a span, every API call a traced fetch beneath it, and the
//! signed-in user travels to the backend in W3C baggage.
//!
//! Built by `trunk` from the root `index.html`; `trunk serve` serves it on :3000 and proxies
//! `/api` and `/v1/traces` to the backend on :4567. The page configures both the SDK
//! (`<script id="otel-web-config">`) and the API location (`<meta name="cruddur:api-base">`),
//! so neither needs a rebuild to change.
#![allow(unreachable_pub, reason = "Leptos' #[component] generates `pub` items inside this binary")]

mod api;
mod app;
mod components;
mod pages;
mod session;
mod telemetry;

fn main() {
    // The app, not the SDK, decides how panics are reported.
    console_error_panic_hook::set_once();
    // …and otel-web records the panic and sends the trace that led to it before the module
    // aborts (it wraps the hook above).
    otel_web::instrument::errors::install_panic_hook();
    let tracing = telemetry::init();
    session::restore(tracing.as_ref());
    leptos::mount::mount_to_body(move || leptos::view! { <app::App tracing=tracing.clone() /> });
}
