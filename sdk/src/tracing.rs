//! `tracing` in the browser (feature `tracing`): spans from `#[instrument]` and `info_span!`
//! become otel-web spans, in the same trace as the traced fetches they contain.
//!
//! ```no_run
//! # async fn fetch_json(_: &str) {}
//! // Once, at start-up: otel-web's provider, and `tracing`'s global subscriber with this layer.
//! let Ok(_provider) = otel_web::tracing::init(otel_web::Config::default().with_service_name("frontend"))
//! else {
//!     return; // the error names the field; the app runs untraced
//! };
//!
//! // Anywhere: plain `tracing`. A traced fetch inside the span is its child, and the server
//! // that receives its `traceparent` continues the same trace.
//! #[tracing::instrument]
//! async fn load_profile(handle: String) {
//!     tracing::info!(cached = false, "loading");
//!     fetch_json(&format!("/api/activities/@{handle}")).await;
//! }
//! ```
//!
//! To compose with other layers (a console formatter, say), add [`layer()`] to your own
//! registry instead of calling [`init`]:
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(otel_web::tracing::layer().with_max_level(tracing_core::LevelFilter::DEBUG));
//! # let _ = subscriber;
//! ```
//!
//! ## The mapping
//!
//! | `tracing` | OpenTelemetry |
//! |---|---|
//! | a span (`#[instrument]`, `info_span!`) | a span, named after it (the function's name), started and ended on the browser's precise clock |
//! | its fields, and later `span.record(..)` | attributes (integers, floats, booleans and strings as such; `?debug` and `%display` as strings) |
//! | the special fields `otel.name`, `otel.kind` (`client`, `server`, `producer`, `consumer`, `internal`), `otel.status_code` (`ok`, `error`), `otel.status_message` | the span's name, kind and status, as `tracing-opentelemetry` reads them |
//! | its parent (explicit, or the current span) | its parent; a span with no `tracing` parent is a child of `opentelemetry::Context::current()` |
//! | entering it (every poll of an `#[instrument]`ed future) | making it `Context::current()`, so traced fetches and `opentelemetry` spans started inside are its children |
//! | `follows_from` | a link |
//! | an event (`info!`, `warn!`, …) | an event on the current span, named by its message, with its fields and `level` and `target` attributes |
//! | an `ERROR` event | also the span's status: error, described by the message |
//!
//! ## Levels
//!
//! The layer records spans and events up to its level, [`DEFAULT_MAX_LEVEL`] (`INFO`) unless
//! [`TracingLayer::with_max_level`] says otherwise: `debug!` and `trace!` stay in the
//! console, not in the trace. A span below the level is not recorded; what happens inside it
//! belongs to its nearest recorded ancestor. The level filters this layer only, not the
//! other layers of the same registry (they still see everything they ask for).
//!
//! ## Why an own layer and not `tracing-opentelemetry`
//!
//! `tracing-opentelemetry` 0.34 works over otel-web's `Tracer` as it is (it no longer needs
//! its `PreSampledTracer` trait). Both were measured in the same minimal app (otel-web's core,
//! one `#[instrument]`ed async fn with an event and a fetch; `wasm-release` profile,
//! wasm-bindgen, `wasm-opt -Oz`), on top of `tracing` with a bare registry, which either way
//! costs 22.9 kB (10.0 kB gzipped):
//!
//! | on top of `tracing` + registry | wasm | gzipped |
//! |---|---|---|
//! | this layer | +11.7 kB | +5.5 kB |
//! | `tracing-opentelemetry`, no default features | +30.3 kB | +13.6 kB |
//! | `tracing-opentelemetry`, default features | +33.3 kB | +15.0 kB |
//!
//! It also takes its timestamps from `Date.now()` (whole milliseconds, the wall clock),
//! while every other otel-web span uses the browser's precise monotonic clock, so
//! its spans could appear to start after the fetches they contain. What it has and this
//! layer leaves out: metrics from `tracing` events, `code.*` attributes on every span, and
//! setting a span's parent after it started (`OpenTelemetrySpanExt::set_parent`; here, attach
//! an `opentelemetry` `Context` before the span is created instead).

use std::borrow::Cow;
use std::cell::RefCell;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, ContextGuard, InstrumentationScope, Key, KeyValue, Value, global};
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, LevelFilter, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

