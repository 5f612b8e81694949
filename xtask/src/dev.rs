//! `cargo xtask dev`: the local stack a person clicks through.
//!
//! ```text
//!  browser ──▶ trunk serve :3000 ──/api, /v1/traces──▶ backend :4567 ──OTLP──▶ explorer :4318
//!                                                                   └──────▶ Honeycomb (HONEYCOMB_API_KEY)
//! ```
//!
//! The backend also serves the app trunk builds (`CRUDDUR_DIST`), on its own port: opened there,
//! the page's HTML comes out of a backend SERVER span that `Server-Timing` names, so the page
//! load (`documentLoad`, its document fetch and resources) and the backend's work are one trace.
//! On trunk's port the page load is a trace of its own: trunk serves `index.html` itself and its
//! proxies cannot take `/`. The backend's copy has no autoreload (trunk's reload script there
//! cannot reach trunk, and retries quietly); reload by hand after an edit.
//!
//! Everything a run writes goes under `target/dev/<app port>/`: the explorer's store, the
//! backend's database, trunk's `dist/` and its configuration. `trunk serve` watches only what the
//! frontend is built from (Trunk.toml's `[watch]`), so spans arriving, rows being written or
//! another checkout's build never rebuild the app or reload the page under someone's clicks.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::process::{self, Services};
use crate::{flags, install, project_root};

/// The backend Trunk.toml's proxies point at; a run on other ports re-points them.
const TRUNK_TOML_BACKEND: &str = "http://127.0.0.1:4567";

/// Trunk.toml keys whose values are paths (relative to the project root).
const TRUNK_PATH_KEYS: &[&str] = &["target", "dist", "watch", "ignore"];

