//! The seed's second setup: the page on its own origin calls the backend's origin directly.
//! `traceparent` reaches the allowlisted backend; a request to a third origin carries none.

use e2e::browser::Browser;
use e2e::explorer_api::ExplorerApi;
use e2e::stack::{Mode, Stack, StackOptions};

use crate::ARRIVAL;

#[tokio::test]
async fn trace_headers_go_to_the_allowlisted_backend_and_nowhere_else() -> anyhow::Result<()> {
    // A third origin: a status page that is not on the allowlist.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let third = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { e2e::receiver::serve(listener).await });
    let status_url = format!("{third}/s/status/health");
    let stack = Stack::start(StackOptions {
        mode: Mode::CrossOrigin,
        status_url: Some(status_url),
        ..Default::default()
    })
    .await?;

    let browser = Browser::start().await?;
    browser.client.goto(&stack.frontend).await?;
    browser.wait_for_text(".feed", "Cloud is very fun!").await?;
    browser.wait_for_text("#service-status", "all systems normal").await?;
    // Signed in, open a profile: a fetch whose baggage carries the user across origins.
    browser.select("#signin", "worf").await?;
    browser.click(".activity a.handle").await?;
    browser.wait_for(".page.profile .activity").await?;

    let explorer = ExplorerApi::new(&stack.explorer.url);
    let trace = explorer
        .wait_for_trace(ARRIVAL, "a cross-origin profile fetch continued by the backend", |t| {
            t.iter()
                .any(|s| s.service == "frontend" && s.kind == 3 && s.name == "GET /api/activities/@{handle}")
                && t.iter().any(|s| s.service == "backend" && s.kind == 2)
        })
        .await?;
    let client = trace.iter().find(|s| s.service == "frontend" && s.kind == 3).expect("client");
    let server = trace.iter().find(|s| s.service == "backend" && s.kind == 2).expect("server");
    assert_eq!(server.parent_id.as_deref(), Some(client.span_id.as_str()), "traceparent crossed origins");
    assert_eq!(server.attr("user.id").as_deref(), Some("worf"), "baggage crossed origins");
    assert!(client.attr("url.full").unwrap_or_default().starts_with(&stack.backend));
    assert_eq!(client.attr("otelweb.timing.source").as_deref(), Some("resource-timing"));
    assert!(
        client.number("otelweb.network.duration_ms").is_some(),
        "Server-Timing was exposed across origins"
    );

    // The third origin saw the request, with no trace headers and no preflight.
    let seen: Vec<serde_json::Value> =
        reqwest::get(format!("{third}/s/status/_requests")).await?.json().await?;
    assert!(seen.iter().any(|r| r["method"] == "GET"), "the status request arrived: {seen:?}");
    for request in &seen {
        assert_ne!(request["method"], "OPTIONS", "a preflight means trace headers were attempted: {request}");
        for header in ["traceparent", "tracestate", "baggage"] {
            assert!(request["headers"].get(header).is_none(), "{header} leaked to a third origin: {request}");
        }
    }
    // And its fetch span was still recorded, as a client span without propagation.
    explorer
        .wait_for_trace(ARRIVAL, "the status check", |t| t.iter().any(|s| s.name == "check status"))
        .await?;
    browser.close().await
}
