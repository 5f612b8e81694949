//! Span processors: what happens to a span when it starts and ends.
//!
//! - [`BatchSpanProcessor`] queues finished spans and exports them in batches on a browser
//!   timer, and immediately (with `keepalive`) when the page is hidden or unloaded.
//! - [`SimpleSpanProcessor`] exports each span as it ends; for tests and debugging.
//!
//! Processors live on the browser's one thread (see [`crate::trace`]), so they may hold
//! `JsValue`s and need not be `Send`.

mod batch;
mod queue;
mod simple;

use std::cell::RefCell;
use std::time::Duration;

use opentelemetry::Context;

pub use batch::BatchSpanProcessor;
pub use simple::SimpleSpanProcessor;

use crate::error::ExportError;
use crate::resource::Resource;
use crate::sync::{self, LocalBoxFuture, Sender};
use crate::trace::{SpanData, SpanLimits};

/// Default `OTEL_BSP_MAX_QUEUE_SIZE`.
pub const OTEL_BSP_MAX_QUEUE_SIZE_DEFAULT: usize = 2_048;
/// Default `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE_DEFAULT: usize = 512;
/// Default `OTEL_BSP_SCHEDULE_DELAY` in milliseconds.
pub const OTEL_BSP_SCHEDULE_DELAY_DEFAULT_MS: u64 = 5_000;
/// Default `OTEL_BSP_EXPORT_TIMEOUT` in milliseconds.
pub const OTEL_BSP_EXPORT_TIMEOUT_DEFAULT_MS: u64 = 30_000;

/// Hooks called by the provider for every span.
///
/// Contract: the hooks run on the span's hot path and must not block or panic. `on_end` is
/// called once per sampled span, in end order. `force_flush` and `shutdown` resolve when the
/// data handed over so far is out (or has failed); `shutdown` is called at most once by the
/// provider. Every hook but `on_end` and the two futures has an empty default.
pub trait SpanProcessor {
    /// A span started; processors may add attributes (the page URL, say).
    fn on_start(&self, _span: &mut SpanData, _parent_cx: &Context) {}

    /// A sampled span ended.
    fn on_end(&self, span: SpanData);

    /// Exports everything received so far.
    fn force_flush(&self) -> LocalBoxFuture<'static, Result<(), ExportError>>;

    /// Flushes, then releases timers, listeners and the exporter.
    fn shutdown(&self) -> LocalBoxFuture<'static, Result<(), ExportError>>;

    /// The module is about to abort (a Rust panic, see `instrument::errors`): start sending
    /// everything held, with `keepalive`, before returning. Nothing of the processor runs
    /// afterwards, so it may break its usual rules (one export at a time) to get the data out.
    fn flush_before_abort(&self) {}

    /// The provider's resource, given once when the provider is built.
    fn set_resource(&self, _resource: &Resource) {}
    /// The provider's span limits, given once when the provider is built: attributes a
    /// processor adds to spans obey them too.
    fn set_span_limits(&self, _limits: &SpanLimits) {}
}

/// Configuration of the [`BatchSpanProcessor`]; the defaults are the OpenTelemetry ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Spans held at most; further spans are dropped and counted.
    pub max_queue_size: usize,
    /// Spans per export request at most.
    pub max_export_batch_size: usize,
    /// How long a span may wait before its batch is exported.
    pub scheduled_delay: Duration,
    /// How long one export may take before it is abandoned.
    pub export_timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_queue_size: OTEL_BSP_MAX_QUEUE_SIZE_DEFAULT,
            max_export_batch_size: OTEL_BSP_MAX_EXPORT_BATCH_SIZE_DEFAULT,
            scheduled_delay: Duration::from_millis(OTEL_BSP_SCHEDULE_DELAY_DEFAULT_MS),
            export_timeout: Duration::from_millis(OTEL_BSP_EXPORT_TIMEOUT_DEFAULT_MS),
        }
    }
}

/// Futures waiting for in-flight exports to finish.
#[derive(Debug, Default)]
struct FlushWaiters(RefCell<Vec<Sender<Result<(), ExportError>>>>);

impl FlushWaiters {
    fn wait(&self) -> LocalBoxFuture<'static, Result<(), ExportError>> {
        let (tx, rx) = sync::oneshot();
        if let Ok(mut waiters) = self.0.try_borrow_mut() {
            waiters.push(tx);
        }
        Box::pin(async move {
            rx.await.unwrap_or_else(|| Err(ExportError::Failed("the processor went away".into())))
        })
    }

    fn is_waiting(&self) -> bool {
        self.0.try_borrow().map(|w| w.iter().any(|tx| !tx.is_abandoned())).unwrap_or(false)
    }

    fn notify(&self, result: &Result<(), ExportError>) {
        let waiters = self.0.try_borrow_mut().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default();
        for waiter in waiters {
            waiter.send(result.clone());
        }
    }
}
