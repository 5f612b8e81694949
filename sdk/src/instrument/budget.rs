//! A per-minute budget for the instrumentations that report what goes wrong on the page
//! (errors, long animation frames): a token bucket, so a loop of them cannot flood the span
//! queue, and a count of what was held back, reported on the next record let through
//! ([`crate::semconv::OTELWEB_SUPPRESSED_COUNT`]).
//!
//! The bucket holds `per_minute` tokens and refills continuously at `per_minute` a minute, so
//! any minute lets through at most `2 × per_minute` records (a full bucket, then its refill),
//! and a steady loop settles at `per_minute`.

#![cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "natively, nothing feeds the budget: the page's events do, in the browser")
)]

/// The token bucket; times are monotonic milliseconds.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    capacity: f64,
    tokens: f64,
    refill_per_ms: f64,
    last_ms: Option<f64>,
    suppressed: u64,
}

impl Budget {
    /// A full bucket of `per_minute` tokens (at least one).
    pub(crate) fn per_minute(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self { capacity, tokens: capacity, refill_per_ms: capacity / 60_000.0, last_ms: None, suppressed: 0 }
    }

    /// Takes a token at `now_ms`: `Some(n)` lets the record through, `n` being how many were
    /// held back since the previous one let through; `None` holds it back (and counts it).
    pub(crate) fn admit(&mut self, now_ms: f64) -> Option<u64> {
        if let Some(last) = self.last_ms
            && now_ms > last
        {
            self.tokens = (self.tokens + (now_ms - last) * self.refill_per_ms).min(self.capacity);
        }
        // A clock that goes back (or NaN) refills nothing and never moves the mark back.
        if self.last_ms.is_none_or(|last| now_ms > last) {
            self.last_ms = Some(now_ms);
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppress();
            None
        }
    }

    /// Counts a record held back for another reason (a duplicate).
    pub(crate) fn suppress(&mut self) {
        self.suppressed = self.suppressed.saturating_add(1);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_loop_gets_a_full_bucket_then_the_refill_rate() {
        let mut budget = Budget::per_minute(10);
        let admitted = (0..1000).filter(|i| budget.admit(f64::from(*i)).is_some()).count();
        assert_eq!(admitted, 10, "a burst within one second");
        // A minute later the bucket is full again, and what was held back is reported.
        assert_eq!(budget.admit(61_000.0), Some(990));
        assert_eq!(budget.admit(61_001.0), Some(0));
    }

    #[test]
    fn a_clock_going_back_refills_nothing() {
        let mut budget = Budget::per_minute(1);
        assert_eq!(budget.admit(1e6), Some(0));
        assert_eq!(budget.admit(0.0), None);
        assert_eq!(budget.admit(f64::NAN), None);
        assert_eq!(budget.admit(1e6 + 59_000.0), None, "not yet a token back");
        assert_eq!(budget.admit(1e6 + 61_000.0), Some(3));
    }

    proptest! {
        /// Whatever the arrival pattern: every record is either let through or counted exactly
        /// once, and no minute lets through more than twice the budget.
        #[test]
        fn nothing_is_lost_from_the_count_and_every_minute_is_bounded(
            per_minute in 1u32..50,
            gaps in proptest::collection::vec(0.0f64..5_000.0, 1..600),
        ) {
            let mut budget = Budget::per_minute(per_minute);
            let (mut now, mut admitted_at, mut reported) = (0.0, Vec::new(), 0u64);
            for gap in &gaps {
                now += gap;
                if let Some(held_back) = budget.admit(now) {
                    admitted_at.push(now);
                    reported += 1 + held_back;
                }
            }
            prop_assert_eq!(reported + budget.suppressed, gaps.len() as u64);
            for (i, start) in admitted_at.iter().enumerate() {
                let in_minute = admitted_at[i..].iter().take_while(|t| **t < start + 60_000.0).count();
                prop_assert!(in_minute as u32 <= 2 * per_minute, "{} in a minute", in_minute);
            }
        }
    }
}
