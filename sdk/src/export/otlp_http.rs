//! [`OtlpHttpExporter`]: OTLP/HTTP over the browser's `fetch`, with JSON or (feature
//! `protobuf`) protobuf bodies, gzipped or not (feature `gzip`), and (feature `offline`) an
//! outbox in the page's storage for what could not be delivered.
//!
//! - `POST {traces endpoint}` with `Content-Type: application/json` or
//!   `application/x-protobuf`, `Content-Encoding: gzip` when compressing, and any custom
//!   headers; each attempt is bounded by a timeout enforced with an `AbortController`.
//! - Retries follow [`RetryPolicy`]: `429`/`502`/`503`/`504` and network errors only,
//!   exponential backoff with jitter, `Retry-After` honoured. A `partialSuccess` answer is
//!   logged and counted, never retried.
//! - In [`ExportMode::Unload`] the batch is split into bodies of at most
//!   [`KEEPALIVE_MAX_BODY_BYTES`], and every request starts before `export` returns. The
//!   Fetch Standard refuses a `keepalive` request once the document's keepalive bodies in
//!   flight would pass [`KEEPALIVE_BUDGET_BYTES`] (64 KiB; Chromium also caps them at
//!   [`KEEPALIVE_MAX_IN_FLIGHT`] requests), so the exporter counts those bytes itself: the
//!   newest bodies that fit the budget go with `keepalive` (they survive a navigation), the
//!   older rest as plain requests, which arrive when the page is only hidden and are lost
//!   when it is unloaded (counted in [`ExportStats::unload_overflow_requests`]).
//! - When the page is hidden while a normal export is pending ([`SpanExporter::hurry`]),
//!   its request is aborted, its backoff skipped, and its spans sent the unload way.
//! - A request is aborted when its export is dropped (the batch processor's export timeout):
//!   nothing keeps running that no one waits for.
//! - With gzip, every body is compressed in the wasm before it is sent, page-hide bodies
//!   included: the keepalive budget is counted in compressed bytes, and a page-hide batch is
//!   split until each compressed body is at most [`KEEPALIVE_MAX_BODY_BYTES`].
//!
//! # The outbox (feature `offline`)
//!
//! With an outbox ([`OtlpHttpExporterBuilder::with_offline_storage`]), a body that could not be
//! delivered is saved in `localStorage` instead of being lost: a network error, a retryable
//! answer (`429`, `502`, `503`, `504`; the outbox then takes over from the retries), a page
//! hidden while the collector is failing (the pending and queued spans are saved instead of
//! sent with `keepalive` to a collector that would refuse them), page-hide bodies past the
//! keepalive budget, and every export while `navigator.onLine` is false. Saved bodies are sent
//! again when the exporter starts (the next page load), on the window's `online` event, and
//! after every successful export; each is deleted once the collector answered `2xx`, so each
//! span arrives once. The one exception: if the page dies after the collector accepted a saved
//! body but before it was deleted, the body is sent again on the next load — the explorer
//! stores a span sent twice once (it keys spans by trace and span id), a collector without
//! that behaviour stores it twice. A collector answering `4xx` (other than `429`) would refuse
//! the body forever: it is deleted and its spans counted as dropped.//!
//! # Honeycomb, and keeping the key out of the page
//!
//! [`OtlpHttpExporter::honeycomb`] sends straight to Honeycomb with the `x-honeycomb-team`
//! header, which puts the API key in every visitor's browser. Prefer a same-origin relay: point
//! the exporter at `/v1/traces` on your own backend and let the backend add the key (the Cruddur
//! backend in this repository does exactly that).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use super::retry::RetryPolicy;
use super::{ExportMode, SpanExporter, otlp_json};
use crate::error::ExportError;
use crate::resource::Resource;
use crate::sync::{self, Either, LocalBoxFuture, Signal};
use crate::trace::SpanData;

