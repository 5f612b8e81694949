//! Configuration from the environment, parsed once into typed values (no raw strings past
//! here). Every variable is optional; errors name the variable and what it accepts.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CRUDDUR_ADDR` | `127.0.0.1:4567` | where the API listens |
//! | `CRUDDUR_DB` | `.cruddur/cruddur.db` | the SQLite database (created and seeded if missing) |
//! | `CRUDDUR_DIST` | | the built frontend (`dist/`) to serve too, its HTML from inside a SERVER span named in `Server-Timing` |
//! | `CRUDDUR_FRONTEND_ORIGINS` | `http://127.0.0.1:3000,http://localhost:3000` | origins granted CORS |
//! | `OTEL_SDK_DISABLED` | `false` | `true` turns tracing off entirely |
//! | `OTEL_SERVICE_NAME` | `backend` | `service.name` |
//! | `OTEL_TRACES_EXPORTER` | `otlp` | any of `otlp`, `console`, `none`, comma-separated |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://127.0.0.1:4318` (the local explorer), or `https://api.honeycomb.io` when `HONEYCOMB_API_KEY` is set | base URL; `/v1/traces` is appended |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | | full traces URL, used as is |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | | `key=value,key2=value2` (values percent-decoded) |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf` | or `http/json` |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` | the standard sampler names |
//! | `HONEYCOMB_API_KEY` | | sends to Honeycomb with `x-honeycomb-team` (also used by the relay) |
//! | `AWS_XRAY_DAEMON_ADDRESS` | | also sends segments to the X-Ray daemon at this UDP address |
//! | `AWS_XRAY_URL` | | host pattern for the seed's dynamic segment naming |
//! | `AWS_XRAY_SAMPLING_RULES` | | X-Ray rule file (e.g. `aws/json/xray.json`) used as the sampler |

use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;

/// A variable with a value the backend cannot use.
#[derive(Debug, Error, PartialEq)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong and what is accepted.
    pub reason: String,
}

fn error(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError { variable, reason: reason.into() }
}

/// Where spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exporter {
    /// OTLP/HTTP to [`OtlpTarget`].
    Otlp,
    /// One line per span on standard output.
    Console,
}

/// OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf`.
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
}

/// An OTLP/HTTP destination: the explorer, Honeycomb, or any collector.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpTarget {
    /// Full traces URL (`…/v1/traces`).
    pub traces_url: String,
    /// Headers sent with every request (credentials live here; never logged).
    pub headers: Vec<(String, String)>,
    /// Encoding.
    pub protocol: Protocol,
}

