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
//!
//! Parsing follows the Server Timing specification's processing rules, so a metric reads as
//! `PerformanceServerTiming` would show it: a metric without a valid `dur` has duration 0 (it is
//! not dropped), only the first instance of a parameter counts "even if the server-timing-param
//! is incomplete or invalid", and extraneous characters after a name or value are ignored. A
//! metric is left out only when it has no name. The header never breaks the response.

use crate::platform::number;
/// The most of a `Server-Timing` header that is parsed; the rest is ignored.
pub const MAX_HEADER_BYTES: usize = 4096;

/// One metric: `name;dur=…;desc=…`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The metric's name.
    pub name: String,
    /// Its `dur` parameter in milliseconds; 0 when it is missing or not a number (Server
    /// Timing, "duration attribute").
    pub duration_ms: f64,
    /// Its `desc` parameter, unquoted.
    pub description: Option<String>,
}

/// What otel-web uses from the header.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerTiming {
    /// Server processing time, ms: the first `app` (or `total`) metric's duration, 0 when it
    /// has none; `None` without such a metric, or when its duration is negative.
    pub duration_ms: Option<f64>,
    /// Server clock (epoch ms) when the request arrived.
    pub received_at_ms: Option<f64>,
}

/// Parses every named metric of a header value.
pub fn parse(header: &str) -> Vec<Metric> {
    let mut cut = header.len().min(MAX_HEADER_BYTES);
    while !header.is_char_boundary(cut) {
        cut -= 1;
    }
    split_outside_quotes(&header[..cut], ',').into_iter().filter_map(parse_metric).collect()
}

/// One metric: its name is the token it starts with; `None` when there is none.
fn parse_metric(metric: &str) -> Option<Metric> {
    let mut parts = split_outside_quotes(metric, ';').into_iter();
    let first = parts.next()?.trim_start_matches(is_whitespace);
    let name = &first[..first.bytes().take_while(|&b| is_token_byte(b)).count()];
    if name.is_empty() {
        return None;
    }
    let mut duration = None;
    let mut description = None;
    for param in parts {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let value = param_value(value);
        // The first instance counts, even when incomplete or invalid.
        match key.trim_matches(is_whitespace).to_ascii_lowercase().as_str() {
            "dur" if duration.is_none() => duration = Some(number::parse_f64(&value).unwrap_or(0.0)),
            "desc" if description.is_none() => description = Some(value),
            _ => {}
        }
    }
    Some(Metric { name: name.to_owned(), duration_ms: duration.unwrap_or(0.0), description })
}

