//! [`Config`]: everything [`crate::init`] needs, typed, with the OpenTelemetry defaults.
//!
//! Set it in Rust, or let the page override it at run time (so an endpoint or a sample rate
//! changes without rebuilding the wasm) with [`Config::merge_page`], which reads:
//!
//! ```html
//! <script type="application/json" id="otel-web-config">
//!   { "serviceName": "frontend", "tracesEndpoint": "/v1/traces",
//!     "sampler": "parentbased_traceidratio", "samplerArg": 0.25 }
//! </script>
//! <meta name="otel-web:environment" content="staging">
//! ```
//!
//! | JSON key | `<meta name>` | field |
//! |---|---|---|
//! | `serviceName` | `otel-web:service-name` | [`Config::service_name`] |
//! | `serviceVersion` | `otel-web:service-version` | [`Config::service_version`] |
//! | `environment` | `otel-web:environment` | [`Config::deployment_environment`] |
//! | `resourceAttributes` (object) | | [`Config::resource_attributes`] |
//! | `exporters` (`otlp`, `console`, `none`; list or comma-separated) | `otel-web:exporters` | [`Config::exporters`] |
//! | `endpoint` (base URL; `/v1/traces` is appended) | `otel-web:endpoint` | [`Config::traces_endpoint`] |
//! | `tracesEndpoint` (used as is) | `otel-web:traces-endpoint` | [`Config::traces_endpoint`] |
//! | `headers` (object) | | [`Config::headers`] |
//! | `exportTimeoutMs` | | [`Config::request_timeout`] |
//! | `sampler`, `samplerArg` (`OTEL_TRACES_SAMPLER` names) | `otel-web:sampler`, `otel-web:sampler-arg` | [`Config::sampler`] |
//! | `batch.maxQueueSize`, `batch.maxExportBatchSize`, `batch.scheduledDelayMs`, `batch.exportTimeoutMs` | | [`Config::batch`] |
//! | `limits.attributeCountLimit`, `limits.attributeValueLengthLimit`, `limits.eventCountLimit`, `limits.linkCountLimit` | | [`Config::limits`] |
//! | `idGenerator` (`random`, `xray`) | | [`Config::id_generator`] |
//! | `propagateTraceHeaderCorsUrls` (origins, URL prefixes, `/regex/`) | | [`Config::propagate_trace_header_cors_urls`] |
//! | `instrumentGlobalFetch` (boolean) | | [`Config::instrument_global_fetch`] |
//! | `correctClockSkew` (boolean) | | [`Config::correct_clock_skew`] |
//! | `propagators` (`tracecontext`, `baggage`, `xray`; list or comma-separated) | | [`Config::propagators`] |

mod page;

use std::time::Duration;

use opentelemetry::KeyValue;

use crate::error::ConfigError;
use crate::export::OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT_MS;
use crate::fetch::OriginMatcher;
use crate::processor::BatchConfig;
use crate::propagation::PropagatorKind;
use crate::trace::{IdGenerator, Sampler, SpanLimits};

pub use page::PAGE_CONFIG_ELEMENT_ID;

/// Where spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExporterKind {
    /// OTLP/HTTP JSON to [`Config::traces_endpoint`], batched.
    Otlp,
    /// One line per span in the devtools console.
    Console,
}

/// The SDK's configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// `service.name` (default `unknown_service`).
    pub service_name: String,
    /// `service.version`.
    pub service_version: Option<String>,
    /// `deployment.environment.name`.
    pub deployment_environment: Option<String>,
    /// More resource attributes.
    pub resource_attributes: Vec<KeyValue>,
    /// Exporters; empty means spans are recorded but go nowhere (`none`). Default: OTLP.
    pub exporters: Vec<ExporterKind>,
    /// Full OTLP traces URL; relative URLs resolve against the page. Default `/v1/traces`,
    /// a same-origin relay.
    pub traces_endpoint: String,
    /// Headers sent with every export request.
    pub headers: Vec<(String, String)>,
    /// Timeout of one export request.
    pub request_timeout: Duration,
    /// Head sampler (default `parentbased_always_on`).
    pub sampler: Sampler,
    /// Batch processor settings.
    pub batch: BatchConfig,
    /// Span limits.
    pub limits: SpanLimits,
    /// Random or X-Ray compatible trace ids.
    pub id_generator: IdGenerator,
    /// Origins besides the page's own whose requests carry trace headers.
    pub propagate_trace_header_cors_urls: Vec<OriginMatcher>,
    /// Patch `window.fetch` so every fetch on the page is traced (default off).
    pub instrument_global_fetch: bool,
    /// Shift exported browser timestamps into the server's clock (default off).
    pub correct_clock_skew: bool,
    /// The propagators, in order (default W3C trace context and baggage).
    pub propagators: Vec<PropagatorKind>,
}

