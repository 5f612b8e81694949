//! `cargo xtask bench`: builds release artifacts for both SDKs and runs the benchmark runner
//! (`tests/src/bin/bench.rs`), which measures everything side by side in one Chromium.
//!
//! ```text
//! bench/js (npm ci, pinned lockfile) ──esbuild──▶ target/bench/site/js, target/bench/size/js
//! bench/wasm ──wasm-release, wasm-bindgen, wasm-opt -Oz──▶ target/bench/site/wasm
//! bench/size-app ±sdk, +each optional feature ──same──▶ target/bench/size/{without,with,with-<feature>}
//! Cruddur: trunk build --release (wasm-opt) ──▶ target/bench/size/cruddur
//! backend, explorer (release) + wrk ──▶ load and ingest figures
//! ```

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::{install, process, project_root};

pub(crate) fn run(flags: &crate::flags::Bench) -> anyhow::Result<()> {
    let tools = install::all()?;
    install::bench_tools()?;
    let root = project_root();
    let out = root.join("target/bench");
    let site = out.join("site");
    let sizes = out.join("size");
    for dir in [&site, &sizes] {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::fs::create_dir_all(site.join("js"))?;

    println!("\n== OpenTelemetry JS (pinned by bench/js/package-lock.json)");
    let js = root.join("bench/js");
    process::run(Command::new("npm").current_dir(&js).args(["ci", "--no-audit", "--no-fund"]))?;
    let esbuild = js.join("node_modules/.bin/esbuild");
    process::run(
        Command::new(&esbuild)
            .current_dir(&js)
            .args(["otel-js-bench.js", "--bundle", "--format=esm", "--minify"])
            .arg(format!("--outfile={}", site.join("js/otel-js-bench.js").display())),
    )?;
    for entry in ["size-entry.js", "size-baseline.js"] {
        process::run(
            Command::new(&esbuild)
                .current_dir(&js)
                .args([entry, "--bundle", "--format=iife", "--minify"])
                .arg(format!("--outfile={}", sizes.join("js").join(entry).display())),
        )?;
    }

    println!("\n== otel-web (wasm-release, wasm-bindgen, wasm-opt -Oz)");
    // The same pinned binaryen as trunk's release builds (`cargo xtask install` put it there).
    let wasm_opt = crate::install::wasm_opt_bin_dir().join("wasm-opt");
    wasm_build(&root, &wasm_opt, "otel-web-bench", "otel_web_bench", &[], &site.join("wasm"))?;
    wasm_build(
        &root,
        &wasm_opt,
        "otel-web-size-app",
        "otel-web-size-app",
        &["--features", "sdk"],
        &sizes.join("with"),
    )?;
    wasm_build(&root, &wasm_opt, "otel-web-size-app", "otel-web-size-app", &[], &sizes.join("without"))?;
    for feature in SIZE_FEATURES {
        wasm_build(
            &root,
            &wasm_opt,
            "otel-web-size-app",
            "otel-web-size-app",
            &["--features", feature],
            &sizes.join(format!("with-{feature}")),
        )?;
    }

    println!("\n== Cruddur, as people copy it (trunk build --release: wasm-opt -Oz)");
    crate::dev::build_frontend_into(&root, &sizes.join("cruddur"))?;
    for page in ["otel-web.html", "otel-js.html", "runner.js"] {
        std::fs::copy(root.join("bench/pages").join(page), site.join(page))
            .with_context(|| format!("copying {page}"))?;
    }

    println!("\n== servers and runner (release)");
    process::run(process::cargo().args([
        "build",
        "--release",
        "-p",
        "cruddur-backend",
        "-p",
        "trace-explorer",
    ]))?;
    process::run(process::cargo().args(["build", "--release", "-p", "e2e", "--bin", "bench"]))?;
    let release = root.join("target/release");
    let mut runner = Command::new(release.join("bench"));
    runner
        .current_dir(&root)
        .arg(&site)
        .arg(&sizes)
        .arg(release.join("cruddur-backend"))
        .arg(release.join("trace-explorer"))
        .env("E2E_CHROMEDRIVER", &tools.chromedriver)
        .env("E2E_CHROMIUM", &tools.chromium)
        // Precise `performance.memory` and `gc()` for the memory figure.
        .env(
            "E2E_CHROMIUM_ARGS",
            format!(
                "{} --enable-precise-memory-info --js-flags=--expose-gc",
                crate::test::CHROMIUM_ARGS.join(" ")
            ),
        )
        .env(
            "BENCH_DATE",
            process::output(Command::new("date").arg("-u").arg("+%Y-%m-%d")).unwrap_or_default(),
        );
    runner.env("BENCH_ONLY", flags.only.join(","));
    if flags.quick {
        runner.env("BENCH_ROUNDS", "3").env("BENCH_EXPLORER_SPANS", "50000");
    }
    process::run(&mut runner)
}

/// otel-web's optional features, each measured on top of the core (`bench/size-app`'s features
/// of the same names).
const SIZE_FEATURES: &[&str] = &[
    "page-config",
    "xray",
    "console",
    "server-timing",
    "clock-skew",
    "gloo-net",
    "protobuf",
    "gzip",
    "offline",
    "document-load",
    "web-vitals",
    "sessions",
    "errors",
    "long-frames",
    "interactions",
    "soft-navigations",
    "tracing",
];

/// The features rustc 1.95 enables for `wasm32-unknown-unknown`, spelled out for wasm-opt.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Builds `package` for the browser with the size-tuned profile, then wasm-bindgen and wasm-opt.
fn wasm_build(
    root: &Path,
    wasm_opt: &Path,
    package: &str,
    artifact: &str,
    extra: &[&str],
    out: &Path,
) -> anyhow::Result<()> {
    process::run(
        process::cargo()
            .args(["build", "--profile", "wasm-release", "--target", "wasm32-unknown-unknown", "-p", package])
            .args(extra),
    )?;
    let wasm = root.join("target/wasm32-unknown-unknown/wasm-release").join(format!("{artifact}.wasm"));
    std::fs::create_dir_all(out)?;
    process::run(
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(out)
            .arg(&wasm),
    )?;
    let bg = out.join(format!("{artifact}_bg.wasm"));
    process::run(
        Command::new(wasm_opt)
            .args(["-Oz"])
            .args(WASM_FEATURES)
            .args(["--strip-debug", "--strip-producers", "-o"])
            .arg(&bg)
            .arg(&bg),
    )
}
