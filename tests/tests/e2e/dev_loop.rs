//! `cargo xtask dev`, used as a person would: half a minute of clicking through Cruddur while
//! spans and rows are written, and trunk builds the app once and never reloads the page.
//!
//! Issue #13 item 20: the explorer and the backend wrote their data under the directory
//! `trunk serve` watched, so every ingest rebuilt the app and autoreload reloaded the page
//! (8 rebuilds in 15 s of clicking, the clicks lost to reloads).

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use e2e::browser::Browser;
use e2e::explorer_api::ExplorerApi;
use e2e::servers::free_port;

use crate::ARRIVAL;

/// How long the person clicks.
const CLICKING: Duration = Duration::from_secs(30);

/// `cargo xtask dev` on free ports; stopped (Ctrl-C's SIGTERM, so it stops its services) on drop.
struct Dev {
    child: Child,
    app_port: u16,
    log: PathBuf,
}

impl Dev {
    fn start(app_port: u16, backend_port: u16, explorer_port: u16) -> anyhow::Result<Self> {
        let log = e2e::artifacts_dir().join("dev-loop.log");
        let out = File::create(&log).context("creating the dev log")?;
        let child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(e2e::project_root())
            .args(["xtask", "dev"])
            .arg(format!("--app-port={app_port}"))
            .arg(format!("--backend-port={backend_port}"))
            .arg(format!("--explorer-port={explorer_port}"))
            .env_remove("HONEYCOMB_API_KEY")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting `cargo xtask dev`")?;
        Ok(Self { child, app_port, log })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many builds trunk has started.
    fn builds(&self) -> usize {
        self.log().lines().filter(|l| l.contains("starting build")).count()
    }

    /// Waits until trunk serves the built app.
    async fn wait_until_served(&mut self, url: &str) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        // Installing checks, two native builds and the wasm build (fresh after `cargo xtask test`'s).
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            if let Ok(r) = client.get(url).send().await
                && r.status().is_success()
                && r.text().await.unwrap_or_default().contains(".wasm")
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("`cargo xtask dev` exited ({status}):\n{}", self.log());
            }
            if Instant::now() > deadline {
                bail!("the app never came up on {url}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ =
            std::fs::remove_dir_all(e2e::project_root().join("target/dev").join(self.app_port.to_string()));
    }
}

/// Files under what trunk watches that changed since `since` (someone editing while the test
/// runs: a rebuild and a reload that are right).
fn edited_since(since: SystemTime) -> Vec<PathBuf> {
    fn walk(path: PathBuf, since: SystemTime, out: &mut Vec<PathBuf>) {
        let Ok(meta) = std::fs::metadata(&path) else { return };
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                walk(entry.path(), since, out);
            }
        } else if meta.modified().is_ok_and(|m| m > since) {
            out.push(path);
        }
    }
    let mut out = Vec::new();
    for watched in ["index.html", "frontend", "sdk", "Cargo.toml", "Cargo.lock"] {
        walk(e2e::project_root().join(watched), since, &mut out);
    }
    out
}

/// Whether the page is still the one the marker was set on.
async fn not_reloaded(browser: &Browser) -> anyhow::Result<bool> {
    let marker = browser.client.execute("return window.__devLoopMarker === 1", vec![]).await?;
    Ok(marker.as_bool() == Some(true))
}

#[tokio::test]
async fn clicking_through_cargo_xtask_dev_builds_once_and_never_reloads() -> anyhow::Result<()> {
    let since = SystemTime::now();
    let (app_port, backend_port, explorer_port) = (free_port()?, free_port()?, free_port()?);
    let mut dev = Dev::start(app_port, backend_port, explorer_port)?;
    let app = format!("http://127.0.0.1:{app_port}");
    dev.wait_until_served(&app).await?;

    let browser = Browser::start().await?;
    browser.client.goto(&app).await?;
    browser.select("#signin", "andrewbrown").await?;
    browser.wait_for_text(".feed", "Cloud is very fun!").await?;
    browser.client.execute("window.__devLoopMarker = 1", vec![]).await?;

    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < CLICKING {
        for (link, page) in [
            ("nav a[href='/notifications']", ".page.notifications"),
            ("nav a[href='/search']", ".page.search"),
            ("nav a[href='/@andrewbrown']", ".page.profile .activity"),
            ("nav a[href='/']", ".page.home .feed .activity"),
        ] {
            browser.click(link).await?;
            browser.wait_for(page).await?;
        }
        rounds += 1;
        if !not_reloaded(&browser).await? {
            browser.screenshot("dev-loop-reloaded").await?;
            bail!(
                "the page reloaded during round {rounds} ({} builds so far; sources edited meanwhile: {:?}):\n{}",
                dev.builds(),
                edited_since(since),
                dev.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The clicks made spans and the explorer stored them: what used to trigger the rebuilds.
    let explorer = ExplorerApi::new(&format!("http://127.0.0.1:{explorer_port}"));
    explorer
        .wait_for_trace(ARRIVAL, "the browser's notifications load", |t| {
            t.iter().any(|s| s.service == "frontend" && s.name == "load notifications")
        })
        .await?;
    assert!(not_reloaded(&browser).await?, "the page reloaded after the clicking");
    let builds = dev.builds();
    assert_eq!(
        builds,
        1,
        "trunk built {builds} times in {rounds} rounds of clicking (sources edited meanwhile: {:?}):\n{}",
        edited_since(since),
        dev.log()
    );

    // The backend serves the same build: opened there, the page load joins the backend's trace
    // (issue #15 item 4).
    browser.client.goto(&format!("http://127.0.0.1:{backend_port}/")).await?;
    browser.wait_for_text("header.topbar h1", "Cruddur").await?;
    explorer
        .wait_for_trace(ARRIVAL, "a page load under the backend's GET /", |t| {
            let server = t.iter().find(|s| s.service == "backend" && s.name == "GET /");
            server.is_some_and(|server| {
                t.iter().any(|s| {
                    s.name == "documentLoad" && s.parent_id.as_deref() == Some(server.span_id.as_str())
                })
            })
        })
        .await?;
    browser.close().await
}