/// The server duration and timestamp, from a header value.
pub fn read(header: &str) -> ServerTiming {
    let mut timing = ServerTiming::default();
    let mut duration_read = false;
    for metric in parse(header) {
        match metric.name.as_str() {
            "app" | "total" if !duration_read => {
                duration_read = true;
                timing.duration_ms = Some(metric.duration_ms).filter(|d| *d >= 0.0);
            }
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

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// A parameter's value: a quoted string, unquoted up to its closing quote (or the end), or the
/// text itself, trimmed.
fn param_value(raw: &str) -> String {
    let raw = raw.trim_matches(is_whitespace);
    let Some(inner) = raw.strip_prefix('"') else { return raw.to_owned() };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some(escaped) => out.push(escaped),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
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
            ("app;dur=-5", None, None),
            ("app;dur=-5, total;dur=4", None, None),
            ("", None, None),
            (";;;,,,", None, None),
            ("app;dur=\"7\"", Some(7.0), None),
            ("app;dur=1;dur=2", Some(1.0), None),
            ("\"unterminated;dur=1, app;dur=2", None, None),
            ("bad name;dur=1, app;dur=2", Some(2.0), None),
            ("cache;desc=hit, app;DUR=5.5", Some(5.5), None),
            ("app garbage ;dur=6", Some(6.0), None),
            ("app;dur=8\"garbage\";desc=x", Some(0.0), None),
            ("app;dur=\"8\"garbage", Some(8.0), None),
            ("otelweb-ts;desc=\"yesterday\"", None, None),
        ];
        for (header, duration, received) in cases {
            let timing = read(header);
            assert_eq!(timing.duration_ms, *duration, "duration of {header:?}");
            assert_eq!(timing.received_at_ms, *received, "timestamp of {header:?}");
        }
    }

    /// Issue #13 item 12: "If this's params["dur"] does not exist, return 0", and a `dur` that
    /// is not a number is 0 too (Server Timing, "duration attribute"); the first instance of a
    /// parameter counts "even if the server-timing-param is incomplete or invalid".
    #[test]
    fn a_missing_or_invalid_dur_is_zero_not_a_dropped_metric() {
        for header in [
            "app",
            "app;desc=x",
            "app;dur",
            "app;dur=",
            "app;dur=abc",
            "app;dur=NaN",
            "app;dur=1e999",
            "app;dur;dur=5",
            "app;dur=x;dur=5",
            "app;=;dur",
        ] {
            assert_eq!(read(header).duration_ms, Some(0.0), "{header:?}");
        }
        let metrics = parse("miss, db;dur=53, dc;desc=atl, cache;desc=\"Cache Read\";dur=23.2");
        let named: Vec<(&str, f64, Option<&str>)> =
            metrics.iter().map(|m| (m.name.as_str(), m.duration_ms, m.description.as_deref())).collect();
        assert_eq!(
            named,
            [
                ("miss", 0.0, None),
                ("db", 53.0, None),
                ("dc", 0.0, Some("atl")),
                ("cache", 23.2, Some("Cache Read"))
            ]
        );
        // With a timestamp and no duration the server time counts as 0.
        let timing = read("app, otelweb-ts;desc=1732500000000");
        assert_eq!(timing, ServerTiming { duration_ms: Some(0.0), received_at_ms: Some(1732500000000.0) });
    }

    #[test]
    fn huge_headers_are_cut_not_rejected() {
        let header = format!("app;dur=1, {}", "x;desc=y, ".repeat(10_000));
        assert_eq!(read(&header).duration_ms, Some(1.0));
        assert!(parse(&header).len() < 1_000);
        let multibyte = format!("app;dur=1, x;desc=\"{}\"", "\u{20ac}".repeat(MAX_HEADER_BYTES));
        assert_eq!(read(&multibyte).duration_ms, Some(1.0));
    }

    #[test]
    fn descriptions_are_unquoted() {
        let cases = [
            (r#"cdn;desc="a \"quoted\" value""#, r#"a "quoted" value"#),
            (r#"cdn;desc="a, b; c";dur=1"#, "a, b; c"),
            (r#"cdn;desc="open"#, "open"),
            (r#"cdn;desc="trailing\"#, "trailing\\"),
            ("cdn;desc= plain ", "plain"),
        ];
        for (header, description) in cases {
            assert_eq!(parse(header)[0].description.as_deref(), Some(description), "{header}");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A quoted string that reads back as `s`.
        fn quoted(s: &str) -> String {
            let mut out = String::from('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            out
        }

        proptest! {
            #[test]
            fn server_timing_parsing_never_panics(
                header in any::<String>(),
                near in "[a-z; ,=\"\\\\0-9.eE+-]{0,60}",
            ) {
                for header in [&header, &near] {
                    let timing = read(header);
                    prop_assert!(timing.duration_ms.is_none_or(|d| d.is_finite() && d >= 0.0));
                    prop_assert!(parse(header).iter().all(|m| !m.name.is_empty() && m.duration_ms.is_finite()));
                }
            }

            #[test]
            fn server_timing_round_trips(
                metrics in proptest::collection::vec(
                    ("[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,12}", proptest::option::of(0.0..1e12f64), proptest::option::of(any::<String>())),
                    0..8,
                ),
            ) {
                let header = metrics
                    .iter()
                    .map(|(name, dur, desc)| {
                        let mut metric = name.clone();
                        if let Some(dur) = dur {
                            metric.push_str(";dur=");
                            number::push_f64(&mut metric, *dur);
                        }
                        if let Some(desc) = desc {
                            metric.push_str(";desc=");
                            metric.push_str(&quoted(desc));
                        }
                        metric
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                prop_assume!(header.len() <= MAX_HEADER_BYTES);
                let expected: Vec<Metric> = metrics
                    .iter()
                    .map(|(name, dur, desc)| Metric { name: name.clone(), duration_ms: dur.unwrap_or(0.0), description: desc.clone() })
                    .collect();
                prop_assert_eq!(parse(&header), expected);
            }

            #[test]
            fn the_backends_header_reads_back(duration in 0.0..1e7f64, at in 1.0..1e13f64) {
                let mut header = String::from("app;dur=");
                number::push_f64(&mut header, duration);
                header.push_str(", otelweb-ts;desc=\"");
                number::push_f64(&mut header, at);
                header.push('"');
                prop_assert_eq!(read(&header), ServerTiming { duration_ms: Some(duration), received_at_ms: Some(at) });
            }
        }
    }
}
