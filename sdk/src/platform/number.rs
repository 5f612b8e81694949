//! Decimal text for `f64`, written and read by the JavaScript engine in the browser.
//!
//! Rust's own float formatting and parsing (Grisu with a Dragon4 fallback, `dec2flt` with its
//! big-number tables) would add about 15 KB to every page that loads the SDK, while the browser
//! already ships both: `Number.prototype.toString` gives the shortest text that reads back to
//! the same number (as Rust's `{}` does, with `1e+21` instead of 22 digits), and `parseFloat`
//! rounds correctly. The grammar is checked here, strictly, so both platforms accept exactly the
//! same inputs:
//!
//! ```text
//! [+-]? digits? ("." digits?)? ([eE] [+-]? digits)?     at least one mantissa digit
//! ```
//!
//! No whitespace, no `Infinity`/`NaN` spellings, no hex — what `str::parse::<f64>` would accept
//! minus its non-finite words. On the host the standard library does the work, so the logic
//! around these functions is unit-tested with `cargo test`.

/// Appends `f` as decimal text (`NaN`, `Infinity` and `-Infinity` for non-finite values).
pub(crate) fn push_f64(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        imp::push_finite(out, f);
    }
}

/// `f` as decimal text.
pub(crate) fn format_f64(f: f64) -> String {
    let mut out = String::new();
    push_f64(&mut out, f);
    out
}

/// Reads a finite decimal number; `None` for anything outside the grammar above.
pub(crate) fn parse_f64(s: &str) -> Option<f64> {
    if !is_decimal(s.as_bytes()) {
        return None;
    }
    Some(imp::parse_decimal(s)).filter(|f| f.is_finite())
}

fn is_decimal(s: &[u8]) -> bool {
    let digits = |s: &[u8], i: usize| s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = usize::from(matches!(s.first(), Some(b'+' | b'-')));
    let whole = digits(s, i);
    i += whole;
    let mut fraction = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        fraction = digits(s, i);
        i += fraction;
    }
    if whole + fraction == 0 {
        return false;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        i += usize::from(matches!(s.get(i), Some(b'+' | b'-')));
        let exponent = digits(s, i);
        if exponent == 0 {
            return false;
        }
        i += exponent;
    }
    i == s.len()
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub(super) fn push_finite(out: &mut String, f: f64) {
        match js_sys::Number::from(f).to_string_with_radix(10) {
            Ok(text) => out.push_str(&String::from(text)),
            // Radix 10 cannot be out of range; keep the output a number regardless.
            Err(_) => out.push('0'),
        }
    }

    pub(super) fn parse_decimal(s: &str) -> f64 {
        js_sys::parse_float(s)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub(super) fn push_finite(out: &mut String, f: f64) {
        use std::fmt::Write;
        let _ = write!(out, "{f}");
    }

    pub(super) fn parse_decimal(s: &str) -> f64 {
        s.parse().unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_a_decimal_grammar_allows() {
        for (text, value) in [
            ("0", 0.0),
            ("12", 12.0),
            ("-1.5", -1.5),
            ("+2", 2.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("2.5E-2", 0.025),
            ("1700000000123.456", 1_700_000_000_123.456),
        ] {
            assert_eq!(parse_f64(text), Some(value), "{text}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for text in [
            "", " 1", "1 ", ".", "-", "e5", "1e", "1e+", "0x10", "inf", "NaN", "Infinity", "1.2.3", "1,5",
            "1e999",
        ] {
            assert_eq!(parse_f64(text), None, "{text:?}");
        }
    }

    #[test]
    fn writes_round_trip_text() {
        assert_eq!(format_f64(1.5), "1.5");
        assert_eq!(format_f64(-0.25), "-0.25");
        assert_eq!(format_f64(f64::NAN), "NaN");
        assert_eq!(format_f64(f64::NEG_INFINITY), "-Infinity");
        for f in [0.1, 1.0 / 3.0, 123_456.789, 5e-324] {
            assert_eq!(parse_f64(&format_f64(f)), Some(f));
        }
    }
}
