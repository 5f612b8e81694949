//! Leaving right after a click loses nothing: with a batch delay far longer than the test, the
//! only way the spans can arrive is the page-hide flush (keepalive requests).

use e2e::browser::Browser;
use e2e::explorer_api::ExplorerApi;
use e2e::stack::{Stack, StackOptions};

use crate::ARRIVAL;

#[tokio::test]
async fn navigating_away_right_after_a_click_loses_no_span() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions { browser_batch_delay_ms: 600_000, ..Default::default() }).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.frontend).await?;
    browser.select("#signin", "garek").await?;
    browser.wait_for_text(".feed", "Cloud is very fun!").await?;
    let message = "Posted, then gone";
    browser.fill("#compose-message", message).await?;
    browser.click("#compose-post").await?;
    browser.wait_for_text(".feed", message).await?;
    // Leave at once.
    browser.client.goto("about:blank").await?;

    let explorer = ExplorerApi::new(&stack.explorer.url);
    let trace = explorer
        .wait_for_trace(ARRIVAL, "the post made just before leaving", |t| {
            t.iter().any(|s| s.service == "frontend" && s.name == "post activity")
                && t.iter().any(|s| s.service == "frontend" && s.name == "POST /api/activities")
        })
        .await?;
    let fetch = trace
        .iter()
        .find(|s| s.service == "frontend" && s.name == "POST /api/activities")
        .expect("fetch span");
    assert_eq!(fetch.attr("http.response.status_code").as_deref(), Some("201"));
    // The first load's spans made it out too.
    explorer
        .wait_for_trace(ARRIVAL, "the first home load", |t| {
            t.iter().any(|s| s.service == "frontend" && s.name == "load home")
        })
        .await?;
    browser.close().await
}
