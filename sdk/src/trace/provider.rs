//! [`TracerProvider`]: the SDK's entry point, `Send + Sync` so it can be installed globally.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use opentelemetry::{InstrumentationScope, KeyValue};

use super::ids::IdGenerator;
use super::limits::SpanLimits;
use super::pipeline;
use super::sampler::Sampler;
use super::tracer::Tracer;
use crate::error::ExportError;
use crate::export::SpanExporter;
use crate::processor::{BatchConfig, BatchSpanProcessor, SimpleSpanProcessor, SpanProcessor};
use crate::resource::Resource;

static NEXT_PROVIDER_ID: AtomicU64 = AtomicU64::new(1);

/// Creates tracers and owns the span pipeline (sampler, limits, processors, resource).
///
/// Cloning is cheap and shares everything. Install it with
/// `opentelemetry::global::set_tracer_provider(provider.clone())` (or let [`crate::init`] do
/// it), keep a clone to call [`force_flush`](Self::force_flush) or
/// [`set_span_attribute`](Self::set_span_attribute).
#[derive(Debug, Clone)]
pub struct TracerProvider {
    shared: Arc<ProviderShared>,
}

/// What tracers and spans need from their provider; holds no browser objects.
#[derive(Debug)]
pub(crate) struct ProviderShared {
    pub(crate) id: u64,
    pub(crate) sampler: Sampler,
    pub(crate) limits: SpanLimits,
    pub(crate) id_generator: IdGenerator,
    pub(crate) resource: Resource,
    span_attributes: RwLock<Vec<KeyValue>>,
    /// Whether `span_attributes` is non-empty, so span start skips the lock when nothing is set.
    has_span_attributes: AtomicBool,
    shut_down: AtomicBool,
}

impl ProviderShared {
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Relaxed)
    }

    /// The attributes every new span starts with, with room for `extra` more.
    pub(crate) fn span_attributes(&self, extra: usize) -> Vec<KeyValue> {
        if !self.has_span_attributes.load(Ordering::Relaxed) {
            return Vec::with_capacity(extra);
        }
        let Ok(attrs) = self.span_attributes.read() else { return Vec::with_capacity(extra) };
        let mut out = Vec::with_capacity(attrs.len() + extra);
        out.extend(attrs.iter().cloned());
        out
    }
}

impl Drop for ProviderShared {
    fn drop(&mut self) {
        pipeline::unregister(self.id);
    }
}

impl TracerProvider {
    /// Starts configuring a provider.
    pub fn builder() -> TracerProviderBuilder {
        TracerProviderBuilder::default()
    }

    /// The resource describing this browser and service.
    pub fn resource(&self) -> &Resource {
        &self.shared.resource
    }

    /// Sets an attribute on every span started from now on (replacing one with the same key),
    /// for example `user.id` after sign-in.
    pub fn set_span_attribute(&self, attribute: KeyValue) {
        if let Ok(mut attrs) = self.shared.span_attributes.write() {
            match attrs.iter_mut().find(|kv| kv.key == attribute.key) {
                Some(existing) => *existing = attribute,
                None => attrs.push(attribute),
            }
            self.shared.has_span_attributes.store(true, Ordering::Relaxed);
        }
    }

    /// Stops adding the attribute `key` to new spans (after sign-out, say).
    pub fn remove_span_attribute(&self, key: &str) {
        if let Ok(mut attrs) = self.shared.span_attributes.write() {
            attrs.retain(|kv| kv.key.as_str() != key);
            self.shared.has_span_attributes.store(!attrs.is_empty(), Ordering::Relaxed);
        }
    }

    /// Exports every finished span now; resolves when the data is out (or failed).
    pub async fn force_flush(&self) -> Result<(), ExportError> {
        let Some(processors) = pipeline::get(self.shared.id) else {
            return Err(ExportError::AlreadyShutdown);
        };
        let mut result = Ok(());
        for processor in processors.iter() {
            if let Err(e) = processor.force_flush().await {
                result = result.and(Err(e));
            }
        }
        result
    }

