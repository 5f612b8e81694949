//! otel-web in a page with no framework: start the SDK, record a span, make a traced fetch
//! inside it, and flush. The fetch is the span's child, and the server receives its
//! `traceparent`, so it can continue the same trace.
//!
//! Build and serve (any static server; `/v1/traces` and `/api/hello` must reach something
//! that answers, as `cargo xtask test`'s smoke test provides):
//!
//! ```sh
//! cargo build -p otel-web-example-plain --target wasm32-unknown-unknown
//! wasm-bindgen --target web --no-typescript --out-dir target/examples/plain \
//!     target/wasm32-unknown-unknown/debug/otel-web-example-plain.wasm
//! cp examples/plain/index.html target/examples/plain/
//! ```

use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue, global};

fn main() {
    // 1. Once, at start-up. A bad configuration is an error naming the field: the page runs
    //    untraced, it does not break.
    let config =
        otel_web::Config::default().with_service_name("plain-example").with_traces_endpoint("/v1/traces");
    let provider = match otel_web::init(config) {
        Ok(provider) => provider,
        Err(e) => return show(&format!("tracing is off: {e}")),
    };
    wasm_bindgen_futures::spawn_local(async move {
        // 2. A span, and 3. a traced fetch inside it: the span's context travels with the
        //    future, so the fetch is its child.
        let span = global::tracer("plain-example").start("greet");
        let cx = Context::current_with_span(span);
        let text = hello().with_context(cx.clone()).await;
        cx.span().set_attribute(KeyValue::new("app.greeting_length", text.len() as i64));
        cx.span().end_with_timestamp(otel_web::now());
        // Spans are batched; a page that is about to be tested (or closed) flushes them.
        let flushed = provider.force_flush().await;
        show(if flushed.is_ok() { "sent" } else { "not sent" });
    });
}

async fn hello() -> String {
    let Ok(request) = web_sys::Request::new_with_str("/api/hello") else { return String::new() };
    match otel_web::fetch::fetch(request).await {
        Ok(response) => match response.text() {
            Ok(text) => wasm_bindgen_futures::JsFuture::from(text).await.ok().and_then(|t| t.as_string()),
            Err(_) => None,
        }
        .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Shows `status` in `#status`.
fn show(status: &str) {
    if let Some(element) =
        web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("status"))
    {
        element.set_text_content(Some(status));
    }
}
