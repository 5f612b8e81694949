//! W3C Baggage: the `baggage` header.
//!
//! At most 64 list members and 8192 bytes are accepted or sent (W3C Baggage, "Limits"); members
//! past a limit are dropped whole, never cut. A request may carry several `baggage` fields; they
//! are one list, combined as RFC 7230 lists are (joined with `,`), and the limits apply to the
//! whole.
//!
//! Values are percent-decoded on the way in and percent-encoded on the way out. Decoding follows
//! the URL standard's percent-decode: `%` followed by two hex digits is one octet, any other `%`
//! stays as it is (`%+f` and `%zz` are not escapes), and octets that are not UTF-8 become U+FFFD
//! ("percent-encoded octet sequences that do not match the UTF-8 encoding scheme MUST be replaced
//! with the replacement code point", W3C Baggage, "value"). Members with an invalid key are
//! skipped. Properties after `;` are kept as metadata.
//!
//! On the way out a member whose key is not a `token`, or whose metadata holds a character that
//! a property cannot (a `,`, a control or non-ASCII character), is left out: written as is, it
//! would add or change other members of the header.

use opentelemetry::Context;
use opentelemetry::baggage::{BaggageExt, BaggageMetadata, KeyValueMetadata};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter};

const BAGGAGE: &str = "baggage";
/// Most list members accepted or sent.
pub(crate) const MAX_MEMBERS: usize = 64;
/// Most bytes accepted or sent.
pub(crate) const MAX_BYTES: usize = 8192;

/// Injects and extracts `baggage`.
#[derive(Debug)]
pub struct BaggagePropagator {
    fields: [String; 1],
}

impl Default for BaggagePropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl BaggagePropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self { fields: [BAGGAGE.to_owned()] }
    }
}

/// Parses a `baggage` header into `(key, value, properties)` members within the limits.
pub(crate) fn parse_baggage(header: &str) -> Vec<(String, String, String)> {
    let mut members = Vec::new();
    let mut bytes = 0;
    for raw in header.split(',') {
        let raw = raw.trim_matches(|c| c == ' ' || c == '\t');
        if raw.is_empty() {
            continue;
        }
        if members.len() == MAX_MEMBERS || bytes + raw.len() + usize::from(bytes > 0) > MAX_BYTES {
            break;
        }
        let (pair, properties) = raw.split_once(';').unwrap_or((raw, ""));
        let Some((key, value)) = pair.split_once('=') else { continue };
        let key = key.trim_matches(|c| c == ' ' || c == '\t');
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        if !is_token(key) {
            continue;
        }
        let value = percent_decode(value);
        bytes += raw.len() + usize::from(bytes > 0);
        members.push((key.to_owned(), value, properties.trim().to_owned()));
    }
    members
}

/// RFC 7230 `token`: the characters a baggage key may use.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Percent-decodes `s`: `%` and two hex digits is an octet, any other `%` is kept, and octets
/// that are not UTF-8 become U+FFFD.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some(&[b'%', high, low]) => hex_digit(high).zip(hex_digit(low)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(octet) => {
                out.push(octet);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of one ASCII hex digit (`u8::from_str_radix` would also take a sign).
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `metadata` can follow `;` in a member without changing the rest of the header:
/// baggage octets, `;`, spaces and tabs.
fn is_property_text(metadata: &str) -> bool {
    metadata.bytes().all(|b| is_baggage_octet(b) || matches!(b, b';' | b' ' | b'\t'))
}

