//! OpenTelemetry for the backend: the upstream Rust SDK (this side runs natively, where it works),
//! configured from the `OTEL_*` variables (see [`crate::config`]).
//!
//! ```text
//!  handler spans ──▶ user.id from baggage (UserIdFromBaggage) ──▶ batch ──▶ OTLP/HTTP (explorer, Honeycomb, collector)
//!                                                               └──▶ simple ──▶ console (one line per span)
//! ```
//!
//! The tracer and propagator are handed to the app in its state rather than read from globals,
//! so tests can run apps with their own in-memory exporters side by side.

mod console;
mod user_id;
pub mod xray;

use std::sync::Arc;

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, TracerProviderBuilder,
};
use otel_web::propagation::{BaggagePropagator, TraceContextPropagator};
use thiserror::Error;

pub use console::ConsoleExporter;
pub use user_id::UserIdFromBaggage;

use crate::config::{Exporter, Protocol, SamplerConfig, TelemetryConfig};

/// Telemetry could not be set up.
#[derive(Debug, Error)]
#[error("cannot set up {what}: {reason}")]
pub struct TelemetryError {
    what: String,
    reason: String,
}

/// The propagators the backend extracts (and injects): W3C trace context and baggage.
pub type Propagator = Arc<dyn TextMapPropagator + Send + Sync>;

/// The propagators: W3C trace context and baggage, and AWS X-Ray's `X-Amzn-Trace-Id` (accepted
/// alongside, so a request traced by an X-Ray client continues too).
///
/// The W3C ones are otel-web's, the code that writes the browser's headers, so both sides parse
/// them alike and strictly (opentelemetry_sdk's `TraceContextPropagator` reads each field with
/// `from_str_radix` and continues a 31-digit trace id or a `+`-signed field). X-Ray's is
/// opentelemetry-aws's; a valid `traceparent` wins over it, being extracted later.
pub fn propagator() -> Propagator {
    let parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = vec![
        Box::new(opentelemetry_aws::trace::XrayPropagator::new()),
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ];
    Arc::new(TextMapCompositePropagator::new(parts))
}

fn sampler(config: &SamplerConfig) -> Sampler {
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::Ratio(r) => Sampler::TraceIdRatioBased(*r),
        SamplerConfig::ParentBased(inner) => Sampler::ParentBased(Box::new(sampler(inner))),
    }
}

/// A provider builder with the resource, sampler and the `user.id` processor, but no exporter:
/// [`provider`] adds the configured ones, tests add an in-memory one.
pub fn builder(config: &TelemetryConfig) -> TracerProviderBuilder {
    builder_with_sampler(config, None)
}

/// [`builder`], with X-Ray sampling rules when the configuration names a rule file.
pub fn builder_with_rules(config: &TelemetryConfig) -> Result<TracerProviderBuilder, TelemetryError> {
    let rules = match &config.xray_rules {
        Some(path) => Some(
            xray::SamplingRule::load(path)
                .map_err(|e| TelemetryError { what: "X-Ray sampling".into(), reason: e.to_string() })?,
        ),
        None => None,
    };
    Ok(builder_with_sampler(config, rules.map(|rules| xray::XraySampler::new(&config.service_name, rules))))
}

fn builder_with_sampler(
    config: &TelemetryConfig,
    xray_sampler: Option<xray::XraySampler>,
) -> TracerProviderBuilder {
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let sampler = match (config.enabled, xray_sampler) {
        (false, _) => Sampler::AlwaysOff,
        // X-Ray's rules, but the browser's sampled decision wins.
        (true, Some(xray)) => Sampler::ParentBased(Box::new(xray)),
        (true, None) => sampler(&config.sampler),
    };
    SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(sampler)
        .with_span_processor(UserIdFromBaggage)
}

/// The provider the configuration asks for.
pub fn provider(config: &TelemetryConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let mut builder = builder_with_rules(config)?;
    if !config.enabled {
        return Ok(builder.build());
    }
    for exporter in &config.exporters {
        builder = match exporter {
            Exporter::Console => builder.with_simple_exporter(ConsoleExporter::stdout()),
            Exporter::Otlp => {
                let otlp = &config.otlp;
                let protocol = match otlp.protocol {
                    Protocol::HttpProtobuf => opentelemetry_otlp::Protocol::HttpBinary,
                    Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
                };
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_endpoint(otlp.traces_url.clone())
                    .with_protocol(protocol)
                    .with_headers(otlp.headers.iter().cloned().collect())
                    .build()
                    .map_err(|e| TelemetryError {
                        what: format!("the OTLP exporter for {}", otlp.traces_url),
                        reason: e.to_string(),
                    })?;
                let batch = BatchSpanProcessor::builder(exporter)
                    .with_batch_config(BatchConfigBuilder::default().with_max_queue_size(8_192).build())
                    .build();
                builder.with_span_processor(batch)
            }
        };
    }
    if let Some(xray) = &config.xray {
        // Traces started here must carry the epoch second X-Ray requires in their id.
        builder = builder.with_id_generator(opentelemetry_aws::trace::XrayIdGenerator::default());
        let exporter = xray::exporter(xray, &config.service_name).map_err(|e| TelemetryError {
            what: format!("the X-Ray daemon client for {}", xray.daemon),
            reason: e.to_string(),
        })?;
        builder = builder.with_span_processor(BatchSpanProcessor::builder(exporter).build());
    }
    Ok(builder.build())
}

/// The tracer every part of the backend uses.
pub fn tracer(provider: &SdkTracerProvider) -> SdkTracer {
    provider.tracer_with_scope(
        InstrumentationScope::builder("cruddur-backend").with_version(env!("CARGO_PKG_VERSION")).build(),
    )
}
