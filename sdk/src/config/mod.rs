//! [`Config`]: everything [`crate::init`] needs, typed, with the OpenTelemetry defaults.
//!
//! Set it in Rust, or (feature `page-config`) let the page override it at run time, so an
//! endpoint or a sample rate changes without rebuilding the wasm, with `Config::merge_page`,
//! which reads:
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
//! | `encoding` (`json`, `protobuf`) | `otel-web:encoding` | [`Config::encoding`] |
//! | `compression` (`none`, `gzip`) | `otel-web:compression` | [`Config::compression`] |
//! | `offlineStorageBytes` (0 turns the outbox off) | | [`Config::offline_storage_bytes`] |
//! | `sampler`, `samplerArg` (`OTEL_TRACES_SAMPLER` names) | `otel-web:sampler`, `otel-web:sampler-arg` | [`Config::sampler`] |
//! | `batch.maxQueueSize`, `batch.maxExportBatchSize`, `batch.scheduledDelayMs`, `batch.exportTimeoutMs` | | [`Config::batch`] |
//! | `limits.attributeCountLimit`, `limits.attributeValueLengthLimit`, `limits.eventCountLimit`, `limits.linkCountLimit` | | [`Config::limits`] |
//! | `idGenerator` (`random`, `xray`) | | [`Config::id_generator`] |
//! | `propagateTraceHeaderCorsUrls` (origins, URL prefixes, `/regex/`) | | [`Config::propagate_trace_header_cors_urls`] |
//! | `instrumentGlobalFetch` (boolean) | | [`Config::instrument_global_fetch`] |
//! | `correctClockSkew` (boolean) | | [`Config::correct_clock_skew`] |
//! | `propagators` (`tracecontext`, `baggage`, `xray`; list or comma-separated) | | [`Config::propagators`] |
//! | `instrumentations` (object: name → `true`/`false` or an object of options, `"enabled": false` to turn off) | | [`Config::instrumentations`] |
//!
//! The page's values are checked, and a wrong one is a [`ConfigError`] naming its field, never
//! silently adjusted: counts are whole numbers from 0 to 4294967295 (a JSON number or a string of
//! digits), `…Ms` values whole milliseconds up to [`MAX_TIMER_MS`] (the longest browser timer),
//! and endpoints absolute `http(s)` URLs without credentials or paths starting with `/`.

#[cfg(feature = "page-config")]
mod page;

use std::time::Duration;

use opentelemetry::KeyValue;

use crate::error::ConfigError;
use crate::export::{Compression, Encoding, OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT_MS};
use crate::fetch::OriginMatcher;
use crate::instrument::{Options, Switch, Switches};
use crate::processor::BatchConfig;
use crate::propagation::PropagatorKind;
use crate::trace::{IdGenerator, Sampler, SpanLimits};

#[cfg(feature = "page-config")]
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
    /// OTLP/JSON (default) or OTLP/protobuf (feature `protobuf`).
    pub encoding: Encoding,
    /// gzip the export bodies (feature `gzip`; default off).
    pub compression: Compression,
    /// Bound of the outbox in the page's storage, where spans that could not be delivered
    /// wait (feature `offline`; default 1 MiB with it, 0 — off — without).
    pub offline_storage_bytes: u32,
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
    /// Which [instrumentations](crate::instrument) run, and their options (default: every one
    /// compiled in, with default options).
    pub instrumentations: Switches,
}

/// The default traces endpoint: the page's own origin, where a relay adds credentials.
pub const DEFAULT_TRACES_ENDPOINT: &str = "/v1/traces";

/// The outbox's default bound: 1 MiB with the `offline` feature, off without it.
pub const DEFAULT_OFFLINE_STORAGE_BYTES: u32 = if cfg!(feature = "offline") { 1024 * 1024 } else { 0 };

