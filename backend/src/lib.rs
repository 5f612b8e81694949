//! Cruddur's API: the router and its handlers, built by [`app`] so tests can drive it
//! without a socket.

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

/// Builds the Cruddur API router.
pub fn app() -> Router {
    Router::new().route("/api/health", get(health))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "service": "backend" }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn health_answers_ok() {
        let response = super::app()
            .oneshot(Request::get("/api/health").body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["status"], "ok");
    }
}
