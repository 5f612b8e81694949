//! The end-to-end harness: real Chromium through chromedriver, real servers on loopback ports
//! handed out by the OS.
//!
//! - [`browser`]: starts chromedriver and a headless Chromium session.
//! - [`receiver`]: a scriptable HTTP receiver that records what browsers send.
//! - [`servers`]: serves the trunk-built `dist/` (page configuration per test) and hands out ports.
//! - [`stack`]: the explorer and backend binaries and the frontend, wired together.
//! - [`explorer_api`]: reads back what the explorer stored.

pub mod browser;
pub mod explorer_api;
pub mod receiver;
pub mod servers;
pub mod stack;

use std::path::PathBuf;

/// The workspace root (the e2e crate lives in `tests/`).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where the tests leave screenshots for people to look at.
pub fn artifacts_dir() -> PathBuf {
    let dir = project_root().join("target/e2e");
    let _ = std::fs::create_dir_all(&dir);
    dir
}
