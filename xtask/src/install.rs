//! Installs what the project needs, idempotently: each tool is version-checked first and only
//! installed when missing or at the wrong version. One line per step.
//!
//! | tool | from | why this version |
//! |---|---|---|
//! | `wasm32-unknown-unknown` | rustup | pinned in `rust-toolchain.toml` |
//! | `chromium`, `chromedriver` | Debian `chromium`, `chromium-driver` | the browser tests |
//! | `wasm-opt` | npm `binaryen`, pinned by `xtask/wasm-opt/package-lock.json` (needs Debian `nodejs`, `npm`) | `Trunk.toml` pins `version_132`: Debian's 108 breaks wasm-bindgen 0.2.130's externref table; trunk finds it on the `PATH` xtask gives it |
//! | `web-vitals` (the e2e oracle) | npm, pinned by `tests/web-vitals/package-lock.json` | the version otel-web's web vitals are checked against, loaded only by the e2e test page |
//! | `trunk` | `cargo install --locked trunk --version 0.21.14` | newer trunk needs a newer rustc |
//! | `wasm-bindgen`, `wasm-bindgen-test-runner` | `cargo install wasm-bindgen-cli` | must equal `wasm-bindgen` in `Cargo.lock` |

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

use crate::process;

pub(crate) const TRUNK_VERSION: &str = "0.21.14";
const DEBIAN_PACKAGES: &[(&str, &str)] =
    &[("chromium", "chromium"), ("chromedriver", "chromium-driver"), ("node", "nodejs"), ("npm", "npm")];
/// The wasm-opt version `Trunk.toml` asks for (`version_132`).
const WASM_OPT_VERSION: &str = "version 132";

/// Paths of the installed browser tooling, for the steps that drive a browser.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    pub(crate) chromium: PathBuf,
    pub(crate) chromedriver: PathBuf,
}

pub(crate) fn all() -> anyhow::Result<Tools> {
    println!("== checking tools");
    wasm_target()?;
    let tools = debian_packages()?;
    wasm_opt()?;
    web_vitals_oracle()?;
    cargo_tool("trunk", "trunk", TRUNK_VERSION, true)?;
    let wasm_bindgen = wasm_bindgen_version()?;
    cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &wasm_bindgen, false)?;
    Ok(tools)
}

/// What only `cargo xtask bench` needs: `wrk` (Debian) for load, and Node.js with npm for the
/// OpenTelemetry JS anchor.
pub(crate) fn bench_tools() -> anyhow::Result<()> {
    let mut missing = Vec::new();
    if which("wrk").is_none() {
        missing.push("wrk");
    }
    if which("npm").is_none() {
        missing.extend(["nodejs", "npm"]);
    }
    apt_install(&missing)?;
    for tool in ["wrk", "npm"] {
        let version = process::output(Command::new(tool).arg("--version")).unwrap_or_default();
        println!("ok   {tool}: {}", version.lines().next().unwrap_or("?"));
    }
    Ok(())
}

/// Installs Debian packages as root, or says exactly what to run.
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing Debian packages: {}\nrun this as root, then try again:\n    sudo apt-get update && sudo apt-get install -y {}",
            packages.join(", "),
            packages.join(" ")
        );
    }
    println!("apt  {}", packages.join(" "));
    process::run(Command::new("apt-get").args(["update", "-q"]))?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn wasm_target() -> anyhow::Result<()> {
    let installed =
        process::output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|t| t == "wasm32-unknown-unknown") {
        println!("ok   rust target wasm32-unknown-unknown");
        return Ok(());
    }
    println!("add  rust target wasm32-unknown-unknown");
    process::run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

fn debian_packages() -> anyhow::Result<Tools> {
    let missing: Vec<&str> =
        DEBIAN_PACKAGES.iter().filter(|(bin, _)| which(bin).is_none()).map(|(_, pkg)| *pkg).collect();
    apt_install(&missing)?;
    for (bin, pkg) in DEBIAN_PACKAGES {
        let version = process::output(Command::new(bin).arg("--version")).unwrap_or_default();
        println!("ok   {bin} ({pkg}): {}", version.lines().next().unwrap_or("?"));
    }
    Ok(Tools {
        chromium: which("chromium").context("chromium not on PATH after install")?,
        chromedriver: which("chromedriver").context("chromedriver not on PATH after install")?,
    })
}

/// The folder holding the pinned `wasm-opt` (npm's binaryen), installed by [`wasm_opt`].
pub(crate) fn wasm_opt_bin_dir() -> PathBuf {
    crate::project_root().join("xtask/wasm-opt/node_modules/.bin")
}