/// The longest delay, in milliseconds, any `…Ms` setting may have: browsers keep timer delays
/// in a signed 32-bit integer and fire a longer timer at once (HTML, `setTimeout`).
pub const MAX_TIMER_MS: u32 = 2_147_483_647;

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
            encoding: Encoding::Json,
            compression: Compression::None,
            offline_storage_bytes: DEFAULT_OFFLINE_STORAGE_BYTES,
            sampler: Sampler::default(),
            batch: BatchConfig::default(),
            limits: SpanLimits::default(),
            id_generator: IdGenerator::default(),
            propagate_trace_header_cors_urls: Vec::new(),
            instrument_global_fetch: false,
            correct_clock_skew: false,
            propagators: vec![PropagatorKind::TraceContext, PropagatorKind::Baggage],
            instrumentations: Switches::default(),
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

    /// Sends OTLP/JSON or (feature `protobuf`) OTLP/protobuf.
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Compresses export bodies with gzip (feature `gzip`), or not.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Keeps spans that could not be delivered in the page's storage, at most `max_bytes`
    /// (feature `offline`; 0 turns it off).
    pub fn with_offline_storage(mut self, max_bytes: u32) -> Self {
        self.offline_storage_bytes = max_bytes;
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

    /// Turns an [instrumentation](crate::instrument) on or off (`documentLoad`, `webVitals`, …).
    pub fn with_instrumentation(mut self, name: impl Into<String>, enabled: bool) -> Self {
        let name = name.into();
        let options = self.instrumentations.get(&name).map(|s| s.options.clone()).unwrap_or_default();
        self.instrumentations.set(name, Switch { enabled, options });
        self
    }

    /// Runs an [instrumentation](crate::instrument) with `options`.
    pub fn with_instrumentation_options(mut self, name: impl Into<String>, options: Options) -> Self {
        self.instrumentations.set(name, Switch { enabled: true, options });
        self
    }

    /// Shifts exported browser timestamps into the server's clock.
    pub fn with_clock_skew_correction(mut self, on: bool) -> Self {
        self.correct_clock_skew = on;
        self
    }

    /// Applies the page's `<script id="otel-web-config">` JSON and `<meta name="otel-web:…">`
    /// tags on top of this configuration (the page wins). Outside a browser, or on a page
    /// without them, returns the configuration unchanged. Feature `page-config`.
    #[cfg(feature = "page-config")]
    pub fn merge_page(self) -> Result<Self, ConfigError> {
        page::merge(self)
    }

    /// Checks that the values work together; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.service_name.trim().is_empty() {
            return Err(ConfigError::field("serviceName", "must not be empty"));
        }
        if self.exporters.contains(&ExporterKind::Otlp) {
            check_endpoint("tracesEndpoint", &self.traces_endpoint)?;
        }
        self.check_features()?;
        self.instrumentations.check()?;
        check_ratio(&self.sampler)?;
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
        check_timer("batch.scheduledDelayMs", batch.scheduled_delay)?;
        check_timer("batch.exportTimeoutMs", batch.export_timeout)?;
        check_timer("exportTimeoutMs", self.request_timeout)
    }
}

impl Config {
    /// Refuses what this build was compiled without: a page can name `xray` or `console`
    /// whatever cargo features the app enabled, and is told which feature it needs.
    fn check_features(&self) -> Result<(), ConfigError> {
        let needs = |field: &'static str, feature: &str| {
            ConfigError::field(
                field,
                format!("needs otel-web's `{feature}` cargo feature, which this app was built without"),
            )
        };
        if !cfg!(feature = "xray") {
            if self.propagators.contains(&PropagatorKind::XRay) {
                return Err(needs("propagators", "xray"));
            }
            if self.id_generator == IdGenerator::XRay {
                return Err(needs("idGenerator", "xray"));
            }
        }
        if !cfg!(feature = "console") && self.exporters.contains(&ExporterKind::Console) {
            return Err(needs("exporters", "console"));
        }
        if !cfg!(feature = "clock-skew") && self.correct_clock_skew {
            return Err(needs("correctClockSkew", "clock-skew"));
        }
        if !cfg!(feature = "protobuf") && self.encoding == Encoding::Protobuf {
            return Err(needs("encoding", "protobuf"));
        }
        if !cfg!(feature = "gzip") && self.compression == Compression::Gzip {
            return Err(needs("compression", "gzip"));
        }
        if !cfg!(feature = "offline") && self.offline_storage_bytes > 0 {
            return Err(needs("offlineStorageBytes", "offline"));
        }
        Ok(())
    }
}

/// A delay a browser timer can wait: more than 0 and at most [`MAX_TIMER_MS`].
fn check_timer(field: &'static str, delay: Duration) -> Result<(), ConfigError> {
    if delay.is_zero() || delay > Duration::from_millis(u64::from(MAX_TIMER_MS)) {
        return Err(ConfigError::field(
            field,
            format!("must be from 1 to {MAX_TIMER_MS} ms, got {} ms", delay.as_millis()),
        ));
    }
    Ok(())
}

