//! Traced `fetch`: CLIENT spans, trace headers only where allowed, the browser's own timings,
//! the browser-to-backend latency split, and clock-skew correction.
//!
//! ```no_run
//! # async fn example() -> Result<(), wasm_bindgen::JsValue> {
//! use std::time::Duration;
//! use otel_web::fetch::{FetchOptions, fetch_with};
//!
//! let request = web_sys::Request::new_with_str("/api/activities/home")?;
//! let response = fetch_with(
//!     request,
//!     FetchOptions::default().with_route("/api/activities/home").with_timeout(Duration::from_secs(10)),
//! )
//! .await?;
//! # let _ = response; Ok(()) }
//! ```
//!
//! With the `gloo-net` feature, `otel_web::http::Request` is a drop-in for
//! `gloo_net::http::Request` that does the same. [`install_global`] patches `window.fetch`
//! so requests made by JavaScript or other wasm libraries are traced too (the SDK's own export
//! requests never are).
//!
//! # What a fetch span holds
//!
//! Name `GET` (or `GET /api/activities/home` with a route template), kind CLIENT, and
//! `http.request.method`, `url.full` (credentials and [sensitive query values](url::SENSITIVE_QUERY_KEYS)
//! redacted), `url.template`, `server.address`, `server.port`, `http.response.status_code`,
//! `error.type`. Status ERROR on network failure, abort, timeout and 4xx/5xx. Events
//! `fetchStart` … `responseEnd` from the `PerformanceResourceTiming` entry, and the body sizes.
//! The span ends at the entry's `responseEnd`, so it agrees with the network panel.
//!
//! The SDK never reads or clones the body: the response goes back to the caller as soon as its
//! headers arrive, and the browser's timing entry tells when the body ended. A response without
//! an entry (a `data:` URL, a body nobody reads) ends its span at the headers, with
//! `otelweb.timing.source = "response-headers"`.
//!
//! With the `server-timing` feature, when the response carries `Server-Timing` (module
//! `server_timing`), also `otelweb.server.duration_ms` and `otelweb.network.duration_ms` (client
//! duration − server duration); with `clock-skew`, `otelweb.clock.offset_ms` (module `skew`).
//!
//! # CORS: what a cross-origin backend must send
//!
//! Trace headers go only to the page's origin and to origins on the allowlist
//! ([`FetchConfig::propagate_to`]). An allowlisted backend on another origin must answer the
//! preflight and the request with:
//!
//! ```text
//! Access-Control-Allow-Origin: https://app.example.com
//! Access-Control-Allow-Headers: traceparent, tracestate, baggage, content-type
//! Access-Control-Expose-Headers: Server-Timing
//! Timing-Allow-Origin: https://app.example.com
//! ```
//!
//! Without `Timing-Allow-Origin` the phase events are missing (the span still ends at
//! `responseEnd`); without `Access-Control-Expose-Headers: Server-Timing` there is no latency
//! split.

mod call;
mod global;
mod policy;
#[cfg(feature = "server-timing")]
pub mod server_timing;
#[cfg(feature = "clock-skew")]
pub mod skew;
pub(crate) mod timing;
mod traced;
pub mod url;

use std::time::Duration;

use wasm_bindgen::JsValue;

pub use global::{install_global, uninstall_global};
pub use policy::{OriginMatcher, PropagationPolicy, RegexSource};

/// Per-request options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchOptions {
    /// The route template, for the span name (`GET /api/activities/{id}`) and `url.template`.
    pub route: Option<String>,
    /// Abort the request after this long (`error.type = timeout`).
    pub timeout: Option<Duration>,
}

impl FetchOptions {
    /// Names the span after a route template.
    pub fn with_route(mut self, route: impl Into<String>) -> Self {
        self.route = Some(route.into());
        self
    }

    /// Sets a timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Settings for every traced fetch on this thread.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchConfig {
    /// Origins besides the page's own that receive `traceparent`, `tracestate` and `baggage`.
    pub propagate_to: Vec<OriginMatcher>,
    /// Shift exported browser timestamps by the estimated clock offset, so spans are in the
    /// server's time and a backend span nests inside the browser span that caused it.
    pub correct_clock_skew: bool,
    /// The HTTP methods recorded as themselves (upper case); any other is `_OTHER` with the
    /// method in `http.request.method_original` (`OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`).
    /// `None`: the semantic conventions' list ([`DEFAULT_KNOWN_METHODS`]).
    pub known_methods: Option<Vec<String>>,
}

/// The HTTP methods known by default: RFC 9110's, PATCH (RFC 5789) and QUERY.
pub const DEFAULT_KNOWN_METHODS: &[&str] =
    &["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"];

/// Applies `config` to every later traced fetch (starting a fresh clock-offset estimate) and
/// starts collecting resource timings.
pub fn configure(config: FetchConfig) {
    let _ = traced::SETTINGS.try_with(|settings| {
        if let Ok(mut settings) = settings.try_borrow_mut() {
            settings.policy = PropagationPolicy::new(config.propagate_to);
            #[cfg(feature = "clock-skew")]
            {
                settings.correct_clock_skew = config.correct_clock_skew;
                settings.skew = skew::SkewEstimator::default();
                if !config.correct_clock_skew {
                    crate::platform::clock::set_export_shift_ms(0.0);
                }
            }
            #[cfg(not(feature = "clock-skew"))]
            if config.correct_clock_skew {
                crate::report::warn(crate::report::Problem::Config, || {
                    "clock-skew correction needs otel-web's `clock-skew` feature; timestamps stay as measured"
                        .into()
                });
            }
            settings.known_methods =
                config.known_methods.map(|methods| methods.iter().map(|m| m.to_ascii_uppercase()).collect());
        }
    });
    timing::observe();
}

/// Fetches `request`, traced (see the [module docs](self)).
pub async fn fetch(request: web_sys::Request) -> Result<web_sys::Response, JsValue> {
    fetch_with(request, FetchOptions::default()).await
}

/// Fetches `request` with `options`, traced.
pub async fn fetch_with(
    request: web_sys::Request,
    options: FetchOptions,
) -> Result<web_sys::Response, JsValue> {
    timing::observe();
    traced::traced_fetch(request, &options).await
}

/// The current estimate of server clock minus browser clock in milliseconds, once a response
/// has carried the server's timestamp.
#[cfg(feature = "clock-skew")]
pub fn clock_offset_ms() -> Option<f64> {
    traced::clock_offset_ms()
}