/// Honeycomb's OTLP/HTTP endpoint (`/v1/traces` is appended).
pub const HONEYCOMB_ENDPOINT: &str = "https://api.honeycomb.io";
/// Largest body sent on page hide: small enough that several fit [`KEEPALIVE_BUDGET_BYTES`],
/// so the budget is spent in fine steps.
pub const KEEPALIVE_MAX_BODY_BYTES: usize = 16 * 1024;
/// The Fetch Standard's limit on the `keepalive` request bodies of one document in flight.
pub const KEEPALIVE_BUDGET_BYTES: usize = 64 * 1024;
/// Most `keepalive` requests Chromium lets one document have in flight.
pub const KEEPALIVE_MAX_IN_FLIGHT: usize = 9;
/// Default timeout of one request (`OTEL_EXPORTER_OTLP_TIMEOUT`).
pub const OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT_MS: u64 = 10_000;

/// The body format of OTLP/HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// OTLP/JSON, `application/json` (the default).
    #[default]
    Json,
    /// OTLP/protobuf, `application/x-protobuf` (feature `protobuf`; without it, JSON is sent).
    Protobuf,
}

/// The `Content-Encoding` of OTLP/HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Bodies as encoded (the default).
    #[default]
    None,
    /// `Content-Encoding: gzip` (feature `gzip`; without it, bodies are not compressed).
    Gzip,
}

/// One request body, ready for the wire.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "offline"), allow(dead_code, reason = "read by fetch (wasm32) and the outbox"))]
pub(crate) struct Body {
    pub(crate) bytes: Rc<[u8]>,
    pub(crate) protobuf: bool,
    pub(crate) gzip: bool,
    /// Spans it holds.
    pub(crate) spans: usize,
}

/// Exports spans as OTLP over `fetch`; clones share one exporter.
///
/// ```
/// use otel_web::export::OtlpHttpExporter;
///
/// // Same-origin relay: the backend adds credentials server-side.
/// let exporter = OtlpHttpExporter::builder("/v1/traces").build();
/// // Or an OpenTelemetry Collector that allows the page's origin (CORS).
/// let exporter = OtlpHttpExporter::builder("https://collector.example.com/v1/traces")
///     .with_header("x-team", "web")
///     .build();
/// # let _ = exporter;
/// ```
#[derive(Debug, Clone)]
pub struct OtlpHttpExporter {
    inner: Rc<Inner>,
}

#[derive(Debug)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "sending needs the browser's fetch"))]
struct Inner {
    url: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    retry: RetryPolicy,
    encoding: Encoding,
    compression: Compression,
    /// The resource in the request encoding.
    resource: RefCell<Rc<[u8]>>,
    /// A failure since the last success: page-hide bodies go to the outbox, not the wire.
    failing: Cell<bool>,
    #[cfg(feature = "offline")]
    outbox: Option<super::offline::Outbox>,
    #[cfg(feature = "offline")]
    draining: Cell<bool>,
    #[cfg(all(feature = "offline", target_arch = "wasm32"))]
    online_listener: RefCell<Option<wasm_bindgen::closure::Closure<dyn FnMut()>>>,
    shut_down: Cell<bool>,
    keepalive_in_flight: Cell<usize>,
    keepalive_bytes_in_flight: Cell<usize>,
    /// Raised by [`SpanExporter::hurry`]: the pending normal export must finish now.
    hurry: RefCell<Option<Signal>>,
    stats: Cell<ExportStats>,
}

/// Counters describing what the exporter has done, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// HTTP requests started.
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Requests sent with `keepalive`.
    pub keepalive_requests: u64,
    /// Body bytes sent with `keepalive`.
    pub keepalive_bytes: u64,
    /// Spans the collector reported as rejected in a `partialSuccess`.
    pub rejected_spans: u64,
    /// Exports that ended in an error.
    pub failed_exports: u64,
    /// Normal exports sent the unload way because the page was hidden while they were pending.
    pub hurried_exports: u64,
    /// Page-hide bodies sent without `keepalive` (or, with an outbox, saved in it) because the
    /// keepalive budget was spent.
    pub unload_overflow_requests: u64,
    /// Bodies saved in the outbox (feature `offline`).
    pub offline_saved: u64,
    /// Saved bodies the collector accepted later.
    pub offline_delivered: u64,
    /// Spans dropped from the outbox (its bound, the browser's quota, or refused for good).
    pub offline_dropped_spans: u64,
}

/// Configures an [`OtlpHttpExporter`].
#[derive(Debug)]
pub struct OtlpHttpExporterBuilder {
    url: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    retry: RetryPolicy,
    encoding: Encoding,
    compression: Compression,
    offline_bytes: usize,
}

