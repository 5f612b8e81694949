//! Core Web Vitals — LCP, INP, CLS, FCP and TTFB — computed as Google's `web-vitals` library
//! defines them, with its attribution, and reported as spans (feature `web-vitals`,
//! instrumentation `webVitals`).
//!
//! | vital | value | final when | attribution |
//! |---|---|---|---|
//! | `lcp` | the last `largest-contentful-paint` before the first input or hide, from activation | the first trusted `keydown`/`click`/`visibilitychange`, once idle | element selector, resource URL, TTFB / load delay / load duration / render delay |
//! | `inp` | the p98 interaction (the `(count / 50)`th longest of the ten longest), from Event Timing `interactionId`s of events ≥ 40 ms and the first input | page hidden | target selector, event type, input delay / processing / presentation delay, the Long Animation Frame script behind it |
//! | `cls` | the largest session window of shifts (1 s gap, 5 s cap), shifts after recent input left out; only after FCP | page hidden | largest shift's target, value, time, load state |
//! | `fcp` | `first-contentful-paint`, from activation, if before the page was first hidden | at once | TTFB, first byte to FCP, load state |
//! | `ttfb` | the navigation's `responseStart`, from activation | after `load` | waiting / cache / DNS / connection / request |
//!
//! A bfcache restore (`pageshow` with `persisted`) starts a new measurement of each, with
//! `navigation_type` `back-forward-cache`: LCP and FCP are the time to the second frame after
//! the restore, TTFB is 0, CLS and INP start again.
//!
//! Each report is a span named after the vital with `browser.web_vital.name`, `.value`,
//! `.delta`, `.id`, `.rating` (Google's thresholds) and `.navigation_type`, `url.path`, and
//! the `otelweb.web_vital.*` attribution (see [`crate::semconv`]), so
//! `P75(browser.web_vital.value)` by `browser.web_vital.name` and `url.path` is a query. A vital
//! that changes after it was reported (CLS or INP on a page hidden, shown and hidden again) is
//! reported again with the same id and the delta.
//!
//! The vitals of the page load are children of `documentLoad` (with `document-load`), else of
//! the server's span that sent the HTML (`Server-Timing`/`<meta>` `traceparent`), else the
//! roots of their own traces (see the crate-private `instrument::page_load`); a bfcache restore's are
//! roots. An open interaction never adopts them; INP and CLS reported while a soft navigation
//! is open (feature `soft-navigations`) are its children. With the default parent-based
//! sampler they follow the page load's sampling decision.
//!
//! Where the browser lacks an API (no `PerformanceObserver`, no LCP in Safari, no Event Timing
//! `interactionId`), that vital is silent; nothing throws.

// The logic is plain Rust, tested natively; only the page side uses all of it.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod cls;
mod inp;
mod metric;
mod navigation;
#[cfg(target_arch = "wasm32")]
mod page;
mod report;
mod selector;

use super::{Instrumentation, Options};
use crate::error::ConfigError;
use crate::trace::TracerProvider;

/// The `webVitals` instrumentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebVitals;

impl Instrumentation for WebVitals {
    fn name(&self) -> &'static str {
        "webVitals"
    }

    fn check(&self, options: &Options) -> Result<(), ConfigError> {
        match options.keys().next() {
            Some(key) => Err(ConfigError::field(
                "instrumentations.webVitals",
                format!("has no option {key:?}: it is on (true) or off (false)"),
            )),
            None => Ok(()),
        }
    }

    fn start(&self, provider: &TracerProvider, _options: &Options) {
        #[cfg(target_arch = "wasm32")]
        page::start(provider);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = provider;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_vitals_has_no_options_and_says_so() {
        assert_eq!(WebVitals.check(&Options::default()), Ok(()));
        let err = WebVitals.check(&Options::default().with("reportAllChanges", true)).expect_err("unknown");
        assert!(err.to_string().contains("reportAllChanges"), "{err}");
    }
}