    /// Starts sending everything the processors hold, synchronously (the module is about to
    /// abort: a Rust panic).
    #[cfg(feature = "errors")]
    pub(crate) fn flush_before_abort(&self) {
        if let Some(processors) = pipeline::get(self.shared.id) {
            processors.iter().for_each(|p| p.flush_before_abort());
        }
    }

    /// Flushes and shuts down every processor; later spans are not recorded. Idempotent: a
    /// second call resolves to [`ExportError::AlreadyShutdown`].
    pub async fn shutdown(&self) -> Result<(), ExportError> {
        if self.shared.shut_down.swap(true, Ordering::SeqCst) {
            return Err(ExportError::AlreadyShutdown);
        }
        let Some(processors) = pipeline::unregister(self.shared.id) else { return Ok(()) };
        let mut result = Ok(());
        for processor in processors.iter() {
            if let Err(e) = processor.shutdown().await {
                result = result.and(Err(e));
            }
        }
        result
    }
}

impl opentelemetry::trace::TracerProvider for TracerProvider {
    type Tracer = Tracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> Tracer {
        Tracer::new(Arc::clone(&self.shared), scope)
    }

    fn tracer(&self, name: impl Into<Cow<'static, str>>) -> Tracer {
        self.tracer_with_scope(InstrumentationScope::builder(name).build())
    }
}

/// Configures a [`TracerProvider`].
///
/// ```
/// use otel_web::export::InMemoryExporter;
/// use otel_web::trace::{Sampler, TracerProvider};
/// use otel_web::Resource;
///
/// let exporter = InMemoryExporter::default();
/// let provider = TracerProvider::builder()
///     .with_resource(Resource::builder().with_service_name("frontend").build())
///     .with_sampler(Sampler::TraceIdRatio(0.5))
///     .with_simple_exporter(exporter.clone())
///     .build();
/// # let _ = provider;
/// ```
#[derive(Default)]
pub struct TracerProviderBuilder {
    processors: Vec<Box<dyn SpanProcessor>>,
    sampler: Sampler,
    limits: SpanLimits,
    id_generator: IdGenerator,
    resource: Option<Resource>,
}

impl std::fmt::Debug for TracerProviderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracerProviderBuilder")
            .field("processors", &self.processors.len())
            .field("sampler", &self.sampler)
            .field("limits", &self.limits)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl TracerProviderBuilder {
    /// Adds a processor; spans go to processors in the order they were added.
    pub fn with_span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.processors.push(Box::new(processor));
        self
    }

    /// Exports through a [`BatchSpanProcessor`] with the default [`BatchConfig`].
    pub fn with_batch_exporter(self, exporter: impl SpanExporter + 'static) -> Self {
        self.with_span_processor(BatchSpanProcessor::new(exporter, BatchConfig::default()))
    }

    /// Exports each span as it ends through a [`SimpleSpanProcessor`] (tests and debugging).
    pub fn with_simple_exporter(self, exporter: impl SpanExporter + 'static) -> Self {
        self.with_span_processor(SimpleSpanProcessor::new(exporter))
    }

    /// Sets the sampler (default `parentbased_always_on`).
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// Sets the span limits.
    pub fn with_span_limits(mut self, limits: SpanLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets how ids are generated (random, or X-Ray compatible).
    pub fn with_id_generator(mut self, id_generator: IdGenerator) -> Self {
        self.id_generator = id_generator;
        self
    }

    /// Sets the resource (default: [`Resource::builder`] with nothing added).
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// Builds the provider and registers its processors on this thread.
    pub fn build(self) -> TracerProvider {
        let id = NEXT_PROVIDER_ID.fetch_add(1, Ordering::Relaxed);
        let resource = self.resource.unwrap_or_else(|| Resource::builder().build());
        for processor in &self.processors {
            processor.set_resource(&resource);
            processor.set_span_limits(&self.limits);
        }
        pipeline::register(id, self.processors);
        TracerProvider {
            shared: Arc::new(ProviderShared {
                id,
                sampler: self.sampler,
                limits: self.limits,
                id_generator: self.id_generator,
                resource,
                span_attributes: RwLock::new(Vec::new()),
                has_span_attributes: AtomicBool::new(false),
                shut_down: AtomicBool::new(false),
            }),
        }
    }
}
