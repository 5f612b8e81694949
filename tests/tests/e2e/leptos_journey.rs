//! Leptos through otel-web's `leptos` feature: a route change through `leptos_router` is a
//! navigation named by its route template, and Cruddur's search — a server function called
//! through `TracedClient` — is one trace from the browser's action through the call's CLIENT
//! span to the backend's SERVER span and its query.

use e2e::browser::Browser;
use e2e::explorer_api::{ExplorerApi, Span};
use e2e::stack::{Stack, StackOptions};

use crate::ARRIVAL;

fn names(trace: &[Span]) -> Vec<String> {
    trace.iter().map(|s| format!("{} {} {:?} <- {:?}", s.service, s.name, s.kind, s.parent_id)).collect()
}

fn find<'a>(trace: &'a [Span], what: impl Fn(&Span) -> bool, describe: &str) -> &'a Span {
    trace.iter().find(|s| what(s)).unwrap_or_else(|| panic!("no {describe} in {:#?}", names(trace)))
}

#[tokio::test]
async fn a_server_function_call_is_continued_by_the_server_and_routes_are_named_by_their_template()
-> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let browser = Browser::start().await?;
    let explorer = ExplorerApi::new(&stack.explorer.url);
    browser.client.goto(&stack.frontend).await?;
    browser.wait_for(".feed").await?;

    // A route change through leptos_router, named by the <Route>'s template.
    browser.click("nav a[href='/search']").await?;
    browser.wait_for(".search-form").await?;
    let navigation = explorer
        .wait_for_trace(ARRIVAL, "the navigation to /search", |t| {
            t.iter().any(|s| {
                s.attr("url.path").as_deref() == Some("/search")
                    && s.attr("otelweb.navigation.type").is_some()
            })
        })
        .await?;
    let span = find(&navigation, |s| s.attr("otelweb.navigation.type").is_some(), "navigation span");
    assert_eq!(span.attr("url.template").as_deref(), Some("/search"), "{:#?}", span.attributes);
    assert_eq!(span.name, "/search", "a navigation is named by its route template");

    // The search: a server function.
    browser.fill("#search-term", "prune").await?;
    browser.click(".search-form button").await?;
    let shown = browser.wait_for(".page.search .feed, .page.search .error").await?.text().await?;
    assert!(shown.contains("prune"), "the results: {shown}");
    let trace = explorer
        .wait_for_trace(ARRIVAL, "the search", |t| {
            t.iter().any(|s| s.name == "search")
                && t.iter().any(|s| s.service == "backend" && s.name == "POST /api/search")
        })
        .await?;
    let action = find(&trace, |s| s.service == "frontend" && s.name == "search", "search action");
    let client = find(
        &trace,
        |s| s.service == "frontend" && s.name == "POST /api/search",
        "server-function CLIENT span",
    );
    let server = find(
        &trace,
        |s| s.service == "backend" && s.name == "POST /api/search",
        "server-function SERVER span",
    );
    assert_eq!(client.kind, 3, "CLIENT");
    assert_eq!(server.kind, 2, "SERVER");
    assert_eq!(client.parent_id.as_deref(), Some(action.span_id.as_str()), "{:#?}", names(&trace));
    assert_eq!(server.parent_id.as_deref(), Some(client.span_id.as_str()), "{:#?}", names(&trace));
    assert_eq!(client.attr("url.template").as_deref(), Some("/api/search"));
    assert!(trace.iter().all(|s| s.trace_id == action.trace_id));
    let query = find(&trace, |s| s.service == "backend" && s.name == "SELECT activities", "the query");
    assert_eq!(query.parent_id.as_deref(), Some(server.span_id.as_str()));
    Ok(())
}
