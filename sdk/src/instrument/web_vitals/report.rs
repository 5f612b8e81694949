//! A vital's report as a span: named after the vital (`lcp`, `inp`, …), with the
//! `browser.web_vital.*` attributes, the route, and the attribution. Its time is the part of
//! the page it measures: from the navigation to the paint for LCP and FCP, the first byte for
//! TTFB, the interaction for INP, the largest window of shifts for CLS.

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use super::metric::{Reported, Vital};
use crate::platform::clock;
use crate::semconv;
use crate::trace::TracerProvider;

/// One report, ready to become a span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    pub(crate) vital: Vital,
    pub(crate) reported: Reported,
    pub(crate) id: String,
    pub(crate) navigation_type: &'static str,
    /// `url.path` of the page the measurement belongs to.
    pub(crate) path: String,
    /// Start and end on the page's clock (`performance.now()` ms).
    pub(crate) start: f64,
    pub(crate) end: f64,
    pub(crate) attributes: Vec<KeyValue>,
}

impl Report {
    /// Every attribute of the span.
    pub(crate) fn span_attributes(&self) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(7 + self.attributes.len());
        attributes.extend([
            KeyValue::new(semconv::BROWSER_WEB_VITAL_NAME, self.vital.name()),
            KeyValue::new(semconv::BROWSER_WEB_VITAL_VALUE, self.reported.value),
            KeyValue::new(semconv::BROWSER_WEB_VITAL_DELTA, self.reported.delta),
            KeyValue::new(semconv::BROWSER_WEB_VITAL_ID, self.id.clone()),
            KeyValue::new(semconv::BROWSER_WEB_VITAL_RATING, self.reported.rating),
            KeyValue::new(semconv::BROWSER_WEB_VITAL_NAVIGATION_TYPE, self.navigation_type),
            KeyValue::new(semconv::URL_PATH, self.path.clone()),
        ]);
        attributes.extend(self.attributes.iter().cloned());
        attributes
    }
}

/// Records `report` as a span of `provider`'s, a child of `parent` (the page load's trace when
/// known).
pub(crate) fn emit(provider: &TracerProvider, report: &Report, parent: &Context) {
    let tracer = provider.tracer_with_scope(
        InstrumentationScope::builder("otel-web.web-vitals").with_version(env!("CARGO_PKG_VERSION")).build(),
    );
    let start = clock::mono_to_unix_nanos(report.start);
    let end = clock::mono_to_unix_nanos(report.end.max(report.start)).max(start);
    let mut span = tracer
        .span_builder(report.vital.name())
        .with_start_time(clock::to_system_time(start))
        .with_attributes(report.span_attributes())
        .start_with_context(&tracer, parent);
    span.end_with_timestamp(clock::to_system_time(end));
}
