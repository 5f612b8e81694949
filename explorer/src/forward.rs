//! Forwarding accepted batches to an upstream OTLP endpoint (Honeycomb, a collector) without
//! ever slowing or endangering local storage: batches go through a bounded queue to a background
//! task; when the queue is full or the upstream fails, the batch is dropped upstream (and
//! counted) but is already stored locally.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use tokio::sync::mpsc;

use crate::config::Upstream;

/// Batches waiting to be forwarded at most.
pub const QUEUE: usize = 256;

/// A handle to the forwarding task.
#[derive(Debug, Clone)]
pub struct Forwarder {
    queue: mpsc::Sender<(&'static str, Bytes)>,
    dropped: Arc<AtomicU64>,
}

impl Forwarder {
    /// Starts forwarding to `upstream`.
    pub fn spawn(upstream: Upstream) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
        let (queue, mut batches) = mpsc::channel::<(&'static str, Bytes)>(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let failures = Arc::clone(&dropped);
        tokio::spawn(async move {
            while let Some((content_type, body)) = batches.recv().await {
                let mut request =
                    client.post(&upstream.traces_url).header("content-type", content_type).body(body);
                for (k, v) in &upstream.headers {
                    request = request.header(k, v);
                }
                let failed = match request.send().await {
                    Ok(r) if r.status().is_success() => false,
                    Ok(r) => {
                        eprintln!("explorer: upstream answered {}", r.status());
                        true
                    }
                    Err(e) => {
                        eprintln!("explorer: upstream unreachable: {e}");
                        true
                    }
                };
                if failed {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Ok(Self { queue, dropped })
    }

    /// Queues a batch (already stored locally); never waits.
    pub fn send(&self, content_type: &'static str, body: Bytes) {
        if self.queue.try_send((content_type, body)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Batches that did not reach the upstream.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
