//! End-to-end tests: one binary, one module per journey. Each journey starts its own explorer,
//! backend and frontend on free loopback ports and drives headless Chromium through them.

// The trunk-built frontend boots in real Chromium.
mod frontend_boots;
// Sign in, load home, post, open a profile: one trace from the click to the database.
mod click_to_database;
// A real click on Crud is the trace's root down to the INSERT; route changes are navigations.
mod click_journey;
// The page on one origin, the API on another: CORS, the allowlist, and a third origin left alone.
mod cross_origin;
// Leaving the page right after a click loses no span.
mod unload_flush;
// The collector goes away and comes back; the app never notices.
mod collector_outage;
// `cargo xtask dev` under half a minute of clicking: one build, no reload.
mod dev_loop;
// LCP, INP, CLS, FCP and TTFB agree with Google's web-vitals in the same page.
mod web_vitals;
// Opening Cruddur: the backend's HTML response, the document fetch and its resources, one trace.
mod page_load;
// Two tabs and a reload of Cruddur are one session.
mod sessions;
// The collector is down for three page loads: every span arrives once; a full outbox drops the oldest.
mod offline_journey;
// A Rust panic, uncaught errors and long frames on the page reach the explorer.
mod page_errors;
// The examples under examples/ load and send one trace from span to server.
mod examples;
// Leptos: routes named by their template; a server function continued by the backend.
mod leptos_journey;

use std::time::Duration;

/// How long spans may take to reach the explorer.
pub(crate) const ARRIVAL: Duration = Duration::from_secs(20);
