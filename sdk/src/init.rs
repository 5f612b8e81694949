//! Turning a [`Config`] into a running pipeline, and installing it globally.

use crate::config::{Config, ExporterKind};
use crate::error::ConfigError;
#[cfg(feature = "console")]
use crate::export::ConsoleExporter;
use crate::export::OtlpHttpExporter;
use crate::fetch::FetchConfig;
use crate::processor::BatchSpanProcessor;
use crate::report::{self, Problem};
use crate::resource::Resource;
use crate::trace::TracerProvider;

/// Builds a provider from `config` and installs it as the global tracer provider, with the W3C
/// `traceparent` + `baggage` propagators as the global propagator. Keep the returned provider
/// to flush, shut down, or set attributes on every later span.
///
/// ```no_run
/// let provider = otel_web::init(otel_web::Config::default().with_service_name("frontend"))
///     .expect("valid configuration");
/// # let _ = provider;
/// ```
pub fn init(config: Config) -> Result<TracerProvider, ConfigError> {
    let fetch = FetchConfig {
        propagate_to: config.propagate_trace_header_cors_urls.clone(),
        correct_clock_skew: config.correct_clock_skew,
        known_methods: None,
    };
    let instrument_global_fetch = config.instrument_global_fetch;
    let propagators = config.propagators.clone();
    let instrumentations = config.instrumentations.clone();
    let provider = build_provider(config)?;
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(crate::propagation::propagator(&propagators));
    if cfg!(target_arch = "wasm32") {
        crate::fetch::configure(fetch);
        if instrument_global_fetch && let Err(e) = crate::fetch::install_global() {
            report::warn(Problem::Config, || format!("could not instrument window.fetch: {e:?}"));
        }
        instrumentations.start_all(&provider);
    }
    Ok(provider)
}

/// Builds a provider from `config` without installing anything globally.
pub fn build_provider(config: Config) -> Result<TracerProvider, ConfigError> {
    config.validate()?;
    let mut resource =
        Resource::builder().with_browser_detection().with_service_name(config.service_name.clone());
    if let Some(version) = &config.service_version {
        resource = resource.with_service_version(version.clone());
    }
    if let Some(environment) = &config.deployment_environment {
        resource = resource.with_deployment_environment(environment.clone());
    }
    let resource = resource.with_attributes(config.resource_attributes.iter().cloned()).build();

    let mut builder = TracerProvider::builder()
        .with_resource(resource)
        .with_sampler(config.sampler.clone())
        .with_span_limits(config.limits)
        .with_id_generator(config.id_generator);
    for kind in &config.exporters {
        builder = match kind {
            ExporterKind::Otlp => {
                let mut exporter = OtlpHttpExporter::builder(config.traces_endpoint.clone())
                    .with_timeout(config.request_timeout)
                    .with_encoding(config.encoding)
                    .with_compression(config.compression);
                #[cfg(feature = "offline")]
                {
                    exporter = exporter.with_offline_storage(config.offline_storage_bytes as usize);
                }
                for (name, value) in &config.headers {
                    exporter = exporter.with_header(name.clone(), value.clone());
                }
                builder.with_span_processor(BatchSpanProcessor::new(exporter.build(), config.batch))
            }
            #[cfg(feature = "console")]
            ExporterKind::Console => builder
                .with_span_processor(crate::processor::SimpleSpanProcessor::new(ConsoleExporter::new())),
            // Refused by `validate` above.
            #[cfg(not(feature = "console"))]
            ExporterKind::Console => builder,
        };
    }
    Ok(builder.build())
}

/// The current time, for `*_with_timestamp` APIs: from the browser's precise clock, never from
/// `SystemTime::now()` (which panics on `wasm32-unknown-unknown`).
pub fn now() -> std::time::SystemTime {
    crate::platform::clock::to_system_time(crate::platform::clock::now_unix_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_tracer_and_span_are_send_and_sync_for_the_global_api() {
        fn check<T: Send + Sync>() {}
        check::<TracerProvider>();
        check::<crate::trace::Tracer>();
        check::<crate::trace::Span>();
    }

    #[test]
    fn invalid_configuration_is_refused_before_anything_starts() {
        let mut config = Config::default();
        config.batch.max_queue_size = 0;
        assert!(build_provider(config).is_err());
    }
}
