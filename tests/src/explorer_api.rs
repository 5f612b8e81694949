//! Reading what the explorer stored: the e2e tests assert on this, never on the browser alone.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Deserialize;
use serde_json::Value;

/// A stored span, as `GET /api/traces/{id}` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct Span {
    /// Trace id.
    pub trace_id: String,
    /// Span id.
    pub span_id: String,
    /// Parent span id.
    pub parent_id: Option<String>,
    /// Name.
    pub name: String,
    /// OTLP kind (2 server, 3 client).
    pub kind: i32,
    /// `service.name`.
    pub service: String,
    /// Start, ns.
    pub start_ns: i64,
    /// End, ns.
    pub end_ns: i64,
    /// Duration, ms.
    pub duration_ms: f64,
    /// Attributes.
    pub attributes: serde_json::Map<String, Value>,
}

impl Span {
    /// An attribute as text.
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes.get(key).map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
    }

    /// An attribute as a number.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.attributes.get(key).and_then(Value::as_f64)
    }
}

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
