//! A hostile page configuration in Chromium: every bad value is a `ConfigError` naming its field,
//! and whatever the page holds, the app's fetches still settle (issue #13 item 12).

#![cfg(all(target_arch = "wasm32", feature = "page-config"))]

mod support;

use opentelemetry::global;
use opentelemetry::trace::{TraceContextExt, Tracer as _};
use otel_web::ConfigError;
use otel_web::config::PAGE_CONFIG_ELEMENT_ID;
use support::Receiver;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A `<script id="otel-web-config">` block in the page's head, removed when dropped.
struct PageConfig(web_sys::Element);

impl PageConfig {
    fn install(json: &str) -> Self {
        let document = web_sys::window().expect("window").document().expect("document");
        let script = document.create_element("script").expect("script");
        script.set_attribute("type", "application/json").expect("type");
        script.set_id(PAGE_CONFIG_ELEMENT_ID);
        script.set_text_content(Some(json));
        document.head().expect("head").append_child(&script).expect("append");
        Self(script)
    }
}

impl Drop for PageConfig {
    fn drop(&mut self) {
        self.0.remove();
    }
}

/// What an app does at start-up: the page may override its configuration; a bad one leaves
/// tracing off and the app running.
fn start_tracing() -> Result<otel_web::TracerProvider, ConfigError> {
    otel_web::Config::default().with_service_name("app").merge_page().and_then(otel_web::init)
}

