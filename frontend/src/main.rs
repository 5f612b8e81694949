//! Cruddur, the micro-blogging demo app, as a Leptos client-side-rendered app.
//!
//! Built by `trunk` from the root `index.html`; `trunk serve` serves it on :3000 and proxies
//! `/api` and `/v1/traces` to the backend on :4567.

#![allow(unreachable_pub, reason = "Leptos' #[component] generates `pub` items inside this binary")]

mod app;

fn main() {
    // The app, not the SDK, decides how panics are reported.
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
