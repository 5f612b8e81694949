//! Opening Cruddur is one trace: the backend's SERVER span that sent the HTML, then the
//! browser's `documentLoad` with its `documentFetch`, a `resourceFetch` for the real `.wasm`
//! and stylesheet, and the `fcp` and `ttfb` vitals, every child inside its parent and its
//! phases in order (issue #15 items 1, 2, 4).

use e2e::browser::Browser;
use e2e::explorer_api::{ExplorerApi, Span};
use e2e::stack::{Stack, StackOptions};

use crate::ARRIVAL;

fn event_times(span: &Span) -> Vec<(String, i64)> {
    span.events
        .iter()
        .map(|e| (e["name"].as_str().unwrap_or_default().to_owned(), e["time_ns"].as_i64().unwrap_or(-1)))
        .collect()
}

/// The span's phases are in order and inside it.
fn assert_phases_in_order(span: &Span) {
    let times = event_times(span);
    assert!(!times.is_empty(), "no phases on {span:?}");
    assert!(times.windows(2).all(|w| w[0].1 <= w[1].1), "phases out of order on {}: {times:?}", span.name);
    assert!(
        times.iter().all(|(_, t)| (span.start_ns..=span.end_ns).contains(t)),
        "a phase outside {} ({}..{}): {times:?}",
        span.name,
        span.start_ns,
        span.end_ns
    );
}

#[tokio::test]
async fn opening_cruddur_is_one_trace_from_the_backends_html_to_the_wasm() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.frontend).await?;
    browser.wait_for_text("header.topbar h1", "Cruddur").await?;

    let explorer = ExplorerApi::new(&stack.explorer.url);
    let trace = explorer
        .wait_for_trace(ARRIVAL, "the page load under the backend's GET /", |t| {
            t.iter().any(|s| s.service == "backend" && s.name == "GET /")
                && t.iter().any(|s| s.service == "frontend" && s.name == "documentLoad")
                && ["fcp", "ttfb"].iter().all(|v| t.iter().any(|s| s.service == "frontend" && s.name == *v))
        })
        .await?;
    let server = trace.iter().find(|s| s.service == "backend" && s.name == "GET /").expect("server span");
    let load = trace.iter().find(|s| s.name == "documentLoad").expect("documentLoad");
    assert_eq!(server.kind, 2, "the HTML came from a SERVER span: {server:?}");
    assert_eq!(load.trace_id, server.trace_id);
    assert_eq!(
        load.parent_id.as_deref(),
        Some(server.span_id.as_str()),
        "documentLoad continues the span that sent the HTML"
    );

    let children: Vec<&Span> =
        trace.iter().filter(|s| s.parent_id.as_deref() == Some(load.span_id.as_str())).collect();
    let fetches: Vec<&&Span> = children.iter().filter(|s| s.name == "documentFetch").collect();
    let [fetch] = fetches.as_slice() else { panic!("one documentFetch under documentLoad: {children:#?}") };
    assert_eq!(fetch.attr("url.full").as_deref(), Some(format!("{}/", stack.frontend).as_str()));
    assert!(event_times(fetch).iter().any(|(name, _)| name == "responseStart"), "{fetch:?}");
    // The server's work happened while the browser fetched the document.
    assert!(
        fetch.start_ns <= server.start_ns && server.end_ns <= fetch.end_ns,
        "documentFetch {fetch:?}\ndoes not contain the server span {server:?}"
    );
    // The vitals reported while the page loads are children of documentLoad too (the others,
    // final when the page is hidden, are checked by `web_vitals`).
    for vital in ["fcp", "ttfb"] {
        assert!(children.iter().any(|s| s.name == vital), "no {vital} under documentLoad: {children:#?}");
    }
    let resource = |suffix: &str| {
        children
            .iter()
            .find(|s| s.name == "resourceFetch" && s.attr("url.full").is_some_and(|u| u.ends_with(suffix)))
            .copied()
    };
    let timeline = browser
        .client
        .execute(
            "const n = performance.getEntriesByType('navigation')[0];
             return {loadEventEnd: n.loadEventEnd, resources: performance.getEntriesByType('resource')
               .map(r => [r.name, r.initiatorType, r.startTime, r.responseEnd])}",
            vec![],
        )
        .await?;
    let wasm = resource("_bg.wasm").unwrap_or_else(|| {
        panic!("no resourceFetch for the .wasm: {children:#?}\nthe page's timeline: {timeline}")
    });
    let css =
        resource(".css").unwrap_or_else(|| panic!("no resourceFetch for the stylesheet: {children:#?}"));
    let wasm_bytes = wasm.attr("http.response.body.size").and_then(|n| n.parse::<f64>().ok());
    assert!(wasm_bytes.is_some_and(|n| n > 10_000.0), "{wasm:?}");
    assert_eq!(wasm.attr("network.protocol.version").as_deref(), Some("1.1"));
    assert!(css.attr("otelweb.initiator_type").is_some(), "{css:?}");

    assert_phases_in_order(load);
    // The fetches lie inside the page load; a vital may end after it (the first paint of a
    // wasm app comes after `load`) and has no phases.
    for child in children.iter().filter(|s| s.name.ends_with("Fetch")) {
        assert!(
            load.start_ns <= child.start_ns && child.end_ns <= load.end_ns,
            "{} is not inside documentLoad ({}..{}): {child:?}",
            child.name,
            load.start_ns,
            load.end_ns
        );
        assert_phases_in_order(child);
    }
    browser.close().await
}
