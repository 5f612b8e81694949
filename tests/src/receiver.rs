//! A scriptable HTTP receiver for browser tests: it records every request (method, path,
//! headers, body) and answers with scripted responses, with CORS open to any page so tests
//! served from another loopback port can call it.
//!
//! Each test uses its own session, a path prefix `/s/{session}/`:
//!
//! | request | effect |
//! |---|---|
//! | `POST /s/{session}/_script` with `[{"status":503,"headers":{"retry-after":"1"},"body":"","delay_ms":0,"repeat":1}]` | queue responses for the session's next requests |
//! | `GET /s/{session}/_requests` | the recorded requests, as JSON (a body that is not UTF-8 also as `body_hex`) |
//! | anything else under `/s/{session}/` | recorded, answered with the next scripted response (default `200 {}`) |
//!
//! A scripted header value may contain `{now_ms}` or `{now_ms+N}` / `{now_ms-N}`: the
//! receiver's clock in epoch milliseconds (shifted by N), for clock-skew tests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// One scripted answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Scripted {
    pub status: u16,
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default)]
    pub body: String,
    /// Wait this long before answering (a slow server).
    #[serde(default)]
    pub delay_ms: u64,
    /// Send the body this many times over (large responses without a large script); 0 or 1
    /// sends it once. At most 64 MiB are sent.
    #[serde(default)]
    pub repeat: usize,
}

/// One recorded request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The body's bytes in lowercase hex, when it is not UTF-8 (protobuf, gzip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_hex: Option<String>,
    pub received_at_ms: f64,
}

#[derive(Debug, Default)]
struct Session {
    script: VecDeque<Scripted>,
    requests: Vec<Recorded>,
}

type Sessions = Arc<Mutex<HashMap<String, Session>>>;

/// The receiver's router.
pub fn router() -> Router {
    let sessions: Sessions = Arc::default();
    Router::new().route("/s/{session}/{*rest}", any(handle)).with_state(sessions)
}

/// Serves the receiver on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router()).await
}

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
}

fn expand(value: &str) -> String {
    let Some(start) = value.find("{now_ms") else { return value.to_owned() };
    let Some(len) = value[start..].find('}') else { return value.to_owned() };
    let inner = &value[start + "{now_ms".len()..start + len];
    let shift: f64 = inner.parse().unwrap_or(0.0);
    format!("{}{}{}", &value[..start], (now_ms() + shift).round() as i64, &value[start + len + 1..])
}

fn cors(mut response: Response, request: &HeaderMap) -> Response {
    let headers = response.headers_mut();
    let origin = request.get("origin").cloned().unwrap_or(HeaderValue::from_static("*"));
    headers.insert("access-control-allow-origin", origin);
    headers.insert("access-control-expose-headers", HeaderValue::from_static("*"));
    headers.insert("timing-allow-origin", HeaderValue::from_static("*"));
    // Test pages may be cross-origin isolated (COEP), which refuses no-cors responses without this.
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    headers.insert("vary", HeaderValue::from_static("origin"));
    response
}

async fn handle(
    State(sessions): State<Sessions>,
    Path((session, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (response, delay_ms) = answer(&sessions, &session, &rest, &method, &headers, body);
    if delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms.min(30_000))).await;
    }
    cors(response, &headers)
}

/// The response for a request, and how long to wait before sending it.
fn answer(
    sessions: &Sessions,
    session: &str,
    rest: &str,
    method: &Method,
    headers: &HeaderMap,
    body: Bytes,
) -> (Response, u64) {
    let Ok(mut sessions) = sessions.lock() else {
        return (StatusCode::INTERNAL_SERVER_ERROR.into_response(), 0);
    };
    let entry = sessions.entry(session.to_owned()).or_default();
    match (method, rest) {
        (&Method::POST, "_script") => match serde_json::from_slice::<Vec<Scripted>>(&body) {
            Ok(script) => {
                entry.script.extend(script);
                (StatusCode::NO_CONTENT.into_response(), 0)
            }
            Err(e) => ((StatusCode::BAD_REQUEST, format!("bad script: {e}")).into_response(), 0),
        },
        (&Method::GET, "_requests") => (Json(entry.requests.clone()).into_response(), 0),
        (&Method::OPTIONS, _) => {
            entry.requests.push(record(method, rest, headers, &body));
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            // Whatever method is asked for (PATCH, PROPFIND, a lower-case `patch`: CORS
            // compares methods case-sensitively).
            let methods = headers
                .get("access-control-request-method")
                .cloned()
                .unwrap_or(HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"));
            h.insert("access-control-allow-methods", methods);
            if let Some(requested) = headers.get("access-control-request-headers") {
                h.insert("access-control-allow-headers", requested.clone());
            }
            h.insert("access-control-max-age", HeaderValue::from_static("0"));
            (response, 0)
        }
        _ => {
            entry.requests.push(record(method, rest, headers, &body));
            let scripted = entry.script.pop_front().unwrap_or(Scripted {
                status: 200,
                headers: HashMap::new(),
                body: "{}".into(),
                delay_ms: 0,
                repeat: 1,
            });
            let times = scripted.repeat.clamp(1, (64 << 20) / scripted.body.len().max(1)).max(1);
            let mut response = (
                StatusCode::from_u16(scripted.status).unwrap_or(StatusCode::OK),
                scripted.body.repeat(times),
            )
                .into_response();
            for (name, value) in &scripted.headers {
                if let (Ok(name), Ok(value)) =
                    (HeaderName::try_from(name.as_str()), HeaderValue::try_from(expand(value)))
                {
                    response.headers_mut().insert(name, value);
                }
            }
            (response, scripted.delay_ms)
        }
    }
}

fn record(method: &Method, rest: &str, headers: &HeaderMap, body: &Bytes) -> Recorded {
    Recorded {
        method: method.to_string(),
        path: format!("/{rest}"),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
        body_hex: std::str::from_utf8(body)
            .is_err()
            .then(|| body.iter().map(|b| format!("{b:02x}")).collect()),
        received_at_ms: now_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn clock_placeholders_expand() {
        let plain = expand("dur=5");
        assert_eq!(plain, "dur=5");
        let ahead: i64 = expand("{now_ms+5000}").parse().expect("number");
        let behind: i64 = expand("{now_ms-5000}").parse().expect("number");
        assert!((ahead - behind - 10_000).abs() < 100);
    }
}