/// The default traces endpoint: the page's own origin, where a relay adds credentials.
pub const DEFAULT_TRACES_ENDPOINT: &str = "/v1/traces";

impl Default for Config {
    fn default() -> Self {
        Self {
            service_name: "unknown_service".into(),
            service_version: None,
            deployment_environment: None,
            resource_attributes: Vec::new(),
            exporters: vec![ExporterKind::Otlp],
            traces_endpoint: DEFAULT_TRACES_ENDPOINT.into(),
            headers: Vec::new(),
            request_timeout: Duration::from_millis(OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT_MS),
            sampler: Sampler::default(),
            batch: BatchConfig::default(),
            limits: SpanLimits::default(),
            id_generator: IdGenerator::default(),
            propagate_trace_header_cors_urls: Vec::new(),
            instrument_global_fetch: false,
            correct_clock_skew: false,
            propagators: vec![PropagatorKind::TraceContext, PropagatorKind::Baggage],
        }
    }
}

impl Config {
    /// Sets `service.name`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sets `service.version`.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Sets `deployment.environment.name`.
    pub fn with_deployment_environment(mut self, environment: impl Into<String>) -> Self {
        self.deployment_environment = Some(environment.into());
        self
    }

    /// Adds a resource attribute.
    pub fn with_resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.resource_attributes.push(attribute);
        self
    }

    /// Sets the exporters (an empty list exports nothing).
    pub fn with_exporters(mut self, exporters: impl IntoIterator<Item = ExporterKind>) -> Self {
        self.exporters = exporters.into_iter().collect();
        self
    }

    /// Sets the full OTLP traces URL.
    pub fn with_traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.traces_endpoint = url.into();
        self
    }

    /// Adds a header to every export request.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the sampler.
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// Sets the batch processor's settings.
    pub fn with_batch(mut self, batch: BatchConfig) -> Self {
        self.batch = batch;
        self
    }

    /// Sets the span limits.
    pub fn with_limits(mut self, limits: SpanLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the id generator.
    pub fn with_id_generator(mut self, id_generator: IdGenerator) -> Self {
        self.id_generator = id_generator;
        self
    }

    /// Allows trace headers on requests to an origin (`http://127.0.0.1:4567`), a URL prefix,
    /// or a `/regex/` (see [`OriginMatcher::parse`]).
    pub fn with_propagation_to(mut self, matcher: OriginMatcher) -> Self {
        self.propagate_trace_header_cors_urls.push(matcher);
        self
    }

    /// Patches `window.fetch` so every fetch on the page is traced.
    pub fn with_global_fetch_instrumentation(mut self, on: bool) -> Self {
        self.instrument_global_fetch = on;
        self
    }

    /// Shifts exported browser timestamps into the server's clock.
    pub fn with_clock_skew_correction(mut self, on: bool) -> Self {
        self.correct_clock_skew = on;
        self
    }

    /// Applies the page's `<script id="otel-web-config">` JSON and `<meta name="otel-web:…">`
    /// tags on top of this configuration (the page wins). Outside a browser, or on a page
    /// without them, returns the configuration unchanged.
    pub fn merge_page(self) -> Result<Self, ConfigError> {
        page::merge(self)
    }

    /// Checks that the values work together; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.service_name.trim().is_empty() {
            return Err(ConfigError::field("serviceName", "must not be empty"));
        }
        if self.exporters.contains(&ExporterKind::Otlp) && self.traces_endpoint.trim().is_empty() {
            return Err(ConfigError::field("tracesEndpoint", "must not be empty when exporting with otlp"));
        }
        let batch = &self.batch;
        if batch.max_queue_size == 0 {
            return Err(ConfigError::field("batch.maxQueueSize", "must be at least 1"));
        }
        if batch.max_export_batch_size == 0 || batch.max_export_batch_size > batch.max_queue_size {
            return Err(ConfigError::field(
                "batch.maxExportBatchSize",
                format!("must be from 1 to batch.maxQueueSize ({})", batch.max_queue_size),
            ));
        }
        if batch.scheduled_delay.is_zero() {
            return Err(ConfigError::field("batch.scheduledDelayMs", "must be more than 0"));
        }
        if batch.export_timeout.is_zero() {
            return Err(ConfigError::field("batch.exportTimeoutMs", "must be more than 0"));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::field("exportTimeoutMs", "must be more than 0"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_field() {
        assert_eq!(Config::default().validate(), Ok(()));
        let mut config = Config::default();
        config.batch.max_export_batch_size = 4096;
        let err = config.validate().expect_err("batch larger than queue");
        assert!(err.to_string().contains("`batch.maxExportBatchSize`"), "{err}");
        let err = Config::default().with_service_name(" ").validate().expect_err("empty name");
        assert!(err.to_string().contains("`serviceName`"), "{err}");
    }
}
