//! The Cruddur backend binary: configuration from the environment, telemetry, database, serve;
//! on SIGINT or SIGTERM, stop accepting, finish requests, and flush every span.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use cruddur_backend::config::Config;
use cruddur_backend::db::Db;
use cruddur_backend::relay::Relay;
use cruddur_backend::{AppState, app, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env().context("configuration")?;
    let provider = telemetry::provider(&config.telemetry).context("telemetry")?;
    let tracer = telemetry::tracer(&provider);
    let db = Db::open(&config.db_path, tracer.clone())
        .with_context(|| format!("opening {}", config.db_path.display()))?;
    let state = AppState {
        db,
        tracer,
        propagator: telemetry::propagator(),
        relay: Relay::new(config.telemetry.otlp.clone()).context("building the relay's HTTP client")?,
        frontend_origins: Arc::from(config.frontend_origins.clone()),
    };
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    let exporters: Vec<String> =
        config.telemetry.exporters.iter().map(|e| format!("{e:?}").to_lowercase()).collect();
    println!(
        "backend listening on http://{} (spans: {}{})",
        listener.local_addr()?,
        if config.telemetry.enabled { exporters.join("+") } else { "disabled".into() },
        if config.telemetry.exporters.contains(&cruddur_backend::config::Exporter::Otlp)
            && config.telemetry.enabled
        {
            format!(" → {}", config.telemetry.otlp.traces_url)
        } else {
            String::new()
        }
    );
    let mut router = app(state.clone());
    if let Some(dist) = &config.frontend_dist {
        // `cargo xtask dev` starts the backend before trunk has built: the page says so until then.
        if !dist.join("index.html").is_file() {
            println!(
                "backend: {} has no index.html yet (build the frontend with `trunk build`)",
                dist.display()
            );
        }
        println!("backend serving the frontend from {}", dist.display());
        router = router.merge(cruddur_backend::frontend::router(state, dist));
    }
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    println!("backend stopping: flushing spans");
    tokio::task::spawn_blocking(move || provider.shutdown()).await?.context("flushing spans")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