pub(crate) fn run(flags: &flags::Dev) -> anyhow::Result<()> {
    install::all()?;
    let root = project_root();
    let app = format!("http://127.0.0.1:{}", flags.app_port);
    let backend_url = format!("http://127.0.0.1:{}", flags.backend_port);
    let explorer_url = format!("http://127.0.0.1:{}", flags.explorer_port);
    let data = data_dir(&root, flags);
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let trunk_toml = data.join("Trunk.toml");
    std::fs::write(&trunk_toml, trunk_config(&root, &backend_url)?)
        .with_context(|| format!("writing {}", trunk_toml.display()))?;

    println!("\n== building");
    // `trunk serve` builds the frontend itself, once, before serving.
    process::run(process::cargo().args(["build", "-p", "trace-explorer", "-p", "cruddur-backend"]))?;

    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst))
        .context("installing the Ctrl-C handler")?;

    let origins = format!("{app},http://localhost:{}", flags.app_port);
    let target = root.join("target/debug");
    let mut services = Services::default();
    services.spawn(
        "explorer",
        Command::new(target.join("trace-explorer"))
            .current_dir(&root)
            .env("EXPLORER_ADDR", format!("127.0.0.1:{}", flags.explorer_port))
            .env("EXPLORER_DATA_DIR", data.join("explorer"))
            .env("EXPLORER_CORS_ORIGINS", &origins),
    )?;
    let mut backend = Command::new(target.join("cruddur-backend"));
    backend
        .current_dir(&root)
        .env("CRUDDUR_ADDR", format!("127.0.0.1:{}", flags.backend_port))
        .env("CRUDDUR_DB", data.join("cruddur.db"))
        .env("CRUDDUR_FRONTEND_ORIGINS", &origins)
        .env("CRUDDUR_DIST", data.join("dist"));
    // The backend exports to the local explorer, which forwards to Honeycomb when a key is set:
    // one place to look locally, the same data in Honeycomb.
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
        backend.env("OTEL_EXPORTER_OTLP_ENDPOINT", &explorer_url);
    }
    services.spawn("backend", &mut backend)?;
    services.spawn(
        "trunk serve",
        install::trunk()
            .current_dir(&root)
            .arg("serve")
            .arg("--config")
            .arg(&trunk_toml)
            .arg(format!("--port={}", flags.app_port))
            .arg("--dist")
            .arg(data.join("dist")),
    )?;

    println!(
        "\nCruddur is starting (data in {}):\n  app       {app}\n  backend   {backend_url}/api/health\n  \
         traced    {backend_url}/   (the app served by the backend: each page load joins its trace)\n  \
         explorer  {explorer_url}   (traces, waterfall, queries)\n{}Press Ctrl-C to stop everything.\n",
        data.display(),
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

/// Where a run on these ports keeps its data: outside every path trunk watches, and apart from
/// a run on other ports (a test's, say).
fn data_dir(root: &Path, flags: &flags::Dev) -> PathBuf {
    root.join("target/dev").join(flags.app_port.to_string())
}

/// Trunk.toml as `trunk serve --config` reads it from another directory: trunk resolves paths
/// against the configuration's directory, so the relative ones are made absolute, and the
/// proxies point at `backend`.
fn trunk_config(root: &Path, backend: &str) -> anyhow::Result<String> {
    let path = root.join("Trunk.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    if !text.contains(TRUNK_TOML_BACKEND) {
        bail!("Trunk.toml's proxies no longer point at {TRUNK_TOML_BACKEND}; update xtask/src/dev.rs");
    }
    let root = root.to_str().filter(|r| !r.contains(['"', '\\'])).with_context(|| {
        format!("the project path {} cannot be written into a TOML string", root.display())
    })?;
    let lines: Vec<String> =
        text.replace(TRUNK_TOML_BACKEND, backend).lines().map(|line| rebase(line, root)).collect();
    Ok(lines.join("\n") + "\n")
}

/// `line` with every quoted path made absolute under `root`, if it sets a path key
/// (`watch = ["index.html", "frontend"]`); other lines unchanged.
fn rebase(line: &str, root: &str) -> String {
    let Some((key, value)) = line.split_once('=') else { return line.to_owned() };
    if !TRUNK_PATH_KEYS.contains(&key.trim()) {
        return line.to_owned();
    }
    // Between quotes (odd pieces) are the paths.
    let pieces: Vec<String> =
        value
            .split('"')
            .enumerate()
            .map(|(i, piece)| {
                if i % 2 == 1 && !piece.starts_with('/') {
                    format!("{root}/{piece}")
                } else {
                    piece.to_owned()
                }
            })
            .collect();
    format!("{key}={}", pieces.join("\""))
}

/// Builds the frontend into `dist/` with trunk (offline: Trunk.toml pins wasm-opt and
/// wasm-bindgen is installed at the version in Cargo.lock).
/// A release build of the frontend into `dist` (wasm-opt included), for the bench.
pub(crate) fn build_frontend_into(root: &Path, dist: &Path) -> anyhow::Result<()> {
    process::run(install::trunk().current_dir(root).args(["build", "--release", "--dist"]).arg(dist))
}

pub(crate) fn build_frontend(root: &Path, release: bool) -> anyhow::Result<()> {
    let mut cmd = install::trunk();
    cmd.current_dir(root).arg("build");
    if release {
        cmd.arg("--release");
    }
    process::run(&mut cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_trunk_config_has_absolute_paths_and_this_runs_backend() {
        let root = project_root();
        let config = trunk_config(&root, "http://127.0.0.1:5000").expect("Trunk.toml");
        let root = root.to_str().expect("utf-8 path");
        assert!(config.contains(&format!("target = \"{root}/index.html\"")), "{config}");
        assert!(config.contains(&format!("\"{root}/frontend\"")), "the watch list: {config}");
        assert!(config.contains("backend = \"http://127.0.0.1:5000/api/\""), "{config}");
        assert!(!config.contains(TRUNK_TOML_BACKEND), "{config}");
    }

    #[test]
    fn only_path_keys_are_rebased() {
        assert_eq!(rebase("watch = [\"a\", \"b/c\"]", "/r"), "watch = [\"/r/a\", \"/r/b/c\"]");
        assert_eq!(rebase("dist = \"/abs\"", "/r"), "dist = \"/abs\"");
        assert_eq!(rebase("wasm_opt = \"version_108\"", "/r"), "wasm_opt = \"version_108\"");
        assert_eq!(rebase("[watch]", "/r"), "[watch]");
    }
}
