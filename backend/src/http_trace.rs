//! The SERVER span around every API request, continuing the browser's trace, and the
//! `Server-Timing` header the browser's latency split and clock-skew estimate read.
//!
//! - The W3C `traceparent`/`tracestate` and `baggage` are extracted by otel-web's propagators,
//!   the strict parsers the browser uses too (see [`crate::telemetry::propagator`]): a malformed
//!   `traceparent`, or more than one, starts a new root trace; several `tracestate` fields are
//!   read as one list, and an invalid list is dropped while the `traceparent` is kept.
//! - The span is named `METHOD route` (`GET /api/activities/home`) and carries the HTTP
//!   semantic-convention attributes, `url.query` among them when there is one (with the values of
//!   the parameters semconv names as sensitive replaced by `REDACTED`); 5xx responses set status
//!   ERROR (4xx do not, for servers).
//! - `client.address` is the address a proxy reports (`Forwarded`, `X-Forwarded-For`) when there
//!   is one, else the connection's peer; `network.peer.address` is always the peer.
//! - `Server-Timing: app;dur=<ms>, otelweb-ts;desc="<epoch ms when the request arrived>"` is
//!   added to every response (the format otel-web's `fetch::server_timing` reads).

use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::KeyValue;
use opentelemetry::context::FutureExt;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};

use crate::error::ErrorDetail;
use crate::state::AppState;

/// Longest `user_agent.original` recorded.
const MAX_USER_AGENT_LEN: usize = 512;
/// Query parameters whose values `url.query` never carries (HTTP semconv: "query string values
/// for the following keys SHOULD be redacted by default").
const SENSITIVE_QUERY_PARAMS: [&str; 4] = ["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }

    /// Every field named `key`, in order. A value that is not text stays in the list as U+FFFD,
    /// which no W3C parser accepts: it still counts as a second `traceparent`, and still makes a
    /// `tracestate` list invalid, instead of silently disappearing.
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .map(|v| std::str::from_utf8(v.as_bytes()).unwrap_or("\u{fffd}"))
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// The query for `url.query`, with the values of [`SENSITIVE_QUERY_PARAMS`] replaced by
/// `REDACTED`; everything else as the client sent it.
fn redacted_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for (i, param) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match param.split_once('=') {
            Some((name, _)) if SENSITIVE_QUERY_PARAMS.contains(&name) => {
                out.push_str(name);
                out.push_str("=REDACTED");
            }
            _ => out.push_str(param),
        }
    }
    out
}

