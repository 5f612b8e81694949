//! A headless Chromium session driven through chromedriver (WebDriver), with the flags this
//! machine kind needs and a fresh profile per session.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::servers::free_port;

/// A running chromedriver and one browser session; both end when this is dropped.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    ///
    /// `E2E_CHROMEDRIVER`, `E2E_CHROMIUM` and `E2E_CHROMIUM_ARGS` come from `cargo xtask test`.
    pub async fn start() -> anyhow::Result<Self> {
        let driver_bin = std::env::var("E2E_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium = std::env::var("E2E_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let default_args = "--headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
            --disable-background-networking --disable-component-update --disable-sync --no-first-run";
        let args_env = std::env::var("E2E_CHROMIUM_ARGS").unwrap_or_else(|_| default_args.into());
        let port = free_port()?;
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {driver_bin} (run `cargo xtask install`)"))?;
        let profile = std::env::temp_dir().join(format!("e2e-chromium-{}-{port}", std::process::id()));
        let mut args: Vec<String> = args_env.split_whitespace().map(str::to_owned).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push("--window-size=1280,900".into());
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": chromium, "args": args }));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new()).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => bail!("chromedriver at {url} never answered: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Ok(Self { client, driver, profile })
    }

    /// Waits until `css` matches an element whose text contains `text`, or fails after 30 s.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(found) = element.text().await
                && found.contains(text)
            {
                return Ok(found);
            }
            if Instant::now() > deadline {
                let page = self.client.source().await.unwrap_or_default();
                bail!("no `{css}` containing {text:?} within 30 s; page was:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `css` matches an element, or fails after 30 s.
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                return Ok(element);
            }
            if Instant::now() > deadline {
                bail!("no `{css}` within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Picks `value` in the `<select>` at `css`, as a person would.
    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let select = self.wait_for(css).await?;
        // The options arrive with the data; wait for the one wanted.
        loop {
            if select.select_by_value(value).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("`{css}` never offered {value:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `text` into the field at `css`.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?.send_keys(text).await.with_context(|| format!("typing into {css}"))
    }

    /// Clicks the element at `css`.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?.click().await.with_context(|| format!("clicking {css}"))
    }

    /// Saves a PNG screenshot under `target/e2e/`.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let png = self.client.screenshot().await.context("taking a screenshot")?;
        let path = crate::artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Ends the browser session (chromedriver stops on drop).
    pub async fn close(self) -> anyhow::Result<()> {
        self.client.clone().close().await.context("closing the browser session")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
