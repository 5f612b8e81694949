//! The examples under `examples/`, built for the browser as a user would (cargo for
//! `wasm32-unknown-unknown`, then `wasm-bindgen --target web`, next to the example's
//! `index.html`), so the e2e smoke tests can load each in Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::process;

/// Each example: its directory under `examples/` and its package (and binary) name.
pub(crate) const EXAMPLES: &[(&str, &str)] =
    &[("plain", "otel-web-example-plain"), ("leptos", "otel-web-example-leptos")];

/// Builds every example into `target/examples/<dir>/`; returns `target/examples`.
pub(crate) fn build(root: &Path) -> anyhow::Result<PathBuf> {
    let out = root.join("target/examples");
    let mut cargo = process::cargo();
    cargo.args(["build", "--target", "wasm32-unknown-unknown"]);
    for (_, package) in EXAMPLES {
        cargo.args(["-p", package]);
    }
    process::run(&mut cargo)?;
    for (dir, package) in EXAMPLES {
        let site = out.join(dir);
        std::fs::create_dir_all(&site).with_context(|| format!("creating {}", site.display()))?;
        process::run(
            Command::new("wasm-bindgen")
                .args(["--target", "web", "--no-typescript", "--out-dir"])
                .arg(&site)
                .arg(root.join("target/wasm32-unknown-unknown/debug").join(format!("{package}.wasm"))),
        )?;
        let index = root.join("examples").join(dir).join("index.html");
        std::fs::copy(&index, site.join("index.html"))
            .with_context(|| format!("copying {}", index.display()))?;
    }
    Ok(out)
}
