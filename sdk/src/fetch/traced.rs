//! One traced fetch, from the call to the response's last byte.
//!
//! ```text
//!  call ──▶ CLIENT span starts (child of Context::current())
//!        ├─ traceparent/tracestate/baggage injected if the origin is allowed
//!        ├─ the browser's own fetch (never the patched one)
//!  headers ◀─ status, Server-Timing read; the response goes back to the caller at once,
//!             untouched (never cloned: a clone tees the body and slows the caller's read)
//!  body end ─▶ the browser's resource timing entry appears → phase events, sizes; latency split
//!              and clock offset computed; span ends at the entry's responseEnd
//! ```
//!
//! The entry is the body's end: the SDK does not read the body itself. If no entry comes (a
//! `data:`/`blob:` URL, a body nobody reads, the page hidden first, or a minute passed), the
//! span ends when the headers arrived, with `otelweb.timing.source = "response-headers"`.
//!
//! Whatever goes wrong inside (no `URL`, headers that cannot be set, a missing timing entry, a
//! malformed `Server-Timing`), the caller gets exactly the response or error plain `fetch` would
//! have given.

use std::borrow::Cow;
use std::cell::RefCell;

use opentelemetry::propagation::Injector;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, InstrumentationScope, KeyValue, global};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::call::Call;
#[cfg(feature = "server-timing")]
use super::server_timing::{self, ServerTiming};
#[cfg(feature = "clock-skew")]
use super::skew::{Exchange, SkewEstimator};
use super::{FetchOptions, PropagationPolicy, timing, url};
use crate::platform::lifecycle::PageLifecycle;
use crate::platform::{clock, fetch as browser, timer};
use crate::semconv;
use crate::sync::{self, Either};

/// How long after the response's headers the span may wait for the body to end.
const MAX_BODY_WAIT_MS: u32 = 60_000;

/// Settings for every traced fetch on this thread, set by [`super::configure`].
#[derive(Debug, Default)]
pub(super) struct Settings {
    pub(super) policy: PropagationPolicy,
    #[cfg(feature = "clock-skew")]
    pub(super) correct_clock_skew: bool,
    #[cfg(feature = "clock-skew")]
    pub(super) skew: SkewEstimator,
    /// Upper-cased; `None` for the default list.
    pub(super) known_methods: Option<Vec<String>>,
}

thread_local! {
    pub(super) static SETTINGS: RefCell<Settings> = RefCell::new(Settings::default());
    /// Fetch spans still waiting for their body or timing entry; told to finish at once when
    /// the page is hidden, so they are ended (and flushed) instead of lost with the page.
    static WAITING: RefCell<Vec<sync::Sender<()>>> = const { RefCell::new(Vec::new()) };
    static LIFECYCLE: RefCell<Option<Option<PageLifecycle>>> = const { RefCell::new(None) };
}

/// Ends every fetch span that is still waiting, now.
pub(super) fn hurry_waiting() {
    let waiting =
        WAITING.try_with(|w| w.try_borrow_mut().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default());
    for sender in waiting.unwrap_or_default() {
        sender.send(());
    }
}

/// Listens for the page going away (once per thread).
pub(super) fn watch_page_hide() {
    let _ = LIFECYCLE.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut()
            && slot.is_none()
        {
            *slot = Some(PageLifecycle::watch(hurry_waiting, || {}));
        }
    });
}

