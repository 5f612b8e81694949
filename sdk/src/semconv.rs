//! Attribute keys: the OpenTelemetry semantic conventions the SDK uses, and the few
//! `otelweb.*` attributes it adds where the conventions have no name.

/// Logical name of the service.
pub const SERVICE_NAME: &str = "service.name";
/// Version of the service.
pub const SERVICE_VERSION: &str = "service.version";
/// Deployment environment, e.g. `production`.
pub const DEPLOYMENT_ENVIRONMENT_NAME: &str = "deployment.environment.name";
/// `otel-web`.
pub const TELEMETRY_SDK_NAME: &str = "telemetry.sdk.name";
/// `rust`: the SDK is written in Rust (it runs as WebAssembly).
pub const TELEMETRY_SDK_LANGUAGE: &str = "telemetry.sdk.language";
/// The crate's version.
pub const TELEMETRY_SDK_VERSION: &str = "telemetry.sdk.version";
/// `navigator.userAgent`.
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
/// `navigator.language`.
pub const BROWSER_LANGUAGE: &str = "browser.language";
/// The session's id: without the `sessions` feature an id per browser tab, on the resource;
/// with it, the origin's session (shared by its tabs, ending after inactivity), on every span.
pub const SESSION_ID: &str = "session.id";
/// The id of the session a new one replaces, on its `session.start` marker.
pub const SESSION_PREVIOUS_ID: &str = "session.previous_id";
/// Name of the zero-length span marking a session's start (the semantic conventions' event
/// `session.start`), with `session.id` and `session.previous_id`.
pub const SESSION_START: &str = "session.start";
/// Name of the zero-length span marking, at the moment it ended, a session's end (the
/// semantic conventions' event `session.end`), with the ended `session.id`.
pub const SESSION_END: &str = "session.end";
/// The signed-in user; set it with `TracerProvider::set_span_attribute`.
pub const USER_ID: &str = "user.id";
/// Name of an exception event's attribute: the error's message.
pub const EXCEPTION_MESSAGE: &str = "exception.message";
/// Name of an exception event's attribute: the error's type (e.g. `TypeError`).
pub const EXCEPTION_TYPE: &str = "exception.type";

/// Spans the batch processor had to drop because its queue was full since the previous export;
/// set on the first span of the next export, so `SUM(otelweb.dropped_spans)` is a query.
///
/// Example: `otelweb.dropped_spans = 37`.
pub const OTELWEB_DROPPED_SPANS: &str = "otelweb.dropped_spans";
/// Spans the offline outbox (feature `offline`) had to drop since the previous report: its
/// byte bound or the browser's storage quota was reached (oldest dropped first), or the
/// collector refused a saved body for good. Set on the first span of the next export.
///
/// Example: `otelweb.offline.dropped_spans = 12`.
pub const OTELWEB_OFFLINE_DROPPED_SPANS: &str = "otelweb.offline.dropped_spans";

/// HTTP method, upper case (`GET`); `_OTHER` for methods outside the standard set.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// The method as sent, when `http.request.method` is `_OTHER`.
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// The HTTP version the response came over (`1.1`, `2`, `3`), from the resource timing
/// entry's `nextHopProtocol`.
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// The protocol a response came over: `http` (with `network.protocol.version`).
pub const NETWORK_PROTOCOL_NAME: &str = "network.protocol.name";
/// The request URL, credentials and sensitive query values redacted.
pub const URL_FULL: &str = "url.full";
/// The route template the caller gave (`/api/activities/{id}`).
pub const URL_TEMPLATE: &str = "url.template";
/// Host of the server.
pub const SERVER_ADDRESS: &str = "server.address";
/// Port of the server.
pub const SERVER_PORT: &str = "server.port";
/// Response status code.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// Why the request failed: the status code (`404`), `timeout`, or the JS error's name.
pub const ERROR_TYPE: &str = "error.type";
/// Compressed response body size (`encodedBodySize`).
pub const HTTP_RESPONSE_BODY_SIZE: &str = "http.response.body.size";
/// Bytes transferred for the response, headers included (`transferSize`).
pub const HTTP_RESPONSE_SIZE: &str = "http.response.size";

