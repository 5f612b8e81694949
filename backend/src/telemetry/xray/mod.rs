//! AWS X-Ray, alongside OTLP: segments to the X-Ray daemon over UDP, `X-Amzn-Trace-Id`
//! propagation, and X-Ray's sampling rules as an OpenTelemetry sampler.
//!
//! Built on `opentelemetry-aws` 0.21 (evaluated for this project): its translator turns spans
//! into segment documents (SERVER spans become segments, the custom and DB spans subsegments,
//! each sent as its own document, so every datagram stays far below the 64 kB UDP limit), its
//! daemon client speaks the daemon protocol (`{"format": "json", "version": 1}` header line,
//! then the document), and its `XrayPropagator` reads and writes `X-Amzn-Trace-Id`. This module
//! adds what the seed did on top: the segment name taken from the request host when it matches
//! `AWS_XRAY_URL` (the seed's dynamic naming), `user_id` and `route` annotations, and the
//! local sampling rules of `aws/json/xray.json` ([`sampling`]).
//!
//! Where the translator would lose a segment or claim what the span does not say, this module
//! works around it on both sides: [`SegmentShaping`] adjusts the spans before translation (URLs
//! cut to X-Ray's limit, 4xx/5xx as ERROR so `error`/`throttle`/`fault` are set), and
//! [`DaemonClient`] corrects the documents after it (no `x_forwarded_for` for a client address
//! that is the connection's peer, no Elastic Beanstalk version off Beanstalk).
//!
//! ```text
//!  span ─▶ SegmentShaping ─▶ SegmentTranslator (opentelemetry-aws) ─▶ DaemonClient ─▶ UDP daemon
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `AWS_XRAY_DAEMON_ADDRESS` | enables X-Ray: the daemon's UDP address, e.g. `127.0.0.1:2000` |
//! | `AWS_XRAY_URL` | a host pattern (`*`, `?` wildcards); matching requests name their segment after the host |
//! | `AWS_XRAY_SAMPLING_RULES` | a rule file (e.g. `aws/json/xray.json`) applied, parent-based, as the sampler |

mod daemon;
pub mod sampling;
mod shaping;

use std::net::SocketAddr;

pub use daemon::DaemonClient;
pub use sampling::{RuleError, SamplingRule, XraySampler};
pub use shaping::{MAX_URL_LEN, SegmentShaping};

use opentelemetry_aws::xray_exporter::{SegmentTranslator, XrayExporter};

/// X-Ray settings from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct XrayConfig {
    /// The daemon's address.
    pub daemon: SocketAddr,
    /// The dynamic-naming host pattern.
    pub url_pattern: Option<String>,
}

/// The X-Ray exporter: segment shaping, `opentelemetry-aws`'s translator, then the daemon client.
pub fn exporter(
    config: &XrayConfig,
    service_name: &str,
) -> std::io::Result<SegmentShaping<XrayExporter<DaemonClient>>> {
    let client = DaemonClient::new(config.daemon)?;
    // Attributes not mapped to a segment field travel as metadata (`DaemonClient` reads
    // `network.peer.address` there).
    let exporter = XrayExporter::new(client).with_translator(SegmentTranslator::new().metadata_all_attrs());
    Ok(SegmentShaping::new(exporter, config.url_pattern.clone(), service_name.to_owned()))
}

/// `*` (any run of characters) and `?` (one character) wildcard matching, case-insensitive, as
/// X-Ray's sampling rules and dynamic naming use it.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards_match_like_xray() {
        for (pattern, text, expected) in [
            ("*", "anything", true),
            ("*", "", true),
            ("backend", "Backend", true),
            ("back?nd", "backend", true),
            ("back?nd", "backnd", false),
            ("*.example.com", "api.example.com", true),
            ("*.example.com", "example.com", false),
            ("/api/*", "/api/activities/home", true),
            ("/api/*/home", "/api/activities/home", true),
            ("/api/*/home", "/api/activities/notifications", false),
            ("GET", "POST", false),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(wildcard_match(pattern, text), expected, "{pattern} ~ {text}");
        }
    }
}