/// The methods the Fetch Standard sends upper-cased whatever the caller wrote; any other
/// goes on the wire as written (`patch` stays `patch`).
const NORMALISED_METHODS: &[&str] = &["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

/// `http.request.method`, `http.request.method_original` (when the method sent is not the
/// canonical one) and the span name's method part (`HTTP` for an unknown method), as the HTTP
/// client semantic conventions define them.
fn method_attributes(raw: &str, known: Option<&[String]>) -> (Cow<'static, str>, Vec<KeyValue>) {
    let canonical = raw.to_ascii_uppercase();
    let on_wire = if NORMALISED_METHODS.contains(&canonical.as_str()) { canonical.as_str() } else { raw };
    let is_known = match known {
        Some(known) => known.contains(&canonical),
        None => super::DEFAULT_KNOWN_METHODS.contains(&canonical.as_str()),
    };
    let mut attributes = Vec::with_capacity(2);
    if is_known {
        if on_wire != canonical {
            attributes.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD_ORIGINAL, on_wire.to_owned()));
        }
        attributes.insert(0, KeyValue::new(semconv::HTTP_REQUEST_METHOD, canonical.clone()));
        (canonical.into(), attributes)
    } else {
        attributes.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, "_OTHER"));
        attributes.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD_ORIGINAL, on_wire.to_owned()));
        ("HTTP".into(), attributes)
    }
}

/// `network.protocol.version` for a resource timing `nextHopProtocol` (ALPN ids).
fn protocol_version(next_hop: &str) -> Option<&'static str> {
    match next_hop {
        "http/0.9" => Some("0.9"),
        "http/1.0" => Some("1.0"),
        "http/1.1" => Some("1.1"),
        "h2" | "h2c" => Some("2"),
        h3 if h3 == "h3" || h3.starts_with("h3-") => Some("3"),
        _ => None,
    }
}

struct HeaderInjector<'a>(&'a web_sys::Headers);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let _ = self.0.set(key, &value);
    }
}

thread_local! {
    /// The page's origin: read once, it never changes for a document.
    static PAGE_ORIGIN: String = js_sys::Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|l| js_sys::Reflect::get(&l, &"origin".into()))
        .ok()
        .and_then(|o| o.as_string())
        .unwrap_or_default();
}

/// Everything known when the request starts.
struct Started {
    cx: Context,
    url: String,
    called_at: f64,
    start_unix_nanos: u64,
    /// Whether trace headers may go with this request (allowlisted origin, not `no-cors`).
    propagate: bool,
    /// Registers the call, so that timing entries of the same URL go to the right fetch.
    _in_flight: timing::InFlight,
    /// Keeps the interaction or navigation this fetch belongs to open until it settles.
    #[cfg(any(feature = "interactions", feature = "soft-navigations"))]
    _work: crate::instrument::ambient::Work,
}

fn start_span(call: Call, options: &FetchOptions) -> Started {
    let Call { method: raw_method, url, parsed, no_cors } = call;
    let (method, mut attributes) = SETTINGS
        .try_with(|s| s.try_borrow().ok().map(|s| method_attributes(&raw_method, s.known_methods.as_deref())))
        .ok()
        .flatten()
        .unwrap_or_else(|| method_attributes(&raw_method, None));
    let name: Cow<'static, str> = match &options.route {
        Some(route) => format!("{method} {route}").into(),
        None => method,
    };
    attributes.reserve(6);
    attributes.push(KeyValue::new(semconv::URL_FULL, url::redact(&url)));
    if let Some(route) = &options.route {
        attributes.push(KeyValue::new(semconv::URL_TEMPLATE, route.clone()));
    }
    let mut origin = String::new();
    if let Some(parsed) = &parsed {
        origin = parsed.origin();
        attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, parsed.hostname()));
        let scheme = parsed.protocol().trim_end_matches(':').to_owned();
        let port = parsed.port().parse::<u16>().ok().or_else(|| url::default_port(&scheme));
        if let Some(port) = port {
            attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
    }
    let called_at = clock::monotonic_ms();
    let start_unix_nanos = clock::mono_to_unix_nanos(called_at);
    let tracer = global::tracer_with_scope(
        InstrumentationScope::builder("otel-web.fetch").with_version(env!("CARGO_PKG_VERSION")).build(),
    );
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_start_time(clock::to_system_time(start_unix_nanos))
        .with_attributes(attributes)
        .start_with_context(&tracer, &Context::current());
    let cx = Context::current().with_span(span);

    let allowed = PAGE_ORIGIN
        .try_with(|page| {
            SETTINGS
                .try_with(|s| s.try_borrow().map(|s| s.policy.allows(page, &origin, &url)).unwrap_or(false))
                .unwrap_or(false)
        })
        .unwrap_or(false);
    let _in_flight = timing::register(&url, called_at);
    #[cfg(any(feature = "interactions", feature = "soft-navigations"))]
    let _work = crate::instrument::ambient::work_started(cx.span().span_context().trace_id());
    Started {
        cx,
        url,
        called_at,
        start_unix_nanos,
        propagate: allowed && !no_cors,
        _in_flight,
        #[cfg(any(feature = "interactions", feature = "soft-navigations"))]
        _work,
    }
}

