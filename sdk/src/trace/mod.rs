//! The tracing pipeline behind the `opentelemetry` API.
//!
//! ```text
//!  app code ── opentelemetry API ──▶ Tracer ──▶ Span ──end()──▶ SpanProcessor ──▶ SpanExporter
//!                                     │  ▲                       (thread-local:     (fetch, console,
//!                                     ▼  │ sampler, ids, limits   timers, JsValue)   in-memory)
//!                                TracerProvider (Send + Sync)
//! ```
//!
//! [`TracerProvider`], [`Tracer`] and [`Span`] hold no `JsValue`, so they are `Send + Sync` and
//! can be installed with `opentelemetry::global::set_tracer_provider`. Everything that touches
//! the browser (timers, `fetch`, page lifecycle events) lives in the processors, which are kept
//! in a thread-local registry keyed by provider: a finished span is handed to them by value.
//! The browser has one thread, so this costs nothing.

mod ids;
mod limits;
mod pipeline;
mod provider;
mod sampler;
mod span;
mod tracer;

pub use ids::IdGenerator;
pub(crate) use ids::push_hex;
pub use limits::SpanLimits;
pub use provider::{TracerProvider, TracerProviderBuilder};
pub use sampler::{Sampler, SamplingDecision};
pub use span::{Span, SpanData, SpanEvent};
pub use tracer::Tracer;
