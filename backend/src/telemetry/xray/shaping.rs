//! [`SegmentShaping`]: adjusts the copies of spans that go to X-Ray (never the OTLP ones) before
//! `opentelemetry-aws` translates them: the seed's dynamic segment naming, and `user_id` /
//! `route` as indexed annotations (X-Ray annotation keys allow only letters, digits and `_`).

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::wildcard_match;

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

    /// The segment name for a server span: the request host when it matches the pattern, else
    /// the service name (the seed's `dynamic_naming`).
    pub fn segment_name(&self, host: Option<&str>) -> String {
        match (&self.url_pattern, host) {
            (Some(pattern), Some(host)) if wildcard_match(pattern, host) => host.to_owned(),
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
        span
    }
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