impl OtlpHttpExporterBuilder {
    /// JSON (default) or protobuf bodies.
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Compress bodies with gzip, or not (default).
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Keep what could not be delivered in the page's storage, at most `max_bytes` (0 turns
    /// the outbox off); see the module docs. Feature `offline`.
    #[cfg(feature = "offline")]
    pub fn with_offline_storage(mut self, max_bytes: usize) -> Self {
        self.offline_bytes = max_bytes;
        self
    }

    /// Adds a header to every request (e.g. an auth header for a collector).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Timeout of one request (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How failed requests are retried.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Builds the exporter.
    pub fn build(self) -> OtlpHttpExporter {
        let encoding = if cfg!(feature = "protobuf") { self.encoding } else { Encoding::Json };
        let compression = if cfg!(feature = "gzip") { self.compression } else { Compression::None };
        let resource = encode_resource(encoding, &Resource::builder().build());
        #[cfg(feature = "offline")]
        let outbox =
            (self.offline_bytes > 0).then(|| super::offline::Outbox::open(self.offline_bytes)).flatten();
        let _ = self.offline_bytes;
        #[cfg(feature = "offline")]
        let failing = outbox.as_ref().is_some_and(|o| !o.is_empty());
        #[cfg(not(feature = "offline"))]
        let failing = false;
        let exporter = OtlpHttpExporter {
            inner: Rc::new(Inner {
                url: self.url,
                headers: self.headers,
                timeout: self.timeout,
                retry: self.retry,
                encoding,
                compression,
                resource: RefCell::new(resource),
                failing: Cell::new(failing),
                #[cfg(feature = "offline")]
                outbox,
                #[cfg(feature = "offline")]
                draining: Cell::new(false),
                #[cfg(all(feature = "offline", target_arch = "wasm32"))]
                online_listener: RefCell::new(None),
                shut_down: Cell::new(false),
                keepalive_in_flight: Cell::new(0),
                keepalive_bytes_in_flight: Cell::new(0),
                hurry: RefCell::new(None),
                stats: Cell::new(ExportStats::default()),
            }),
        };
        #[cfg(all(feature = "offline", target_arch = "wasm32"))]
        imp::watch_online(&exporter.inner);
        exporter
    }
}

fn encode_resource(encoding: Encoding, resource: &Resource) -> Rc<[u8]> {
    match encoding {
        #[cfg(feature = "protobuf")]
        Encoding::Protobuf => super::otlp_proto::encode_resource(resource).into(),
        _ => otlp_json::encode_resource(resource).into_bytes().into(),
    }
}

impl OtlpHttpExporter {
    /// Starts an exporter that posts to `traces_url` (the full URL, `/v1/traces` included;
    /// relative URLs resolve against the page).
    pub fn builder(traces_url: impl Into<String>) -> OtlpHttpExporterBuilder {
        OtlpHttpExporterBuilder {
            url: traces_url.into(),
            headers: Vec::new(),
            timeout: Duration::from_millis(OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT_MS),
            retry: RetryPolicy::default(),
            encoding: Encoding::Json,
            compression: Compression::None,
            offline_bytes: 0,
        }
    }

    /// Sends straight to Honeycomb. This exposes `api_key` to every visitor: use an ingest key
    /// that can only send data, or better, a same-origin relay (see the module docs).
    pub fn honeycomb(api_key: impl Into<String>) -> Self {
        Self::builder(format!("{HONEYCOMB_ENDPOINT}/v1/traces"))
            .with_header("x-honeycomb-team", api_key)
            .build()
    }

    /// What the exporter has done so far.
    pub fn stats(&self) -> ExportStats {
        self.inner.stats.get()
    }

    /// The URL requests go to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }
}

impl Inner {
    fn count(&self, update: impl FnOnce(&mut ExportStats)) {
        let mut stats = self.stats.get();
        update(&mut stats);
        self.stats.set(stats);
    }

