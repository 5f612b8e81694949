//! The trace-explorer binary: configuration from the environment, the store, retention, serve.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use trace_explorer::config::Config;
use trace_explorer::forward::Forwarder;
use trace_explorer::store::{Store, now_ns};
use trace_explorer::{AppState, app, query};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .context("configuration")?;
    let store = Arc::new(Store::open(&config.data_dir, config.retention).context("opening the store")?);
    store.save_defaults(&query::default_queries()).context("saving the default queries")?;
    let forwarder = match &config.upstream {
        Some(upstream) => Some(Forwarder::spawn(upstream.clone()).context("building the upstream client")?),
        None => None,
    };
    let retention = Arc::clone(&store);
    tokio::spawn(async move {
        loop {
            let store = Arc::clone(&retention);
            let _ = tokio::task::spawn_blocking(move || store.enforce_retention(now_ns())).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    });
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    println!(
        "trace-explorer listening on http://{} ({} spans in {}{})",
        listener.local_addr()?,
        store.span_count(),
        config.data_dir.display(),
        config.upstream.as_ref().map(|u| format!(", forwarding to {}", u.traces_url)).unwrap_or_default()
    );
    axum::serve(listener, app(AppState { store, forwarder }, &config.cors_origins))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}
