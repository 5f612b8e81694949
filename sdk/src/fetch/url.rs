//! What a request's URL contributes to its span: `url.full` with credentials and sensitive
//! query values redacted (HTTP semantic conventions), `server.address` and `server.port`.

/// Query parameters whose values are replaced by `REDACTED` in `url.full` (case-insensitive;
/// a key also matches when it ends with `_` or `-` and one of these, like `x-api-key`).
pub const SENSITIVE_QUERY_KEYS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "authorization",
    "awsaccesskeyid",
    "code",
    "credential",
    "key",
    "password",
    "passwd",
    "pwd",
    "secret",
    "session",
    "sessionid",
    "sig",
    "signature",
    "token",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
    "x-goog-signature",
];

fn is_sensitive(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SENSITIVE_QUERY_KEYS.iter().any(|s| {
        key == *s || key.strip_suffix(s).is_some_and(|head| head.ends_with('_') || head.ends_with('-'))
    })
}

/// `url` with `user:password@` replaced by `REDACTED:REDACTED@` and sensitive query values by
/// `REDACTED`.
pub fn redact(url: &str) -> String {
    let (without_fragment, fragment) = match url.find('#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let (base, query) = match without_fragment.find('?') {
        Some(i) => (&without_fragment[..i], Some(&without_fragment[i + 1..])),
        None => (without_fragment, None),
    };
    let mut out = String::with_capacity(url.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((_, host)) => {
                    out.push_str("REDACTED:REDACTED@");
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        out.push('?');
        push_redacted_pairs(&mut out, query);
    }
    // A fragment is never sent, but OAuth's implicit flow puts tokens there
    // (`#access_token=…`): its `key=value` pairs follow the query's rule.
    if let Some(fragment) = fragment.strip_prefix('#') {
        out.push('#');
        push_redacted_pairs(&mut out, fragment);
    }
    out
}

/// `a=1&token=x` with sensitive values replaced by `REDACTED`.
fn push_redacted_pairs(out: &mut String, pairs: &str) {
    for (i, pair) in pairs.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if is_sensitive(key) => {
                out.push_str(key);
                out.push_str("=REDACTED");
            }
            _ => out.push_str(pair),
        }
    }
}

/// The default port of a scheme, for `server.port` when the URL names none.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Whether the browser makes a resource timing entry for a fetch of `url` (HTTP(S) only, not
/// `data:` or `blob:`).
pub fn is_http(url: &str) -> bool {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_get_timing_entries() {
        assert!(is_http("https://api.example.com/x"));
        assert!(is_http("HTTP://localhost:4567/"));
        assert!(!is_http("data:text/plain,hi"));
        assert!(!is_http("blob:https://example.com/1f0c"));
        assert!(!is_http("no-scheme"));
    }

    #[test]
    fn credentials_and_sensitive_query_values_are_redacted() {
        let cases = [
            ("https://api.example.com/a?b=1", "https://api.example.com/a?b=1"),
            ("https://u:p@api.example.com/a", "https://REDACTED:REDACTED@api.example.com/a"),
            (
                "http://127.0.0.1:4567/api/search?q=rust&token=abc&X-API-KEY=k&page=2#top",
                "http://127.0.0.1:4567/api/search?q=rust&token=REDACTED&X-API-KEY=REDACTED&page=2#top",
            ),
            ("/relative?access_token=zzz", "/relative?access_token=REDACTED"),
            (
                "https://s3.example.com/o?X-Amz-Signature=abc&flag",
                "https://s3.example.com/o?X-Amz-Signature=REDACTED&flag",
            ),
            ("https://example.com/?monkey=1&keyboard=2", "https://example.com/?monkey=1&keyboard=2"),
            (
                "https://app.example.com/cb#access_token=abc&state=xyz",
                "https://app.example.com/cb#access_token=REDACTED&state=xyz",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(redact(url), expected, "{url}");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A query key that must be redacted: a listed key in any case, maybe after a prefix
        /// ending in `_` or `-`.
        fn sensitive_key() -> impl Strategy<Value = String> {
            (proptest::sample::select(SENSITIVE_QUERY_KEYS), any::<u64>(), "([a-z]{1,5}[_-])?").prop_map(
                |(key, case, prefix)| {
                    let key: String = key
                        .chars()
                        .enumerate()
                        .map(|(i, c)| if case >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                        .collect();
                    format!("{prefix}{key}")
                },
            )
        }

        /// A query parameter and what redaction makes of it.
        fn param() -> impl Strategy<Value = (String, String)> {
            let value = "[a-zA-Z0-9%._~=+-]{0,12}";
            prop_oneof![
                (sensitive_key(), value).prop_map(|(k, v)| (format!("{k}={v}"), format!("{k}=REDACTED"))),
                ("q[a-z]{0,6}", value).prop_map(|(k, v)| (format!("{k}={v}"), format!("{k}={v}"))),
                "[a-z]{0,6}".prop_map(|flag| (flag.clone(), flag)),
            ]
        }

        /// An absolute URL and its redacted form.
        fn url() -> impl Strategy<Value = (String, String)> {
            (
                "(https?|wss?|ftp)",
                proptest::option::of("[a-zA-Z0-9%._~!$&'()*+,;=-]{0,8}(:[a-zA-Z0-9%._~!$&'()*+,;=:-]{0,8})?"),
                "[a-z0-9.-]{1,20}(:[0-9]{1,5})?",
                "(/[a-zA-Z0-9%._~!$&'()*+,;=:@-]{0,10}){0,3}",
                proptest::option::of(proptest::collection::vec(param(), 0..5)),
                proptest::option::of("#[a-zA-Z0-9%._~!$&'()*+,;=:@/?-]{0,10}"),
            )
                .prop_map(|(scheme, userinfo, host, path, query, fragment)| {
                    let (mut url, mut redacted) = (format!("{scheme}://"), format!("{scheme}://"));
                    if let Some(userinfo) = userinfo {
                        url.push_str(&format!("{userinfo}@"));
                        redacted.push_str("REDACTED:REDACTED@");
                    }
                    for part in [host, path] {
                        url.push_str(&part);
                        redacted.push_str(&part);
                    }
                    if let Some(query) = query {
                        let (raw, clean): (Vec<String>, Vec<String>) = query.into_iter().unzip();
                        url.push_str(&format!("?{}", raw.join("&")));
                        redacted.push_str(&format!("?{}", clean.join("&")));
                    }
                    let fragment = fragment.unwrap_or_default();
                    url.push_str(&fragment);
                    redacted.push_str(&fragment);
                    (url, redacted)
                })
        }

        proptest! {
            #[test]
            fn redaction_never_panics_and_is_idempotent(url in any::<String>(), near in "[a-z:/?#&=@%.A-Z\u{e9}]{0,40}") {
                for url in [&url, &near] {
                    let once = redact(url);
                    prop_assert_eq!(redact(&once), once.clone());
                    let _ = is_http(url);
                }
            }

            #[test]
            fn credentials_and_sensitive_values_never_survive_redaction((url, redacted) in url()) {
                prop_assert_eq!(redact(&url), redacted);
            }

            #[test]
            fn relative_urls_keep_everything_but_sensitive_values(
                path in "/[a-zA-Z0-9%._~!$&'()*+,;=:@/-]{0,20}",
                query in proptest::collection::vec(param(), 1..5),
            ) {
                let (raw, clean): (Vec<String>, Vec<String>) = query.into_iter().unzip();
                prop_assert_eq!(redact(&format!("{path}?{}", raw.join("&"))), format!("{path}?{}", clean.join("&")));
            }
        }
    }
}
