//! `webVitals` without `documentLoad` running, in headless Chromium: the vitals continue the
//! trace of the server's span that sent the HTML (a stubbed `Server-Timing` traceparent on the
//! navigation entry), as `documentLoad` would have. (Without any, each is a root: see
//! `browser_web_vitals.rs`.)
#![cfg(all(target_arch = "wasm32", feature = "web-vitals"))]

mod support;

use opentelemetry::trace::{SpanId, TraceId};
use otel_web::export::InMemoryExporter;
use otel_web::instrument::web_vitals::WebVitals;
use otel_web::instrument::{Instrumentation, Options};
use otel_web::trace::TracerProvider;
use support::sleep;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body).call0(&JsValue::NULL).expect("test script ran")
}

#[wasm_bindgen_test]
async fn without_document_load_the_vitals_are_children_of_the_servers_span() {
    js("document.body.insertAdjacentHTML('afterbegin', '<h1>Vitals</h1>')");
    sleep(100).await;
    // A malformed meta does not hide the header's valid value.
    js("const real = Performance.prototype.getEntriesByType;
        performance.getEntriesByType = function (type) {
          const list = real.call(performance, type);
          if (type !== 'navigation') return list;
          const copy = list[0].toJSON();
          copy.serverTiming = [{name: 'app', duration: 3, description: ''},
            {name: 'traceparent', duration: 0, description: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'}];
          return [copy];
        };
        const m = document.createElement('meta'); m.name = 'traceparent'; m.content = '00-zz';
        document.head.appendChild(m);");
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    WebVitals.start(&provider, &Options::default());
    let mut spans = Vec::new();
    for _ in 0..250 {
        spans = exporter.finished_spans();
        if ["fcp", "ttfb"].iter().all(|n| spans.iter().any(|s| s.name == *n)) {
            break;
        }
        sleep(20).await;
    }
    js("delete performance.getEntriesByType; document.querySelector('meta[name=traceparent]').remove()");
    let vitals: Vec<_> = spans.iter().filter(|s| s.name == "fcp" || s.name == "ttfb").collect();
    assert_eq!(vitals.len(), 2, "{spans:?}");
    for span in vitals {
        assert_eq!(
            span.span_context.trace_id(),
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("hex")
        );
        assert_eq!(span.parent_span_id, SpanId::from_hex("b7ad6b7169203331").expect("hex"), "{span:?}");
        assert!(span.parent_span_is_remote);
    }
}
