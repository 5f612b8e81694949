//! Estimating the offset between the browser's clock and the server's, NTP-style, from each
//! response that carries the server's timestamp.
//!
//! With `t0` the browser's time when the request left, `t1` the server's time when it arrived,
//! `t2 = t1 + server duration` when the answer left, and `t3` the browser's time when the first
//! byte came back:
//!
//! ```text
//! offset = ((t1 − t0) + (t2 − t3)) / 2        (server − browser)
//! delay  = (t3 − t0) − (t2 − t1)              (the network round trip)
//! ```
//!
//! The estimate is the offset of the sample with the smallest delay among the last
//! [`SAMPLES`] (NTP's clock filter): asymmetric queueing inflates the delay, so the fastest
//! exchange is the most trustworthy.

/// Samples kept.
pub const SAMPLES: usize = 8;

/// One exchange's timestamps, epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exchange {
    /// Browser: request sent.
    pub t0: f64,
    /// Server: request received.
    pub t1: f64,
    /// Server: response sent.
    pub t2: f64,
    /// Browser: response started arriving.
    pub t3: f64,
}

impl Exchange {
    /// `(offset, delay)` in milliseconds.
    pub fn offset_and_delay(&self) -> (f64, f64) {
        let offset = ((self.t1 - self.t0) + (self.t2 - self.t3)) / 2.0;
        let delay = (self.t3 - self.t0) - (self.t2 - self.t1);
        (offset, delay)
    }
}

/// The smoothed clock-offset estimate.
#[derive(Debug, Clone, Default)]
pub struct SkewEstimator {
    samples: Vec<(f64, f64)>,
    next: usize,
}

impl SkewEstimator {
    /// Adds an exchange; exchanges with impossible timings (negative delay beyond a
    /// millisecond of rounding) are ignored. Returns the new estimate.
    pub fn add(&mut self, exchange: Exchange) -> Option<f64> {
        let (offset, delay) = exchange.offset_and_delay();
        if offset.is_finite() && delay.is_finite() && delay >= -1.0 {
            let sample = (offset, delay.max(0.0));
            if self.samples.len() < SAMPLES {
                self.samples.push(sample);
            } else {
                self.samples[self.next] = sample;
            }
            self.next = (self.next + 1) % SAMPLES;
        }
        self.estimate()
    }

    /// Server minus browser clock, milliseconds.
    pub fn estimate(&self) -> Option<f64> {
        self.samples.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map(|s| s.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(skew: f64, up: f64, server: f64, down: f64, at: f64) -> Exchange {
        Exchange { t0: at, t1: at + up + skew, t2: at + up + skew + server, t3: at + up + server + down }
    }

    #[test]
    fn a_symmetric_exchange_gives_the_exact_offset() {
        for skew in [5_000.0, -5_000.0, 0.0] {
            let (offset, delay) = exchange(skew, 10.0, 3.0, 10.0, 1.7e12).offset_and_delay();
            assert!((offset - skew).abs() < 1e-6, "{offset} vs {skew}");
            assert!((delay - 20.0).abs() < 1e-6);
        }
    }

    #[test]
    fn the_fastest_exchange_wins_over_congested_ones() {
        let mut estimator = SkewEstimator::default();
        estimator.add(exchange(5_000.0, 200.0, 3.0, 5.0, 0.0)); // queued upstream: off by ~97 ms
        estimator.add(exchange(5_000.0, 5.0, 3.0, 300.0, 1e3)); // queued downstream
        let estimate = estimator.add(exchange(5_000.0, 2.0, 3.0, 2.0, 2e3)).expect("estimate");
        assert!((estimate - 5_000.0).abs() < 1e-6, "{estimate}");
    }

    #[test]
    fn old_samples_age_out_and_nonsense_is_ignored() {
        let mut estimator = SkewEstimator::default();
        estimator.add(exchange(1_000.0, 1.0, 1.0, 1.0, 0.0));
        for i in 0..SAMPLES {
            estimator.add(exchange(-2_000.0, 5.0, 1.0, 5.0, i as f64 * 1e3));
        }
        assert_eq!(estimator.estimate(), Some(-2_000.0));
        let nonsense = Exchange { t0: 10.0, t1: 0.0, t2: 100.0, t3: 11.0 };
        assert_eq!(estimator.add(nonsense), Some(-2_000.0));
        assert_eq!(SkewEstimator::default().add(Exchange { t0: f64::NAN, t1: 0.0, t2: 0.0, t3: 0.0 }), None);
    }
}