/// `npm ci` of the pinned binaryen unless its `wasm-opt` already reports the pinned version.
fn wasm_opt() -> anyhow::Result<()> {
    let bin = wasm_opt_bin_dir().join("wasm-opt");
    let current = process::output(Command::new(&bin).arg("--version")).unwrap_or_default();
    if !current.contains(WASM_OPT_VERSION) {
        println!(
            "get  wasm-opt ({WASM_OPT_VERSION}) from npm's binaryen, pinned by xtask/wasm-opt/package-lock.json"
        );
        process::run(Command::new("npm").current_dir(crate::project_root().join("xtask/wasm-opt")).args([
            "ci",
            "--no-audit",
            "--no-fund",
        ]))?;
    }
    let version = process::output(Command::new(&bin).arg("--version")).unwrap_or_default();
    if !version.contains(WASM_OPT_VERSION) {
        bail!("{} reports {version:?}, not {WASM_OPT_VERSION}", bin.display());
    }
    println!("ok   wasm-opt: {}", version.lines().next().unwrap_or("?"));
    Ok(())
}

/// The pinned version of Google's `web-vitals` in `tests/web-vitals`.
const WEB_VITALS_VERSION: &str = "6.2.3";

/// `npm ci` of the pinned `web-vitals` (the e2e tests' oracle) unless it is installed.
fn web_vitals_oracle() -> anyhow::Result<()> {
    let dir = crate::project_root().join("tests/web-vitals");
    let installed =
        std::fs::read_to_string(dir.join("node_modules/web-vitals/package.json")).unwrap_or_default();
    let pinned = format!("\"version\": \"{WEB_VITALS_VERSION}\"");
    if !installed.contains(&pinned) {
        println!(
            "get  web-vitals {WEB_VITALS_VERSION} from npm, pinned by tests/web-vitals/package-lock.json"
        );
        process::run(Command::new("npm").current_dir(&dir).args(["ci", "--no-audit", "--no-fund"]))?;
    }
    let installed =
        std::fs::read_to_string(dir.join("node_modules/web-vitals/package.json")).unwrap_or_default();
    if !installed.contains(&pinned) {
        bail!("tests/web-vitals/node_modules/web-vitals is not version {WEB_VITALS_VERSION} after npm ci");
    }
    println!("ok   web-vitals {WEB_VITALS_VERSION} (e2e oracle)");
    Ok(())
}

/// `trunk`, with the pinned `wasm-opt` first on its `PATH` (trunk runs offline and takes the
/// `wasm-opt` it finds there when its version is the one `Trunk.toml` names).
pub(crate) fn trunk() -> Command {
    let mut cmd = Command::new("trunk");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(wasm_opt_bin_dir()).chain(std::env::split_paths(&path));
    if let Ok(joined) = std::env::join_paths(dirs) {
        cmd.env("PATH", joined);
    }
    cmd
}

/// Installs `krate` with `cargo install` unless `bin --version` already reports `version`.
fn cargo_tool(bin: &str, krate: &str, version: &str, locked: bool) -> anyhow::Result<()> {
    let current = process::output(Command::new(bin).arg("--version")).unwrap_or_default();
    if current.split_whitespace().any(|word| word == version) {
        println!("ok   {bin} {version}");
        return Ok(());
    }
    let was = if current.is_empty() { "not installed".to_owned() } else { current };
    println!("get  {krate} {version} ({was}); this takes a few minutes on a cold machine");
    let mut cmd = process::cargo();
    cmd.args(["install", krate, "--version", version, "--force"]);
    if locked {
        cmd.arg("--locked");
    }
    process::run_with_progress(krate, &mut cmd)
}

/// The exact `wasm-bindgen` version in `Cargo.lock`: the CLI must match it to the byte.
pub(crate) fn wasm_bindgen_version() -> anyhow::Result<String> {
    let lock =
        std::fs::read_to_string(crate::project_root().join("Cargo.lock")).context("reading Cargo.lock")?;
    lock_version(&lock, "wasm-bindgen").context("wasm-bindgen is not in Cargo.lock")
}

fn lock_version(lock: &str, package: &str) -> Option<String> {
    let needle = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == needle {
            let version = lines.next()?.trim().strip_prefix("version = \"")?;
            return Some(version.trim_end_matches('"').to_owned());
        }
    }
    None
}

fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(bin)).find(|p| p.is_file())
}

fn is_root() -> bool {
    process::output(Command::new("id").arg("-u")).as_deref() == Some("0")
}

#[cfg(test)]
mod tests {
    use super::lock_version;

    #[test]
    fn lock_version_finds_the_exact_package() {
        let lock = "[[package]]\nname = \"wasm-bindgen-futures\"\nversion = \"0.4.1\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n";
        assert_eq!(lock_version(lock, "wasm-bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(lock_version(lock, "trunk"), None);
    }
}
