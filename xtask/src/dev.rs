//! `cargo xtask dev`: the local stack a person clicks through.
//!
//! ```text
//!  browser ──▶ trunk serve :3000 ──/api, /v1/traces──▶ backend :4567 ──OTLP──▶ explorer :4318
//!                                                                   └──────▶ Honeycomb (HONEYCOMB_API_KEY)
//! ```

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;

use crate::process::{self, Services};
use crate::{flags, install, project_root};

pub(crate) const FRONTEND_URL: &str = "http://127.0.0.1:3000";
pub(crate) const BACKEND_URL: &str = "http://127.0.0.1:4567";
pub(crate) const EXPLORER_URL: &str = "http://127.0.0.1:4318";

pub(crate) fn run(_flags: &flags::Dev) -> anyhow::Result<()> {
    install::all()?;
    let root = project_root();
    println!("\n== building");
    process::run(process::cargo().args(["build", "-p", "trace-explorer", "-p", "cruddur-backend"]))?;
    build_frontend(&root, false)?;

    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst))
        .context("installing the Ctrl-C handler")?;

    let target = root.join("target/debug");
    let mut services = Services::default();
    services.spawn("explorer", Command::new(target.join("trace-explorer")).current_dir(&root))?;
    let mut backend = Command::new(target.join("cruddur-backend"));
    backend.current_dir(&root);
    // The backend exports to the local explorer, which forwards to Honeycomb when a key is set:
    // one place to look locally, the same data in Honeycomb.
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
        backend.env("OTEL_EXPORTER_OTLP_ENDPOINT", EXPLORER_URL);
    }
    services.spawn("backend", &mut backend)?;
    services.spawn("trunk serve", Command::new("trunk").current_dir(&root).arg("serve"))?;

    println!(
        "\nCruddur is starting:\n  app       {FRONTEND_URL}\n  backend   {BACKEND_URL}/api/health\n  \
         explorer  {EXPLORER_URL}   (traces, waterfall, queries)\n{}Press Ctrl-C to stop everything.\n",
        if std::env::var_os("HONEYCOMB_API_KEY").is_some() {
            "  honeycomb HONEYCOMB_API_KEY is set: the explorer also forwards every span to Honeycomb\n"
        } else {
            ""
        }
    );
    while !stop.load(Ordering::SeqCst) {
        if let Some(name) = services.exited() {
            eprintln!("{name} exited; stopping the rest");
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    services.stop_all();
    println!("stopped");
    Ok(())
}

/// Builds the frontend into `dist/` with trunk (offline: Trunk.toml pins wasm-opt and
/// wasm-bindgen is installed at the version in Cargo.lock).
pub(crate) fn build_frontend(root: &Path, release: bool) -> anyhow::Result<()> {
    let mut cmd = Command::new("trunk");
    cmd.current_dir(root).arg("build");
    if release {
        cmd.arg("--release");
    }
    process::run(&mut cmd)
}
