//! [`SegmentShaping`]: adjusts the copies of spans that go to X-Ray (never the OTLP ones) before
//! `opentelemetry-aws` translates them: the seed's dynamic segment naming, and `user_id` /
//! `route` as indexed annotations (X-Ray annotation keys allow only letters, digits and `_`).
//!
//! It also keeps the translator from losing or misreporting a segment:
//!
//! - The translator fails the whole span when `http.request.url` is over X-Ray's 250 characters
//!   (only the span's subsegments would arrive, orphaned): the URL is built here as `url.full`
//!   and cut to [`MAX_URL_LEN`] bytes.
//! - A host that is not a valid segment name (over 200 characters, or characters X-Ray names do
//!   not allow) would fail the span the same way: the segment is named after the service then.
//! - The translator derives X-Ray's `error` (4xx), `throttle` (429) and `fault` (5xx) from the
//!   status code only for spans whose status is ERROR, which server spans with a 4xx are not
//!   (OpenTelemetry's rule): a span with a 4xx or 5xx status code goes to X-Ray as ERROR.

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::wildcard_match;

/// The longest `http.request.url` X-Ray accepts (bytes, as the translator counts).
pub const MAX_URL_LEN: usize = 250;

/// The longest segment name X-Ray accepts.
const MAX_NAME_LEN: usize = 200;

/// Wraps an exporter of X-Ray segments.
#[derive(Debug)]
pub struct SegmentShaping<E> {
    inner: E,
    url_pattern: Option<String>,
    service_name: String,
}

impl<E> SegmentShaping<E> {
    /// Shapes spans for `inner`.
    pub fn new(inner: E, url_pattern: Option<String>, service_name: String) -> Self {
        Self { inner, url_pattern, service_name }
    }

    /// The segment name for a server span: the request host when it matches the pattern (and
    /// is a valid segment name), else the service name (the seed's `dynamic_naming`).
    pub fn segment_name(&self, host: Option<&str>) -> String {
        match (&self.url_pattern, host) {
            (Some(pattern), Some(host)) if valid_name(host) && wildcard_match(pattern, host) => {
                host.to_owned()
            }
            _ => self.service_name.clone(),
        }
    }

    /// The span as X-Ray should see it.
    pub fn shape(&self, mut span: SpanData) -> SpanData {
        let get = |key: &str| {
            span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
        };
        let user = get("user.id");
        let route = get("http.route");
        let host = get("server.address");
        let url = request_url(&span);
        let status_code = span.attributes.iter().find_map(|kv| match (kv.key.as_str(), &kv.value) {
            ("http.response.status_code", Value::I64(code)) => Some(*code),
            _ => None,
        });
        if span.span_kind == SpanKind::Server {
            let name = self.segment_name(host.as_deref());
            span.attributes.push(KeyValue::new("service.name", name));
        }
        if let Some(user) = user {
            span.attributes.push(KeyValue::new("annotation.user_id", user));
        }
        if let Some(route) = route {
            span.attributes.push(KeyValue::new("annotation.route", route));
        }
        if let Some(mut url) = url {
            truncate(&mut url, MAX_URL_LEN);
            span.attributes.retain(|kv| kv.key.as_str() != "url.full");
            span.attributes.push(KeyValue::new("url.full", url));
        }
        if status_code.is_some_and(|code| (400..600).contains(&code))
            && !matches!(span.status, Status::Error { .. })
        {
            span.status = Status::error("");
        }
        span
    }
}

/// The request URL the translator would build for `span`: `url.full`, or for a server span
/// `scheme://host[:port]path[?query]` from `url.*` and `server.*` (the port left out when it
/// is the scheme's default).
fn request_url(span: &SpanData) -> Option<String> {
    let get = |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value);
    let text = |key: &str| match get(key) {
        Some(Value::String(s)) => Some(s.as_str().to_owned()),
        _ => None,
    };
    if let Some(full) = text("url.full") {
        return Some(full);
    }
    if span.span_kind != SpanKind::Server {
        return None;
    }
    let host = text("url.domain").or_else(|| text("server.address"))?;
    let scheme = text("url.scheme").unwrap_or_else(|| "http".to_owned());
    let port = match get("url.port").or_else(|| get("server.port")) {
        Some(Value::I64(port)) => Some(*port),
        _ => None,
    };
    let mut url = format!("{scheme}://{host}");
    match (scheme.as_str(), port) {
        (_, None) | ("http", Some(80)) | ("https", Some(443)) => {}
        (_, Some(port)) => url.push_str(&format!(":{port}")),
    }
    if let Some(path) = text("url.path") {
        if !path.starts_with('/') {
            url.push('/');
        }
        url.push_str(&path);
    }
    if let Some(query) = text("url.query") {
        if !query.starts_with('?') {
            url.push('?');
        }
        url.push_str(&query);
    }
    Some(url)
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let end = (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        s.truncate(end);
    }
}

/// Whether X-Ray accepts `name` as a segment name, judged conservatively: 1–200 ASCII letters,
/// digits, spaces and `_ . : / % & # = + - @` (X-Ray also allows other Unicode letters and
/// digits; hosts are ASCII).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b" _.:/%&#=+-@".contains(&b))
}

impl<E: SpanExporter> SpanExporter for SegmentShaping<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let batch = batch.into_iter().map(|s| self.shape(s)).collect();
        self.inner.export(batch).await
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::{SegmentShaping, truncate, valid_name};

    #[test]
    fn a_host_that_is_no_valid_segment_name_names_the_segment_after_the_service() {
        let shaping = SegmentShaping::new((), Some("*".to_owned()), "backend".to_owned());
        assert_eq!(shaping.segment_name(Some("api.example.com")), "api.example.com");
        assert_eq!(shaping.segment_name(Some("[::1]")), "backend");
        assert_eq!(shaping.segment_name(Some("evil<script>")), "backend");
        assert_eq!(shaping.segment_name(Some(&"a".repeat(201))), "backend");
        assert_eq!(shaping.segment_name(Some("")), "backend");
        assert!(valid_name(&"a".repeat(200)));
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        let mut s = format!("{}é", "a".repeat(249));
        truncate(&mut s, 250);
        assert_eq!(s.len(), 249);
        let mut s = "short".to_owned();
        truncate(&mut s, 250);
        assert_eq!(s, "short");
    }
}
