//! Configuration from the environment; errors name the variable.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `EXPLORER_ADDR` | `127.0.0.1:4318` | OTLP/HTTP receiver and web UI |
//! | `EXPLORER_DATA_DIR` | `.explorer-data` | where the SQLite store lives |
//! | `EXPLORER_MAX_SPANS` | `2000000` | retention: most spans kept |
//! | `EXPLORER_MAX_AGE_HOURS` | `168` | retention: oldest span kept |
//! | `EXPLORER_CORS_ORIGINS` | `http://127.0.0.1:3000,http://localhost:3000` | pages allowed to export here directly |
//! | `EXPLORER_UPSTREAM_ENDPOINT` | (none; `https://api.honeycomb.io` with `HONEYCOMB_API_KEY`) | also forward every batch there (`/v1/traces` appended) |
//! | `EXPLORER_UPSTREAM_HEADERS` | | `key=value,…` for the upstream |
//! | `HONEYCOMB_API_KEY` | | forward to Honeycomb with `x-honeycomb-team` |

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::store::Retention;

/// A variable the explorer cannot use.
#[derive(Debug, Error, PartialEq)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub variable: &'static str,
    /// Why.
    pub reason: String,
}

/// Where accepted batches are also sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// Full traces URL.
    pub traces_url: String,
    /// Headers (credentials).
    pub headers: Vec<(String, String)>,
}

/// The explorer's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Listen address.
    pub addr: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Retention.
    pub retention: Retention,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Forwarding target.
    pub upstream: Option<Upstream>,
}

impl Config {
    /// Reads the environment through `var`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bad = |variable, reason: String| ConfigError { variable, reason };
        let addr = match var("EXPLORER_ADDR") {
            Some(a) => a
                .parse()
                .map_err(|_| bad("EXPLORER_ADDR", format!("{a:?} is not an address like 127.0.0.1:4318")))?,
            None => SocketAddr::from(([127, 0, 0, 1], 4318)),
        };
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match var(name) {
                Some(v) => v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad(name, format!("must be a positive whole number, got {v:?}"))),
                None => Ok(default),
            }
        };
        let retention = Retention {
            max_spans: number("EXPLORER_MAX_SPANS", 2_000_000)?,
            max_age: Duration::from_secs(number("EXPLORER_MAX_AGE_HOURS", 168)? * 3600),
        };
        let cors_origins = var("EXPLORER_CORS_ORIGINS")
            .unwrap_or_else(|| "http://127.0.0.1:3000,http://localhost:3000".into())
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        let honeycomb = var("HONEYCOMB_API_KEY");
        let endpoint = var("EXPLORER_UPSTREAM_ENDPOINT")
            .or_else(|| honeycomb.as_ref().map(|_| "https://api.honeycomb.io".into()));
        let upstream = match endpoint {
            None => None,
            Some(base) => {
                if !(base.starts_with("http://") || base.starts_with("https://")) {
                    return Err(bad("EXPLORER_UPSTREAM_ENDPOINT", format!("{base:?} is not an http(s) URL")));
                }
                let mut headers = Vec::new();
                for pair in var("EXPLORER_UPSTREAM_HEADERS")
                    .unwrap_or_default()
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                {
                    let (k, v) = pair.split_once('=').ok_or_else(|| {
                        bad("EXPLORER_UPSTREAM_HEADERS", "must be key=value pairs separated by commas".into())
                    })?;
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
                if let Some(key) = honeycomb {
                    headers.push(("x-honeycomb-team".into(), key));
                }
                Some(Upstream { traces_url: format!("{}/v1/traces", base.trim_end_matches('/')), headers })
            }
        };
        let data_dir =
            var("EXPLORER_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".explorer-data"));
        Ok(Self { addr, data_dir, retention, cors_origins, upstream })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_honeycomb_forwarding() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.addr.to_string(), "127.0.0.1:4318");
        assert_eq!(c.upstream, None);
        let c = config(&[("HONEYCOMB_API_KEY", "k")]).expect("honeycomb");
        let upstream = c.upstream.expect("upstream");
        assert_eq!(upstream.traces_url, "https://api.honeycomb.io/v1/traces");
        assert_eq!(upstream.headers, vec![("x-honeycomb-team".to_owned(), "k".to_owned())]);
        assert_eq!(config(&[("EXPLORER_MAX_SPANS", "-3")]).expect_err("bad").variable, "EXPLORER_MAX_SPANS");
    }
}
