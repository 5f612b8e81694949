//! `POST /v1/traces`: the browser's same-origin relay. It checks the body and forwards it
//! byte for byte to the configured OTLP endpoint with the server-side headers (the Honeycomb key
//! never reaches the browser).
//!
//! - Size over [`MAX_BODY_BYTES`] → 413; a content type other than OTLP JSON or protobuf → 415;
//!   a body that does not decode → 400. Each with a JSON message.
//! - `Content-Encoding: gzip` bodies (otel-web's `compression: "gzip"`) are checked after
//!   inflating them, at most [`MAX_BODY_BYTES`] of output (a gzip bomb is a 413), and forwarded
//!   still compressed, byte for byte, with their `Content-Encoding`; any other encoding → 415.
//! - **Backpressure, not buffering**: at most [`MAX_IN_FLIGHT`] forwards run at once; past that
//!   the relay answers `503` with `Retry-After: 1`, which otel-web's exporter retries. Memory is
//!   bounded by `MAX_IN_FLIGHT × MAX_BODY_BYTES`, however slow the upstream.
//! - Upstream unreachable → 502 (also retried by the browser); the upstream's own status
//!   (a 400, say) is passed through.
//! - The relay's own work is not traced (no span per export, so no feedback loop).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::config::OtlpTarget;
use crate::state::AppState;

/// Largest body accepted.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Forwards in flight at once.
pub const MAX_IN_FLIGHT: usize = 16;
/// How long one forward may take.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// Forwards browser spans upstream.
#[derive(Clone)]
pub struct Relay {
    client: reqwest::Client,
    target: Arc<OtlpTarget>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("url", &self.target.traces_url).finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay to `target`; fails only if no HTTP client can be built (no TLS roots).
    pub fn new(target: OtlpTarget) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(FORWARD_TIMEOUT).build()?;
        Ok(Self { client, target: Arc::new(target), permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)) })
    }
}

/// Why the relay did not forward a request; each maps to the status the browser SDK expects.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// 413.
    #[error("the body is over {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// 415.
    #[error("content type {0:?} is not OTLP: send application/json or application/x-protobuf")]
    UnsupportedType(String),
    /// 415.
    #[error("content encoding {0:?} is not accepted")]
    UnsupportedEncoding(String),
    /// 400.
    #[error("the body is not an OTLP trace export: {0}")]
    Undecodable(String),
    /// 503 with `Retry-After: 1`.
    #[error("the relay is busy; retry shortly")]
    Busy,
    /// 502.
    #[error("the trace collector could not be reached")]
    Unreachable,
}

impl IntoResponse for RelayError {
    fn into_response(self) -> Response {
        let status = match self {
            RelayError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RelayError::UnsupportedType(_) | RelayError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            RelayError::Undecodable(_) => StatusCode::BAD_REQUEST,
            RelayError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            RelayError::Unreachable => StatusCode::BAD_GATEWAY,
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    Protobuf,
}

/// Whether the body is gzipped.
fn gzipped(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"))
}

/// The inflated body, at most [`MAX_BODY_BYTES`].
fn gunzip(body: &Bytes) -> Result<Vec<u8>, RelayError> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body.as_ref())
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| RelayError::Undecodable(format!("invalid gzip: {e}")))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(RelayError::TooLarge);
    }
    Ok(out)
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, RelayError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let encoding = match mime.as_str() {
        "application/json" => Encoding::Json,
        "application/x-protobuf" => Encoding::Protobuf,
        _ => return Err(RelayError::UnsupportedType(content_type.to_owned())),
    };
    match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
        None | Some("identity") => Ok(encoding),
        Some(gzip) if gzip.trim().eq_ignore_ascii_case("gzip") => Ok(encoding),
        Some(other) => Err(RelayError::UnsupportedEncoding(other.to_owned())),
    }
}

fn check(encoding: Encoding, body: &Bytes) -> Result<(), String> {
    match encoding {
        Encoding::Json => {
            serde_json::from_slice::<serde::de::IgnoredAny>(body).map(|_| ()).map_err(|e| e.to_string())
        }
        Encoding::Protobuf => {
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(body.as_ref())
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

/// `POST /v1/traces`.
pub async fn forward(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RelayError> {
    let encoding = encoding(&headers)?;
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| RelayError::TooLarge)?;
    let gzip = gzipped(&headers);
    if gzip {
        check(encoding, &Bytes::from(gunzip(&body)?)).map_err(RelayError::Undecodable)?;
    } else {
        check(encoding, &body).map_err(RelayError::Undecodable)?;
    }
    let relay = &state.relay;
    let _permit = relay.permits.clone().try_acquire_owned().map_err(|_| RelayError::Busy)?;
    let content_type = match encoding {
        Encoding::Json => "application/json",
        Encoding::Protobuf => "application/x-protobuf",
    };
    let mut request = relay.client.post(&relay.target.traces_url).header(header::CONTENT_TYPE, content_type);
    if gzip {
        request = request.header(header::CONTENT_ENCODING, "gzip");
    }
    let mut request = request.body(body);
    for (name, value) in &relay.target.headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(upstream) => {
            let status = StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let upstream_type = upstream.headers().get(header::CONTENT_TYPE).cloned();
            let bytes = upstream.bytes().await.unwrap_or_default();
            let mut response = (status, bytes).into_response();
            if let Some(t) = upstream_type {
                response.headers_mut().insert(header::CONTENT_TYPE, t);
            }
            Ok(response)
        }
        Err(e) => {
            eprintln!("relay: upstream {} failed: {e}", relay.target.traces_url);
            Err(RelayError::Unreachable)
        }
    }
}
