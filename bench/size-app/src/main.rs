//! A minimal app: fetch `/ping` and log. With the `sdk` feature it also starts otel-web's core
//! (batching, OTLP exporter, page-hide flush), records a span, and traces every fetch — the same
//! features the OpenTelemetry JS bundle it is compared with carries. Each further feature turns
//! on one optional part of otel-web *and uses it*, so `cargo xtask bench` can report what that
//! part costs on its own.

fn main() {
    #[cfg(feature = "sdk")]
    start_sdk();
    wasm_bindgen_futures::spawn_local(async {
        if let Some(window) = web_sys::window() {
            let _ = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str("/ping")).await;
            web_sys::console::log_1(&"ready".into());
        }
    });
}

#[cfg(feature = "sdk")]
fn start_sdk() {
    use opentelemetry::trace::Tracer;

    #[allow(unused_mut, reason = "each optional part adds to the configuration")]
    let mut config = otel_web::Config::default().with_service_name("size-app");
    #[cfg(feature = "page-config")]
    {
        config = match config.merge_page() {
            Ok(config) => config,
            Err(_) => return,
        };
    }
    #[cfg(feature = "xray")]
    {
        config = config.with_id_generator(otel_web::trace::IdGenerator::XRay);
        config.propagators.push(otel_web::propagation::PropagatorKind::XRay);
    }
    #[cfg(feature = "console")]
    {
        config = config.with_exporters([otel_web::ExporterKind::Otlp, otel_web::ExporterKind::Console]);
    }
    #[cfg(feature = "clock-skew")]
    {
        config = config.with_clock_skew_correction(true);
    }
    #[cfg(feature = "protobuf")]
    {
        config = config.with_encoding(otel_web::export::Encoding::Protobuf);
    }
    #[cfg(feature = "gzip")]
    {
        config = config.with_compression(otel_web::export::Compression::Gzip);
    }
    #[cfg(feature = "offline")]
    {
        config = config.with_offline_storage(otel_web::export::OFFLINE_STORAGE_BYTES_DEFAULT);
    }
    // The page instrumentations need no code here: init starts every one compiled in.
    #[cfg(feature = "tracing")]
    let started = otel_web::tracing::init(config).is_ok();
    #[cfg(not(feature = "tracing"))]
    let started = otel_web::init(config).is_ok();
    if started {
        opentelemetry::global::tracer("app").in_span("start", |_| {});
        let _ = otel_web::fetch::install_global();
    }
    #[cfg(feature = "gloo-net")]
    wasm_bindgen_futures::spawn_local(async {
        let _ = otel_web::http::Request::get("/ping").send().await;
    });
}
