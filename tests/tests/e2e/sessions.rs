//! Sessions across real tabs: Cruddur opened in two tabs of one browser, and reloaded in one,
//! is one session — every span the explorer stored carries the `session.id` kept in the
//! origin's `localStorage`, and only the first page load marked a `session.start`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use e2e::browser::Browser;
use e2e::explorer_api::{ExplorerApi, Span};
use e2e::stack::{Stack, StackOptions};

use crate::ARRIVAL;

/// The `session.id` in this tab's `localStorage` record (`1:<id>:<start>:<last activity>`).
async fn stored_session(browser: &Browser) -> anyhow::Result<String> {
    let record = browser.client.execute("return localStorage.getItem('otel-web.session')", vec![]).await?;
    let record = record.as_str().context("no session record in localStorage")?;
    Ok(record.split(':').nth(1).context("malformed session record")?.to_owned())
}

#[tokio::test]
async fn two_tabs_and_a_reload_are_one_session() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.frontend).await?;
    browser.select("#signin", "garek").await?;
    browser.wait_for_text(".feed", "Cloud is very fun!").await?;
    let first_tab = stored_session(&browser).await?;

    // A second tab of the same origin, then a reload of it.
    let tab = browser.client.new_window(true).await?;
    browser.client.switch_to_window(tab.handle).await?;
    browser.client.goto(&stack.frontend).await?;
    browser.select("#signin", "andrewbrown").await?;
    browser.wait_for(".feed").await?;
    let second_tab = stored_session(&browser).await?;
    browser.client.refresh().await?;
    browser.wait_for(".feed").await?;
    let reloaded = stored_session(&browser).await?;
    assert_eq!((&second_tab, &reloaded), (&first_tab, &first_tab), "the tabs and the reload disagree");
    // Leaving flushes the reloaded page's spans.
    browser.client.goto("about:blank").await?;

    // Three page loads: the first tab, the second, its reload.
    let explorer = ExplorerApi::new(&stack.explorer.url);
    let deadline = Instant::now() + ARRIVAL;
    let spans: Vec<Span> = loop {
        let spans: Vec<Span> =
            explorer.traces().await?.into_iter().flatten().filter(|s| s.service == "frontend").collect();
        if spans.iter().filter(|s| s.name == "documentLoad").count() >= 3 {
            break spans;
        }
        if Instant::now() > deadline {
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
            bail!("three documentLoad spans never arrived; the frontend sent {names:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("{} frontend spans from three page loads, checked for session {first_tab}", spans.len());
    let other: Vec<String> = spans
        .iter()
        .filter(|s| s.attr("session.id").as_deref() != Some(first_tab.as_str()))
        .map(|s| format!("{} ({:?})", s.name, s.attr("session.id")))
        .collect();
    assert!(other.is_empty(), "spans outside session {first_tab}: {other:?}");
    let starts = spans.iter().filter(|s| s.name == "session.start").count();
    assert_eq!(starts, 1, "only the first page load starts the session");
    assert!(spans.iter().all(|s| s.name != "session.end"));
    browser.close().await
}
