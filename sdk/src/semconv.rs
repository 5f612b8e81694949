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
/// An id for the browser tab's session, kept in `sessionStorage`.
pub const SESSION_ID: &str = "session.id";
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
