//! Reading what the explorer stored: the e2e tests assert on this, never on the browser alone.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::Value;

/// A stored span, as `GET /api/traces/{id}` returns it: the explorer's own type, read back.
pub use trace_explorer::store::StoredSpan as Span;

/// The explorer's API.
#[derive(Debug, Clone)]
pub struct ExplorerApi {
    base: String,
    client: reqwest::Client,
}

impl ExplorerApi {
    /// For the explorer at `base`.
    pub fn new(base: &str) -> Self {
        Self { base: base.to_owned(), client: reqwest::Client::new() }
    }

    /// Every span of every recent trace.
    pub async fn traces(&self) -> anyhow::Result<Vec<Vec<Span>>> {
        let recent: Vec<Value> =
            self.client.get(format!("{}/api/traces?limit=200", self.base)).send().await?.json().await?;
        let mut traces = Vec::new();
        for summary in recent {
            let id = summary["trace_id"].as_str().unwrap_or_default();
            let trace: Value =
                self.client.get(format!("{}/api/traces/{id}", self.base)).send().await?.json().await?;
            traces.push(serde_json::from_value(trace["spans"].clone())?);
        }
        Ok(traces)
    }

    /// Polls (every 200 ms, up to `timeout`) until some trace satisfies `test`; returns it.
    pub async fn wait_for_trace(
        &self,
        timeout: Duration,
        what: &str,
        test: impl Fn(&[Span]) -> bool,
    ) -> anyhow::Result<Vec<Span>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(traces) = self.traces().await
                && let Some(found) = traces.into_iter().find(|t| test(t))
            {
                return Ok(found);
            }
            if Instant::now() > deadline {
                let names: Vec<Vec<String>> = self
                    .traces()
                    .await
                    .unwrap_or_default()
                    .iter()
                    .map(|t| t.iter().map(|s| format!("{}:{}", s.service, s.name)).collect())
                    .collect();
                bail!("no trace with {what} within {timeout:?}; the explorer has {names:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