fn inject(cx: &Context, headers: &web_sys::Headers) {
    global::get_text_map_propagator(|propagator| propagator.inject_context(cx, &mut HeaderInjector(headers)));
}

/// Adds our timeout to the request's own abort signal (if any).
///
/// `AbortSignal.any` combines the two where the browser has it. Elsewhere the caller's signal
/// is forwarded to ours by a listener, so the caller can still abort (with its own reason); the
/// listener is removed when the timeout task ends.
fn with_timeout(
    request: web_sys::Request,
    timeout_ms: u32,
) -> (web_sys::Request, Option<web_sys::AbortController>) {
    let Ok(controller) = web_sys::AbortController::new() else { return (request, None) };
    let own = request.signal();
    let any = js_sys::Reflect::get(&js_sys::global(), &"AbortSignal".into())
        .and_then(|ctor| js_sys::Reflect::get(&ctor, &"any".into()).map(|any| (ctor, any)))
        .ok()
        .and_then(|(ctor, any)| {
            let any: js_sys::Function = any.dyn_into().ok()?;
            let signals = js_sys::Array::of2(&own, &controller.signal());
            any.call1(&ctor, &signals).ok()?.dyn_into::<web_sys::AbortSignal>().ok()
        });
    let (combined, forward) = match any {
        Some(combined) => (combined, None),
        None => (controller.signal(), AbortForward::new(&own, &controller)),
    };
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(&combined));
    match web_sys::Request::new_with_request_and_init(&request, &init) {
        Ok(timed) => {
            let abort = controller.clone();
            sync::spawn(async move {
                timer::sleep(timeout_ms).await;
                drop(forward);
                let reason =
                    web_sys::DomException::new_with_message_and_name("the request timed out", "TimeoutError");
                match reason {
                    Ok(reason) => abort.abort_with_reason(&reason),
                    Err(_) => abort.abort(),
                }
            });
            (timed, Some(controller))
        }
        Err(_) => (request, None),
    }
}

/// Aborts `controller` when the caller's signal aborts, with the caller's reason; removes its
/// listener when dropped.
struct AbortForward {
    from: web_sys::AbortSignal,
    listener: wasm_bindgen::closure::Closure<dyn FnMut()>,
}

impl AbortForward {
    fn new(from: &web_sys::AbortSignal, to: &web_sys::AbortController) -> Option<Self> {
        if from.aborted() {
            to.abort_with_reason(&from.reason());
            return None;
        }
        let (signal, controller) = (from.clone(), to.clone());
        let listener = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
            controller.abort_with_reason(&signal.reason());
        });
        from.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref()).ok()?;
        Some(Self { from: from.clone(), listener })
    }
}

