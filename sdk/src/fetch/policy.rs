//! Which origins may receive trace headers.
//!
//! `traceparent`, `tracestate` and `baggage` go to the page's own origin and to origins on the
//! allowlist — never anywhere else. Sending them to a third party leaks trace ids and, because
//! they are not CORS-safelisted headers, turns simple requests into preflighted ones that fail
//! on servers that do not allow them.

use crate::error::ConfigError;

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginMatcher {
    /// An exact origin: scheme, host and port (`https://api.example.com`, `http://127.0.0.1:4567`).
    Exact(String),
    /// A URL prefix (`https://api.example.com/v2/`): matches request URLs that start with it.
    Prefix(String),
    /// A JavaScript regular expression tested against the full request URL.
    Regex(String),
}

impl OriginMatcher {
    /// Parses an allowlist entry as written in configuration: `/…/` is a regular expression, a
    /// bare origin (no path) is exact, anything else with a path is a prefix.
    pub fn parse(entry: &str) -> Result<Self, ConfigError> {
        let entry = entry.trim();
        if entry.len() >= 2 && entry.starts_with('/') && entry.ends_with('/') {
            return Ok(Self::Regex(entry[1..entry.len() - 1].to_owned()));
        }
        let Some((scheme, rest)) = entry.split_once("://") else {
            return Err(ConfigError::field(
                "propagateTraceHeaderCorsUrls",
                format!("{entry:?} is neither an origin (https://host[:port]), a URL prefix, nor a /regex/"),
            ));
        };
        if scheme.is_empty() || rest.is_empty() {
            return Err(ConfigError::field("propagateTraceHeaderCorsUrls", format!("{entry:?} has no host")));
        }
        match rest.find('/') {
            None => Ok(Self::Exact(entry.to_ascii_lowercase())),
            Some(i) if i + 1 == rest.len() => Ok(Self::Exact(entry[..entry.len() - 1].to_ascii_lowercase())),
            Some(_) => Ok(Self::Prefix(entry.to_owned())),
        }
    }

    fn matches(&self, origin: &str, url: &str) -> bool {
        match self {
            OriginMatcher::Exact(allowed) => allowed == origin,
            OriginMatcher::Prefix(prefix) => url.starts_with(prefix.as_str()),
            OriginMatcher::Regex(pattern) => regex_matches(pattern, url),
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn regex_matches(pattern: &str, url: &str) -> bool {
    // The browser's own RegExp: no regex engine compiled into the wasm.
    js_sys::RegExp::new(pattern, "").test(url)
}

#[cfg(not(target_arch = "wasm32"))]
fn regex_matches(_pattern: &str, _url: &str) -> bool {
    false
}

/// The allowlist, plus the page's own origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropagationPolicy {
    allow: Vec<OriginMatcher>,
}

impl PropagationPolicy {
    /// A policy allowing the page's origin and `allow`.
    pub fn new(allow: Vec<OriginMatcher>) -> Self {
        Self { allow }
    }

    /// Whether a request to `url` (whose origin is `origin`) from a page at `page_origin` may
    /// carry trace headers.
    pub fn allows(&self, page_origin: &str, origin: &str, url: &str) -> bool {
        (origin == page_origin && origin != "null") || self.allow.iter().any(|m| m.matches(origin, url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_into_exact_prefix_or_regex() {
        assert_eq!(
            OriginMatcher::parse("http://127.0.0.1:4567"),
            Ok(OriginMatcher::Exact("http://127.0.0.1:4567".into()))
        );
        assert_eq!(
            OriginMatcher::parse("HTTPS://API.example.com/"),
            Ok(OriginMatcher::Exact("https://api.example.com".into()))
        );
        assert_eq!(
            OriginMatcher::parse("https://api.example.com/v2/"),
            Ok(OriginMatcher::Prefix("https://api.example.com/v2/".into()))
        );
        assert_eq!(
            OriginMatcher::parse(r"/^https:\/\/.*\.example\.com/"),
            Ok(OriginMatcher::Regex(r"^https:\/\/.*\.example\.com".into()))
        );
        let err = OriginMatcher::parse("api.example.com").expect_err("no scheme");
        assert!(err.to_string().contains("propagateTraceHeaderCorsUrls"), "{err}");
    }

    #[test]
    fn only_the_page_origin_and_the_allowlist_get_headers() {
        let policy = PropagationPolicy::new(vec![
            OriginMatcher::Exact("http://127.0.0.1:4567".into()),
            OriginMatcher::Prefix("https://cdn.example.com/api/".into()),
        ]);
        let page = "http://127.0.0.1:3000";
        assert!(policy.allows(page, page, "http://127.0.0.1:3000/api/x"));
        assert!(policy.allows(page, "http://127.0.0.1:4567", "http://127.0.0.1:4567/api/x"));
        assert!(policy.allows(page, "https://cdn.example.com", "https://cdn.example.com/api/v1"));
        assert!(!policy.allows(page, "https://cdn.example.com", "https://cdn.example.com/static/a.js"));
        assert!(!policy.allows(page, "http://127.0.0.1:4568", "http://127.0.0.1:4568/api/x"));
        assert!(!policy.allows(page, "https://evil.example", "https://evil.example/http://127.0.0.1:4567"));
        // Opaque origins (data:, sandboxed frames) never count as "same origin".
        assert!(!policy.allows("null", "null", "data:text/plain,hi"));
    }
}
