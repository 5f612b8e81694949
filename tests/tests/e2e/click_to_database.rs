//! The mission, proven: a click in the browser becomes a fetch, the fetch a backend request, the
//! request database queries — one trace, with the network hop measured.

use e2e::browser::Browser;
use e2e::explorer_api::{ExplorerApi, Span};
use e2e::stack::{Stack, StackOptions};

use crate::ARRIVAL;

fn find<'a>(trace: &'a [Span], service: &str, kind: i32, name: &str) -> Option<&'a Span> {
    trace.iter().find(|s| s.service == service && s.kind == kind && s.name == name)
}

fn children<'a>(trace: &'a [Span], parent: &Span) -> Vec<&'a Span> {
    trace.iter().filter(|s| s.parent_id.as_deref() == Some(parent.span_id.as_str())).collect()
}

#[tokio::test]
async fn one_trace_runs_from_the_click_to_the_database() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.frontend).await?;
    browser.select("#signin", "andrewbrown").await?;
    browser.wait_for_text(".feed", "Cloud is very fun!").await?;
    browser.screenshot("home").await?;

    // Post an activity and see it appear.
    let message = "Traced end to end by the e2e test";
    browser.fill("#compose-message", message).await?;
    browser.click("#compose-post").await?;
    browser.wait_for_text(".feed", message).await?;
    browser.screenshot("home-after-post").await?;

    // Open a profile.
    browser.click(".activity a.handle").await?;
    browser.wait_for_text(".page.profile h2", "@andrewbrown").await?;
    browser.wait_for(".page.profile .activity").await?;
    browser.screenshot("profile").await?;

    let explorer = ExplorerApi::new(&stack.explorer.url);
    let home = explorer
        .wait_for_trace(ARRIVAL, "a signed-in home load, from the browser's fetch to the SQL", |t| {
            // The page loaded home once before anyone signed in; the post reloaded it as andrewbrown.
            find(t, "frontend", 3, "GET /api/activities/home")
                .is_some_and(|c| c.attr("user.id").as_deref() == Some("andrewbrown"))
                && find(t, "backend", 2, "GET /api/activities/home").is_some()
                && t.iter().any(|s| s.name == "SELECT activities")
        })
        .await?;
    let action =
        home.iter().find(|s| s.service == "frontend" && s.name == "load home").expect("the user action span");
    let client = find(&home, "frontend", 3, "GET /api/activities/home").expect("client span");
    let server = find(&home, "backend", 2, "GET /api/activities/home").expect("server span");
    let custom = home.iter().find(|s| s.name == "home-activities").expect("home-activities span");

    // One trace: action → fetch → server → home-activities → SQL.
    assert!(home.iter().all(|s| s.trace_id == action.trace_id));
    assert_eq!(client.parent_id.as_deref(), Some(action.span_id.as_str()));
    assert_eq!(
        server.parent_id.as_deref(),
        Some(client.span_id.as_str()),
        "the server span's parent is the browser's fetch"
    );
    assert_eq!(custom.parent_id.as_deref(), Some(server.span_id.as_str()));
    let queries = children(&home, custom);
    assert!(
        !queries.is_empty()
            && queries
                .iter()
                .all(|q| q.name == "SELECT activities"
                    && q.attr("db.system.name").as_deref() == Some("sqlite"))
    );

    // The client span contains the server span, and the latency split adds up.
    assert!(
        client.start_ns <= server.start_ns && server.end_ns <= client.end_ns,
        "client {client:?}\nserver {server:?}"
    );
    let server_ms = client.number("otelweb.server.duration_ms").expect("otelweb.server.duration_ms");
    let network_ms = client.number("otelweb.network.duration_ms").expect("otelweb.network.duration_ms");
    assert!(
        (client.duration_ms - server_ms - network_ms).abs() <= 1.0,
        "{} - {server_ms} != {network_ms}",
        client.duration_ms
    );
    assert!(
        server_ms <= server.duration_ms + 1.0,
        "Server-Timing {server_ms} ms vs the server span {} ms",
        server.duration_ms
    );
    assert_eq!(client.attr("otelweb.timing.source").as_deref(), Some("resource-timing"));

    // user.id on both sides.
    for span in [action, client, server, custom].into_iter().chain(queries) {
        assert_eq!(
            span.attr("user.id").as_deref(),
            Some("andrewbrown"),
            "{} ({}) lacks user.id",
            span.name,
            span.service
        );
    }

    // The post went through as its own trace, down to the INSERT.
    let post = explorer
        .wait_for_trace(ARRIVAL, "the post activity action", |t| {
            t.iter().any(|s| s.name == "post activity") && t.iter().any(|s| s.name == "INSERT activities")
        })
        .await?;
    let server = find(&post, "backend", 2, "POST /api/activities").expect("POST server span");
    assert_eq!(server.attr("http.response.status_code").as_deref(), Some("201"));

    // The explorer's own view of the trace, for people.
    browser.client.goto(&format!("{}/traces/{}", stack.explorer.url, action.trace_id)).await?;
    browser.wait_for_text("h1", "Trace").await?;
    let page = browser.client.source().await?;
    assert!(page.contains("network"), "the waterfall labels the network gap");
    browser.screenshot("explorer-trace").await?;
    let spec = r#"{"calculations":[{"op":"P95","column":"duration_ms"},{"op":"HEATMAP","column":"duration_ms"},{"op":"COUNT"}],"breakdowns":["service.name"],"time_range":3600}"#;
    browser.client.goto(&format!("{}/query?q={}", stack.explorer.url, urlencode(spec))).await?;
    browser.wait_for_text("h2", "Results").await?;
    browser.screenshot("explorer-query").await?;
    browser.close().await
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
