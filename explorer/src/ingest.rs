//! `POST /v1/traces`: the OTLP/HTTP receiver.
//!
//! `application/json` (OTLP/JSON) or `application/x-protobuf`, optionally
//! `Content-Encoding: gzip`; answers `200` with an empty `ExportTraceServiceResponse` in the
//! request's content type. A batch is stored whole or not at all. Refused, with the reason:
//!
//! | status | when |
//! |---|---|
//! | 413 | the body is over [`MAX_BODY_BYTES`], compressed or not; it holds more than [`otlp::MAX_SPANS`] spans; its messages would take more than [`otlp::MAX_DECODED_BYTES`] once built; or it decodes to more than [`otlp::MAX_ATTRIBUTE_BYTES`] of attributes (each span counting its resource's) |
//! | 415 | another content type or content encoding |
//! | 400 | not OTLP, a bad id, or an `arrayValue`/`kvlistValue` nested deeper than [`otlp::MAX_VALUE_DEPTH`] levels |
//!
//! Every limit is checked before the work it bounds: memory for one request stays within a
//! small multiple of [`MAX_BODY_BYTES`] however small the gzipped body that inflates to it.
//! Decompressing, decoding and storing run on a blocking thread, never on the async workers.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::AppError;
use crate::otlp::{self, SpanRecord};

/// Largest body accepted, before and after decompression: 8 MiB. A batch span processor's
/// batch (512 spans) is well under 1 MiB; the browser sends at most 64 KiB per request; the
/// backend's relay takes 4 MiB; the OpenTelemetry Collector's default is 20 MiB for
/// collectors that aggregate many services.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

fn too_large() -> AppError {
    AppError::TooLarge(format!(
        "the body is over {MAX_BODY_BYTES} bytes (after decompression): send smaller batches"
    ))
}

/// The two OTLP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// OTLP/JSON.
    Json,
    /// Protobuf.
    Protobuf,
}

impl Encoding {
    /// Its content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => "application/x-protobuf",
        }
    }
}

/// Checks the headers and returns the decompressed body and its encoding.
pub fn read_body(headers: &HeaderMap, body: Bytes) -> Result<(Encoding, Bytes), AppError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let encoding = match content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "application/json" => Encoding::Json,
        "application/x-protobuf" => Encoding::Protobuf,
        _ => {
            return Err(AppError::Unsupported(format!(
                "unsupported content type {content_type:?}: send application/json or application/x-protobuf"
            )));
        }
    };
    let body = match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::trim) {
        None | Some("identity") | Some("") => body,
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body.as_ref())
                .take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| AppError::BadRequest(format!("invalid gzip: {e}")))?;
            if out.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            Bytes::from(out)
        }
        Some(other) => {
            return Err(AppError::Unsupported(format!(
                "unsupported content encoding {other:?}: send gzip or none"
            )));
        }
    };
    Ok((encoding, body))
}

/// Decodes a body of either encoding.
pub fn decode(encoding: Encoding, body: &[u8]) -> Result<Vec<SpanRecord>, AppError> {
    match encoding {
        Encoding::Json => otlp::decode_json(body),
        Encoding::Protobuf => otlp::decode_protobuf(body),
    }
    .map_err(AppError::from)
}

/// `POST /v1/traces`.
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| too_large())?;
    let store = state.store.clone();
    let (encoding, body) = tokio::task::spawn_blocking(move || {
        let (encoding, body) = read_body(&headers, body)?;
        let spans = decode(encoding, &body)?;
        store.insert(&spans)?;
        Ok::<_, AppError>((encoding, body))
    })
    .await??;
    if let Some(forwarder) = &state.forwarder {
        forwarder.send(encoding.content_type(), body);
    }
    // An empty ExportTraceServiceResponse: `{}` in JSON, zero bytes in protobuf.
    let answer = match encoding {
        Encoding::Json => Bytes::from_static(b"{}"),
        Encoding::Protobuf => Bytes::new(),
    };
    Ok(([(header::CONTENT_TYPE, encoding.content_type())], answer).into_response())
}