/// The server's processing time in milliseconds, from its `Server-Timing: app;dur=…`.
///
/// Example: `otelweb.server.duration_ms = 12.3`.
pub const OTELWEB_SERVER_DURATION_MS: &str = "otelweb.server.duration_ms";
/// The network's share of a fetch in milliseconds: the client span's duration minus the
/// server's processing time. "How much of this click was the network" as a query.
///
/// Example: `otelweb.network.duration_ms = 30.1`.
pub const OTELWEB_NETWORK_DURATION_MS: &str = "otelweb.network.duration_ms";
/// The smoothed estimate of server clock minus browser clock in milliseconds, after this fetch.
///
/// Example: `otelweb.clock.offset_ms = -5012.4` (the browser is 5 s ahead).
pub const OTELWEB_CLOCK_OFFSET_MS: &str = "otelweb.clock.offset_ms";
/// The shift applied to this span's exported timestamps to put them in server time, when clock
/// skew correction is on.
///
/// Example: `otelweb.clock.shift_ms = -5012.4`.
pub const OTELWEB_CLOCK_SHIFT_MS: &str = "otelweb.clock.shift_ms";
/// Uncompressed response body size (`decodedBodySize`).
pub const OTELWEB_RESPONSE_DECODED_BODY_SIZE: &str = "otelweb.response.decoded_body_size";
/// Where the span's end time came from: `resource-timing` (the browser's own entry, as in the
/// network panel: the body's end) or `response-headers` (no entry came — a `data:`/`blob:` URL,
/// a body nobody read within a minute, or the page was hidden first).
pub const OTELWEB_TIMING_SOURCE: &str = "otelweb.timing.source";

/// What made the browser fetch a resource: its resource timing entry's `initiatorType`
/// (`script`, `link`, `css`, `img`, `fetch`…), on `resourceFetch` spans. No semantic convention
/// names it.
///
/// Example: `otelweb.initiator_type = "link"`.
pub const OTELWEB_INITIATOR_TYPE: &str = "otelweb.initiator_type";

/// The element a user interaction targeted, as a stable CSS selector (semantic conventions'
/// `app.widget.id`: "an identifier that uniquely differentiates this widget").
///
/// Example: `app.widget.id = "#compose > div.compose-bar > button:nth-of-type(1)"`.
pub const APP_WIDGET_ID: &str = "app.widget.id";
/// The element's label: its `aria-label`, or a button's text (semantic conventions'
/// `app.widget.name`).
///
/// Example: `app.widget.name = "Crud"`.
pub const APP_WIDGET_NAME: &str = "app.widget.name";
/// The tag of the element a user interaction targeted, lower case. No semantic convention
/// names it.
///
/// Example: `otelweb.widget.tag = "button"`.
pub const OTELWEB_WIDGET_TAG: &str = "otelweb.widget.tag";
/// The key of a key activation (`keydown` span): `Enter` or `Space`.
///
/// Example: `otelweb.interaction.key = "Enter"`.
pub const OTELWEB_INTERACTION_KEY: &str = "otelweb.interaction.key";
/// On a rage click: how many clicks on the same element fell within the rage window, this
/// one included.
///
/// Example: `otelweb.interaction.rage_count = 4`.
pub const OTELWEB_INTERACTION_RAGE_COUNT: &str = "otelweb.interaction.rage_count";
/// The URL a soft navigation left (redacted as `url.full` is).
///
/// Example: `otelweb.navigation.from = "https://cruddur.example/notifications"`.
pub const OTELWEB_NAVIGATION_FROM: &str = "otelweb.navigation.from";
/// How a soft navigation happened: `push`, `replace`, `traverse` (back/forward), `reload`,
/// or `unknown` (the Navigation API's `navigationType`).
///
/// Example: `otelweb.navigation.type = "push"`.
pub const OTELWEB_NAVIGATION_TYPE: &str = "otelweb.navigation.type";