impl Drop for AbortForward {
    fn drop(&mut self) {
        let _ =
            self.from.remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}

/// Sends `request` through the browser's own fetch, traced.
pub(super) async fn traced_fetch(
    request: web_sys::Request,
    options: &FetchOptions,
) -> Result<web_sys::Response, JsValue> {
    watch_page_hide();
    let started = start_span(Call::of_request(&request), options);
    if started.propagate {
        inject(&started.cx, &request.headers());
    }
    let (request, _controller) = match options.timeout {
        Some(timeout) => with_timeout(request, timeout.as_millis().min(u32::MAX as u128) as u32),
        None => (request, None),
    };
    settle(started, browser::call_request(&request)).await
}

/// `fetch(input, init)` for the patched global, without building a `Request`: trace headers go
/// into a copy of `init` (the caller's object is not changed).
pub(super) async fn traced_fetch_arguments(
    input: JsValue,
    init: JsValue,
    call: Call,
) -> Result<web_sys::Response, JsValue> {
    watch_page_hide();
    let started = start_span(call, &FetchOptions::default());
    let init = if started.propagate { init_with_trace_headers(&started.cx, init) } else { init };
    settle(started, browser::call_with(&input, &init)).await
}

/// A copy of `init` whose headers also carry the trace context; `init` itself if the headers
/// cannot be read (the request then goes out as the page wrote it).
fn init_with_trace_headers(cx: &Context, init: JsValue) -> JsValue {
    let given = if init.is_undefined() || init.is_null() {
        JsValue::UNDEFINED
    } else {
        init.unchecked_ref::<web_sys::RequestInit>().get_headers()
    };
    let headers = if given.is_undefined() {
        web_sys::Headers::new()
    } else {
        web_sys::Headers::new_with_str_sequence_sequence(&given)
    };
    let Ok(headers) = headers else { return init };
    inject(cx, &headers);
    let copy = web_sys::RequestInit::new();
    if !init.is_undefined() && !init.is_null() {
        js_sys::Object::assign(&copy, init.unchecked_ref());
    }
    copy.set_headers(&headers);
    copy.into()
}

/// Waits for the headers; records the outcome, hands the response back at once and leaves the
/// span to end with the body.
async fn settle(
    started: Started,
    sent: Result<js_sys::Promise, JsValue>,
) -> Result<web_sys::Response, JsValue> {
    let outcome = match sent {
        Ok(promise) => JsFuture::from(promise).await,
        Err(e) => Err(e),
    };
    let span = started.cx.span();
    match outcome {
        Ok(value) => {
            let Ok(response) = value.clone().dyn_into::<web_sys::Response>() else {
                span.end();
                return Ok(value.unchecked_into());
            };
            let headers_at = clock::monotonic_ms();
            let server = on_response(&started, &response);
            sync::spawn(finish(started, server, headers_at));
            Ok(response)
        }
        Err(error) => {
            let name = browser::error_name(&error).unwrap_or_else(|| "_OTHER".into());
            let error_type = if name == "TimeoutError" { "timeout".to_owned() } else { name };
            span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error_type));
            span.set_status(Status::error(browser::describe(&error)));
            span.end();
            Err(error)
        }
    }
}

/// Records the status; returns what the server said in `Server-Timing`.
fn on_response(started: &Started, response: &web_sys::Response) -> ServerTiming {
    let span = started.cx.span();
    // Opaque and opaque-redirect responses hide their status (it reads 0): record none.
    if matches!(response.type_(), web_sys::ResponseType::Opaque | web_sys::ResponseType::Opaqueredirect) {
        return Default::default();
    }
    let status = response.status();
    span.set_attribute(KeyValue::new(semconv::HTTP_RESPONSE_STATUS_CODE, i64::from(status)));
    if status >= 400 {
        span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, status.to_string()));
        // No description: the status code says it (HTTP semantic conventions).
        span.set_status(Status::error(""));
    }
    #[cfg(feature = "server-timing")]
    return response
        .headers()
        .get("server-timing")
        .ok()
        .flatten()
        .map(|h| server_timing::read(&h))
        .unwrap_or_default();
    #[cfg(not(feature = "server-timing"))]
    ServerTiming
}

/// Without the `server-timing` feature, nothing is read from the response's `Server-Timing`.
#[cfg(not(feature = "server-timing"))]
#[derive(Debug, Clone, Copy, Default)]
struct ServerTiming;

