//! Loopback servers for the tests: free ports, and the trunk-built frontend served from `dist/`.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use anyhow::Context;
use tower_http::services::{ServeDir, ServeFile};

/// A port the OS says is free on 127.0.0.1 right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Serves `dist` on a free loopback port (unknown paths fall back to `index.html`, as a
/// client-side router expects) until the test's runtime ends. Returns the base URL.
pub async fn serve_dist(dist: &Path) -> anyhow::Result<String> {
    anyhow::ensure!(
        dist.join("index.html").is_file(),
        "{} has no index.html: build the frontend with `trunk build` (cargo xtask test does)",
        dist.display()
    );
    let service = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback_service(service)).await;
    });
    Ok(format!("http://{addr}"))
}
