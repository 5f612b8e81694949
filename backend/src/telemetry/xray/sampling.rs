//! X-Ray's local sampling rules as an OpenTelemetry sampler.
//!
//! Rules apply in ascending priority (then by name); the first whose service name, host, HTTP
//! method and URL path all match (with `*` and `?` wildcards) decides: the first
//! `ReservoirSize` requests of each second are sampled, then `FixedRate` of the rest. When no rule
//! matches, X-Ray's default rule applies: 1 per second, then 5%. Wrapped parent-based, so the
//! browser's sampled decision (in `traceparent`) wins.
//!
//! The rule file is the input of `aws xray create-sampling-rule --cli-input-json`:
//! `{"SamplingRule": {…}}` (or `{"SamplingRules": [{…}, …]}` for several).

use std::sync::Mutex;

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
use serde::Deserialize;
use thiserror::Error;

use super::wildcard_match;

/// A rule file that cannot be used; the message names the rule and field.
#[derive(Debug, Error, PartialEq)]
pub enum RuleError {
    /// Not readable.
    #[error("cannot read sampling rules from {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Not the expected JSON.
    #[error("sampling rules are not valid: {0}")]
    Invalid(String),
}

/// One sampling rule (X-Ray's field names).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamplingRule {
    /// Name (ties in priority are broken by it).
    pub rule_name: String,
    /// Lower is evaluated first (1–9999).
    pub priority: u32,
    /// Share sampled after the reservoir, 0–1.
    pub fixed_rate: f64,
    /// Requests per second sampled before the fixed rate applies.
    pub reservoir_size: u32,
    /// Service name pattern.
    #[serde(default = "any")]
    pub service_name: String,
    /// Host pattern.
    #[serde(default = "any")]
    pub host: String,
    /// HTTP method pattern.
    #[serde(rename = "HTTPMethod", default = "any")]
    pub http_method: String,
    /// URL path pattern.
    #[serde(rename = "URLPath", default = "any")]
    pub url_path: String,
}

fn any() -> String {
    "*".into()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleFile {
    sampling_rule: Option<SamplingRule>,
    sampling_rules: Option<Vec<SamplingRule>>,
}

impl SamplingRule {
    /// X-Ray's default rule: 1 per second, then 5%.
    pub fn default_rule() -> Self {
        Self {
            rule_name: "Default".into(),
            priority: 10_000,
            fixed_rate: 0.05,
            reservoir_size: 1,
            service_name: any(),
            host: any(),
            http_method: any(),
            url_path: any(),
        }
    }

    /// Parses a rule file's text.
    pub fn parse_file(text: &str) -> Result<Vec<Self>, RuleError> {
        let file: RuleFile = serde_json::from_str(text).map_err(|e| RuleError::Invalid(e.to_string()))?;
        let rules: Vec<Self> =
            file.sampling_rule.into_iter().chain(file.sampling_rules.unwrap_or_default()).collect();
        if rules.is_empty() {
            return Err(RuleError::Invalid("no SamplingRule or SamplingRules in the file".into()));
        }
        for rule in &rules {
            if !(0.0..=1.0).contains(&rule.fixed_rate) {
                return Err(RuleError::Invalid(format!(
                    "rule {:?}: FixedRate must be from 0 to 1",
                    rule.rule_name
                )));
            }
            if rule.priority == 0 || rule.priority > 9999 {
                return Err(RuleError::Invalid(format!(
                    "rule {:?}: Priority must be from 1 to 9999",
                    rule.rule_name
                )));
            }
        }
        Ok(rules)
    }

    /// Reads a rule file.
    pub fn load(path: &std::path::Path) -> Result<Vec<Self>, RuleError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RuleError::Read { path: path.display().to_string(), reason: e.to_string() })?;
        Self::parse_file(&text)
    }

    fn matches(&self, service: &str, host: &str, method: &str, path: &str) -> bool {
        wildcard_match(&self.service_name, service)
            && wildcard_match(&self.host, host)
            && wildcard_match(&self.http_method, method)
            && wildcard_match(&self.url_path, path)
    }
}

