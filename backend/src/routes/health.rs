//! `GET /api/health`.

use axum::Json;
use serde_json::{Value, json};

/// The service is up.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "service": "backend" }))
}
