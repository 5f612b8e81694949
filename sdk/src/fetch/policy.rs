//! Which origins may receive trace headers.
//!
//! `traceparent`, `tracestate` and `baggage` go to the page's own origin and to origins on the
//! allowlist — never anywhere else. Sending them to a third party leaks trace ids and, because
//! they are not CORS-safelisted headers, turns simple requests into preflighted ones that fail
//! on servers that do not allow them.

use crate::error::ConfigError;

const FIELD: &str = "propagateTraceHeaderCorsUrls";

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginMatcher {
    /// An exact origin: scheme, host and port (`https://api.example.com`, `http://127.0.0.1:4567`).
    Exact(String),
    /// A URL prefix (`https://api.example.com/v2/`): matches request URLs that start with it.
    Prefix(String),
    /// A JavaScript regular expression tested against the full request URL.
    Regex(RegexSource),
}

/// The source of a JavaScript regular expression that the browser's `RegExp` accepted.
///
/// It can only be made by [`RegexSource::new`], which compiles it once with a constructor that
/// catches the browser's `SyntaxError`, so an allowlist never holds a pattern that would throw
/// while a fetch is being traced. Natively (unit tests) there is no `RegExp` to ask: every
/// pattern is accepted and matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexSource(String);

impl RegexSource {
    /// Checks `pattern` with the browser's `RegExp`; an invalid one is a [`ConfigError`] naming it.
    pub fn new(pattern: &str) -> Result<Self, ConfigError> {
        js::compile(pattern).map(|_| Self(pattern.to_owned())).map_err(|reason| {
            ConfigError::field(FIELD, format!("/{pattern}/ is not a valid regular expression: {reason}"))
        })
    }

    /// The pattern, without the surrounding slashes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl OriginMatcher {
    /// Parses an allowlist entry as written in configuration: `/…/` is a regular expression, a
    /// bare origin (no path) is exact, anything else with a path is a prefix.
    pub fn parse(entry: &str) -> Result<Self, ConfigError> {
        let entry = entry.trim();
        if entry.len() >= 2
            && let Some(pattern) = entry.strip_prefix('/').and_then(|e| e.strip_suffix('/'))
        {
            return RegexSource::new(pattern).map(Self::Regex);
        }
        let Some((scheme, rest)) = entry.split_once("://") else {
            return Err(ConfigError::field(
                FIELD,
                format!("{entry:?} is neither an origin (https://host[:port]), a URL prefix, nor a /regex/"),
            ));
        };
        if scheme.is_empty() || rest.is_empty() {
            return Err(ConfigError::field(FIELD, format!("{entry:?} has no host")));
        }
        match rest.find('/') {
            None => Ok(Self::Exact(entry.to_ascii_lowercase())),
            Some(i) if i + 1 == rest.len() => Ok(Self::Exact(entry[..entry.len() - 1].to_ascii_lowercase())),
            Some(_) => Ok(Self::Prefix(entry.to_owned())),
        }
    }
}

/// The allowlist, plus the page's own origin. Regular expressions are compiled once, here.
#[derive(Debug, Clone, Default)]
pub struct PropagationPolicy {
    allow: Vec<Compiled>,
}

#[derive(Debug, Clone)]
enum Compiled {
    Exact(String),
    Prefix(String),
    Regex(js::RegExp),
}

impl PropagationPolicy {
    /// A policy allowing the page's origin and `allow`.
    pub fn new(allow: Vec<OriginMatcher>) -> Self {
        let allow = allow
            .into_iter()
            .filter_map(|m| match m {
                OriginMatcher::Exact(origin) => Some(Compiled::Exact(origin)),
                OriginMatcher::Prefix(prefix) => Some(Compiled::Prefix(prefix)),
                OriginMatcher::Regex(source) => js::compile(source.as_str()).ok().map(Compiled::Regex),
            })
            .collect();
        Self { allow }
    }

    /// Whether a request to `url` (whose origin is `origin`) from a page at `page_origin` may
    /// carry trace headers.
    pub fn allows(&self, page_origin: &str, origin: &str, url: &str) -> bool {
        (origin == page_origin && origin != "null")
            || self.allow.iter().any(|m| match m {
                Compiled::Exact(allowed) => allowed == origin,
                Compiled::Prefix(prefix) => url.starts_with(prefix.as_str()),
                Compiled::Regex(regex) => js::test(regex, url),
            })
    }
}

/// The browser's own `RegExp`: no regex engine compiled into the wasm.
#[cfg(target_arch = "wasm32")]
mod js {
    use wasm_bindgen::prelude::*;

    pub(super) use js_sys::RegExp;

    #[wasm_bindgen]
    extern "C" {
        /// `RegExp(pattern, "")` called as a function constructs too; `catch` turns its
        /// `SyntaxError` into an `Err` instead of a throw through the wasm.
        #[wasm_bindgen(catch, js_name = RegExp)]
        fn new_regexp(pattern: &str, flags: &str) -> Result<RegExp, JsValue>;
    }

    pub(super) fn compile(pattern: &str) -> Result<RegExp, String> {
        new_regexp(pattern, "").map_err(|e| crate::platform::fetch::describe(&e))
    }

    pub(super) fn test(regex: &RegExp, url: &str) -> bool {
        regex.test(url)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod js {
    /// No `RegExp` natively: patterns compile to nothing and match nothing.
    #[derive(Debug, Clone)]
    pub(super) struct RegExp;

    pub(super) fn compile(_pattern: &str) -> Result<RegExp, String> {
        Ok(RegExp)
    }

    pub(super) fn test(_regex: &RegExp, _url: &str) -> bool {
        false
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
            Ok(OriginMatcher::Regex(RegexSource(r"^https:\/\/.*\.example\.com".into())))
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
