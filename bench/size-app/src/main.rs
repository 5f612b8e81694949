//! A minimal app: fetch `/ping` and log. With the `sdk` feature it also starts otel-web
//! (batching, OTLP exporter, page-hide flush), records a span, and traces every fetch — the same
//! features the OpenTelemetry JS bundle it is compared with carries.

fn main() {
    #[cfg(feature = "sdk")]
    {
        use opentelemetry::trace::Tracer;
        let config = otel_web::Config::default().with_service_name("size-app");
        if otel_web::init(config).is_ok() {
            opentelemetry::global::tracer("app").in_span("start", |_| {});
            let _ = otel_web::fetch::install_global();
        }
    }
    wasm_bindgen_futures::spawn_local(async {
        if let Some(window) = web_sys::window() {
            let _ = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str("/ping")).await;
            web_sys::console::log_1(&"ready".into());
        }
    });
}