/// A ratio sampler's ratio is from 0 to 1 (not NaN).
fn check_ratio(sampler: &Sampler) -> Result<(), ConfigError> {
    match sampler {
        Sampler::TraceIdRatio(ratio) if !(0.0..=1.0).contains(ratio) => Err(ConfigError::field(
            "samplerArg",
            format!("must be a number from 0 to 1, got {}", crate::platform::number::format_f64(*ratio)),
        )),
        Sampler::ParentBased(inner) => check_ratio(inner),
        _ => Ok(()),
    }
}

/// Checks that `url` can be the OTLP traces URL: an absolute `http:` or `https:` URL with a
/// host and no credentials (`fetch` refuses URLs with credentials), or a URL relative to the
/// page's origin (a path starting with `/`). In the browser an absolute URL must also satisfy
/// the browser's own URL parser. The error names `field`.
pub(crate) fn check_endpoint(field: &'static str, url: &str) -> Result<(), ConfigError> {
    let invalid = |why: &str| {
        ConfigError::field(
            field,
            format!("must be an http(s) URL or a path starting with / (like /v1/traces); {url:?} {why}"),
        )
    };
    if url.is_empty() {
        return Err(invalid("is empty"));
    }
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(invalid("contains a space or a control character"));
    }
    // `/\` is scheme-relative too: browsers read `\` as `/` in http(s) URLs.
    let scheme_relative = url.strip_prefix("//").or_else(|| url.strip_prefix("/\\"));
    let rest = match scheme_relative {
        // The page's scheme, another host.
        Some(rest) => rest,
        None if url.starts_with('/') => return Ok(()),
        None => {
            let Some((scheme, rest)) = url.split_once("://") else {
                return Err(invalid("is neither"));
            };
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return Err(invalid("has another scheme"));
            }
            rest
        }
    };
    let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err(ConfigError::field(
            field,
            "must not contain credentials (fetch refuses such URLs); send them in `headers` or add them in a relay",
        ));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, "")) => (address, None),
            Some((address, port)) => match port.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => return Err(invalid("has text after its IPv6 address")),
            },
            None => return Err(invalid("has an unclosed IPv6 address")),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let bracketed = authority.starts_with('[');
    let host_byte = |b: u8| {
        b.is_ascii_alphanumeric()
            || b".-_~%!$&'()*+,;=".contains(&b)
            || !b.is_ascii()
            || (bracketed && b == b':')
    };
    if host.is_empty() || !host.bytes().all(host_byte) {
        return Err(invalid("has no valid host"));
    }
    let port_valid = |port: &str| {
        port.bytes().all(|b| b.is_ascii_digit()) && matches!(port.parse::<u32>(), Ok(p) if p <= 65_535)
    };
    if port.is_some_and(|port| !port.is_empty() && !port_valid(port)) {
        return Err(invalid("has an invalid port"));
    }
    if scheme_relative.is_some() {
        return Ok(());
    }
    browser::check_absolute_url(url).map_err(|why| invalid(&why))
}

