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

use std::sync::Arc;

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, TracerProviderBuilder,
};
use thiserror::Error;

pub use console::ConsoleExporter;
pub use user_id::UserIdFromBaggage;

use crate::config::{Exporter, Protocol, SamplerConfig, TelemetryConfig};

/// The exporter could not be built.
#[derive(Debug, Error)]
#[error("cannot build the OTLP exporter for {url}: {reason}")]
pub struct TelemetryError {
    url: String,
    reason: String,
}

/// The propagators the backend extracts (and injects): W3C trace context and baggage.
pub type Propagator = Arc<dyn TextMapPropagator + Send + Sync>;

/// The W3C propagators.
pub fn propagator() -> Propagator {
    let parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> =
        vec![Box::new(TraceContextPropagator::new()), Box::new(BaggagePropagator::new())];
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
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let sampler = if config.enabled { sampler(&config.sampler) } else { Sampler::AlwaysOff };
    SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(sampler)
        .with_span_processor(UserIdFromBaggage)
}

/// The provider the configuration asks for.
pub fn provider(config: &TelemetryConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let mut builder = builder(config);
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
                    .map_err(|e| TelemetryError { url: otlp.traces_url.clone(), reason: e.to_string() })?;
                let batch = BatchSpanProcessor::builder(exporter)
                    .with_batch_config(BatchConfigBuilder::default().with_max_queue_size(8_192).build())
                    .build();
                builder.with_span_processor(batch)
            }
        };
    }
    Ok(builder.build())
}

/// The tracer every part of the backend uses.
pub fn tracer(provider: &SdkTracerProvider) -> SdkTracer {
    provider.tracer_with_scope(
        InstrumentationScope::builder("cruddur-backend").with_version(env!("CARGO_PKG_VERSION")).build(),
    )
}