/// Each hostile value alone: the error names the field it came from.
#[wasm_bindgen_test]
fn every_hostile_value_is_a_config_error_naming_its_field() {
    let deep = format!(r#"{{"resourceAttributes": {{"deep": {}{}}}}}"#, "[".repeat(5_000), "]".repeat(5_000));
    let cases = [
        (r#"{"propagateTraceHeaderCorsUrls": ["/(/"]}"#, "propagateTraceHeaderCorsUrls"),
        (r#"{"batch": {"maxQueueSize": -1}}"#, "batch.maxQueueSize"),
        (r#"{"batch": {"maxExportBatchSize": 2.5}}"#, "batch.maxExportBatchSize"),
        (r#"{"batch": {"scheduledDelayMs": 1e300}}"#, "batch.scheduledDelayMs"),
        (r#"{"batch": {"exportTimeoutMs": 2147483648}}"#, "batch.exportTimeoutMs"),
        (r#"{"exportTimeoutMs": -0.5}"#, "exportTimeoutMs"),
        (r#"{"limits": {"attributeCountLimit": 4294967296}}"#, "limits.attributeCountLimit"),
        (r#"{"limits": {"eventCountLimit": "99999999999"}}"#, "limits.eventCountLimit"),
        (r#"{"samplerArg": 1e300}"#, "samplerArg"),
        (r#"{"tracesEndpoint": "collector:4318"}"#, "tracesEndpoint"),
        (r#"{"tracesEndpoint": "javascript:alert(1)"}"#, "tracesEndpoint"),
        // Natively this host passes the Rust check; the browser's URL parser refuses it.
        (r#"{"tracesEndpoint": "http://exa%zzmple.com/v1/traces"}"#, "tracesEndpoint"),
        (r#"{"endpoint": "not a url"}"#, "endpoint"),
        (r#"{"serviceName": 42}"#, "serviceName"),
        (r#"{"batch": "fast"}"#, "batch"),
        (r#"{"exporters": {"otlp": true}}"#, "exporters"),
        (r#"{"headers": ["x-team"]}"#, "headers"),
        (r#"{"correctClockSkew": "yes"}"#, "correctClockSkew"),
        (r#"["not", "an", "object"]"#, "otel-web-config"),
        (&deep, "resourceAttributes"),
    ];
    for (json, field) in cases {
        let _page = PageConfig::install(json);
        let err = otel_web::Config::default().merge_page().expect_err(field);
        assert!(
            matches!(&err, ConfigError::InvalidField { field: named, .. } if *named == field),
            "{json:.80}: {err} should name `{field}`"
        );
    }
    let _page = PageConfig::install("{not json");
    let err = otel_web::Config::default().merge_page().expect_err("not JSON");
    assert!(matches!(err, ConfigError::InvalidJson(_)), "{err}");
}

/// Everything hostile at once: start-up reports a `ConfigError`, nothing is installed, and a
/// traced fetch and the page's own `fetch` both settle.
#[wasm_bindgen_test]
async fn a_hostile_page_configuration_leaves_fetches_working() {
    let receiver = Receiver::new("hostile-config");
    let page = PageConfig::install(
        r#"{"instrumentGlobalFetch": true, "propagateTraceHeaderCorsUrls": ["/(/"],
            "batch": {"maxQueueSize": -1, "scheduledDelayMs": 1e300}, "tracesEndpoint": "collector:4318",
            "serviceName": ["wrong", "type"], "limits": null}"#,
    );
    let started = start_tracing();
    drop(page);
    assert!(matches!(started, Err(ConfigError::InvalidField { .. })), "{started:?}");

    let tracer = global::tracer("app");
    let span = tracer.start("load home");
    let cx = opentelemetry::Context::current_with_span(span);
    let request = web_sys::Request::new_with_str(&format!("{}/api/home", receiver.base)).expect("request");
    let traced = {
        let _guard = cx.clone().attach();
        otel_web::fetch::fetch(request)
    };
    let response = traced.await.expect("the traced fetch settles");
    assert_eq!(response.status(), 200);
    cx.span().end();

    let window = web_sys::window().expect("window");
    let plain = JsFuture::from(window.fetch_with_str(&format!("{}/api/plain", receiver.base)))
        .await
        .expect("the page's own fetch settles");
    assert_eq!(plain.dyn_into::<web_sys::Response>().expect("response").status(), 200);

    let paths: Vec<String> =
        receiver.requests().await.iter().filter_map(|r| r["path"].as_str().map(str::to_owned)).collect();
    assert!(paths.iter().any(|p| p.ends_with("/api/home")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("/api/plain")), "{paths:?}");
}

/// Hostile but valid: global fetch patched, every origin allowed, tiny batches sent to a port
/// nobody listens on, 1 ms timeouts. Start-up succeeds and the page's fetches still settle.
#[wasm_bindgen_test]
async fn a_valid_but_hostile_configuration_leaves_fetches_working() {
    let receiver = Receiver::new("hostile-valid-config");
    let page = PageConfig::install(
        r#"{"instrumentGlobalFetch": true, "propagateTraceHeaderCorsUrls": ["/.*/"],
            "batch": {"maxQueueSize": 1, "maxExportBatchSize": 1, "scheduledDelayMs": 1, "exportTimeoutMs": 1},
            "exportTimeoutMs": "1", "tracesEndpoint": "http://127.0.0.1:47/v1/traces",
            "limits": {"attributeCountLimit": 0, "attributeValueLengthLimit": 0, "eventCountLimit": 0},
            "sampler": "always_on", "propagators": [], "exporters": "otlp,console", "unknownKey": {"a": [1, 2]}}"#,
    );
    let provider = start_tracing().expect("a valid configuration");
    drop(page);

    let window = web_sys::window().expect("window");
    for i in 0..5 {
        let response = JsFuture::from(window.fetch_with_str(&format!("{}/api/{i}", receiver.base)))
            .await
            .expect("the patched fetch settles");
        assert_eq!(response.dyn_into::<web_sys::Response>().expect("response").status(), 200);
    }
    let response = otel_web::fetch::fetch(
        web_sys::Request::new_with_str(&format!("{}/api/traced", receiver.base)).expect("request"),
    )
    .await
    .expect("the traced fetch settles");
    assert_eq!(response.status(), 200);
    // Exports to the dead port fail and are reported; flushing still returns.
    let _ = provider.force_flush().await;
    let paths = receiver.requests().await;
    assert!(paths.len() >= 6, "{paths:?}");
}
