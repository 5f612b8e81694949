//! `url.query` on the SERVER span (HTTP server semconv: conditionally required when the request
//! has one), with the values semconv names as sensitive redacted. Issue #13 item 15.

use opentelemetry::Value;

use super::{Backend, attr};

#[tokio::test]
async fn the_server_span_records_the_query_without_the_question_mark() {
    let backend = Backend::always_on().await;
    let span = backend.get_raw("/api/users?page=2&sort=handle", &[]).await;
    assert_eq!(attr(&span, "url.query"), Some(&Value::from("page=2&sort=handle")));
    assert_eq!(attr(&span, "url.path"), Some(&Value::from("/api/users")));
    for target in ["/api/users", "/api/users?"] {
        let span = backend.get_raw(target, &[]).await;
        assert_eq!(attr(&span, "url.query"), None, "{target}");
    }
}

#[tokio::test]
async fn signature_and_access_key_values_in_the_query_are_redacted() {
    let backend = Backend::always_on().await;
    let span = backend
        .get_raw(
            "/api/users?AWSAccessKeyId=AKIA1&Signature=abc&sig=def&X-Goog-Signature=ghi&user=sig&sig",
            &[],
        )
        .await;
    assert_eq!(
        attr(&span, "url.query"),
        Some(&Value::from(
            "AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&user=sig&sig"
        ))
    );
}