/// `network.protocol.version` for an HTTP version, without formatting per request.
fn protocol_version(version: axum::http::Version) -> &'static str {
    match version {
        axum::http::Version::HTTP_09 => "0.9",
        axum::http::Version::HTTP_10 => "1.0",
        axum::http::Version::HTTP_2 => "2",
        axum::http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// The original client's address as a proxy reports it: `Forwarded: for=…`, else the first
/// `X-Forwarded-For` entry, when it is an IP address (with or without a port). Anyone can send
/// these headers, so this is a claim (X-Ray marks it `x_forwarded_for`), never an identity.
fn forwarded_client(headers: &HeaderMap) -> Option<IpAddr> {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let forwarded = text(header::FORWARDED).and_then(|v| {
        v.split(',').next()?.split(';').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"'))
        })
    });
    let first = forwarded
        .or_else(|| text(header::HeaderName::from_static("x-forwarded-for"))?.split(',').next())?
        .trim();
    first
        .parse::<IpAddr>()
        .or_else(|_| first.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .or_else(|| first.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// The `Server-Timing` value for a request that arrived at `arrived` (epoch) and took `elapsed`.
pub fn server_timing(arrived: SystemTime, elapsed_ms: f64) -> String {
    let epoch_ms = arrived.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0);
    format!("app;dur={elapsed_ms:.3}, otelweb-ts;desc=\"{epoch_ms:.3}\"")
}

/// Middleware: traces the request and adds `Server-Timing`.
pub async fn trace_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let arrived = SystemTime::now();
    let started = Instant::now();
    let parent = state.propagator.extract(&HeaderExtractor(request.headers()));
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let mut attributes = vec![
        KeyValue::new("http.request.method", method),
        KeyValue::new("url.path", request.uri().path().to_owned()),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("network.protocol.version", protocol_version(request.version())),
    ];
    if let Some(query) = request.uri().query().filter(|q| !q.is_empty()) {
        attributes.push(KeyValue::new("url.query", redacted_query(query)));
    }
    if let Some(route) = route {
        attributes.push(KeyValue::new("http.route", route));
    }
    if let Some(agent) = request.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()) {
        attributes.push(KeyValue::new(
            "user_agent.original",
            agent.chars().take(MAX_USER_AGENT_LEN).collect::<String>(),
        ));
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer);
    if let Some(peer) = peer {
        attributes.push(KeyValue::new("network.peer.address", peer.ip().to_string()));
        attributes.push(KeyValue::new("network.peer.port", i64::from(peer.port())));
    }
    match (forwarded_client(request.headers()), peer) {
        (Some(client), _) => attributes.push(KeyValue::new("client.address", client.to_string())),
        (None, Some(peer)) => {
            attributes.push(KeyValue::new("client.address", peer.ip().to_string()));
            attributes.push(KeyValue::new("client.port", i64::from(peer.port())));
        }
        (None, None) => {}
    }
    if let Some(host) = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()) {
        let (address, port) = match host.rsplit_once(':') {
            Some((address, port)) if port.parse::<u16>().is_ok() => (address, port.parse::<u16>().ok()),
            _ => (host, None),
        };
        attributes.push(KeyValue::new("server.address", address.to_owned()));
        if let Some(port) = port {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
    }
    let span = state
        .tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .with_start_time(arrived)
        .with_attributes(attributes)
        .start_with_context(&state.tracer, &parent);
    let cx = parent.with_span(span);

    let mut response = next.run(request).with_context(cx.clone()).await;

    let span = cx.span();
    let status = response.status();
    span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status.as_u16())));
    if status.is_server_error() {
        span.set_attribute(KeyValue::new("error.type", status.as_u16().to_string()));
        let detail = response.extensions().get::<ErrorDetail>().map(|d| d.0.clone()).unwrap_or_default();
        span.set_status(Status::error(detail));
    }
    let timing = server_timing(arrived, started.elapsed().as_secs_f64() * 1e3);
    if let Ok(value) = HeaderValue::from_str(&timing) {
        response.headers_mut().append("server-timing", value);
    }
    span.end();
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sensitive_query_values_are_redacted_and_the_rest_kept_as_sent() {
        assert_eq!(redacted_query("a=1&b=%20&c"), "a=1&b=%20&c");
        assert_eq!(
            redacted_query("Signature=x&sig=&AWSAccessKeyId=k&X-Goog-Signature=g&signature=s&q=sig"),
            "Signature=REDACTED&sig=REDACTED&AWSAccessKeyId=REDACTED&X-Goog-Signature=REDACTED&signature=s&q=sig"
        );
        assert_eq!(redacted_query("&sig=1&&"), "&sig=REDACTED&&");
    }

    #[test]
    fn server_timing_has_the_documented_shape() {
        let arrived = UNIX_EPOCH + Duration::from_micros(1_732_500_000_123_456);
        assert_eq!(server_timing(arrived, 12.3456), "app;dur=12.346, otelweb-ts;desc=\"1732500000123.456\"");
    }

    #[test]
    fn the_forwarded_client_is_the_first_ip_a_proxy_reports() {
        let client = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.append(*name, HeaderValue::from_static(value));
            }
            forwarded_client(&headers).map(|ip| ip.to_string())
        };
        assert_eq!(client(&[]), None);
        assert_eq!(client(&[("x-forwarded-for", "203.0.113.7, 10.0.0.1")]).as_deref(), Some("203.0.113.7"));
        assert_eq!(client(&[("x-forwarded-for", "203.0.113.7:5678")]).as_deref(), Some("203.0.113.7"));
        assert_eq!(
            client(&[("forwarded", "for=\"[2001:db8::17]:4711\";proto=http, for=10.0.0.1")]).as_deref(),
            Some("2001:db8::17")
        );
        assert_eq!(client(&[("forwarded", "proto=https;For=192.0.2.60")]).as_deref(), Some("192.0.2.60"));
        assert_eq!(client(&[("forwarded", "for=\"[2001:db8::17]\"")]).as_deref(), Some("2001:db8::17"));
        // Forwarded wins over X-Forwarded-For; names that are no address are ignored.
        assert_eq!(
            client(&[("forwarded", "for=192.0.2.60"), ("x-forwarded-for", "203.0.113.7")]).as_deref(),
            Some("192.0.2.60")
        );
        assert_eq!(client(&[("forwarded", "for=_hidden")]), None);
        assert_eq!(client(&[("x-forwarded-for", "unknown")]), None);
    }
}