/// A clock in whole seconds (real, or simulated in tests).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the epoch.
    fn now_secs(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_secs(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

#[derive(Debug)]
struct Reservoir {
    second: u64,
    used: u32,
}

/// X-Ray's local sampling: rules, reservoirs, fixed rates.
#[derive(Debug)]
pub struct XraySampler<C: Clock = SystemClock> {
    service: String,
    rules: Vec<(SamplingRule, Mutex<Reservoir>)>,
    clock: C,
}

impl XraySampler<SystemClock> {
    /// A sampler for `service` with `rules` (the default rule is added last).
    pub fn new(service: &str, rules: Vec<SamplingRule>) -> Self {
        Self::with_clock(service, rules, SystemClock)
    }
}

impl<C: Clock> XraySampler<C> {
    /// A sampler reading time from `clock`.
    pub fn with_clock(service: &str, mut rules: Vec<SamplingRule>, clock: C) -> Self {
        rules.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.rule_name.cmp(&b.rule_name)));
        rules.push(SamplingRule::default_rule());
        let rules = rules.into_iter().map(|r| (r, Mutex::new(Reservoir { second: 0, used: 0 }))).collect();
        Self { service: service.to_owned(), rules, clock }
    }

    /// The rule deciding for a request, by name (for tests and logs).
    pub fn rule_for(&self, host: &str, method: &str, path: &str) -> &str {
        self.rules
            .iter()
            .find(|(r, _)| r.matches(&self.service, host, method, path))
            .map(|(r, _)| r.rule_name.as_str())
            .unwrap_or("Default")
    }

    /// Whether to sample a request; `trace_id` decides the fixed-rate share deterministically.
    pub fn decide(&self, host: &str, method: &str, path: &str, trace_id: TraceId) -> bool {
        let Some((rule, reservoir)) =
            self.rules.iter().find(|(r, _)| r.matches(&self.service, host, method, path))
        else {
            return false;
        };
        let now = self.clock.now_secs();
        if let Ok(mut reservoir) = reservoir.lock() {
            if reservoir.second != now {
                reservoir.second = now;
                reservoir.used = 0;
            }
            if reservoir.used < rule.reservoir_size {
                reservoir.used += 1;
                return true;
            }
        }
        let low = u64::from_be_bytes(trace_id.to_bytes()[8..16].try_into().unwrap_or([0; 8])) >> 1;
        (low as f64) < rule.fixed_rate * (1u64 << 63) as f64
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

impl<C: Clock + Clone + 'static> ShouldSample for XraySampler<C> {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let host = attribute(attributes, "server.address").unwrap_or_default();
        let method = attribute(attributes, "http.request.method").unwrap_or_default();
        let path = attribute(attributes, "url.path").unwrap_or_default();
        let decision = if self.decide(&host, &method, &path, trace_id) {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        };
        let trace_state = parent_context
            .filter(|cx| cx.has_active_span())
            .map(|cx| cx.span().span_context().trace_state().clone())
            .unwrap_or_default();
        SamplingResult { decision, attributes: Vec::new(), trace_state }
    }
}

