//! Tracing, the way a Rust developer wants to write it: the SDK starts once from the page's
//! configuration, and each user action is one call to [`action`], whose span parents every
//! traced fetch the action makes — and is itself a child of the click (or route change) that
//! caused it, which otel-web's `interactions` and `softNavigations` record without the app
//! passing a context.

use std::future::Future;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt;
use opentelemetry::trace::{Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, global};
use otel_web::TracerProvider;

use crate::session;

/// Starts otel-web with service name `frontend`; the page's `<script id="otel-web-config">`
/// may change anything (endpoint, sampler, propagation allowlist) without a rebuild. A bad
/// configuration turns tracing off with a console message; the app runs either way.
pub fn init() -> Option<TracerProvider> {
    let config = otel_web::Config::default()
        .with_service_name("frontend")
        .with_service_version(env!("CARGO_PKG_VERSION"))
        .merge_page();
    match config.and_then(otel_web::init) {
        Ok(provider) => Some(provider),
        Err(e) => {
            web_sys::console::error_1(&format!("Cruddur: tracing is off: {e}").into());
            None
        }
    }
}

/// Runs `work` as the user action `name`: a span with the signed-in user in its baggage, so
/// the fetches inside are its children and carry `user.id` to the backend.
pub async fn action<T, E>(name: &'static str, work: impl Future<Output = Result<T, E>>) -> Result<T, E>
where
    E: std::fmt::Display,
{
    let mut cx = Context::current();
    if let Some(user) = session::current_user_id() {
        cx = cx.with_baggage([KeyValue::new("user.id", user)]);
    }
    let tracer = global::tracer("cruddur-frontend");
    let span = tracer.start_with_context(name, &cx);
    let cx = cx.with_span(span);
    let result = work.with_context(cx.clone()).await;
    let span = cx.span();
    if let Err(e) = &result {
        span.set_status(Status::error(e.to_string()));
    }
    span.end();
    result
}
