//! `cargo xtask test`: every check CI runs, in the order that fails fastest.
//!
//! 1. `cargo fmt --check`
//! 2. clippy, native and wasm32, warnings denied
//! 3. otel-web alone with its default features and with all of them: clippy, native and wasm32,
//!    and `cargo doc` with warnings denied
//! 4. native unit and integration tests (otel-web also with all features)
//! 5. the SDK's wasm tests in headless Chromium, all features (wasm-bindgen-test-runner + chromedriver)
//! 6. the end-to-end tests: trunk builds the frontend and the examples are built, the e2e crate
//!    drives Chromium against them

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

use crate::process::Services;
use crate::{flags, install, process, project_root};

/// The packages that compile to the browser; everything else is native only.
const WASM_PACKAGES: &[&str] = &[
    "otel-web",
    "cruddur-frontend",
    "otel-web-bench",
    "otel-web-size-app",
    "otel-web-example-plain",
    "otel-web-example-leptos",
];
/// The packages whose tests run natively (the frontend is tested in the browser by e2e).
const NATIVE_TEST_PACKAGES: &[&str] =
    &["otel-web", "cruddur-backend", "cruddur-api", "trace-explorer", "xtask"];

/// The otel-web feature sets checked on their own: the default core, and every feature.
const SDK_FEATURE_SETS: &[(&str, &[&str])] =
    &[("default features", &[]), ("all features", &["--all-features"])];

/// Chromium's flags for this machine kind: no sandbox (root), no GPU, and no background
/// traffic to hosts the closed network refuses.
pub(crate) const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
];

pub(crate) fn run(flags: &flags::Test) -> anyhow::Result<()> {
    let started = Instant::now();
    let tools = install::all()?;
    let root = project_root();

    step("formatting");
    process::run(process::cargo().args(["fmt", "--all", "--check"]))?;

    step("clippy (native)");
    process::run(process::cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;

    step("clippy (wasm32)");
    process::run(
        process::cargo()
            .args(["clippy", "--target", "wasm32-unknown-unknown", "--all-targets"])
            .args(packages(WASM_PACKAGES))
            .args(["--", "-D", "warnings"]),
    )?;

    // Built alone, otel-web has exactly the features asked for (built with the frontend it
    // would get the frontend's): its default core and everything, each checked and tested.
    for (name, args) in SDK_FEATURE_SETS {
        step(&format!("otel-web with {name}: clippy (native, wasm32), docs without warnings"));
        process::run(
            process::cargo()
                .args(["clippy", "-p", "otel-web", "--all-targets"])
                .args(*args)
                .args(["--", "-D", "warnings"]),
        )?;
        process::run(
            process::cargo()
                .args(["clippy", "-p", "otel-web", "--all-targets", "--target", "wasm32-unknown-unknown"])
                .args(*args)
                .args(["--", "-D", "warnings"]),
        )?;
        process::run(
            process::cargo()
                .args(["doc", "-p", "otel-web", "--no-deps", "--target", "wasm32-unknown-unknown"])
                .args(*args)
                .env("RUSTDOCFLAGS", "-D warnings"),
        )?;
    }

    step("native tests");
    process::run(process::cargo().arg("test").args(packages(NATIVE_TEST_PACKAGES)))?;
    step("native tests: otel-web with all features");
    process::run(process::cargo().args(["test", "-p", "otel-web", "--all-features"]))?;

    step("wasm tests in headless Chromium");
    let webdriver_json = write_webdriver_json(&root.join("target/xtask"))?;
    process::run(process::cargo().args(["build", "-p", "e2e", "--bin", "test-receiver"]))?;
    let mut receiver = Services::default();
    let receiver_url = receiver
        .spawn_announcing("test receiver", &mut Command::new(root.join("target/debug/test-receiver")))?;
    process::run(
        process::cargo()
            .args([
                "test",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "otel-web",
                "--tests",
                "--all-features",
            ])
            .env("CHROMEDRIVER", &tools.chromedriver)
            .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &webdriver_json)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
            .env("OTEL_WEB_TEST_RECEIVER", &receiver_url),
    )?;
    receiver.stop_all();

    if flags.skip_e2e {
        println!("skipping the end-to-end tests (--skip-e2e)");
    } else {
        step("end-to-end tests in headless Chromium");
        crate::dev::build_frontend(&root, false)?;
        let examples = crate::examples::build(&root)?;
        process::run(process::cargo().args(["build", "-p", "cruddur-backend", "-p", "trace-explorer"]))?;
        let target = root.join("target/debug");
        process::run(
            process::cargo()
                // One journey at a time: each runs a browser, an explorer and a backend.
                .args(["test", "-p", "e2e", "--", "--test-threads=1"])
                .env("E2E_BACKEND_BIN", target.join("cruddur-backend"))
                .env("E2E_EXPLORER_BIN", target.join("trace-explorer"))
                .env("E2E_EXAMPLES_DIR", &examples)
                .env("E2E_CHROMEDRIVER", &tools.chromedriver)
                .env("E2E_CHROMIUM", &tools.chromium)
                .env("E2E_CHROMIUM_ARGS", CHROMIUM_ARGS.join(" ")),
        )?;
    }

    println!("\nall checks passed in {} s", started.elapsed().as_secs());
    Ok(())
}

fn step(name: &str) {
    println!("\n== {name}");
}

fn packages<'a>(names: &'a [&'a str]) -> impl Iterator<Item = String> + 'a {
    names.iter().map(|p| format!("--package={p}"))
}

/// wasm-bindgen-test-runner reads the browser's capabilities from the `webdriver.json` that
/// `WASM_BINDGEN_TEST_WEBDRIVER_JSON` names; it is written under `dir` (in `target/`, so no
/// source directory changes under a running `trunk serve`). A fresh profile directory per run
/// keeps runs independent. Returns the file's path.
fn write_webdriver_json(dir: &Path) -> anyhow::Result<PathBuf> {
    let profile = std::env::temp_dir().join(format!("otel-web-chromium-{}", std::process::id()));
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| format!("\"{a}\"")).collect();
    args.push(format!("\"--user-data-dir={}\"", profile.display()));
    let json = format!("{{\n  \"goog:chromeOptions\": {{ \"args\": [{}] }}\n}}\n", args.join(", "));
    let path = dir.join("webdriver.json");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