/// An exception's stack trace, as the runtime prints it (`Error.stack`; for a Rust panic the
/// JavaScript stack of the wasm frames).
pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";
/// The source file of an exception (the script's URL for a page error, the Rust file for a
/// panic) or of a script to blame for a long animation frame (its `sourceURL`).
pub const CODE_FILE_PATH: &str = "code.file.path";
/// The line in `code.file.path`.
pub const CODE_LINE_NUMBER: &str = "code.line.number";
/// The column in `code.file.path`.
pub const CODE_COLUMN_NUMBER: &str = "code.column.number";
/// The function to blame for a long animation frame (`sourceFunctionName`).
pub const CODE_FUNCTION_NAME: &str = "code.function.name";
/// Where an exception record came from: `error` (an uncaught exception), `unhandledrejection`,
/// `console.error` or `panic` (a Rust panic). No semantic convention names it.
///
/// Example: `otelweb.exception.source = "unhandledrejection"`.
pub const OTELWEB_EXCEPTION_SOURCE: &str = "otelweb.exception.source";
/// How many records of the same kind (exceptions; long animation frames) were held back —
/// duplicates, or over the per-minute cap — since the previous one that was sent; on the next
/// one sent. `COUNT + SUM(otelweb.suppressed_count)` is how many there really were.
///
/// Example: `otelweb.suppressed_count = 9940`.
pub const OTELWEB_SUPPRESSED_COUNT: &str = "otelweb.suppressed_count";
/// What called the script to blame for a long animation frame (`PerformanceScriptTiming`'s
/// `invoker`).
///
/// Example: `otelweb.script.invoker = "BUTTON#compose-post.onclick"`.
pub const OTELWEB_SCRIPT_INVOKER: &str = "otelweb.script.invoker";
/// How the script was called: `classic-script`, `module-script`, `event-listener`,
/// `user-callback`, `resolve-promise` or `reject-promise` (`invokerType`).
pub const OTELWEB_SCRIPT_INVOKER_TYPE: &str = "otelweb.script.invoker_type";
/// How long the script ran, in milliseconds.
pub const OTELWEB_SCRIPT_DURATION_MS: &str = "otelweb.script.duration_ms";
/// Milliseconds the script spent in style and layout it forced (`forcedStyleAndLayoutDuration`).
pub const OTELWEB_SCRIPT_FORCED_STYLE_AND_LAYOUT_DURATION_MS: &str =
    "otelweb.script.forced_style_and_layout_duration_ms";
/// Milliseconds the script spent paused in synchronous calls (`alert`, sync XHR) (`pauseDuration`).
pub const OTELWEB_SCRIPT_PAUSE_DURATION_MS: &str = "otelweb.script.pause_duration_ms";
/// A long animation frame's `blockingDuration`: milliseconds in which input could not be
/// handled (its long tasks' time past 50 ms each, and the render time).
pub const OTELWEB_LOAF_BLOCKING_DURATION_MS: &str = "otelweb.loaf.blocking_duration_ms";
/// Where a long task came from (the fallback where long animation frames are missing): the
/// entry's `name`, `self`, `same-origin-ancestor`, `cross-origin-descendant`… or `unknown`.
pub const OTELWEB_LONGTASK_CULPRIT: &str = "otelweb.longtask.culprit";
/// The long task's container: `window`, `iframe`, `embed` or `object`.
pub const OTELWEB_LONGTASK_CONTAINER_TYPE: &str = "otelweb.longtask.container_type";