use crate::error::ConfigError;
use crate::report::{self, Problem};
use crate::semconv;
use crate::trace::TracerProvider;
use crate::{Config, now};

/// The level recorded unless [`TracingLayer::with_max_level`] says otherwise.
pub const DEFAULT_MAX_LEVEL: LevelFilter = LevelFilter::INFO;

/// Starts otel-web ([`crate::init`]) and makes a registry with [`layer()`] `tracing`'s
/// global subscriber: the one call an app that uses `tracing` needs.
///
/// A configuration error is returned (nothing is installed). If the app already set a global
/// subscriber, that one stays, a warning says so, and the provider is still returned: add
/// [`layer()`] to that subscriber instead.
pub fn init(config: Config) -> Result<TracerProvider, ConfigError> {
    use tracing_subscriber::layer::SubscriberExt as _;

    let provider = crate::init(config)?;
    let subscriber = tracing_subscriber::registry().with(layer());
    if tracing_core::dispatcher::set_global_default(tracing_core::Dispatch::new(subscriber)).is_err() {
        report::warn(Problem::Config, || {
            "a global tracing subscriber was already set: add otel_web::tracing::layer() to it".into()
        });
    }
    Ok(provider)
}

/// The layer, recording up to [`DEFAULT_MAX_LEVEL`].
pub fn layer() -> TracingLayer {
    TracingLayer { max_level: DEFAULT_MAX_LEVEL }
}

/// A [`tracing_subscriber::Layer`] that records `tracing` spans and events as otel-web spans
/// (see the [module docs](self)). It uses whichever tracer provider is global when a span
/// starts, so it may be created before [`crate::init`].
#[derive(Debug, Clone, Copy)]
pub struct TracingLayer {
    max_level: LevelFilter,
}

impl TracingLayer {
    /// Records spans and events up to `level` (`LevelFilter::OFF` records nothing).
    pub fn with_max_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.max_level = level.into();
        self
    }

    fn records(&self, level: &Level) -> bool {
        self.max_level >= *level
    }
}

/// What the layer keeps in a `tracing` span's extensions: the context holding its span.
struct Recorded(Context);

