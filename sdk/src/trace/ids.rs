//! Trace and span id generation, and their lowercase-hex text.

use opentelemetry::trace::{SpanId, TraceId};

use crate::platform::random;

/// How new trace and span ids are made. Ids are random and never all-zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdGenerator {
    /// 128 random bits per trace id (W3C Trace Context level 1).
    #[default]
    Random,
    /// AWS X-Ray compatible trace ids: the first 32 bits are the current epoch second, so a
    /// trace started in the browser is accepted by X-Ray; the other 96 bits are random
    /// (feature `xray`; without it [`crate::Config::validate`] refuses it and ids are random).
    XRay,
}

impl IdGenerator {
    /// A new, valid trace id.
    pub fn new_trace_id(&self) -> TraceId {
        let random = random::nonzero_u128();
        match self {
            #[cfg(not(feature = "xray"))]
            IdGenerator::Random | IdGenerator::XRay => TraceId::from(random),
            #[cfg(feature = "xray")]
            IdGenerator::Random => TraceId::from(random),
            #[cfg(feature = "xray")]
            IdGenerator::XRay => {
                let seconds = (crate::platform::clock::now_unix_nanos() / 1_000_000_000) as u32;
                TraceId::from(((seconds as u128) << 96) | (random & ((1u128 << 96) - 1)) | 1)
            }
        }
    }

    /// A new, valid span id.
    pub fn new_span_id(&self) -> SpanId {
        SpanId::from(random::nonzero_u64())
    }
}

/// Appends `bytes` as lowercase hex, two digits each: trace and span ids in OTLP/JSON,
/// `traceparent` and the console (without `core::fmt`'s padding machinery on the fetch path).
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_two_digits_per_byte() {
        let mut out = String::new();
        push_hex(&mut out, &[0x00, 0x0f, 0xa5, 0xff]);
        assert_eq!(out, "000fa5ff");
        let id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128);
        let mut out = String::new();
        push_hex(&mut out, &id.to_bytes());
        assert_eq!(out, id.to_string());
    }

    #[test]
    fn random_ids_are_valid() {
        for _ in 0..1_000 {
            assert_ne!(IdGenerator::Random.new_trace_id(), TraceId::INVALID);
            assert_ne!(IdGenerator::Random.new_span_id(), SpanId::INVALID);
        }
    }

    #[test]
    #[cfg(feature = "xray")]
    fn xray_ids_start_with_the_epoch_second() {
        let id = IdGenerator::XRay.new_trace_id().to_bytes();
        let seconds = u32::from_be_bytes([id[0], id[1], id[2], id[3]]) as u64;
        let now = crate::platform::clock::now_unix_nanos() / 1_000_000_000;
        assert!(now.abs_diff(seconds) <= 1, "{seconds} vs {now}");
    }
}