/// The vital a `browser.web_vital` span reports: `lcp`, `inp`, `cls`, `fcp` or `ttfb` (the
/// span is named the same).
pub const BROWSER_WEB_VITAL_NAME: &str = "browser.web_vital.name";
/// The vital's value: milliseconds, or the layout shift score for CLS.
pub const BROWSER_WEB_VITAL_VALUE: &str = "browser.web_vital.value";
/// The change since the previous report of the same measurement (the value, the first time).
pub const BROWSER_WEB_VITAL_DELTA: &str = "browser.web_vital.delta";
/// The measurement's id, the same across its reports.
pub const BROWSER_WEB_VITAL_ID: &str = "browser.web_vital.id";
/// `good`, `needs-improvement` or `poor`, by Google's thresholds.
pub const BROWSER_WEB_VITAL_RATING: &str = "browser.web_vital.rating";
/// `navigate`, `reload`, `back-forward`, `back-forward-cache`, `prerender` or `restore`.
pub const BROWSER_WEB_VITAL_NAVIGATION_TYPE: &str = "browser.web_vital.navigation_type";
/// The path of the page a vital belongs to (`/@andrewbrown`).
pub const URL_PATH: &str = "url.path";
/// The element a vital is about: LCP's element, INP's interaction target, CLS's largest shift's
/// source, as a short selector (`#main>div>img.hero`).
pub const OTELWEB_WEB_VITAL_TARGET: &str = "otelweb.web_vital.target";
/// The document's state when the vital happened: `loading`, `dom-interactive`,
/// `dom-content-loaded` or `complete`.
pub const OTELWEB_WEB_VITAL_LOAD_STATE: &str = "otelweb.web_vital.load_state";
/// LCP's and FCP's first part, ms: the document's first byte.
pub const OTELWEB_WEB_VITAL_TIME_TO_FIRST_BYTE: &str = "otelweb.web_vital.time_to_first_byte";
/// The LCP element's resource (an image's URL), redacted like `url.full`.
pub const OTELWEB_WEB_VITAL_LCP_URL: &str = "otelweb.web_vital.lcp.url";
/// LCP, ms: from the first byte until the LCP resource was requested.
pub const OTELWEB_WEB_VITAL_LCP_RESOURCE_LOAD_DELAY: &str = "otelweb.web_vital.lcp.resource_load_delay";
/// LCP, ms: the LCP resource's load.
pub const OTELWEB_WEB_VITAL_LCP_RESOURCE_LOAD_DURATION: &str = "otelweb.web_vital.lcp.resource_load_duration";
/// LCP, ms: from the resource's end (or the first byte) to the paint.
pub const OTELWEB_WEB_VITAL_LCP_ELEMENT_RENDER_DELAY: &str = "otelweb.web_vital.lcp.element_render_delay";
/// FCP, ms: from the first byte to the first contentful paint.
pub const OTELWEB_WEB_VITAL_FCP_FIRST_BYTE_TO_FCP: &str = "otelweb.web_vital.fcp.first_byte_to_fcp";
/// TTFB, ms: before the fetch started (redirects, unload, browser start-up).
pub const OTELWEB_WEB_VITAL_TTFB_WAITING_DURATION: &str = "otelweb.web_vital.ttfb.waiting_duration";
/// TTFB, ms: service worker and HTTP cache.
pub const OTELWEB_WEB_VITAL_TTFB_CACHE_DURATION: &str = "otelweb.web_vital.ttfb.cache_duration";
/// TTFB, ms: DNS.
pub const OTELWEB_WEB_VITAL_TTFB_DNS_DURATION: &str = "otelweb.web_vital.ttfb.dns_duration";
/// TTFB, ms: the connection (TCP, TLS).
pub const OTELWEB_WEB_VITAL_TTFB_CONNECTION_DURATION: &str = "otelweb.web_vital.ttfb.connection_duration";
/// TTFB, ms: from connected to the first byte.
pub const OTELWEB_WEB_VITAL_TTFB_REQUEST_DURATION: &str = "otelweb.web_vital.ttfb.request_duration";
/// INP: the first event of the interaction (`pointerdown`, `click`, `keydown`…).
pub const OTELWEB_WEB_VITAL_INP_EVENT_TYPE: &str = "otelweb.web_vital.inp.event_type";
/// INP: `pointer` or `keyboard`.
pub const OTELWEB_WEB_VITAL_INP_INTERACTION_TYPE: &str = "otelweb.web_vital.inp.interaction_type";
/// INP, ms: from the input until its handlers started.
pub const OTELWEB_WEB_VITAL_INP_INPUT_DELAY: &str = "otelweb.web_vital.inp.input_delay";
/// INP, ms: the handlers of the frame's events.
pub const OTELWEB_WEB_VITAL_INP_PROCESSING_DURATION: &str = "otelweb.web_vital.inp.processing_duration";
/// INP, ms: from the handlers' end to the next paint.
pub const OTELWEB_WEB_VITAL_INP_PRESENTATION_DELAY: &str = "otelweb.web_vital.inp.presentation_delay";
/// INP: how many Long Animation Frames overlap the interaction.
pub const OTELWEB_WEB_VITAL_INP_LONG_FRAMES: &str = "otelweb.web_vital.inp.long_frames";
/// INP: the URL of the script that ran longest during the interaction (Long Animation Frames).
pub const OTELWEB_WEB_VITAL_INP_SCRIPT_SOURCE_URL: &str = "otelweb.web_vital.inp.script.source_url";
/// INP: that script's function.
pub const OTELWEB_WEB_VITAL_INP_SCRIPT_FUNCTION_NAME: &str = "otelweb.web_vital.inp.script.function_name";
/// INP: what invoked it (`BUTTON#save.onclick`).
pub const OTELWEB_WEB_VITAL_INP_SCRIPT_INVOKER: &str = "otelweb.web_vital.inp.script.invoker";
/// INP: the invoker's kind (`event-listener`, `user-callback`…).
pub const OTELWEB_WEB_VITAL_INP_SCRIPT_INVOKER_TYPE: &str = "otelweb.web_vital.inp.script.invoker_type";
/// INP, ms: how long it ran within the interaction.
pub const OTELWEB_WEB_VITAL_INP_SCRIPT_DURATION: &str = "otelweb.web_vital.inp.script.duration";
/// INP: the part it ran in: `input-delay`, `processing-duration` or `presentation-delay`.
pub const OTELWEB_WEB_VITAL_INP_SCRIPT_SUBPART: &str = "otelweb.web_vital.inp.script.subpart";
/// INP, ms: all script within the interaction (forced style and layout left out).
pub const OTELWEB_WEB_VITAL_INP_TOTAL_SCRIPT_DURATION: &str = "otelweb.web_vital.inp.total_script_duration";
/// INP, ms: style and layout within the interaction, forced or not.
pub const OTELWEB_WEB_VITAL_INP_TOTAL_STYLE_AND_LAYOUT_DURATION: &str =
    "otelweb.web_vital.inp.total_style_and_layout_duration";
/// CLS: the largest shift's score.
pub const OTELWEB_WEB_VITAL_CLS_LARGEST_SHIFT_VALUE: &str = "otelweb.web_vital.cls.largest_shift_value";
/// CLS: when the largest shift happened, ms on the page's clock.
pub const OTELWEB_WEB_VITAL_CLS_LARGEST_SHIFT_TIME: &str = "otelweb.web_vital.cls.largest_shift_time";

/// A `tracing` event's level (`INFO`, `WARN`, …), on the span event it becomes (feature
/// `tracing`). The conventions have no level for span events; this is the key
/// `tracing-opentelemetry` writes, so a Rust server's events and the browser's are queried
/// alike.
pub const TRACING_LEVEL: &str = "level";
/// A `tracing` event's target (by default its module path, `cruddur::pages::search`), as
/// `tracing-opentelemetry` writes it.
pub const TRACING_TARGET: &str = "target";