/// The response's resource timing entry, once the browser has made it (at the body's end);
/// `None` when none will come: not an HTTP(S) URL, no observer, a minute passed, or the page was
/// hidden first (then whatever the browser has recorded by now).
async fn entry_for(started: &Started, headers_at: f64) -> Option<timing::ResourceEntry> {
    // data: and blob: URLs get no entry: nothing to wait for (or to register for).
    if !url::is_http(&started.url) {
        return None;
    }
    let (hurry_tx, mut hurry) = sync::oneshot();
    let _ = WAITING.try_with(|w| {
        w.try_borrow_mut().map(|mut w| {
            // Spans that ended since the last push leave their senders behind; drop those.
            w.retain(|s| !s.is_abandoned());
            w.push(hurry_tx)
        })
    });
    let deadline = headers_at + f64::from(MAX_BODY_WAIT_MS);
    loop {
        let now = clock::monotonic_ms();
        let entry = timing::claim(&started.url, started.called_at, headers_at, now);
        if entry.is_some() || now >= deadline {
            return entry;
        }
        let arrival = timing::arrival(deadline)?;
        match sync::race(arrival, &mut hurry).await {
            Either::Left(Some(())) => continue,
            Either::Right(_) => {
                return timing::claim(&started.url, started.called_at, headers_at, clock::monotonic_ms());
            }
            Either::Left(None) => return None,
        }
    }
}

/// Records timing from the entry (if any), the latency split and the clock offset, and ends
/// the span.
async fn finish(started: Started, server: ServerTiming, headers_at: f64) {
    let entry = entry_for(&started, headers_at).await;

    let span = started.cx.span();
    let (end_mono, request_sent, first_byte) = match &entry {
        Some(entry) => {
            for (name, at) in entry.phases() {
                span.add_event_with_timestamp(
                    name,
                    clock::to_system_time(clock::mono_to_unix_nanos(at)),
                    vec![],
                );
            }
            if entry.encoded_body_size > 0.0 {
                span.set_attribute(KeyValue::new(
                    semconv::HTTP_RESPONSE_BODY_SIZE,
                    entry.encoded_body_size as i64,
                ));
            }
            if entry.transfer_size > 0.0 {
                span.set_attribute(KeyValue::new(semconv::HTTP_RESPONSE_SIZE, entry.transfer_size as i64));
            }
            if entry.decoded_body_size > 0.0 {
                span.set_attribute(KeyValue::new(
                    semconv::OTELWEB_RESPONSE_DECODED_BODY_SIZE,
                    entry.decoded_body_size as i64,
                ));
            }
            if let Some(version) = protocol_version(&entry.next_hop_protocol) {
                span.set_attribute(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, version));
            }
            span.set_attribute(KeyValue::new(semconv::OTELWEB_TIMING_SOURCE, "resource-timing"));
            let sent = if entry.request_start > 0.0 { entry.request_start } else { started.called_at };
            let first = if entry.response_start > 0.0 { entry.response_start } else { headers_at };
            (entry.response_end.max(started.called_at), sent, first)
        }
        None => {
            span.set_attribute(KeyValue::new(semconv::OTELWEB_TIMING_SOURCE, "response-headers"));
            (headers_at, started.called_at, headers_at)
        }
    };
    let end_unix_nanos = clock::mono_to_unix_nanos(end_mono).max(started.start_unix_nanos);
    let client_ms = (end_unix_nanos - started.start_unix_nanos) as f64 / 1e6;
    record_server_timing(&span, server, client_ms, request_sent, first_byte);
    span.end_with_timestamp(clock::to_system_time(end_unix_nanos));
}