    /// One request body holding `spans`, encoded and compressed as configured.
    fn body(&self, resource: &[u8], spans: &[SpanData]) -> Body {
        let raw: Vec<u8> = match self.encoding {
            #[cfg(feature = "protobuf")]
            Encoding::Protobuf => super::otlp_proto::encode_request(resource, spans),
            _ => otlp_json::encode_request(std::str::from_utf8(resource).unwrap_or("{}"), spans).into_bytes(),
        };
        let gzip = self.compression == Compression::Gzip && cfg!(feature = "gzip");
        #[cfg(feature = "gzip")]
        let raw = if gzip { super::gzip::compress(&raw) } else { raw };
        Body { bytes: raw.into(), protobuf: self.encoding == Encoding::Protobuf, gzip, spans: spans.len() }
    }

    /// Bodies for page hide: each at most [`KEEPALIVE_MAX_BODY_BYTES`] as sent (compressed, if
    /// compressing), unless it holds a single larger span. A batch too large is split into
    /// about as many parts as its size asks for, and a part still too large in two, so the
    /// encoder runs about twice over the batch.
    fn unload_bodies(&self, resource: &[u8], spans: &[SpanData], out: &mut Vec<Body>) {
        let body = self.body(resource, spans);
        if body.bytes.len() <= KEEPALIVE_MAX_BODY_BYTES || spans.len() <= 1 {
            out.push(body);
            return;
        }
        let parts = body.bytes.len().div_ceil(KEEPALIVE_MAX_BODY_BYTES).clamp(2, spans.len());
        let per_part = spans.len().div_ceil(parts);
        for part in spans.chunks(per_part) {
            self.unload_bodies(resource, part, out);
        }
    }

    /// Reports spans dropped from the outbox on the first span of this export, when the
    /// collector is answering (a body that fails goes to the outbox with its report, which
    /// then arrives with it).
    #[cfg(feature = "offline")]
    fn stamp_offline_drops(&self, batch: &mut [SpanData]) {
        if self.failing.get() {
            return;
        }
        if let (Some(outbox), Some(first)) = (&self.outbox, batch.first_mut()) {
            let dropped = outbox.take_dropped();
            if dropped > 0 {
                self.count(|s| s.offline_dropped_spans += dropped);
                first.attributes.push(opentelemetry::KeyValue::new(
                    crate::semconv::OTELWEB_OFFLINE_DROPPED_SPANS,
                    i64::try_from(dropped).unwrap_or(i64::MAX),
                ));
            }
        }
    }

    /// Saves `body` in the outbox; `false` without one.
    #[cfg(feature = "offline")]
    fn save(&self, body: &Body) -> bool {
        let Some(outbox) = &self.outbox else { return false };
        let saved = outbox.save(body);
        self.count(|s| {
            s.offline_saved += u64::from(saved.stored);
        });
        if saved.dropped_spans > 0 {
            crate::report::warn(crate::report::Problem::ExportFailed, || {
                format!(
                    "the offline outbox is full: {} older spans were dropped (sent as {})",
                    saved.dropped_spans,
                    crate::semconv::OTELWEB_OFFLINE_DROPPED_SPANS
                )
            });
        }
        true
    }

    #[cfg(not(feature = "offline"))]
    fn save(&self, _body: &Body) -> bool {
        false
    }

    /// Whether bodies should go to the outbox rather than the wire: the browser says it is
    /// offline.
    fn offline_now(&self) -> bool {
        #[cfg(feature = "offline")]
        if self.outbox.is_some() {
            return imp::navigator_offline();
        }
        false
    }
}