/// W3C `baggage-octet`: visible ASCII except `"`, `,`, `;` and `\`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Percent-encodes everything outside W3C `baggage-octet` (and `%` itself).
fn percent_encode(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        if is_baggage_octet(b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 0xf) as usize]));
        }
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let baggage = cx.baggage();
        if baggage.is_empty() {
            return;
        }
        let mut header = String::new();
        let mut count = 0;
        for (key, (value, metadata)) in baggage.iter() {
            if !is_token(key.as_str()) || !is_property_text(metadata.as_str()) {
                continue;
            }
            let mut member = String::new();
            member.push_str(key.as_str());
            member.push('=');
            percent_encode(value.as_str(), &mut member);
            if !metadata.as_str().is_empty() {
                member.push(';');
                member.push_str(metadata.as_str());
            }
            let separator = usize::from(!header.is_empty());
            if count == MAX_MEMBERS || header.len() + separator + member.len() > MAX_BYTES {
                continue;
            }
            if separator == 1 {
                header.push(',');
            }
            header.push_str(&member);
            count += 1;
        }
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        // Several `baggage` fields are one list (RFC 7230, section 3.2.2).
        let Some(fields) = extractor.get_all(BAGGAGE) else { return cx.clone() };
        let members = parse_baggage(&fields.join(","));
        if members.is_empty() {
            return cx.clone();
        }
        cx.with_baggage(members.into_iter().map(|(key, value, properties)| {
            KeyValueMetadata::new(key, value, BaggageMetadata::from(properties.as_str()))
        }))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use std::collections::HashMap;

    fn extract(header: &str) -> Context {
        let mut headers = HashMap::new();
        headers.insert("baggage".to_owned(), header.to_owned());
        BaggagePropagator::new().extract(&headers)
    }

    #[test]
    fn baggage_round_trips_with_encoding_and_properties() {
        let cx = extract("user.id=andrew, note=hello%20world%2C%20100%25;ttl=60 ,empty=");
        let baggage = cx.baggage();
        assert_eq!(baggage.get("user.id").map(|v| v.as_str()), Some("andrew"));
        assert_eq!(baggage.get("note").map(|v| v.as_str()), Some("hello world, 100%"));
        let mut out = HashMap::new();
        BaggagePropagator::new().inject_context(&cx, &mut out);
        let again = extract(out.get("baggage").expect("injected"));
        assert_eq!(again.baggage().get("note").map(|v| v.as_str()), Some("hello world, 100%"));
        assert_eq!(again.baggage().len(), 3);
    }

    #[test]
    fn invalid_members_are_skipped_and_limits_hold() {
        let members = parse_baggage("good=1,bad key=2,=3,noequals,b@d=4,also=ok");
        let keys: Vec<&str> = members.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["good", "also"]);
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse_baggage(&many.join(",")).len(), MAX_MEMBERS);
        let huge = format!("a={},b=1", "x".repeat(MAX_BYTES));
        assert!(parse_baggage(&huge).is_empty(), "an oversized first member is dropped whole");
    }

    /// Issue #13 item 10: "percent-encoded octet sequences that do not match the UTF-8 encoding
    /// scheme MUST be replaced with the replacement code point (U+FFFD)" (W3C Baggage, "value").
    #[test]
    fn invalid_utf8_after_decoding_becomes_replacement_characters() {
        let members = parse_baggage("badutf8=%ff%fe,cut=caf%C3,mixed=a%E2%82%ACb%80c,after=ok");
        let values: Vec<(&str, &str)> = members.iter().map(|(k, v, _)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            values,
            [
                ("badutf8", "\u{FFFD}\u{FFFD}"),
                ("cut", "caf\u{FFFD}"),
                ("mixed", "a\u{20AC}b\u{FFFD}c"),
                ("after", "ok")
            ]
        );
    }

    /// Issue #13 item 10: an escape is `%` and two hex digits; `u8::from_str_radix` would also
    /// have read `%+f` as 0x0f.
    #[test]
    fn only_percent_and_two_hex_digits_is_an_escape() {
        let cases = [
            ("%+f", "%+f"),
            ("%-1", "%-1"),
            ("%zz", "%zz"),
            ("%4", "%4"),
            ("100%", "100%"),
            ("%%41", "%A"),
            ("%2b%2B", "++"),
            ("%e2%82%ac", "\u{20AC}"),
        ];
        for (raw, decoded) in cases {
            let members = parse_baggage(&format!("k={raw}"));
            assert_eq!(members, [("k".to_owned(), decoded.to_owned(), String::new())], "{raw}");
        }
    }

    /// Header fields in order, with repeats, as an HTTP request can carry them.
    struct Fields(Vec<String>);

    impl Extractor for Fields {
        fn get(&self, key: &str) -> Option<&str> {
            self.get_all(key)?.first().copied()
        }

        fn keys(&self) -> Vec<&str> {
            vec![BAGGAGE]
        }

        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            (key == BAGGAGE && !self.0.is_empty()).then(|| self.0.iter().map(String::as_str).collect())
        }
    }

    #[test]
    fn several_baggage_fields_are_one_list() {
        // The W3C example: "Context might be split into multiple headers".
        let fields = Fields(vec!["userId=alice".into(), "serverNode=DF%2028,isProduction=false".into()]);
        let cx = BaggagePropagator::new().extract(&fields);
        let baggage = cx.baggage();
        assert_eq!(baggage.len(), 3);
        assert_eq!(baggage.get("userId").map(|v| v.as_str()), Some("alice"));
        assert_eq!(baggage.get("serverNode").map(|v| v.as_str()), Some("DF 28"));
        assert_eq!(baggage.get("isProduction").map(|v| v.as_str()), Some("false"));
        // The limits are the combined list's.
        let field = |prefix: char| (0..40).map(|i| format!("{prefix}{i}=v")).collect::<Vec<_>>().join(",");
        let cx = BaggagePropagator::new().extract(&Fields(vec![field('a'), field('b')]));
        assert_eq!(cx.baggage().len(), MAX_MEMBERS);
        assert_eq!(cx.baggage().get("b23").map(|v| v.as_str()), Some("v"));
        assert_eq!(cx.baggage().get("b24"), None);
    }

    #[test]
    fn injection_leaves_out_members_that_would_change_the_header() {
        let cx = Context::new().with_baggage([
            KeyValueMetadata::new("ok", "1", BaggageMetadata::from("ttl=60")),
            KeyValueMetadata::new("a,b", "2", BaggageMetadata::default()),
            KeyValueMetadata::new("c=d", "3", BaggageMetadata::default()),
            KeyValueMetadata::new("e", "4", BaggageMetadata::from("x,forged=1")),
            KeyValueMetadata::new("f", "5", BaggageMetadata::from("caf\u{e9}")),
        ]);
        let mut out = HashMap::new();
        BaggagePropagator::new().inject_context(&cx, &mut out);
        assert_eq!(out.get("baggage").map(String::as_str), Some("ok=1;ttl=60"));
    }

    #[test]
    fn injection_respects_the_byte_limit() {
        let cx =
            Context::new().with_baggage((0..20).map(|i| KeyValue::new(format!("k{i}"), "v".repeat(600))));
        let mut out = HashMap::new();
        BaggagePropagator::new().inject_context(&cx, &mut out);
        let header = out.get("baggage").expect("injected");
        assert!(header.len() <= MAX_BYTES);
        assert!(parse_baggage(header).len() >= 10);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Member-shaped text: keys, escapes (good and bad), separators and non-ASCII.
        const NEAR: &str = "[a-z0-9%=;, \t\u{e9}\u{20ac}fF+-]{0,60}";
        /// An RFC 7230 token.
        const TOKEN: &str = "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,12}";
        /// Metadata the injector writes: property text, without outer whitespace (the
        /// `BaggageMetadata` conversion trims it).
        const METADATA: &str =
            "([!#-+\\--:<-\\[\\]-~]([!#-+\\--:<-\\[\\]-~; ]{0,10}[!#-+\\--:<-\\[\\]-~])?)?";

        /// Every member, sorted, as text.
        fn members_of(cx: &Context) -> Vec<(String, String, String)> {
            let mut members: Vec<_> = cx
                .baggage()
                .iter()
                .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
                .collect();
            members.sort();
            members
        }

        proptest! {
            #[test]
            fn baggage_parsing_never_panics_and_keeps_the_limits(
                fields in proptest::collection::vec(any::<String>(), 0..4),
                near in NEAR,
            ) {
                for header in fields.iter().chain([&near]) {
                    let members = parse_baggage(header);
                    prop_assert!(members.len() <= MAX_MEMBERS);
                    prop_assert!(members.iter().all(|(key, _, _)| is_token(key)));
                }
                let _ = BaggagePropagator::new().extract(&Fields(fields));
            }

            #[test]
            fn baggage_round_trips(
                members in proptest::collection::btree_map(TOKEN, (any::<String>(), METADATA), 0..=8),
            ) {
                let cx = Context::new().with_baggage(members.iter().map(|(key, (value, metadata))| {
                    KeyValueMetadata::new(key.clone(), value.clone(), BaggageMetadata::from(metadata.as_str()))
                }));
                let mut out = HashMap::new();
                BaggagePropagator::new().inject_context(&cx, &mut out);
                let again = extract(out.get("baggage").map(String::as_str).unwrap_or(""));
                prop_assert_eq!(members_of(&again), members_of(&cx));
            }

            #[test]
            fn injected_baggage_carries_only_its_own_members(
                members in proptest::collection::vec((any::<String>(), any::<String>(), any::<String>()), 0..8),
            ) {
                let cx = Context::new().with_baggage(members.iter().map(|(key, value, metadata)| {
                    KeyValueMetadata::new(key.clone(), value.clone(), BaggageMetadata::from(metadata.as_str()))
                }));
                let mut out = HashMap::new();
                BaggagePropagator::new().inject_context(&cx, &mut out);
                for (key, value, _) in parse_baggage(out.get("baggage").map(String::as_str).unwrap_or("")) {
                    let own = cx.baggage().get(key.as_str()).map(|v| v.to_string());
                    prop_assert_eq!(own, Some(value));
                }
            }
        }
    }
}