impl<C: Clock + Clone + 'static> Clone for XraySampler<C> {
    fn clone(&self) -> Self {
        let rules = self.rules.iter().map(|(r, _)| r.clone()).filter(|r| r.rule_name != "Default").collect();
        Self::with_clock(&self.service, rules, self.clock.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Debug, Clone, Default)]
    struct FakeClock(Arc<AtomicU64>);

    impl Clock for FakeClock {
        fn now_secs(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    fn random_trace_id(seed: &mut u64) -> TraceId {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        TraceId::from(((*seed as u128) << 64) | (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) as u128))
    }

    #[test]
    fn the_shipped_rule_file_parses() {
        let rules = SamplingRule::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../aws/json/xray.json"
        )))
        .expect("rules");
        assert_eq!(rules.len(), 1);
        let rule = &rules[0];
        assert_eq!((rule.rule_name.as_str(), rule.priority, rule.reservoir_size), ("Cruddur", 9000, 5));
        assert_eq!(rule.fixed_rate, 0.1);
        assert_eq!(rule.service_name, "backend");
    }

    #[test]
    fn bad_rule_files_say_what_is_wrong() {
        for (text, needle) in [
            ("{", "not valid"),
            ("{}", "no SamplingRule"),
            (
                r#"{"SamplingRule": {"RuleName": "x", "Priority": 1, "FixedRate": 2, "ReservoirSize": 1}}"#,
                "FixedRate",
            ),
            (
                r#"{"SamplingRule": {"RuleName": "x", "Priority": 0, "FixedRate": 0.1, "ReservoirSize": 1}}"#,
                "Priority",
            ),
            (r#"{"SamplingRule": {"RuleName": "x", "FixedRate": 0.1, "ReservoirSize": 1}}"#, "Priority"),
        ] {
            let err = SamplingRule::parse_file(text).expect_err(text);
            assert!(err.to_string().contains(needle), "{err} should mention {needle}");
        }
        let missing =
            SamplingRule::load(std::path::Path::new("/nonexistent/xray.json")).expect_err("missing");
        assert!(matches!(missing, RuleError::Read { .. }));
    }

    #[test]
    fn rules_apply_by_priority_with_wildcards_and_the_default_last() {
        let rules = vec![
            SamplingRule {
                rule_name: "Health".into(),
                priority: 10,
                fixed_rate: 0.0,
                reservoir_size: 0,
                url_path: "/api/health".into(),
                ..SamplingRule::default_rule()
            },
            SamplingRule {
                rule_name: "Posts".into(),
                priority: 20,
                fixed_rate: 1.0,
                reservoir_size: 0,
                http_method: "POST".into(),
                ..SamplingRule::default_rule()
            },
            SamplingRule {
                rule_name: "Other service".into(),
                priority: 5,
                service_name: "frontend".into(),
                ..SamplingRule::default_rule()
            },
        ];
        let sampler = XraySampler::new("backend", rules);
        assert_eq!(sampler.rule_for("h", "GET", "/api/health"), "Health");
        assert_eq!(sampler.rule_for("h", "POST", "/api/activities"), "Posts");
        assert_eq!(sampler.rule_for("h", "GET", "/api/activities/home"), "Default");
    }

    #[test]
    fn reservoir_then_fixed_rate_over_a_simulated_clock() {
        let clock = FakeClock::default();
        let rules = SamplingRule::parse_file(include_str!("../../../../aws/json/xray.json")).expect("rules");
        let sampler = XraySampler::with_clock("backend", rules, clock.clone());
        let mut seed = 0x1234_5678_9abc_def1u64;
        let (seconds, per_second) = (200u64, 100u32);
        let mut sampled = 0u32;
        for second in 0..seconds {
            clock.0.store(1_700_000_000 + second, Ordering::Relaxed);
            let mut this_second = 0;
            for _ in 0..per_second {
                if sampler.decide("localhost", "GET", "/api/activities/home", random_trace_id(&mut seed)) {
                    this_second += 1;
                }
            }
            assert!(this_second >= 5, "the reservoir of 5 per second was not honoured: {this_second}");
            sampled += this_second;
        }
        // 5 per second from the reservoir, then 10% of the other 95.
        let expected = seconds as f64 * (5.0 + 0.1 * 95.0);
        let got = f64::from(sampled);
        assert!((got - expected).abs() / expected < 0.08, "sampled {got}, expected about {expected}");
    }

    #[test]
    fn the_default_rule_is_one_per_second_then_five_percent() {
        let clock = FakeClock::default();
        let sampler = XraySampler::with_clock("other-service", vec![], clock.clone());
        let mut seed = 42u64;
        let mut sampled = 0;
        for second in 0..300u64 {
            clock.0.store(second, Ordering::Relaxed);
            sampled +=
                (0..100).filter(|_| sampler.decide("h", "GET", "/", random_trace_id(&mut seed))).count();
        }
        let expected = 300.0 * (1.0 + 0.05 * 99.0);
        assert!(
            (sampled as f64 - expected).abs() / expected < 0.1,
            "sampled {sampled}, expected about {expected}"
        );
    }
}
