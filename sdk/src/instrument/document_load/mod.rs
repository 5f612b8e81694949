//! `documentLoad` (feature `document-load`): the page load as one span tree, read from the
//! browser's performance timeline once the `load` event has ended.
//!
//! ```text
//!  [the backend's SERVER span that produced the HTML: Server-Timing traceparent, or <meta>]
//!   └─ documentLoad    navigation start ──────────────▶ loadEventEnd (or the last resource's end)
//!      │  events: fetchStart, unloadEvent*, domInteractive, domContentLoadedEvent*, domComplete, loadEvent*
//!      ├─ documentFetch   fetchStart ──▶ responseEnd   (the HTML; events: DNS, connect, TLS, request, response)
//!      └─ resourceFetch   startTime ──▶ responseEnd    (one per resource requested before load
//!                                                       ended: script, css, the .wasm, images, fonts)
//! ```
//!
//! The SDK usually starts after `load` (the wasm loads late), so nothing is observed live: the
//! navigation entry and the resource entries are read with `performance.getEntriesByType`
//! once `loadEventEnd` is set (at once if it is; else after the `load` event and one task).
//! Their times are on the `performance.now()` clock and go through the SDK's clock (`platform::clock`)
//! like every other timestamp.
//!
//! **Started early, recorded late.** `documentLoad` itself is started when the instrumentation
//! starts (its start time is navigation start) and completed from the timeline after load, so
//! the web vitals reported meanwhile (FCP, TTFB) and later are its children: one trace for the
//! page load (the crate-private `instrument::page_load` holds the shared context).
//!
//! **Joining the server's trace.** When the HTML response carried
//! `Server-Timing: traceparent;desc="00-…"` (exposed on the navigation entry's `serverTiming`),
//! or the page has one `<meta name="traceparent" content="00-…">`, `documentLoad` is a child of
//! that span: the page load and the backend work that produced it are one trace. Values are
//! parsed by the strict W3C parser; a malformed one, or more than one, is ignored.
//!
//! A resource requested before `load` ended belongs to the page load even when it arrives
//! later: Chrome does not hold `load` for `<link rel=preload as=fetch>`, and Cruddur's `.wasm`
//! (the app itself) arrives about 100 ms after `load`. `documentLoad` then ends with the last of
//! them, and its `loadEventEnd` event still marks `load`. Resources requested after `load` (lazy
//! images, code chunks) get no span, and neither do fetches started after the SDK (the traced
//! fetch and the exporter's own requests).
//! A browser without the navigation entry (or `getEntriesByType`) records nothing, silently.
//!
//! The events are named after the `PerformanceNavigationTiming` fields, as OpenTelemetry JS's
//! document-load names them; attributes follow the current HTTP semantic conventions
//! (`url.full`, `http.response.status_code`, `http.response.body.size`, `http.response.size`,
//! `network.protocol.name`/`version`), plus [`crate::semconv::OTELWEB_INITIATOR_TYPE`].

mod spans;
mod timeline;

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{Span as _, TracerProvider as _};

use super::{Instrumentation, Options};
use crate::error::ConfigError;
use crate::instrument::page_load;
use crate::platform::clock;
use crate::trace::TracerProvider;

/// How many times to look again for `loadEventEnd` after the `load` event (one task apart).
const LOAD_END_RETRIES: u32 = 20;

/// The `documentLoad` instrumentation; [`crate::init`] starts it when the feature is on.
///
/// Tests (and apps that build their own provider) can start it on any provider:
///
/// ```no_run
/// use otel_web::instrument::{Instrumentation, Options, document_load::DocumentLoad};
/// # let provider = otel_web::TracerProvider::builder().build();
/// DocumentLoad.start(&provider, &Options::default());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DocumentLoad;

impl Instrumentation for DocumentLoad {
    fn name(&self) -> &'static str {
        "documentLoad"
    }

    fn check(&self, options: &Options) -> Result<(), ConfigError> {
        match options.keys().next() {
            Some(key) => Err(ConfigError::field(
                "instrumentations.documentLoad",
                format!("takes no options (true or false); got {key:?}"),
            )),
            None => Ok(()),
        }
    }

    fn start(&self, provider: &TracerProvider, _options: &Options) {
        if !cfg!(target_arch = "wasm32") || timeline::navigation().is_none() {
            return;
        }
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("otel-web.document-load")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let started_at = clock::monotonic_ms();
        // Started now, completed after load: the web vitals name it as their parent meanwhile.
        let load = spans::begin(&tracer, page_load::read_server_parent());
        page_load::document_load_started(load.span_context().clone());
        crate::sync::spawn(async move {
            match timeline::after_load(LOAD_END_RETRIES).await {
                Some(navigation) => {
                    spans::finish(&tracer, load, &navigation, &timeline::resources(), started_at)
                }
                None => load.discard(),
            }
        });
    }
}