#[cfg(target_arch = "wasm32")]
mod browser {
    /// The browser's URL parser (`new URL(url)`, which throws on what it cannot parse).
    pub(super) fn check_absolute_url(url: &str) -> Result<(), String> {
        web_sys::Url::new(url).map(|_| ()).map_err(|_| "is not a URL the browser can parse".to_owned())
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod browser {
    /// Outside a browser the checks above are all there is.
    pub(super) fn check_absolute_url(_url: &str) -> Result<(), String> {
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

    /// Issue #13 item 12: a `tracesEndpoint` that is not a URL is refused when the configuration
    /// is validated, naming the field, instead of failing every export.
    #[test]
    fn the_traces_endpoint_must_be_an_http_url_or_a_path() {
        for url in [
            "/v1/traces",
            "/",
            "http://127.0.0.1:4318/v1/traces",
            "HTTPS://api.honeycomb.io/v1/traces?x=1#f",
            "http://[::1]:4318/v1/traces",
            "http://localhost:/v1/traces",
            "https://b\u{fc}cher.example/v1/traces",
            "//collector.example.com/v1/traces",
        ] {
            assert_eq!(check_endpoint("tracesEndpoint", url), Ok(()), "{url}");
        }
        for url in [
            "",
            "not a url",
            "collector:4318",
            "v1/traces",
            "ftp://example.com/v1/traces",
            "javascript:alert(1)",
            "http://",
            "http:///v1/traces",
            "http://exa mple.com/",
            " /v1/traces",
            "/v1/traces\n",
            "http://host:99999/",
            "http://host:80a/",
            "http://a:b:80/",
            "http://[::1/",
            "http://[::1]x/",
            "http://user:secret@example.com/v1/traces",
            "//",
            "http://exa<mple.com/",
        ] {
            let err = check_endpoint("tracesEndpoint", url).expect_err(url);
            assert!(err.to_string().contains("`tracesEndpoint`"), "{err}");
        }
        let config = Config::default().with_traces_endpoint("collector:4318");
        let err = config.validate().expect_err("not a URL");
        assert!(err.to_string().contains("`tracesEndpoint`"), "{err}");
        let unused = Config::default().with_exporters([]).with_traces_endpoint("");
        assert_eq!(unused.validate(), Ok(()), "the endpoint matters only when exporting with otlp");
    }

    #[test]
    fn what_this_build_was_compiled_without_is_a_config_error_naming_the_feature() {
        let cases = [
            (Config::default().with_id_generator(IdGenerator::XRay), cfg!(feature = "xray"), "`xray`"),
            (
                Config { propagators: vec![PropagatorKind::XRay], ..Config::default() },
                cfg!(feature = "xray"),
                "`xray`",
            ),
            (
                Config::default().with_exporters([ExporterKind::Console]),
                cfg!(feature = "console"),
                "`console`",
            ),
            (
                Config::default().with_clock_skew_correction(true),
                cfg!(feature = "clock-skew"),
                "`clock-skew`",
            ),
            (Config::default().with_encoding(Encoding::Protobuf), cfg!(feature = "protobuf"), "`protobuf`"),
            (Config::default().with_compression(Compression::Gzip), cfg!(feature = "gzip"), "`gzip`"),
            (Config::default().with_offline_storage(4096), cfg!(feature = "offline"), "`offline`"),
        ];
        for (config, enabled, feature) in cases {
            match config.validate() {
                Ok(()) => assert!(enabled, "accepted without the {feature} feature"),
                Err(e) => {
                    assert!(!enabled, "refused with the {feature} feature: {e}");
                    assert!(e.to_string().contains(feature), "{e}");
                }
            }
        }
    }

    #[test]
    fn delays_fit_a_browser_timer_and_ratios_are_from_0_to_1() {
        let mut config = Config::default();
        config.batch.scheduled_delay = Duration::from_millis(u64::from(MAX_TIMER_MS));
        assert_eq!(config.validate(), Ok(()));
        config.batch.scheduled_delay = Duration::from_millis(u64::from(MAX_TIMER_MS) + 1);
        let err = config.validate().expect_err("too long for setTimeout");
        assert!(err.to_string().contains("`batch.scheduledDelayMs`"), "{err}");
        let config = Config { request_timeout: Duration::from_secs(30 * 86_400), ..Config::default() };
        let err = config.validate().expect_err("too long for setTimeout");
        assert!(err.to_string().contains("`exportTimeoutMs`"), "{err}");
        for ratio in [f64::NAN, -0.1, 1.5] {
            let config =
                Config::default().with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(ratio))));
            let err = config.validate().expect_err("ratio out of range");
            assert!(err.to_string().contains("`samplerArg`"), "{err}");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn endpoint_checking_never_panics(url in any::<String>(), near in "[a-z:/\\[\\]@.0-9 ?#%\\\\]{0,30}") {
                for url in [&url, &near] {
                    if let Err(err) = check_endpoint("tracesEndpoint", url) {
                        prop_assert!(err.to_string().contains("`tracesEndpoint`"));
                    }
                }
            }

            #[test]
            fn http_urls_and_paths_are_accepted(
                scheme in "[hH][tT][tT][pP][sS]?",
                host in "[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?",
                port in proptest::option::of(0u16..),
                path in "(/[a-zA-Z0-9._~%!$&'()*+,;=:@-]{1,10}){0,4}",
            ) {
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                let url = format!("{scheme}://{host}{port}{path}");
                prop_assert_eq!(check_endpoint("tracesEndpoint", &url), Ok(()), "{}", url);
                let path = if path.is_empty() { "/".to_owned() } else { path };
                prop_assert_eq!(check_endpoint("tracesEndpoint", &path), Ok(()), "{}", path);
            }
        }
    }
}
