//! Random bytes for trace and span ids.
//!
//! In the browser the bytes come from `crypto.getRandomValues`, fetched [`POOL_SIZE`] at a time
//! so that starting a span does not cross into JavaScript for every id. Natively (unit tests
//! only) a SplitMix64 generator seeded from the OS's hash randomness stands in.

use std::cell::RefCell;

/// Bytes fetched from the browser per call: 256 trace ids, or 512 span ids (a call into
/// JavaScript and a typed-array view per refill, so fewer refills keep span start cheap).
pub(crate) const POOL_SIZE: usize = 4096;

#[derive(Debug)]
struct Pool {
    bytes: [u8; POOL_SIZE],
    /// Unused bytes at the end of `bytes`. Starting at zero keeps the pool all zeros until the
    /// first refill, so it costs no bytes in the wasm file (zeroed memory, not a data segment).
    remaining: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; POOL_SIZE], remaining: 0 }) };
}

/// Fills `out` (at most [`POOL_SIZE`] bytes) with random bytes.
pub(crate) fn fill(out: &mut [u8]) {
    let ok = POOL
        .try_with(|pool| {
            let Ok(mut pool) = pool.try_borrow_mut() else { return false };
            if pool.remaining < out.len() {
                imp::refill(&mut pool.bytes);
                pool.remaining = POOL_SIZE;
            }
            let start = POOL_SIZE - pool.remaining;
            out.copy_from_slice(&pool.bytes[start..start + out.len()]);
            pool.remaining -= out.len();
            true
        })
        .unwrap_or(false);
    if !ok {
        imp::refill(out);
    }
}

/// A random, non-zero `u64`.
pub(crate) fn nonzero_u64() -> u64 {
    loop {
        let mut bytes = [0u8; 8];
        fill(&mut bytes);
        let value = u64::from_ne_bytes(bytes);
        if value != 0 {
            return value;
        }
    }
}

/// A random, non-zero `u128`.
pub(crate) fn nonzero_u128() -> u128 {
    loop {
        let mut bytes = [0u8; 16];
        fill(&mut bytes);
        let value = u128::from_ne_bytes(bytes);
        if value != 0 {
            return value;
        }
    }
}

/// A uniformly distributed `f64` in `[0, 1)`, for retry jitter.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "retries run in the browser"))]
pub(crate) fn unit_f64() -> f64 {
    (nonzero_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(catch, js_namespace = crypto, js_name = getRandomValues)]
        fn get_random_values(buffer: &mut [u8]) -> Result<JsValue, JsValue>;
    }

    pub(super) fn refill(bytes: &mut [u8]) {
        if get_random_values(bytes).is_err() {
            // No Web Crypto (very old or unusual host): ids stay unique enough for tracing.
            for byte in bytes.iter_mut() {
                *byte = (js_sys::Math::random() * 256.0) as u8;
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::cell::Cell;
    use std::hash::{BuildHasher, RandomState};

    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(std::process::id()));
    }

    pub(super) fn refill(bytes: &mut [u8]) {
        STATE.with(|state| {
            for chunk in bytes.chunks_mut(8) {
                // SplitMix64.
                let mut z = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
                state.set(z);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                chunk.copy_from_slice(&z.to_ne_bytes()[..chunk.len()]);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_non_zero_and_distinct() {
        let ids: HashSet<u128> = (0..10_000).map(|_| nonzero_u128()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(!ids.contains(&0));
    }

    #[test]
    fn unit_floats_stay_in_range() {
        for _ in 0..1_000 {
            let x = unit_f64();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
