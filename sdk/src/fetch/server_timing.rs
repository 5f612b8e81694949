//! Parsing `Server-Timing` (W3C Server Timing), and the two metrics otel-web reads from it.
//!
//! The backend reports, on every response:
//!
//! ```text
//! Server-Timing: app;dur=12.345, otelweb-ts;desc="1732500000123.456"
//! ```
//!
//! - `app;dur=` — the server's processing time in milliseconds (`total;dur=` is accepted too);
//! - `otelweb-ts;desc=` — the server's wall clock, in epoch milliseconds, when it received the
//!   request.
//!
//! Cross-origin, the backend must also send `Access-Control-Expose-Headers: Server-Timing`.
//! Malformed metrics are skipped; the header never breaks the response.

use crate::platform::number;
/// The most of a `Server-Timing` header that is parsed; the rest is ignored.
pub const MAX_HEADER_BYTES: usize = 4096;

/// One metric: `name;dur=…;desc=…`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The metric's name.
    pub name: String,
    /// Its `dur` parameter in milliseconds, if valid.
    pub duration_ms: Option<f64>,
    /// Its `desc` parameter, unquoted.
    pub description: Option<String>,
}

/// What otel-web uses from the header.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerTiming {
    /// Server processing time, ms.
    pub duration_ms: Option<f64>,
    /// Server clock (epoch ms) when the request arrived.
    pub received_at_ms: Option<f64>,
}

/// Parses every well-formed metric of a header value.
pub fn parse(header: &str) -> Vec<Metric> {
    let header = match header.char_indices().nth(MAX_HEADER_BYTES) {
        Some((cut, _)) => &header[..cut],
        None => header,
    };
    split_outside_quotes(header, ',')
        .into_iter()
        .filter_map(|metric| {
            let mut parts = split_outside_quotes(metric, ';').into_iter();
            let name = parts.next()?.trim();
            if !is_token(name) {
                return None;
            }
            let mut parsed = Metric { name: name.to_owned(), duration_ms: None, description: None };
            for param in parts {
                let (key, value) = param.split_once('=').map(|(k, v)| (k.trim(), v.trim()))?;
                let value = unquote(value)?;
                match key.to_ascii_lowercase().as_str() {
                    "dur" if parsed.duration_ms.is_none() => {
                        parsed.duration_ms = number::parse_f64(&value).filter(|d| d.is_finite() && *d >= 0.0)
                    }
                    "desc" if parsed.description.is_none() => parsed.description = Some(value),
                    _ => {}
                }
            }
            Some(parsed)
        })
        .collect()
}

/// The server duration and timestamp, from a header value.
pub fn read(header: &str) -> ServerTiming {
    let mut timing = ServerTiming::default();
    for metric in parse(header) {
        match metric.name.as_str() {
            "app" | "total" if timing.duration_ms.is_none() => timing.duration_ms = metric.duration_ms,
            "otelweb-ts" if timing.received_at_ms.is_none() => {
                timing.received_at_ms = metric
                    .description
                    .as_deref()
                    .and_then(|d| number::parse_f64(d.trim()))
                    .filter(|t| t.is_finite() && *t > 0.0)
            }
            _ => {}
        }
    }
    timing
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn unquote(value: &str) -> Option<String> {
    if let Some(inner) = value.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            out.push(if c == '\\' { chars.next()? } else { c });
        }
        Some(out)
    } else {
        is_token(value).then(|| value.to_owned())
    }
}

fn split_outside_quotes(s: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_malformed_headers() {
        let cases: &[(&str, Option<f64>, Option<f64>)] = &[
            (r#"app;dur=12.345, otelweb-ts;desc="1732500000123.456""#, Some(12.345), Some(1732500000123.456)),
            ("total;dur=3", Some(3.0), None),
            ("otelweb-ts;desc=1732500000000, app;dur=0", Some(0.0), Some(1732500000000.0)),
            (r#"db;dur=4;desc="a, b; c", app;dur=9"#, Some(9.0), None),
            ("app;dur=abc", None, None),
            ("app;dur=-5", None, None),
            ("app;dur=NaN, otelweb-ts;desc=\"yesterday\"", None, None),
            ("app;dur", None, None),
            ("", None, None),
            (";;;,,,", None, None),
            ("app;dur=\"7\"", Some(7.0), None),
            ("app;dur=1;dur=2", Some(1.0), None),
            ("\"unterminated;dur=1, app;dur=2", None, None),
            ("bad name;dur=1, app;dur=2", Some(2.0), None),
            ("cache;desc=hit, app;DUR=5.5", Some(5.5), None),
        ];
        for (header, duration, received) in cases {
            let timing = read(header);
            assert_eq!(timing.duration_ms, *duration, "duration of {header:?}");
            assert_eq!(timing.received_at_ms, *received, "timestamp of {header:?}");
        }
    }

    #[test]
    fn huge_headers_are_cut_not_rejected() {
        let header = format!("app;dur=1, {}", "x;desc=y, ".repeat(10_000));
        assert_eq!(read(&header).duration_ms, Some(1.0));
        assert!(parse(&header).len() < 1_000);
    }

    #[test]
    fn descriptions_are_unquoted() {
        let metrics = parse(r#"cdn;desc="a \"quoted\" value""#);
        assert_eq!(metrics[0].description.as_deref(), Some(r#"a "quoted" value"#));
    }
}