impl SpanExporter for OtlpHttpExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
        mode: ExportMode,
    ) -> LocalBoxFuture<'static, Result<(), ExportError>> {
        if self.inner.shut_down.get() {
            return Box::pin(async { Err(ExportError::AlreadyShutdown) });
        }
        let Ok(resource) = self.inner.resource.try_borrow().map(|r| Rc::clone(&r)) else {
            return Box::pin(async { Err(ExportError::Failed("the exporter is busy".into())) });
        };
        let inner = Rc::clone(&self.inner);
        #[cfg(feature = "offline")]
        let mut batch = batch;
        #[cfg(feature = "offline")]
        inner.stamp_offline_drops(&mut batch);
        if inner.offline_now() {
            // No network: straight to the outbox, sent again on `online`.
            let body = inner.body(&resource, &batch);
            inner.save(&body);
            return Box::pin(async { Ok(()) });
        }
        match mode {
            ExportMode::Normal => {
                let body = inner.body(&resource, &batch);
                let hurry = Signal::default();
                if let Ok(mut slot) = inner.hurry.try_borrow_mut() {
                    *slot = Some(hurry.clone());
                }
                Box::pin(async move {
                    let sent = sync::race(imp::send_with_retries(&inner, body.clone()), hurry.raised()).await;
                    let result = match sent {
                        Either::Left(Ok(())) => {
                            inner.failing.set(false);
                            imp::drain_outbox(&inner);
                            Ok(())
                        }
                        Either::Left(Err(e)) => {
                            inner.failing.set(true);
                            // What a collector refused for good would be refused again.
                            let refused = matches!(e, ExportError::Rejected { status, .. }
                                if !matches!(status, 429 | 502 | 503 | 504));
                            if !refused && inner.save(&body) { Ok(()) } else { Err(e) }
                        }
                        Either::Right(()) => {
                            // The page is going away: the request (if any) was aborted by the
                            // drop above, and the batch leaves the way an unload does.
                            inner.count(|s| s.hurried_exports += 1);
                            if inner.failing.get() && inner.save(&body) {
                                Ok(())
                            } else {
                                let mut bodies = Vec::new();
                                inner.unload_bodies(&resource, &batch, &mut bodies);
                                imp::send_for_unload(&inner, bodies)
                            }
                        }
                    };
                    if let Ok(mut slot) = inner.hurry.try_borrow_mut() {
                        *slot = None;
                    }
                    if result.is_err() {
                        inner.count(|s| s.failed_exports += 1);
                    }
                    result
                })
            }
            ExportMode::Unload => {
                // A collector that is failing would refuse these too: keep them for later.
                if inner.failing.get() && inner.save(&inner.body(&resource, &batch)) {
                    return Box::pin(async { Ok(()) });
                }
                let mut bodies = Vec::new();
                inner.unload_bodies(&resource, &batch, &mut bodies);
                drop(batch);
                let result = imp::send_for_unload(&inner, bodies);
                Box::pin(async move { result })
            }
        }
    }

    fn hurry(&self) {
        if let Ok(slot) = self.inner.hurry.try_borrow()
            && let Some(signal) = slot.as_ref()
        {
            signal.raise();
        }
    }

    fn set_resource(&self, resource: &Resource) {
        if let Ok(mut encoded) = self.inner.resource.try_borrow_mut() {
            *encoded = encode_resource(self.inner.encoding, resource);
        }
    }

    fn shutdown(&self) {
        self.inner.shut_down.set(true);
        #[cfg(all(feature = "offline", target_arch = "wasm32"))]
        imp::unwatch_online(&self.inner);
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::rc::Rc;

    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use super::{Body, Inner, KEEPALIVE_BUDGET_BYTES, KEEPALIVE_MAX_IN_FLIGHT};
    use crate::error::ExportError;
    use crate::export::retry::{Verdict, parse_retry_after, verdict_for_status};
    use crate::platform::{fetch, random, timer};
    use crate::report::{self, Problem};
    use crate::sync::{self, Either};

    /// The result of one request: the response, or why there was none.
    enum Sent {
        Response(web_sys::Response),
        NoResponse(String),
    }

    fn start(
        inner: &Inner,
        body: &Body,
        keepalive: bool,
    ) -> Result<(js_sys::Promise, Option<web_sys::AbortController>), String> {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        let headers = web_sys::Headers::new().map_err(|e| fetch::describe(&e))?;
        let content_type = if body.protobuf { "application/x-protobuf" } else { "application/json" };
        headers.set("content-type", content_type).map_err(|e| fetch::describe(&e))?;
        if body.gzip {
            headers.set("content-encoding", "gzip").map_err(|e| fetch::describe(&e))?;
        }
        for (name, value) in &inner.headers {
            if let Err(e) = headers.set(name, value) {
                report::warn(Problem::Config, || {
                    format!("header {name:?} cannot be sent: {}", fetch::describe(&e))
                });
            }
        }
        init.set_headers(&headers);
        init.set_body(&js_sys::Uint8Array::from(&body.bytes[..]));
        if keepalive {
            let _ = js_sys::Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
        }
        let controller = web_sys::AbortController::new().ok();
        if let Some(controller) = &controller {
            init.set_signal(Some(&controller.signal()));
        }
        let promise = fetch::call(&inner.url, &init).map_err(|e| fetch::describe(&e))?;
        inner.count(|s| {
            s.requests += 1;
            if keepalive {
                s.keepalive_requests += 1;
                s.keepalive_bytes += body.bytes.len() as u64;
            }
        });
        Ok((promise, controller))
    }

    async fn settle(promise: js_sys::Promise) -> Sent {
        match JsFuture::from(promise).await {
            Ok(value) => match value.dyn_into::<web_sys::Response>() {
                Ok(response) => Sent::Response(response),
                Err(_) => Sent::NoResponse("fetch resolved to something that is not a Response".into()),
            },
            Err(e) => Sent::NoResponse(fetch::describe(&e)),
        }
    }

    /// Aborts its request when dropped before [`disarm`](Self::disarm): an export that is
    /// abandoned (timed out, hurried) leaves nothing running.
    struct AbortOnDrop(Option<web_sys::AbortController>);

    impl AbortOnDrop {
        fn disarm(mut self) {
            self.0 = None;
        }
    }

    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            if let Some(controller) = self.0.take() {
                controller.abort();
            }
        }
    }

    async fn send_once(inner: &Inner, body: &Body) -> Sent {
        let (promise, controller) = match start(inner, body, false) {
            Ok(started) => started,
            Err(e) => return Sent::NoResponse(e),
        };
        let guard = AbortOnDrop(controller);
        let timeout_ms = inner.timeout.as_millis().min(u32::MAX as u128) as u32;
        match sync::race(settle(promise), timer::sleep(timeout_ms)).await {
            Either::Left(sent) => {
                guard.disarm();
                sent
            }
            // The guard aborts the request as it goes.
            Either::Right(()) => Sent::NoResponse(format!("no answer within {timeout_ms} ms")),
        }
    }

    async fn text(response: &web_sys::Response) -> String {
        let Ok(promise) = response.text() else { return String::new() };
        JsFuture::from(promise).await.ok().and_then(|t| t.as_string()).unwrap_or_default()
    }

    /// Logs and counts a `partialSuccess` answer (never retried, as the OTLP spec requires).
    fn check_partial_success(inner: &Inner, body: &str) {
        if body.is_empty() {
            return;
        }
        let Ok(json) = js_sys::JSON::parse(body) else { return };
        let Ok(partial) = js_sys::Reflect::get(&json, &"partialSuccess".into()) else { return };
        if !partial.is_object() {
            return;
        }
        let rejected = js_sys::Reflect::get(&partial, &"rejectedSpans".into()).ok();
        let rejected = rejected
            .and_then(|v| {
                v.as_f64().or_else(|| v.as_string().and_then(|s| s.parse::<u64>().ok().map(|n| n as f64)))
            })
            .unwrap_or(0.0) as u64;
        let message = js_sys::Reflect::get(&partial, &"errorMessage".into()).ok().and_then(|v| v.as_string());
        if rejected > 0 || message.as_deref().is_some_and(|m| !m.is_empty()) {
            inner.count(|s| s.rejected_spans += rejected);
            report::warn(Problem::ExportFailed, || {
                format!("the collector rejected {rejected} spans: {}", message.unwrap_or_default())
            });
        }
    }

    pub(super) async fn send_with_retries(inner: &Inner, body: Body) -> Result<(), ExportError> {
        let policy = inner.retry;
        // The outbox takes over from the retries: a failed body is saved at once and sent
        // again on `online`, after the next success, or on the next page load.
        #[cfg(feature = "offline")]
        let policy = if inner.outbox.is_some() {
            crate::export::RetryPolicy { max_attempts: 1, ..policy }
        } else {
            policy
        };
        let mut attempt = 1;
        loop {
            let (retry_after, error) = match send_once(inner, &body).await {
                Sent::Response(response) => {
                    let status = response.status();
                    match verdict_for_status(status) {
                        Verdict::Done => {
                            if !body.protobuf {
                                check_partial_success(inner, &text(&response).await);
                            }
                            return Ok(());
                        }
                        Verdict::GiveUp => {
                            let mut message = text(&response).await;
                            message
                                .truncate(message.char_indices().nth(200).map_or(message.len(), |(i, _)| i));
                            return Err(ExportError::Rejected { status, message });
                        }
                        Verdict::Retry => {
                            let after = response
                                .headers()
                                .get("retry-after")
                                .ok()
                                .flatten()
                                .and_then(|v| parse_retry_after(&v, js_sys::Date::now()));
                            (after, ExportError::Rejected { status, message: "retryable".into() })
                        }
                    }
                }
                Sent::NoResponse(reason) => (None, ExportError::Failed(reason)),
            };
            if attempt >= policy.max_attempts {
                return Err(error);
            }
            let wait = retry_after.unwrap_or_else(|| policy.backoff(attempt, random::unit_f64()));
            if wait > policy.max_backoff {
                return Err(ExportError::Failed(format!(
                    "the collector asked to retry after {} s, longer than the {} s allowed",
                    wait.as_secs(),
                    policy.max_backoff.as_secs()
                )));
            }
            inner.count(|s| s.retries += 1);
            timer::sleep(wait.as_millis().min(u32::MAX as u128) as u32).await;
            attempt += 1;
        }
    }

    /// Starts every request now: the newest bodies that fit the keepalive budget with
    /// `keepalive`, the rest without. Outcomes are counted and reported in the background.
    pub(super) fn send_for_unload(inner: &Rc<Inner>, chunks: Vec<Body>) -> Result<(), ExportError> {
        let mut keepalive = vec![false; chunks.len()];
        let mut budget = KEEPALIVE_BUDGET_BYTES.saturating_sub(inner.keepalive_bytes_in_flight.get());
        let mut slots = KEEPALIVE_MAX_IN_FLIGHT.saturating_sub(inner.keepalive_in_flight.get());
        for (i, body) in chunks.iter().enumerate().rev() {
            if slots > 0 && body.bytes.len() <= budget {
                keepalive[i] = true;
                budget -= body.bytes.len();
                slots -= 1;
            }
        }
        let overflow = keepalive.iter().filter(|k| !**k).count() as u64;
        if overflow > 0 {
            inner.count(|s| s.unload_overflow_requests += overflow);
            report::warn(Problem::ExportFailed, || {
                format!(
                    "the page was hidden with more spans than the browser's 64 KiB keepalive budget: \
                     {overflow} older requests were sent without keepalive and are lost if the page unloads"
                )
            });
        }
        let mut result = Ok(());
        for (body, keepalive) in chunks.into_iter().zip(keepalive) {
            // Past the budget, a request might not outlive the page: the outbox keeps it.
            if !keepalive && inner.save(&body) {
                continue;
            }
            if let Err(e) = start_unload_request(inner, body, keepalive) {
                result = Err(e);
            }
        }
        result
    }

    /// Starts one request now and follows it in the background. If the browser refuses the
    /// keepalive request (its budget taken by the page's own keepalive requests), it is sent
    /// again without keepalive: a page that is only hidden still delivers it.
    fn start_unload_request(inner: &Rc<Inner>, body: Body, keepalive: bool) -> Result<(), ExportError> {
        let (promise, _) = start(inner, &body, keepalive).map_err(ExportError::Failed)?;
        let bytes = body.bytes.len();
        if keepalive {
            inner.keepalive_in_flight.set(inner.keepalive_in_flight.get() + 1);
            inner.keepalive_bytes_in_flight.set(inner.keepalive_bytes_in_flight.get() + bytes);
        }
        let inner = Rc::clone(inner);
        sync::spawn(async move {
            let sent = settle(promise).await;
            if keepalive {
                inner.keepalive_in_flight.set(inner.keepalive_in_flight.get().saturating_sub(1));
                inner
                    .keepalive_bytes_in_flight
                    .set(inner.keepalive_bytes_in_flight.get().saturating_sub(bytes));
            }
            let sent = match sent {
                Sent::NoResponse(_) if keepalive => send_once(&inner, &body).await,
                other => other,
            };
            let error = match sent {
                Sent::Response(r) if (200..300).contains(&r.status()) => {
                    inner.failing.set(false);
                    return;
                }
                Sent::Response(r) => ExportError::Rejected { status: r.status(), message: text(&r).await },
                Sent::NoResponse(reason) => ExportError::Failed(reason),
            };
            inner.failing.set(true);
            // The page is still here (this code runs): keep the body for later.
            if !matches!(error, ExportError::Rejected { status, .. } if !matches!(status, 429 | 502 | 503 | 504))
                && inner.save(&body)
            {
                return;
            }
            inner.count(|s| s.failed_exports += 1);
            report::warn(Problem::ExportFailed, || {
                format!("spans sent on page hide were not accepted: {error}")
            });
        });
        Ok(())
    }

    /// Sends what the outbox holds, oldest first, one body at a time, in the background;
    /// stops at the first failure. Only one drain runs at a time, in one tab (the lease).
    #[cfg(feature = "offline")]
    pub(super) fn drain_outbox(inner: &Rc<Inner>) {
        if inner.outbox.is_none() || inner.draining.replace(true) {
            return;
        }
        let inner = Rc::clone(inner);
        sync::spawn(async move {
            drain(&inner).await;
            inner.draining.set(false);
        });
    }

    #[cfg(not(feature = "offline"))]
    pub(super) fn drain_outbox(_inner: &Rc<Inner>) {}

    #[cfg(feature = "offline")]
    async fn drain(inner: &Inner) {
        let Some(outbox) = &inner.outbox else { return };
        for entry in outbox.entries() {
            if inner.shut_down.get() || navigator_offline() || !outbox.lease(js_sys::Date::now()) {
                break;
            }
            let Some(body) = outbox.load(&entry) else { continue };
            match send_once(inner, &body).await {
                Sent::Response(r) if (200..300).contains(&r.status()) => {
                    outbox.remove(&entry);
                    inner.failing.set(false);
                    inner.count(|s| s.offline_delivered += 1);
                }
                Sent::Response(r) if !matches!(verdict_for_status(r.status()), Verdict::Retry) => {
                    // Refused for good: sending it again would be refused again.
                    outbox.remove(&entry);
                    outbox.add_dropped(entry.spans);
                    report::warn(Problem::ExportFailed, || {
                        format!(
                            "the collector refused {} saved spans with status {}",
                            entry.spans,
                            r.status()
                        )
                    });
                }
                _ => {
                    inner.failing.set(true);
                    break;
                }
            }
        }
        outbox.release();
    }

    /// `navigator.onLine` is false: the browser knows it has no network.
    #[cfg(feature = "offline")]
    pub(super) fn navigator_offline() -> bool {
        let Ok(navigator) = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()) else {
            return false;
        };
        js_sys::Reflect::get(&navigator, &"onLine".into()).ok().and_then(|v| v.as_bool()) == Some(false)
    }

    /// Drains the outbox now (the page load) and on every `online` event.
    #[cfg(feature = "offline")]
    pub(super) fn watch_online(inner: &Rc<Inner>) {
        if inner.outbox.is_none() {
            return;
        }
        let weak = Rc::downgrade(inner);
        let on_online = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                drain_outbox(&inner);
            }
        });
        let target: web_sys::EventTarget = js_sys::global().unchecked_into();
        if target.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref()).is_ok()
            && let Ok(mut slot) = inner.online_listener.try_borrow_mut()
        {
            *slot = Some(on_online);
        }
        drain_outbox(inner);
    }

    #[cfg(feature = "offline")]
    pub(super) fn unwatch_online(inner: &Inner) {
        if let Some(listener) = inner.online_listener.try_borrow_mut().ok().and_then(|mut l| l.take()) {
            let target: web_sys::EventTarget = js_sys::global().unchecked_into();
            let _ = target.remove_event_listener_with_callback("online", listener.as_ref().unchecked_ref());
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::rc::Rc;

    use super::{Body, Inner};
    use crate::error::ExportError;

    const NOT_A_BROWSER: &str =
        "the OTLP/HTTP exporter sends with the browser's fetch and runs only in wasm32";

    pub(super) async fn send_with_retries(_inner: &Inner, _body: Body) -> Result<(), ExportError> {
        Err(ExportError::Failed(NOT_A_BROWSER.into()))
    }

    pub(super) fn send_for_unload(_inner: &Rc<Inner>, _chunks: Vec<Body>) -> Result<(), ExportError> {
        Err(ExportError::Failed(NOT_A_BROWSER.into()))
    }

    pub(super) fn drain_outbox(_inner: &Rc<Inner>) {}

    /// Natively there is no network to lose.
    #[cfg(feature = "offline")]
    pub(super) fn navigator_offline() -> bool {
        false
    }
}
