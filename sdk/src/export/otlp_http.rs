//! [`OtlpHttpExporter`]: OTLP/HTTP with JSON bodies over the browser's `fetch`.
//!
//! - `POST {traces endpoint}` with `Content-Type: application/json` and any custom headers;
//!   each attempt is bounded by a timeout enforced with an `AbortController`.
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
//!
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

/// Exports spans as OTLP/JSON over `fetch`; clones share one exporter.
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
    resource_json: RefCell<Rc<str>>,
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
    /// Page-hide bodies sent without `keepalive` because the keepalive budget was spent.
    pub unload_overflow_requests: u64,
}

/// Configures an [`OtlpHttpExporter`].
#[derive(Debug)]
pub struct OtlpHttpExporterBuilder {
    url: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl OtlpHttpExporterBuilder {
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
        let resource = otlp_json::encode_resource(&Resource::builder().build());
        OtlpHttpExporter {
            inner: Rc::new(Inner {
                url: self.url,
                headers: self.headers,
                timeout: self.timeout,
                retry: self.retry,
                resource_json: RefCell::new(resource.into()),
                shut_down: Cell::new(false),
                keepalive_in_flight: Cell::new(0),
                keepalive_bytes_in_flight: Cell::new(0),
                hurry: RefCell::new(None),
                stats: Cell::new(ExportStats::default()),
            }),
        }
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
        let Ok(resource) = self.inner.resource_json.try_borrow().map(|r| Rc::clone(&r)) else {
            return Box::pin(async { Err(ExportError::Failed("the exporter is busy".into())) });
        };
        let inner = Rc::clone(&self.inner);
        match mode {
            ExportMode::Normal => {
                let body = otlp_json::encode_request(&resource, &batch);
                let hurry = Signal::default();
                if let Ok(mut slot) = inner.hurry.try_borrow_mut() {
                    *slot = Some(hurry.clone());
                }
                Box::pin(async move {
                    let result = match sync::race(imp::send_with_retries(&inner, body), hurry.raised()).await
                    {
                        Either::Left(result) => result,
                        Either::Right(()) => {
                            // The page is going away: the request (if any) was aborted by the
                            // drop above, and the batch leaves the way an unload does.
                            inner.count(|s| s.hurried_exports += 1);
                            let chunks =
                                otlp_json::encode_chunks(&resource, &batch, KEEPALIVE_MAX_BODY_BYTES);
                            imp::send_for_unload(&inner, chunks)
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
                let chunks = otlp_json::encode_chunks(&resource, &batch, KEEPALIVE_MAX_BODY_BYTES);
                drop(batch);
                let result = imp::send_for_unload(&inner, chunks);
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
        if let Ok(mut json) = self.inner.resource_json.try_borrow_mut() {
            *json = otlp_json::encode_resource(resource).into();
        }
    }

    fn shutdown(&self) {
        self.inner.shut_down.set(true);
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::rc::Rc;

    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use super::{Inner, KEEPALIVE_BUDGET_BYTES, KEEPALIVE_MAX_IN_FLIGHT};
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
        body: &str,
        keepalive: bool,
    ) -> Result<(js_sys::Promise, Option<web_sys::AbortController>), String> {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        let headers = web_sys::Headers::new().map_err(|e| fetch::describe(&e))?;
        headers.set("content-type", "application/json").map_err(|e| fetch::describe(&e))?;
        for (name, value) in &inner.headers {
            if let Err(e) = headers.set(name, value) {
                report::warn(Problem::Config, || {
                    format!("header {name:?} cannot be sent: {}", fetch::describe(&e))
                });
            }
        }
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(body));
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
                s.keepalive_bytes += body.len() as u64;
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

    async fn send_once(inner: &Inner, body: &str) -> Sent {
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

    pub(super) async fn send_with_retries(inner: &Inner, body: String) -> Result<(), ExportError> {
        let policy = inner.retry;
        let mut attempt = 1;
        loop {
            let (retry_after, error) = match send_once(inner, &body).await {
                Sent::Response(response) => {
                    let status = response.status();
                    match verdict_for_status(status) {
                        Verdict::Done => {
                            check_partial_success(inner, &text(&response).await);
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
    pub(super) fn send_for_unload(inner: &Rc<Inner>, chunks: Vec<String>) -> Result<(), ExportError> {
        let mut keepalive = vec![false; chunks.len()];
        let mut budget = KEEPALIVE_BUDGET_BYTES.saturating_sub(inner.keepalive_bytes_in_flight.get());
        let mut slots = KEEPALIVE_MAX_IN_FLIGHT.saturating_sub(inner.keepalive_in_flight.get());
        for (i, body) in chunks.iter().enumerate().rev() {
            if slots > 0 && body.len() <= budget {
                keepalive[i] = true;
                budget -= body.len();
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
            if let Err(e) = start_unload_request(inner, body, keepalive) {
                result = Err(e);
            }
        }
        result
    }

    /// Starts one request now and follows it in the background. If the browser refuses the
    /// keepalive request (its budget taken by the page's own keepalive requests), it is sent
    /// again without keepalive: a page that is only hidden still delivers it.
    fn start_unload_request(inner: &Rc<Inner>, body: String, keepalive: bool) -> Result<(), ExportError> {
        let (promise, _) = start(inner, &body, keepalive).map_err(ExportError::Failed)?;
        let bytes = body.len();
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
                Sent::Response(r) if (200..300).contains(&r.status()) => return,
                Sent::Response(r) => ExportError::Rejected { status: r.status(), message: text(&r).await },
                Sent::NoResponse(reason) => ExportError::Failed(reason),
            };
            inner.count(|s| s.failed_exports += 1);
            report::warn(Problem::ExportFailed, || {
                format!("spans sent on page hide were not accepted: {error}")
            });
        });
        Ok(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::rc::Rc;

    use super::Inner;
    use crate::error::ExportError;

    const NOT_A_BROWSER: &str =
        "the OTLP/HTTP exporter sends with the browser's fetch and runs only in wasm32";

    pub(super) async fn send_with_retries(_inner: &Inner, _body: String) -> Result<(), ExportError> {
        Err(ExportError::Failed(NOT_A_BROWSER.into()))
    }

    pub(super) fn send_for_unload(_inner: &Rc<Inner>, _chunks: Vec<String>) -> Result<(), ExportError> {
        Err(ExportError::Failed(NOT_A_BROWSER.into()))
    }
}
