//! W3C Trace Context (Level 2): `traceparent` and `tracestate`, for the browser and the backend
//! alike.
//!
//! `traceparent` is parsed strictly ("traceparent Header Field Values", "Versioning of
//! traceparent"): lowercase hex only, checked byte by byte (no string is sliced, so non-ASCII
//! input cannot panic); version `ff` is invalid; version `00` must be exactly 55 characters; later
//! versions may append `-`-separated fields, which are ignored; all-zero trace or parent ids are
//! invalid. Of the flags, `sampled` (`01`) and `random-trace-id` (`02`, Level 2) are kept and
//! propagated; the others are reserved and masked off. A request carrying more than one
//! `traceparent` is ambiguous and starts a new trace.
//!
//! `tracestate` fields are combined into one list (RFC 9110 field order, as the specification
//! requires), then checked against the key and value grammar; a list with more than 32 members or
//! with any invalid member is discarded whole, without invalidating `traceparent`. Valid members
//! that `opentelemetry`'s [`TraceState`] cannot hold (its key check still follows an older grammar:
//! one `@`, at most 13 characters after it) are left out and the others kept.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use crate::trace::push_hex;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// Most `tracestate` list members accepted.
pub(crate) const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Longest `tracestate` key or value.
const MAX_TRACESTATE_TOKEN_LEN: usize = 256;
/// The Level 2 `random-trace-id` flag: at least the right-most 7 bytes of the trace id are
/// uniformly random. Set on new traces whose ids are, and kept when a trace is continued.
pub(crate) const RANDOM_TRACE_ID: TraceFlags = TraceFlags::new(0x02);
/// The flags this implementation knows, and the only ones it passes on: `sampled` and
/// `random-trace-id` ("Other Flags": vendors MUST set the others to zero).
const KNOWN_FLAGS: u8 = 0x01 | 0x02;

/// Injects and extracts `traceparent` and `tracestate`.
#[derive(Debug)]
pub struct TraceContextPropagator {
    fields: [String; 2],
}

impl Default for TraceContextPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceContextPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self { fields: [TRACEPARENT.to_owned(), TRACESTATE.to_owned()] }
    }
}

/// The `traceparent` value for `cx`, or `None` for an invalid context.
pub(crate) fn traceparent(cx: &SpanContext) -> Option<String> {
    cx.is_valid().then(|| {
        let mut value = String::with_capacity(55);
        value.push_str("00-");
        push_hex(&mut value, &cx.trace_id().to_bytes());
        value.push('-');
        push_hex(&mut value, &cx.span_id().to_bytes());
        value.push('-');
        push_hex(&mut value, &[cx.trace_flags().to_u8() & KNOWN_FLAGS]);
        value
    })
}

/// Parses a `traceparent` value strictly; `None` when it is invalid.
pub(crate) fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let bytes = value.trim_matches([' ', '\t']).as_bytes();
    if bytes.len() < 55 {
        return None;
    }
    let version = lower_hex(&bytes[..2])?;
    if version == 0xff || (version == 0 && bytes.len() != 55) || (bytes.len() > 55 && bytes[55] != b'-') {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace_id = lower_hex(&bytes[3..35]).filter(|&id| id != 0)?;
    let span_id = lower_hex(&bytes[36..52]).and_then(|id| u64::try_from(id).ok()).filter(|&id| id != 0)?;
    let flags = lower_hex(&bytes[53..55]).and_then(|f| u8::try_from(f).ok())?;
    Some((TraceId::from(trace_id), SpanId::from(span_id), TraceFlags::new(flags & KNOWN_FLAGS)))
}

/// The value of up to 32 lowercase hex digits (`HEXDIGLC`); `None` for any other byte, including
/// the `+` and uppercase digits `from_str_radix` would take.
fn lower_hex(digits: &[u8]) -> Option<u128> {
    if digits.is_empty() || digits.len() > 32 {
        return None;
    }
    digits.iter().try_fold(0u128, |value, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(value << 4 | u128::from(digit))
    })
}