thread_local! {
    /// The contexts attached by `on_enter`, with the span they belong to, detached by
    /// `on_exit`. Per thread, like `tracing`'s current span and OpenTelemetry's context.
    static ENTERED: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

const SCOPE_NAME: &str = "otel-web.tracing";

impl<S> tracing_subscriber::Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let metadata = attrs.metadata();
        if !self.records(metadata.level()) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent = if attrs.is_root() {
            Context::new()
        } else if let Some(parent) = attrs.parent() {
            recorded_context(&ctx, parent).unwrap_or_else(Context::current)
        } else {
            // The current span, when recorded, is attached, so this is it (or an
            // `opentelemetry` span started inside it, or whatever the app attached).
            Context::current()
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let tracer = global::tracer_with_scope(
            InstrumentationScope::builder(SCOPE_NAME).with_version(env!("CARGO_PKG_VERSION")).build(),
        );
        let name = fields.name.take().unwrap_or(Cow::Borrowed(metadata.name()));
        let mut builder = tracer.span_builder(name).with_attributes(fields.attributes);
        if let Some(kind) = fields.kind {
            builder = builder.with_kind(kind);
        }
        let otel_span = tracer.build_with_context(builder, &parent);
        let cx = parent.with_span(otel_span);
        if let Some(status) = fields.status.take() {
            cx.span().set_status(status);
        }
        span.extensions_mut().insert(Recorded(cx));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        let Some(Recorded(cx)) = extensions.get::<Recorded>() else { return };
        let mut fields = Fields::default();
        values.record(&mut fields);
        let otel_span = cx.span();
        if let Some(name) = fields.name {
            otel_span.update_name(name);
        }
        if let Some(status) = fields.status {
            otel_span.set_status(status);
        }
        if !fields.attributes.is_empty() {
            otel_span.set_attributes(fields.attributes);
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(follows) = recorded_context(&ctx, follows) else { return };
        let extensions = span.extensions();
        if let Some(Recorded(cx)) = extensions.get::<Recorded>() {
            cx.span().add_link(follows.span().span_context().clone(), Vec::new());
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let metadata = event.metadata();
        if !self.records(metadata.level()) {
            return;
        }
        let cx = if event.is_root() {
            return; // an event outside every span has nowhere to go
        } else if let Some(parent) = event.parent() {
            match recorded_context(&ctx, parent) {
                Some(cx) => cx,
                None => return,
            }
        } else {
            Context::current()
        };
        let otel_span = cx.span();
        if !otel_span.is_recording() {
            return;
        }
        let mut fields = Fields { event: true, ..Fields::default() };
        event.record(&mut fields);
        let level = *metadata.level();
        fields.attributes.push(KeyValue::new(semconv::TRACING_LEVEL, level.as_str()));
        fields.attributes.push(KeyValue::new(semconv::TRACING_TARGET, metadata.target()));
        let name = fields.message.unwrap_or(Cow::Borrowed(metadata.name()));
        if level == Level::ERROR {
            otel_span.set_status(Status::error(name.clone()));
        }
        otel_span.add_event_with_timestamp(name, now(), fields.attributes);
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let cx = match span.extensions().get::<Recorded>() {
            Some(Recorded(cx)) => cx.clone(),
            None => return,
        };
        let guard = cx.attach();
        let _ = ENTERED.try_with(|entered| match entered.try_borrow_mut() {
            Ok(mut entered) => entered.push((id.clone(), guard)),
            // Not reachable (nothing here calls back into the layer); dropping the guard
            // detaches at once rather than leaving the context attached forever.
            Err(_) => drop(guard),
        });
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        // Futures may exit spans out of order; the guard of this span's latest entry goes.
        let guard = ENTERED
            .try_with(|entered| {
                let mut entered = entered.try_borrow_mut().ok()?;
                let index = entered.iter().rposition(|(entered_id, _)| entered_id == id)?;
                Some(entered.remove(index).1)
            })
            .ok()
            .flatten();
        drop(guard);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let recorded = span.extensions_mut().remove::<Recorded>();
        if let Some(Recorded(cx)) = recorded {
            cx.span().end_with_timestamp(now());
        }
    }
}

/// The context of `id` or, when it was not recorded (below the level), of its nearest
/// recorded ancestor.
fn recorded_context<S>(ctx: &LayerContext<'_, S>, id: &Id) -> Option<Context>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.span_scope(id)?.find_map(|span| span.extensions().get::<Recorded>().map(|Recorded(cx)| cx.clone()))
}

/// Fields read from a span or an event.
#[derive(Default)]
struct Fields {
    /// Reading an event: `message` is its name, not an attribute.
    event: bool,
    message: Option<Cow<'static, str>>,
    name: Option<Cow<'static, str>>,
    kind: Option<SpanKind>,
    status: Option<Status>,
    status_message: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Fields {
    fn attribute(&mut self, field: &Field, value: Value) {
        self.attributes.push(KeyValue::new(Key::from_static_str(field.name()), value));
    }

    /// A field recorded as text: the message, an `otel.*` field, or an attribute. (Only
    /// text is matched against the special names: matching `Value`s would format floats,
    /// and that code costs 11 kB of wasm.)
    fn text(&mut self, field: &Field, text: String) {
        match field.name() {
            "message" if self.event => self.message = Some(text.into()),
            "otel.name" => self.name = Some(text.into()),
            "otel.kind" => {
                self.kind = match text.to_ascii_lowercase().as_str() {
                    "client" => Some(SpanKind::Client),
                    "server" => Some(SpanKind::Server),
                    "producer" => Some(SpanKind::Producer),
                    "consumer" => Some(SpanKind::Consumer),
                    "internal" => Some(SpanKind::Internal),
                    _ => self.kind.take(),
                }
            }
            "otel.status_code" => {
                self.status = match text.to_ascii_lowercase().as_str() {
                    "ok" => Some(Status::Ok),
                    "error" => Some(Status::error(self.status_message.clone().unwrap_or_default())),
                    _ => self.status.take(),
                }
            }
            "otel.status_message" => {
                if let Some(Status::Error { description }) = &mut self.status {
                    *description = text.clone().into();
                }
                self.status_message = Some(text);
            }
            _ => self.attribute(field, Value::String(text.into())),
        }
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attribute(field, Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attribute(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(value) => self.attribute(field, Value::I64(value)),
            // OpenTelemetry has no unsigned integers: a u64 above i64::MAX keeps its digits.
            Err(_) => self.attribute(field, Value::String(value.to_string().into())),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attribute(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }
}
