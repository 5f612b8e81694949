//! `test-receiver`: the scriptable receiver of [`e2e::receiver`] as a process, started by
//! `cargo xtask test` for the SDK's browser tests. Prints `listening on http://ADDR` once bound.

use anyhow::Context;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    e2e::receiver::serve(listener).await.context("serving")
}
