//! `POST /v1/traces`: the OTLP/HTTP receiver.
//!
//! `application/json` (OTLP/JSON) or `application/x-protobuf`, optionally
//! `Content-Encoding: gzip`; answers `200` with an empty `ExportTraceServiceResponse` in the
//! request's content type. A batch is stored whole or not at all. Refused, with the reason:
//!
//! | status | when |
//! |---|---|
//! | 413 | the body is over [`MAX_BODY_BYTES`], compressed or not; or it decodes to more than [`otlp::MAX_ATTRIBUTE_BYTES`] of attributes (each span counting its resource's) |
//! | 415 | another content type or content encoding |
//! | 400 | not OTLP, a bad id, or an `arrayValue`/`kvlistValue` nested deeper than [`otlp::MAX_VALUE_DEPTH`] levels |
//!
//! Decompressing, decoding and storing run on a blocking thread, never on the async workers.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::otlp::{self, DecodeError, SpanRecord};

/// Largest body accepted, before and after decompression.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Why a batch was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// 413.
    #[error("the body is over {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// 415.
    #[error("unsupported content type {0:?}: send application/json or application/x-protobuf")]
    ContentType(String),
    /// 415.
    #[error("unsupported content encoding {0:?}: send gzip or none")]
    ContentEncoding(String),
    /// 400.
    #[error("{0}")]
    Undecodable(String),
    /// 400, or 413 for [`DecodeError::TooLarge`].
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// 500.
    #[error("the batch could not be stored: {0}")]
    Store(String),
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = match self {
            IngestError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::ContentType(_) | IngestError::ContentEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::Undecodable(_) | IngestError::Decode(DecodeError::Invalid(_)) => {
                StatusCode::BAD_REQUEST
            }
            IngestError::Decode(DecodeError::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = serde_json::json!({ "code": status.as_u16(), "message": self.to_string() });
        (status, axum::Json(body)).into_response()
    }
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
pub fn read_body(headers: &HeaderMap, body: Bytes) -> Result<(Encoding, Bytes), IngestError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let encoding = match content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "application/json" => Encoding::Json,
        "application/x-protobuf" => Encoding::Protobuf,
        _ => return Err(IngestError::ContentType(content_type.to_owned())),
    };
    let body = match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::trim) {
        None | Some("identity") | Some("") => body,
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body.as_ref())
                .take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| IngestError::Undecodable(format!("invalid gzip: {e}")))?;
            if out.len() > MAX_BODY_BYTES {
                return Err(IngestError::TooLarge);
            }
            Bytes::from(out)
        }
        Some(other) => return Err(IngestError::ContentEncoding(other.to_owned())),
    };
    Ok((encoding, body))
}

/// Decodes a body of either encoding.
pub fn decode(encoding: Encoding, body: &[u8]) -> Result<Vec<SpanRecord>, IngestError> {
    match encoding {
        Encoding::Json => otlp::decode_json(body),
        Encoding::Protobuf => otlp::decode_protobuf(body),
    }
    .map_err(IngestError::from)
}

/// `POST /v1/traces`.
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| IngestError::TooLarge)?;
    let store = state.store.clone();
    let (encoding, body) = tokio::task::spawn_blocking(move || {
        let (encoding, body) = read_body(&headers, body)?;
        let spans = decode(encoding, &body)?;
        store.insert(&spans).map_err(|e| IngestError::Store(e.to_string()))?;
        Ok::<_, IngestError>((encoding, body))
    })
    .await
    .map_err(|e| IngestError::Store(e.to_string()))??;
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