/// The sampler, as `OTEL_TRACES_SAMPLER` names it.
#[derive(Debug, Clone, PartialEq)]
pub enum SamplerConfig {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio`.
    Ratio(f64),
    /// `parentbased_*` around the inner sampler.
    ParentBased(Box<SamplerConfig>),
}

/// Telemetry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// `false` when `OTEL_SDK_DISABLED=true`.
    pub enabled: bool,
    /// `service.name`.
    pub service_name: String,
    /// Exporters (empty: `none`).
    pub exporters: Vec<Exporter>,
    /// Where OTLP goes; the browser relay forwards there too.
    pub otlp: OtlpTarget,
    /// Head sampler.
    pub sampler: SamplerConfig,
    /// AWS X-Ray, when `AWS_XRAY_DAEMON_ADDRESS` is set.
    pub xray: Option<crate::telemetry::xray::XrayConfig>,
    /// X-Ray sampling rules, which replace the sampler (parent-based) when set.
    pub xray_rules: Option<PathBuf>,
}

/// The backend's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Listen address.
    pub addr: SocketAddr,
    /// SQLite database file.
    pub db_path: PathBuf,
    /// Origins granted CORS (and `Timing-Allow-Origin`).
    pub frontend_origins: Vec<String>,
    /// The built frontend to serve (`CRUDDUR_DIST`), if any.
    pub frontend_dist: Option<PathBuf>,
    /// Telemetry.
    pub telemetry: TelemetryConfig,
}

/// The local explorer's OTLP/HTTP endpoint.
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://127.0.0.1:4318";
/// Honeycomb's OTLP/HTTP endpoint.
pub const HONEYCOMB_ENDPOINT: &str = "https://api.honeycomb.io";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads variables through `var` (tests pass a map).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let addr = match var("CRUDDUR_ADDR") {
            Some(a) => a
                .parse()
                .map_err(|_| error("CRUDDUR_ADDR", format!("{a:?} is not an address like 127.0.0.1:4567")))?,
            None => SocketAddr::from(([127, 0, 0, 1], 4567)),
        };
        let db_path =
            var("CRUDDUR_DB").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".cruddur/cruddur.db"));
        let frontend_origins = var("CRUDDUR_FRONTEND_ORIGINS")
            .unwrap_or_else(|| "http://127.0.0.1:3000,http://localhost:3000".into())
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect::<Vec<_>>();
        for origin in &frontend_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(error(
                    "CRUDDUR_FRONTEND_ORIGINS",
                    format!("{origin:?} is not an origin like http://127.0.0.1:3000"),
                ));
            }
        }
        let frontend_dist = var("CRUDDUR_DIST").map(PathBuf::from);
        Ok(Self { addr, db_path, frontend_origins, frontend_dist, telemetry: telemetry(&var)? })
    }
}

fn telemetry(var: &impl Fn(&str) -> Option<String>) -> Result<TelemetryConfig, ConfigError> {
    let enabled = match var("OTEL_SDK_DISABLED").as_deref().map(str::trim) {
        None | Some("false") => true,
        Some("true") => false,
        Some(other) => {
            return Err(error("OTEL_SDK_DISABLED", format!("must be true or false, got {other:?}")));
        }
    };
    let service_name = var("OTEL_SERVICE_NAME").unwrap_or_else(|| "backend".into());
    let mut exporters = Vec::new();
    for name in var("OTEL_TRACES_EXPORTER").unwrap_or_else(|| "otlp".into()).split(',').map(str::trim) {
        match name {
            "otlp" => exporters.push(Exporter::Otlp),
            "console" => exporters.push(Exporter::Console),
            "none" | "" => {}
            other => {
                return Err(error(
                    "OTEL_TRACES_EXPORTER",
                    format!("must name otlp, console or none; got {other:?}"),
                ));
            }
        }
    }
    let honeycomb_key = var("HONEYCOMB_API_KEY");
    let traces_url = match (var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
        (Some(url), _) => url,
        (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
        (None, None) if honeycomb_key.is_some() => format!("{HONEYCOMB_ENDPOINT}/v1/traces"),
        (None, None) => format!("{DEFAULT_OTLP_ENDPOINT}/v1/traces"),
    };
    if !(traces_url.starts_with("http://") || traces_url.starts_with("https://")) {
        return Err(error("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{traces_url:?} is not an http(s) URL")));
    }
    let mut headers = match var("OTEL_EXPORTER_OTLP_HEADERS") {
        Some(list) => parse_headers(&list)?,
        None => Vec::new(),
    };
    if let Some(key) = honeycomb_key
        && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("x-honeycomb-team"))
    {
        headers.push(("x-honeycomb-team".into(), key));
    }
    let protocol = match var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        None | Some("http/protobuf") => Protocol::HttpProtobuf,
        Some("http/json") => Protocol::HttpJson,
        Some("grpc") => {
            return Err(error(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "grpc is not built in; use http/protobuf or http/json",
            ));
        }
        Some(other) => {
            return Err(error(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                format!("must be http/protobuf or http/json, got {other:?}"),
            ));
        }
    };
    let sampler = sampler(var("OTEL_TRACES_SAMPLER").as_deref(), var("OTEL_TRACES_SAMPLER_ARG").as_deref())?;
    let xray = match var("AWS_XRAY_DAEMON_ADDRESS") {
        Some(address) => Some(crate::telemetry::xray::XrayConfig {
            daemon: address.trim().parse().map_err(|_| {
                error("AWS_XRAY_DAEMON_ADDRESS", format!("{address:?} is not an address like 127.0.0.1:2000"))
            })?,
            url_pattern: var("AWS_XRAY_URL"),
        }),
        None => None,
    };
    let xray_rules = var("AWS_XRAY_SAMPLING_RULES").map(PathBuf::from);
    Ok(TelemetryConfig {
        enabled,
        service_name,
        exporters,
        otlp: OtlpTarget { traces_url, headers, protocol },
        sampler,
        xray,
        xray_rules,
    })
}

fn parse_headers(list: &str) -> Result<Vec<(String, String)>, ConfigError> {
    list.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                error("OTEL_EXPORTER_OTLP_HEADERS", "must be key=value pairs separated by commas")
            })?;
            let decoded = percent_decode(v.trim()).ok_or_else(|| {
                error(
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    format!("the value of {:?} is not valid percent-encoding", k.trim()),
                )
            })?;
            Ok((k.trim().to_owned(), decoded))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn sampler(name: Option<&str>, arg: Option<&str>) -> Result<SamplerConfig, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match arg {
            None => Ok(1.0),
            Some(a) => a.trim().parse::<f64>().ok().filter(|r| (0.0..=1.0).contains(r)).ok_or_else(|| {
                error("OTEL_TRACES_SAMPLER_ARG", format!("must be a number from 0 to 1, got {a:?}"))
            }),
        }
    };
    let parent = |inner| SamplerConfig::ParentBased(Box::new(inner));
    Ok(match name.map(str::trim) {
        None | Some("parentbased_always_on") => parent(SamplerConfig::AlwaysOn),
        Some("always_on") => SamplerConfig::AlwaysOn,
        Some("always_off") => SamplerConfig::AlwaysOff,
        Some("traceidratio") => SamplerConfig::Ratio(ratio()?),
        Some("parentbased_always_off") => parent(SamplerConfig::AlwaysOff),
        Some("parentbased_traceidratio") => parent(SamplerConfig::Ratio(ratio()?)),
        Some(other) => return Err(error("OTEL_TRACES_SAMPLER", format!("unknown sampler {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_send_to_the_local_explorer() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.addr.to_string(), "127.0.0.1:4567");
        assert_eq!(c.telemetry.service_name, "backend");
        assert_eq!(c.telemetry.exporters, vec![Exporter::Otlp]);
        assert_eq!(c.telemetry.otlp.traces_url, "http://127.0.0.1:4318/v1/traces");
        assert!(c.telemetry.otlp.headers.is_empty());
    }

    #[test]
    fn a_honeycomb_key_alone_is_enough() {
        let c = config(&[("HONEYCOMB_API_KEY", "hc-key")]).expect("honeycomb");
        assert_eq!(c.telemetry.otlp.traces_url, "https://api.honeycomb.io/v1/traces");
        assert_eq!(c.telemetry.otlp.headers, vec![("x-honeycomb-team".to_owned(), "hc-key".to_owned())]);
    }

    #[test]
    fn standard_otel_variables_are_honoured() {
        let c = config(&[
            ("OTEL_SERVICE_NAME", "api"),
            ("OTEL_TRACES_EXPORTER", "otlp, console"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-team=web,authorization=Bearer%20abc"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ])
        .expect("valid");
        let t = c.telemetry;
        assert_eq!(t.service_name, "api");
        assert_eq!(t.exporters, vec![Exporter::Otlp, Exporter::Console]);
        assert_eq!(t.otlp.traces_url, "http://collector:4318/v1/traces");
        assert_eq!(t.otlp.headers[1], ("authorization".to_owned(), "Bearer abc".to_owned()));
        assert_eq!(t.otlp.protocol, Protocol::HttpJson);
        assert_eq!(t.sampler, SamplerConfig::ParentBased(Box::new(SamplerConfig::Ratio(0.1))));
        let none = config(&[("OTEL_TRACES_EXPORTER", "none")]).expect("none");
        assert!(none.telemetry.exporters.is_empty());
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("CRUDDUR_ADDR", "nowhere"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("CRUDDUR_FRONTEND_ORIGINS", "127.0.0.1:3000"),
            ("OTEL_SDK_DISABLED", "maybe"),
            ("AWS_XRAY_DAEMON_ADDRESS", "localhost"),
        ] {
            let mut vars = vec![(var, value)];
            if var == "OTEL_TRACES_SAMPLER_ARG" {
                vars.push(("OTEL_TRACES_SAMPLER", "traceidratio"));
            }
            let err = config(&vars).expect_err(var);
            assert_eq!(err.variable, var, "{err}");
        }
    }
}
