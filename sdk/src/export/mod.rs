//! Span exporters: where finished spans go.
//!
//! - [`OtlpHttpExporter`]: OTLP/HTTP over `fetch`, to a collector, Honeycomb, or a same-origin
//!   relay: JSON or (feature `protobuf`) protobuf, gzipped or not (feature `gzip`), with an
//!   outbox in the page's storage for what could not be delivered (feature `offline`).
//! - `ConsoleExporter` (feature `console`): one readable line per span in the devtools console.
//! - `InMemoryExporter` (feature `testing`): keeps spans for assertions.

#[cfg(feature = "console")]
mod console;
#[cfg(feature = "gzip")]
pub mod gzip;
#[cfg(any(test, feature = "testing"))]
mod in_memory;
#[cfg(feature = "offline")]
mod offline;
mod otlp_http;
pub mod otlp_json;
#[cfg(feature = "protobuf")]
pub mod otlp_proto;
mod retry;

#[cfg(feature = "console")]
pub use console::ConsoleExporter;
#[cfg(any(test, feature = "testing"))]
pub use in_memory::InMemoryExporter;
#[cfg(feature = "offline")]
pub use offline::OFFLINE_STORAGE_BYTES_DEFAULT;
pub use otlp_http::{
    Compression, Encoding, ExportStats, HONEYCOMB_ENDPOINT, KEEPALIVE_BUDGET_BYTES, KEEPALIVE_MAX_BODY_BYTES,
    KEEPALIVE_MAX_IN_FLIGHT, OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT_MS, OtlpHttpExporter,
    OtlpHttpExporterBuilder,
};
pub use retry::RetryPolicy;

use crate::error::ExportError;
use crate::resource::Resource;
use crate::sync::LocalBoxFuture;
use crate::trace::SpanData;

/// How an export must be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportMode {
    /// Ordinary batching: retries allowed.
    Normal,
    /// The page is being hidden or unloaded: requests must start before the call returns,
    /// survive the page (`fetch` with `keepalive`), and fit the browser's keepalive budget.
    Unload,
}

/// Sends finished spans somewhere.
///
/// Contract:
/// - `export` must not block and must not panic. The processors never call it while an
///   earlier export's future is still pending (the OpenTelemetry specification's rule), so an
///   exporter needs no locking of its own.
/// - In [`ExportMode::Unload`] every request must start before `export` returns; the future may
///   resolve as soon as the requests are in the browser's hands (they outlive the page).
/// - [`hurry`](Self::hurry) is the page going away while a normal export is pending: the
///   exporter should resolve that export promptly, sending what it holds as it would in
///   unload mode. The processor then hands over the rest in unload mode.
/// - `shutdown` is called once; exports after it fail with [`ExportError::AlreadyShutdown`].
pub trait SpanExporter {
    /// Sends `batch`; resolves when the receiver has answered (or the export failed).
    fn export(
        &self,
        batch: Vec<SpanData>,
        mode: ExportMode,
    ) -> LocalBoxFuture<'static, Result<(), ExportError>>;
    /// The page is being hidden with a normal export pending: finish it now.
    fn hurry(&self) {}

    /// The provider's resource, given once before the first export.
    fn set_resource(&self, _resource: &Resource) {}

    /// Releases what the exporter holds.
    fn shutdown(&self) {}
}

/// A finished span for unit tests.
#[cfg(test)]
pub(crate) fn test_span(name: &str) -> SpanData {
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10u128),
            SpanId::from(0x1112_1314_1516_1718u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: name.to_owned().into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_250_000_000,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: Default::default(),
        scope: std::sync::Arc::new(opentelemetry::InstrumentationScope::builder("test").build()),
    }
}
