//! `cargo xtask`: the project's own commands, so a fresh clone needs nothing but rustup.
//!
//! - `cargo xtask dev` installs what is missing, builds, and runs the explorer, the backend and
//!   `trunk serve` until Ctrl-C.
//! - `cargo xtask test` installs what is missing and runs every check CI runs.
//! - `cargo xtask bench` measures otel-web against OpenTelemetry JS in one Chromium run.
//!
//! Each subcommand lives in its own module; tool installation is in [`install`], child-process
//! supervision in [`process`].

mod bench;
mod dev;
mod examples;
mod flags;
mod install;
mod process;
mod test;

use std::path::{Path, PathBuf};

fn main() -> anyhow::Result<()> {
    let flags = flags::Xtask::from_env()?;
    match flags {
        flags::Xtask::Help => {
            print!("{}", flags::HELP);
            Ok(())
        }
        flags::Xtask::Dev(dev) => dev::run(&dev),
        flags::Xtask::Test(test) => test::run(&test),
        flags::Xtask::Bench(bench) => bench::run(&bench),
        flags::Xtask::Install => install::all().map(|_| ()),
    }
}

/// The workspace root, whatever directory `cargo xtask` was started from.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
