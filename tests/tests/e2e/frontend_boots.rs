//! The harness itself: the trunk-built wasm app renders in headless Chromium.

use e2e::browser::Browser;
use e2e::servers::serve_dist;

#[tokio::test]
async fn trunk_built_frontend_renders_in_headless_chromium() -> anyhow::Result<()> {
    let base = serve_dist(&e2e::project_root().join("dist")).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&base).await?;
    // The heading only exists once the wasm module has loaded and Leptos has mounted.
    let heading = browser.wait_for_text("header.topbar h1", "Cruddur").await?;
    assert_eq!(heading, "Cruddur");
    let agent: serde_json::Value = browser.client.execute("return navigator.userAgent", vec![]).await?;
    assert!(agent.as_str().unwrap_or_default().contains("HeadlessChrome"), "not headless Chrome: {agent}");
    browser.screenshot("frontend-home").await?;
    browser.close().await
}
