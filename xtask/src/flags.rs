//! Command-line flags of `cargo xtask`, parsed once into typed values.

use anyhow::{Context, bail};

pub(crate) const HELP: &str = "\
cargo xtask <command>

Commands:
  dev      install what is missing, build, and run explorer + backend + trunk serve (Ctrl-C stops all)
           --app-port=N       the app (trunk serve) on 127.0.0.1:N (default 3000)
           --backend-port=N   the backend (default 4567)
           --explorer-port=N  the trace explorer (default 4318)
  test     install what is missing and run every check CI runs
           --skip-e2e       leave out the browser end-to-end tests
  bench    build release artifacts and compare otel-web with OpenTelemetry JS in one browser run
           --quick          3 rounds and 50,000 explorer spans (a smoke run)
           --only=LIST      only these figures: browser, size, backend, explorer (comma-separated)
  install  only install the tools (Rust target, Debian packages, trunk, wasm-bindgen-cli)
";

#[derive(Debug)]
pub(crate) enum Xtask {
    Help,
    Dev(Dev),
    Test(Test),
    Bench(Bench),
    Install,
}

#[derive(Debug, Default)]
pub(crate) struct Bench {
    pub(crate) quick: bool,
    /// Figures to measure (all when empty).
    pub(crate) only: Vec<String>,
}

/// The figure groups `cargo xtask bench --only=` accepts.
pub(crate) const BENCH_FIGURES: &[&str] = &["browser", "size", "backend", "explorer"];

/// Where `cargo xtask dev` serves; every service binds 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dev {
    pub(crate) app_port: u16,
    pub(crate) backend_port: u16,
    pub(crate) explorer_port: u16,
}

impl Default for Dev {
    fn default() -> Self {
        Self { app_port: 3000, backend_port: 4567, explorer_port: 4318 }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Test {
    pub(crate) skip_e2e: bool,
}

impl Xtask {
    pub(crate) fn from_env() -> anyhow::Result<Self> {
        Self::parse(std::env::args().skip(1))
    }

    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let Some(command) = args.next() else {
            return Ok(Self::Help);
        };
        let rest: Vec<String> = args.collect();
        let flag = |name: &str| rest.iter().any(|a| a == name);
        let value = |name: &str| rest.iter().find_map(|a| a.strip_prefix(name)?.strip_prefix('='));
        let known = |names: &[&str]| -> anyhow::Result<()> {
            // A name ending in `=` takes a value (`--only=browser`); others are switches.
            let is_known = |a: &str| {
                names.iter().any(|n| match n.strip_suffix('=') {
                    Some(valued) => a.strip_prefix(valued).is_some_and(|v| v.starts_with('=')),
                    None => a == *n,
                })
            };
            if let Some(unknown) = rest.iter().find(|a| !is_known(a)) {
                bail!("unknown flag `{unknown}` for `cargo xtask {command}`\n\n{HELP}");
            }
            Ok(())
        };
        match command.as_str() {
            "dev" => {
                known(&["--app-port=", "--backend-port=", "--explorer-port="])?;
                let port = |name: &str, default: u16| -> anyhow::Result<u16> {
                    match value(name) {
                        None => Ok(default),
                        Some(v) => match v.parse::<u16>() {
                            Ok(port) if port != 0 => Ok(port),
                            _ => bail!("{name}={v} is not a port (1–65535)"),
                        },
                    }
                };
                let defaults = Dev::default();
                let dev = Dev {
                    app_port: port("--app-port", defaults.app_port)?,
                    backend_port: port("--backend-port", defaults.backend_port)?,
                    explorer_port: port("--explorer-port", defaults.explorer_port)?,
                };
                if dev.app_port == dev.backend_port
                    || dev.app_port == dev.explorer_port
                    || dev.backend_port == dev.explorer_port
                {
                    bail!("the app, backend and explorer need three different ports");
                }
                Ok(Self::Dev(dev))
            }
            "test" => {
                known(&["--skip-e2e"])?;
                Ok(Self::Test(Test { skip_e2e: flag("--skip-e2e") }))
            }
            "bench" => {
                known(&["--quick", "--only="])?;
                let only: Vec<String> = value("--only")
                    .map(|v| v.split(',').map(|f| f.trim().to_owned()).collect())
                    .unwrap_or_default();
                if let Some(unknown) = only.iter().find(|f| !BENCH_FIGURES.contains(&f.as_str())) {
                    bail!("unknown figure `{unknown}` for --only; choose from {}", BENCH_FIGURES.join(", "));
                }
                Ok(Self::Bench(Bench { quick: flag("--quick"), only }))
            }
            "install" => known(&[]).map(|_| Self::Install),
            "help" | "--help" | "-h" => Ok(Self::Help),
            other => Err(anyhow::anyhow!("unknown command `{other}`\n\n{HELP}")).context("cargo xtask"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Xtask> {
        Xtask::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn test_flags_are_parsed() {
        assert!(matches!(parse(&["test", "--skip-e2e"]), Ok(Xtask::Test(Test { skip_e2e: true }))));
        assert!(matches!(parse(&["dev"]), Ok(Xtask::Dev(dev)) if dev == Dev::default()));
    }

    #[test]
    fn dev_ports_can_be_chosen() {
        let Ok(Xtask::Dev(dev)) = parse(&["dev", "--app-port=8080", "--explorer-port=9000"]) else {
            panic!("not parsed")
        };
        assert_eq!(dev, Dev { app_port: 8080, backend_port: 4567, explorer_port: 9000 });
        assert!(parse(&["dev", "--app-port=0"]).is_err());
        assert!(parse(&["dev", "--app-port=70000"]).is_err());
        assert!(parse(&["dev", "--backend-port=http"]).is_err());
        assert!(parse(&["dev", "--backend-port=4318"]).is_err(), "the explorer's port");
        assert!(parse(&["dev", "--port=1"]).is_err());
    }

    #[test]
    fn bench_figures_can_be_chosen() {
        let Ok(Xtask::Bench(bench)) = parse(&["bench", "--only=browser,size"]) else { panic!("not parsed") };
        assert_eq!(bench.only, ["browser", "size"]);
        assert!(!bench.quick);
        assert!(parse(&["bench", "--only=gpu"]).is_err());
        assert!(parse(&["bench", "--onlyx=browser"]).is_err());
        assert!(parse(&["test", "--skip-e2e=no"]).is_err());
    }

    #[test]
    fn unknown_flags_and_commands_are_errors() {
        assert!(parse(&["test", "--fast"]).is_err());
        assert!(parse(&["deploy"]).is_err());
        assert!(matches!(parse(&[]), Ok(Xtask::Help)));
    }
}
