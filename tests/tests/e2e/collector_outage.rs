//! The collector (explorer) dies: the app keeps working and shows nothing wrong; when it comes
//! back, export resumes.

use e2e::browser::Browser;
use e2e::explorer_api::ExplorerApi;
use e2e::stack::{Stack, StackOptions};

use crate::ARRIVAL;

#[tokio::test]
async fn the_app_keeps_working_without_a_collector_and_export_resumes() -> anyhow::Result<()> {
    let mut stack = Stack::start(StackOptions::default()).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.frontend).await?;
    browser.wait_for_text(".feed", "Cloud is very fun!").await?;

    stack.explorer.stop();
    // Use the app while nothing receives spans.
    browser.select("#signin", "bayko").await?;
    browser.click("nav a[href='/search']").await?;
    browser.fill("#search-term", "prune").await?;
    browser.click(".search-form button").await?;
    browser.wait_for_text(".feed", "I am out of prune juice").await?;
    let errors = browser.client.find_all(fantoccini::Locator::Css(".error")).await?;
    assert!(errors.is_empty(), "the outage surfaced to the user");

    stack.explorer.restart().await?;
    browser.click("nav a[href='/notifications']").await?;
    browser.wait_for(".page.notifications").await?;
    let explorer = ExplorerApi::new(&stack.explorer.url);
    explorer
        .wait_for_trace(ARRIVAL * 3, "spans recorded after the collector came back", |t| {
            t.iter().any(|s| s.service == "frontend" && s.name == "load notifications")
                && t.iter().any(|s| s.service == "backend" && s.name == "GET /api/activities/notifications")
        })
        .await?;
    browser.close().await
}
