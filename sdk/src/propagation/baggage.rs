//! W3C Baggage: the `baggage` header.
//!
//! At most 64 list members and 8192 bytes are accepted or sent (W3C Baggage, "Limits"); members
//! past a limit are dropped whole, never cut. Values are percent-decoded on the way in and
//! percent-encoded on the way out; members with an invalid key or a value that does not decode
//! to UTF-8 are skipped. Properties after `;` are kept as metadata.

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
        let Some(value) = percent_decode(value) else { continue };
        bytes += raw.len() + usize::from(bytes > 0);
        members.push((key.to_owned(), value, properties.trim().to_owned()));
    }
    members
}

/// RFC 7230 `token`: the characters a baggage key may use.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything outside W3C `baggage-octet` (and `%` itself).
fn percent_encode(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        let plain = matches!(b, 0x21 | 0x23..=0x24 | 0x26..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E);
        if plain {
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
        let Some(header) = extractor.get(BAGGAGE) else { return cx.clone() };
        let members = parse_baggage(header);
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
        let members = parse_baggage("good=1,bad key=2,=3,noequals,badpct=%zz,badutf8=%ff%fe,also=ok");
        let keys: Vec<&str> = members.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["good", "also"]);
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse_baggage(&many.join(",")).len(), MAX_MEMBERS);
        let huge = format!("a={},b=1", "x".repeat(MAX_BYTES));
        assert!(parse_baggage(&huge).is_empty(), "an oversized first member is dropped whole");
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
}