/// Parses the `tracestate` header fields as one combined list; `None` (discard) when a member is
/// invalid or there are more than 32.
pub(crate) fn parse_tracestate(fields: &[&str]) -> Option<TraceState> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    for member in fields.iter().flat_map(|field| field.split(',')) {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        if members.len() == MAX_TRACESTATE_MEMBERS {
            return None;
        }
        let (key, value) = member.split_once('=')?;
        if !is_tracestate_key(key) || !is_tracestate_value(value) {
            return None;
        }
        members.push((key, value));
    }
    // The members `TraceState` would refuse, although the specification allows them.
    members.retain(|&member| TraceState::from_key_value([member]).is_ok());
    TraceState::from_key_value(members).ok()
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`, `keychar = lcalpha / DIGIT / "_" / "-" / "*" /
/// "/" / "@"`.
fn is_tracestate_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    let keychar =
        |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@');
    matches!(bytes.first(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.len() <= MAX_TRACESTATE_TOKEN_LEN
        && bytes.iter().all(|&b| keychar(b))
}

/// `value = 0*255(chr) nblk-chr`: printable ASCII except `,` and `=`, not ending in a space.
fn is_tracestate_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_TRACESTATE_TOKEN_LEN).contains(&bytes.len())
        && bytes.last() != Some(&b' ')
        && bytes.iter().all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        let Some(parent) = traceparent(span_context) else { return };
        injector.set(TRACEPARENT, parent);
        let state = span_context.trace_state().header();
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        // Exactly one `traceparent`: two are ambiguous, so the request starts a new trace.
        let parent = match extractor.get_all(TRACEPARENT).as_deref() {
            Some([value]) => parse_traceparent(value),
            _ => None,
        };
        let Some((trace_id, span_id, flags)) = parent else {
            return cx.clone();
        };
        let state =
            extractor.get_all(TRACESTATE).and_then(|fields| parse_tracestate(&fields)).unwrap_or_default();
        let remote = SpanContext::new(trace_id, span_id, flags, true, state);
        cx.with_remote_span_context(remote)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// Header fields in order, with repeats, as an HTTP request can carry them.
    struct Fields(Vec<(&'static str, String)>);

    impl Extractor for Fields {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| *k).collect()
        }

        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            let all: Vec<&str> =
                self.0.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str()).collect();
            (!all.is_empty()).then_some(all)
        }
    }

    fn extract(fields: &[(&'static str, &str)]) -> SpanContext {
        let fields = Fields(fields.iter().map(|&(k, v)| (k, v.to_owned())).collect());
        TraceContextPropagator::new().extract(&fields).span().span_context().clone()
    }

    #[test]
    fn valid_traceparent_round_trips() {
        let mut headers = HashMap::new();
        headers.insert("traceparent".to_owned(), VALID.to_owned());
        headers.insert("tracestate".to_owned(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".to_owned());
        let propagator = TraceContextPropagator::new();
        let cx = propagator.extract(&headers);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(sc.trace_state().get("congo"), Some("t61rcWkgMzE"));
        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        assert_eq!(out.get("traceparent").map(String::as_str), Some(VALID));
        assert_eq!(
            out.get("tracestate").map(String::as_str),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
    }

    #[test]
    fn every_invalid_traceparent_form_is_rejected() {
        let invalid = [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // uppercase
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero parent id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", // v00 must be 55 chars
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // short trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",  // short span id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  // short flags
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", // wrong separators
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // non-hex version
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", // non-hex trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", // non-hex flags
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", // future version, bad tail
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{e9}",
            // What `from_str_radix` would take: a sign, and one digit short padded by the sign.
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-+0f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-+1",
            "+0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // long version
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // short version
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001", // long flags
            "00-4bf92f3577b34da6a3ce929d0e0e47361-00f067aa0ba902b7-01", // long trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b71-01", // long span id
        ];
        for value in invalid {
            assert_eq!(parse_traceparent(value), None, "{value:?} was accepted");
        }
    }

    #[test]
    fn a_traceparent_with_a_multibyte_character_where_the_version_is_is_rejected_without_panicking() {
        // Issue #13 item 5: `&value[..2]` on "€0-…" cut through the euro sign and panicked.
        for value in [
            "\u{20ac}0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0\u{e9}-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47\u{e9}-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736\u{20ac}00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-\u{e9}",
        ] {
            assert_eq!(parse_traceparent(value), None, "{value:?} was accepted");
        }
    }

    #[test]
    fn future_versions_and_unknown_flags_are_tolerated() {
        let (_, _, flags) =
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-ever")
                .expect("v01");
        assert_eq!(flags, TraceFlags::SAMPLED, "unknown flag bits are masked");
        let (_, _, flags) =
            parse_traceparent(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ").expect("ows");
        assert_eq!(flags, TraceFlags::default());
    }

    #[test]
    fn the_random_flag_is_kept_when_parsing_and_injecting() {
        // Issue #13 item 7 (W3C Level 2 `test_propagates_random_flag`).
        let random = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02";
        let (_, _, flags) = parse_traceparent(random).expect("valid");
        assert_eq!(flags, RANDOM_TRACE_ID);
        let (_, _, flags) =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff").expect("valid");
        assert_eq!(flags.to_u8(), 0x03, "sampled and random kept, reserved bits dropped");

        let mut headers = HashMap::new();
        headers.insert("traceparent".to_owned(), random.to_owned());
        let propagator = TraceContextPropagator::new();
        let cx = propagator.extract(&headers);
        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        assert_eq!(out.get("traceparent").map(String::as_str), Some(random));
        let reserved = SpanContext::new(
            TraceId::from(1u128),
            SpanId::from(1u64),
            TraceFlags::new(0xff),
            false,
            TraceState::NONE,
        );
        assert_eq!(
            traceparent(&reserved).as_deref(),
            Some("00-00000000000000000000000000000001-0000000000000001-03")
        );
    }

    #[test]
    fn two_traceparent_headers_start_a_new_trace() {
        // Issue #13 item 14 (W3C `test_traceparent_duplicated`).
        let other = "00-12345678901234567890123456789012-1234567890123456-01";
        assert!(!extract(&[("traceparent", VALID), ("traceparent", other)]).is_valid());
        assert!(!extract(&[("traceparent", VALID), ("TraceParent", VALID)]).is_valid(), "even when equal");
        assert!(extract(&[("TRACEPARENT", VALID)]).is_valid());
    }

    #[test]
    fn several_tracestate_headers_are_combined_in_order() {
        // Issue #13 item 14 (W3C `test_tracestate_multiple_headers_different_keys`).
        let cx = extract(&[
            ("traceparent", VALID),
            ("tracestate", "foo=1,bar=2"),
            ("tracestate", ""),
            ("TraceState", "rojo=1,congo=2"),
            ("tracestate", " \t,baz=3"),
        ]);
        assert_eq!(cx.trace_state().header(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
        // 32 members over four fields are kept; a 33rd in the last field discards them all.
        let fields: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let state = parse_tracestate(&[
            &fields[..10].join(","),
            &fields[10..20].join(","),
            &fields[20..32].join(","),
        ])
        .expect("32 members");
        assert_eq!(state.header().split(',').count(), 32);
        assert!(parse_tracestate(&[&fields[..32].join(","), fields[32]]).is_none());
    }

    #[test]
    fn an_invalid_tracestate_is_dropped_but_the_traceparent_kept() {
        // Issue #13 item 14: `=1` was accepted (an empty key) and exported.
        for bad in [
            "=1",
            "foo=1,=1",
            "UPPER=1",
            "novalue",
            "foo =1",
            "foo.bar=1",
            "@foo=1,bar=2",
            "foo=bar=baz",
            "foo=,bar=3",
            "foo=1\u{e9}",
            "foo=\u{7f}",
            "foo=a\tb",
            "k\u{e9}y=1",
        ] {
            assert_eq!(parse_tracestate(&[bad]), None, "{bad:?} was accepted");
            let cx = extract(&[("traceparent", VALID), ("tracestate", bad)]);
            assert!(cx.is_valid(), "{bad:?} invalidated the traceparent");
            assert_eq!(cx.trace_state().header(), "", "{bad:?} was kept");
        }
        let long_key = "z".repeat(257);
        assert_eq!(parse_tracestate(&["foo=1", &format!("{long_key}=1")]), None);
        let long_value = "v".repeat(257);
        assert_eq!(parse_tracestate(&[&format!("foo={long_value}")]), None);
    }

    #[test]
    fn tracestate_keys_and_values_follow_the_grammar() {
        // W3C `test_tracestate_all_allowed_characters`, `test_tracestate_ows_handling` and
        // `test_tracestate_key_length_limit`.
        let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        let value: String = (0x20u8..=0x7e).filter(|&b| b != b',' && b != b'=').map(char::from).collect();
        for key in
            [key.to_owned(), format!("{key}@a-z0-9_-*/"), "z".repeat(256), "0k".to_owned(), "foo@".to_owned()]
        {
            let state = parse_tracestate(&[&format!("{key}={value}")]).expect("valid");
            assert_eq!(state.get(&key), Some(value.as_str()), "{key}");
        }
        let state = parse_tracestate(&["foo=1 \t , \t bar=2, \t baz=3", "\t qux= 4 \t"]).expect("ows");
        assert_eq!(state.header(), "foo=1,bar=2,baz=3,qux= 4", "leading spaces are part of a value");
        // Duplicated keys are passed on as received (W3C `test_tracestate_duplicated_keys`).
        assert_eq!(parse_tracestate(&["foo=1", "foo=2"]).expect("valid").header(), "foo=1,foo=2");
    }

    #[test]
    fn valid_keys_opentelemetry_cannot_hold_are_left_out_alone() {
        // The grammar allows any number of `@` and any length after one; `TraceState` does not.
        for key in [
            "foo@@bar",
            "foo@bar@baz",
            &format!("t@{}", "v".repeat(15)),
            &format!("{}@{}", "t".repeat(241), "v".repeat(14)),
        ] {
            assert!(is_tracestate_key(key), "{key}");
            let state = parse_tracestate(&[&format!("{key}=1,bar=2")]).expect("valid");
            assert_eq!(state.header(), "bar=2", "{key}");
        }
    }

    #[test]
    fn nothing_is_injected_without_a_valid_span() {
        let mut out: HashMap<String, String> = HashMap::new();
        TraceContextPropagator::new().inject_context(&Context::new(), &mut out);
        assert!(out.is_empty());
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A valid `traceparent` with one character replaced, so most cases get past the length
        /// check and reach the field checks.
        fn near_valid() -> impl Strategy<Value = String> {
            (0..VALID.len(), any::<char>()).prop_map(|(at, c)| {
                let mut value: String = VALID.chars().take(at).collect();
                value.push(c);
                value.extend(VALID.chars().skip(at + 1));
                value
            })
        }

        proptest! {
            #[test]
            fn traceparent_parsing_never_panics(value in any::<String>(), near in near_valid()) {
                let _ = parse_traceparent(&value);
                let _ = parse_traceparent(&near);
            }

            #[test]
            fn a_parsed_traceparent_is_strict_lowercase_hex(value in "[ \t]?[0-9a-fA-F+-]{2}-[0-9a-fA-F+]{32}-[0-9a-fA-F+]{16}-[0-9a-fA-F+]{2}(-[a-z]{0,3})?[ \t]?") {
                if let Some((trace_id, span_id, flags)) = parse_traceparent(&value) {
                    let value = value.trim_matches([' ', '\t']);
                    prop_assert!(value[..55].bytes().all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
                    prop_assert_eq!(&value[3..35], trace_id.to_string());
                    prop_assert_eq!(&value[36..52], span_id.to_string());
                    prop_assert_eq!(flags.to_u8() & !KNOWN_FLAGS, 0);
                }
            }

            #[test]
            fn traceparent_round_trips(trace_id in 1..=u128::MAX, span_id in 1..=u64::MAX, flags in any::<u8>()) {
                let cx = SpanContext::new(TraceId::from(trace_id), SpanId::from(span_id), TraceFlags::new(flags), false, TraceState::NONE);
                let value = traceparent(&cx).expect("valid context");
                let parsed = parse_traceparent(&value);
                prop_assert_eq!(parsed, Some((cx.trace_id(), cx.span_id(), TraceFlags::new(flags & KNOWN_FLAGS))));
            }

            #[test]
            fn tracestate_parsing_never_panics(fields in proptest::collection::vec(any::<String>(), 0..4), near in "[a-z0-9@=, \t\u{e9}\u{20ac}_*/-]{0,40}") {
                let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
                let _ = parse_tracestate(&fields);
                let _ = parse_tracestate(&[&near]);
            }

            #[test]
            fn tracestate_round_trips(members in proptest::collection::btree_map("[a-z0-9][a-z0-9_*/-]{0,20}", "[ -+\\--<>-~]{0,20}[!-+\\--<>-~]", 0..=32)) {
                let header = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
                let state = parse_tracestate(&[&header]).expect("valid members");
                prop_assert_eq!(state.header(), header);
            }
        }
    }
}