/// The latency split (`otelweb.server.duration_ms`, `otelweb.network.duration_ms`) and, with
/// `clock-skew`, the clock-offset estimate from what the server said in `Server-Timing`.
#[cfg(feature = "server-timing")]
fn record_server_timing(
    span: &opentelemetry::trace::SpanRef<'_>,
    server: ServerTiming,
    client_ms: f64,
    request_sent: f64,
    first_byte: f64,
) {
    if let Some(server_ms) = server.duration_ms {
        span.set_attribute(KeyValue::new(semconv::OTELWEB_SERVER_DURATION_MS, server_ms));
        span.set_attribute(KeyValue::new(
            semconv::OTELWEB_NETWORK_DURATION_MS,
            (client_ms - server_ms).max(0.0),
        ));
    }
    #[cfg(not(feature = "clock-skew"))]
    let _ = (request_sent, first_byte);
    #[cfg(feature = "clock-skew")]
    if let (Some(server_ms), Some(received_at)) = (server.duration_ms, server.received_at_ms) {
        let to_epoch_ms = |mono: f64| clock::mono_to_unix_nanos(mono) as f64 / 1e6;
        let exchange = Exchange {
            t0: to_epoch_ms(request_sent),
            t1: received_at,
            t2: received_at + server_ms,
            t3: to_epoch_ms(first_byte),
        };
        let estimate = SETTINGS
            .try_with(|s| {
                let mut s = s.try_borrow_mut().ok()?;
                let estimate = s.skew.add(exchange)?;
                if s.correct_clock_skew {
                    clock::set_export_shift_ms(estimate);
                }
                Some(estimate)
            })
            .ok()
            .flatten();
        if let Some(estimate) = estimate {
            span.set_attribute(KeyValue::new(semconv::OTELWEB_CLOCK_OFFSET_MS, estimate));
        }
    }
}

#[cfg(not(feature = "server-timing"))]
fn record_server_timing(
    _span: &opentelemetry::trace::SpanRef<'_>,
    _server: ServerTiming,
    _client_ms: f64,
    _request_sent: f64,
    _first_byte: f64,
) {
}

/// The current clock-offset estimate (server minus browser, ms), if any response carried one.
#[cfg(feature = "clock-skew")]
pub(super) fn clock_offset_ms() -> Option<f64> {
    SETTINGS.try_with(|s| s.try_borrow().ok().and_then(|s| s.skew.estimate())).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(raw: &str, known: Option<&[String]>) -> (String, Vec<(String, String)>) {
        let (name, attributes) = method_attributes(raw, known);
        (
            name.into_owned(),
            attributes.into_iter().map(|kv| (kv.key.to_string(), kv.value.to_string())).collect(),
        )
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn methods_follow_the_http_client_conventions() {
        assert_eq!(method("GET", None), ("GET".into(), pairs(&[("http.request.method", "GET")])));
        // The browser upper-cases `get` itself: nothing was changed on the wire.
        assert_eq!(method("get", None), ("GET".into(), pairs(&[("http.request.method", "GET")])));
        // `patch` is sent as written, so the original is recorded.
        assert_eq!(
            method("patch", None),
            (
                "PATCH".into(),
                pairs(&[("http.request.method", "PATCH"), ("http.request.method_original", "patch")])
            )
        );
        assert_eq!(method("QUERY", None), ("QUERY".into(), pairs(&[("http.request.method", "QUERY")])));
        assert_eq!(
            method("PROPFIND", None),
            (
                "HTTP".into(),
                pairs(&[("http.request.method", "_OTHER"), ("http.request.method_original", "PROPFIND")])
            )
        );
        let known = vec!["PROPFIND".to_owned(), "GET".to_owned()];
        assert_eq!(method("PROPFIND", Some(&known)).0, "PROPFIND");
        assert_eq!(method("POST", Some(&known)).0, "HTTP");
    }

    #[test]
    fn next_hop_protocols_map_to_http_versions() {
        assert_eq!(protocol_version("http/1.1"), Some("1.1"));
        assert_eq!(protocol_version("h2"), Some("2"));
        assert_eq!(protocol_version("h3"), Some("3"));
        assert_eq!(protocol_version("h3-29"), Some("3"));
        assert_eq!(protocol_version(""), None);
        assert_eq!(protocol_version("spdy/3"), None);
    }
}
