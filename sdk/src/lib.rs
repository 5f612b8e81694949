//! # otel-web
//!
//! OpenTelemetry tracing for the browser, in Rust compiled to WebAssembly.
//!
//! Application code uses the standard [`opentelemetry`] API — `global::tracer`, `Context`,
//! `TraceContextExt`, `FutureExt::with_context` — exactly as in a Rust service. otel-web is
//! the SDK behind it that works on `wasm32-unknown-unknown`: no threads, no
//! `SystemTime::now()`, no `Send` futures. It batches spans on browser timers, exports OTLP/JSON
//! over `fetch`, and flushes with `keepalive` when the page is hidden or unloaded.
//!
//! ## Quick start
//!
//! ```
//! use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _};
//! use opentelemetry::{Context, KeyValue, global};
//! # use otel_web::export::InMemoryExporter;
//!
//! // Once, at start-up. A bad configuration is an error naming the field, never a panic:
//! // the app runs untraced. (With the `page-config` feature, `.merge_page()` lets the page
//! // override any of this without a rebuild.)
//! let config = otel_web::Config::default()
//!     .with_service_name("frontend")
//!     .with_traces_endpoint("/v1/traces"); // a same-origin relay adds credentials server-side
//! # let config = config.with_exporters([]);
//! let Ok(provider) = otel_web::init(config) else {
//!     return; // the error names the field: log it, and the app runs untraced
//! };
//!
//! // After sign-in: every later span carries the user.
//! provider.set_span_attribute(KeyValue::new("user.id", "andrewbrown"));
//!
//! // Anywhere: the standard API.
//! let tracer = global::tracer("cruddur");
//! tracer.in_span("load home", |cx| {
//!     cx.span().set_attribute(KeyValue::new("app.result_length", 3));
//! });
//! ```
//!
//! ## Context across `.await`
//!
//! The browser has no threads, but futures still interleave. `Context::current()` is the
//! context of whoever is running *now*, so a future started with `spawn_local` must carry its
//! context with it:
//!
//! ```
//! use opentelemetry::context::FutureExt;
//! use opentelemetry::trace::{TraceContextExt, Tracer};
//! use opentelemetry::{Context, global};
//!
//! async fn load_home() { /* traced fetches here are children of "load home" */ }
//!
//! let span = global::tracer("cruddur").start("load home");
//! let cx = Context::current_with_span(span);
//! let task = load_home().with_context(cx); // attach on every poll, detach after
//! // wasm_bindgen_futures::spawn_local(task);
//! # drop(task);
//! ```
//!
//! Unlike Zone.js in OpenTelemetry JS, this works with native `async`/`await`: the context
//! travels with the future, not with the event loop.
//!
//! ## What is in the crate
//!
//! | module | what it holds |
//! |---|---|
//! | [`trace`] | `TracerProvider`, `Tracer`, `Span` (the `opentelemetry` traits), samplers, limits, ids |
//! | [`processor`] | batch (browser timers, page-hide flush) and simple processors |
//! | [`export`] | OTLP/HTTP JSON over `fetch`, console, in-memory (feature `testing`) |
//! | [`propagation`] | W3C `traceparent`/`tracestate` and `baggage` |
//! | [`fetch`] | traced `fetch`: CLIENT spans, allowlisted propagation, resource timing, latency split, clock skew |
//! | `http` | (feature `gloo-net`) a traced drop-in for `gloo_net::http::Request` |
//! | [`config`] | typed configuration, also read from the page |
//! | [`instrument`] | the page instrumentations (document load, web vitals, …): one trait, one feature each |
//! | [`semconv`] | attribute keys, including the documented `otelweb.*` ones |
//!
//! ## Features
//!
//! The default build is the core: spans and the `opentelemetry` API, the batch processor with
//! the page-hide flush, OTLP/JSON over `fetch`, the traced `fetch`, and W3C Trace Context and
//! Baggage. Everything else is opt-in, so an app ships only the bytes it uses; `cargo xtask
//! bench` reports each feature's gzipped size in `BENCHMARKS.md`. A configuration (or page)
//! that asks for something the app was built without is a [`ConfigError`] naming the feature.
//!
//! | feature | what it adds |
//! |---|---|
//! | `page-config` | `Config::merge_page`: configuration from the page's `<script id="otel-web-config">` JSON and `otel-web:*` metas, so endpoints and sampling change without a rebuild |
//! | `xray` | AWS X-Ray: the `X-Amzn-Trace-Id` propagator and X-Ray compatible trace ids |
//! | `console` | `export::ConsoleExporter`: one readable line per span in the devtools console |
//! | `server-timing` | reads `Server-Timing` on traced fetches: the latency split between server and network |
//! | `clock-skew` | (implies `server-timing`) estimates the browser↔server clock offset and can shift exported times into the server's clock |
//! | `gloo-net` | `otel_web::http::Request`, a traced drop-in for `gloo_net::http::Request` |
//! | `document-load` | `documentLoad`: the page load as a span tree (document fetch, resources), continuing the trace of the server that sent the HTML |
//! | `errors` | `errors`: uncaught errors and unhandled rejections (optionally `console.error`) as exception records, deduplicated and rate-limited; `instrument::errors::install_panic_hook` sends the trace that led to a Rust panic before the module aborts |
//! | `long-frames` | `longAnimationFrames`: long animation frames (or long tasks) as spans, with script attribution, capped per minute |
//! | `web-vitals` | `webVitals`: LCP, INP, CLS, FCP and TTFB exactly as Google's `web-vitals` computes them, with its attribution, as spans named after each vital (`browser.web_vital.*`), reported when final |
//! | `sessions` | `sessions`: `session.id` on every span, shared by the origin's tabs through `localStorage`, ending after inactivity (15 min) or at a maximum length (4 h); `session.start`/`session.end` markers; optional session-consistent sampling |
//! | `tracing` | `otel_web::tracing`: `tracing` spans (`#[instrument]`, `info_span!`) and events as otel-web spans and span events, parents of the traced fetches inside them; `tracing::init` is the one call |
//! | `interactions` | `interactions`: clicks, submits and key activations as spans (`click`, `app.widget.id` selector) that parent the fetches and spans their handlers start, in spawned futures too (`spawn_local` exact); rage clicks |
//! | `soft-navigations` | `softNavigations`: route changes (Navigation API, or `pushState`/`replaceState`/`popstate`) as `navigation` spans to the new view's idle point, parenting its work; `set_route_template` |
//! | `leptos` | `otel_web::leptos`: `Route` names Leptos route changes by their template (`/@:handle`) for `soft-navigations`; `TracedClient` traces each server function call into the server's trace |
//! | `testing` | `export::InMemoryExporter`, for tests of instrumented code |
//! | `protobuf` | OTLP/protobuf bodies (`encoding: "protobuf"`), hand-encoded: a third of JSON's bytes |
//! | `gzip` | `Content-Encoding: gzip` (`compression: "gzip"`), compressed in the wasm, page-hide bodies too |
//! | `offline` | an outbox in `localStorage` (`offlineStorageBytes`, 1 MiB): what could not be delivered is sent later |
//!
//! ## What goes on the wire, when, and how much
//!
//! Spans leave in batches (`batch.scheduledDelayMs`, default 5 s, or as soon as
//! `batch.maxExportBatchSize` are queued) as one `POST` to the traces endpoint, and all at once
//! when the page is hidden or unloaded, with `keepalive`, in bodies of at most 16 KiB of which
//! the newest that fit the browser's 64 KiB keepalive budget go first. Per span of the
//! benchmark's shape (five attributes; `cargo run --release -p otel-web --example wire_bytes
//! --features protobuf,gzip,testing`):
//!
//! | `encoding` / `compression` | `Content-Type` / `Content-Encoding` | bytes per span | spans per 64 KiB page-hide flush |
//! |---|---|---|---|
//! | `json` / `none` (default) | `application/json` | ≈ 434 | ≈ 148 |
//! | `json` / `gzip` | `application/json`, `gzip` | ≈ 68 | ≈ 950 |
//! | `protobuf` / `none` | `application/x-protobuf` | ≈ 146 | ≈ 448 |
//! | `protobuf` / `gzip` | `application/x-protobuf`, `gzip` | ≈ 42 | ≈ 1540 |
//!
//! gzip runs in the wasm, synchronously, because a page being hidden must start its requests
//! before the event returns and the browser's `CompressionStream` is asynchronous; so the
//! keepalive budget is counted in compressed bytes. With the `offline` outbox, a body that
//! could not be delivered (network error, `429`/`5xx` gateway answers, `navigator.onLine`
//! false, a page hidden while the collector fails, bodies past the keepalive budget) waits in
//! `localStorage` (at most `offlineStorageBytes`; the oldest are dropped first and counted as
//! `otelweb.offline.dropped_spans`) and is sent on the next page load, on `online`, or after
//! the next successful export, then deleted: each span once, except when the page dies between
//! the collector's `2xx` and the delete (a collector that does not deduplicate by span id then
//! stores it twice). See [`export`] for the details.
//!
//! ## Never breaking the page
//!
//! Nothing in the SDK panics or throws into the host page: failures are reported once (a
//! rate-limited `console.warn`) and the app keeps running. Configuration errors are returned
//! from [`init`] and name the field.
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod config;
pub mod error;
pub mod export;
pub mod fetch;
#[cfg(feature = "gloo-net")]
pub mod http;
mod init;
pub mod instrument;
#[cfg(feature = "leptos")]
pub mod leptos;
mod platform;
pub mod processor;
pub mod propagation;
mod report;
mod resource;
pub mod semconv;
mod sync;
pub mod trace;
#[cfg(feature = "tracing")]
pub mod tracing;

pub use config::{Config, ExporterKind};
pub use error::{ConfigError, ExportError};
pub use init::{build_provider, init, now};
#[cfg(any(feature = "interactions", feature = "soft-navigations"))]
pub use instrument::ambient::{current_context, spawn_local};
pub use resource::{Resource, ResourceBuilder};
pub use sync::LocalBoxFuture;
pub use trace::TracerProvider;
