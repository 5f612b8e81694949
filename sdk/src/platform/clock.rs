//! Wall-clock timestamps with sub-millisecond resolution, safe across sleep and suspend.
//!
//! A span's time is `anchor + performance.now()`, where the anchor starts as
//! `performance.timeOrigin`. `performance.now()` is monotonic and precise, but after the machine
//! sleeps it can stop advancing while `Date.now()` jumps ahead, so `timeOrigin + now()` drifts
//! away from the wall clock by the length of the sleep and spans would be back-dated by hours.
//! The clock therefore compares itself with `Date.now()` at most once per
//! [`DRIFT_CHECK_INTERVAL_MS`] of monotonic time (and whenever the page becomes visible again)
//! and re-anchors when the two disagree by more than [`DRIFT_TOLERANCE_MS`].
//!
//! `SystemTime::now()` is never used: it panics on `wasm32-unknown-unknown`.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far `anchor + performance.now()` may stray from `Date.now()` before re-anchoring.
pub(crate) const DRIFT_TOLERANCE_MS: f64 = 250.0;
/// How often (in monotonic milliseconds) the clock compares itself with `Date.now()`.
pub(crate) const DRIFT_CHECK_INTERVAL_MS: f64 = 1_000.0;

#[derive(Debug, Clone, Copy)]
struct Anchor {
    /// Epoch milliseconds at which the monotonic clock read zero.
    epoch_ms: f64,
    /// The monotonic time of the last comparison with the wall clock.
    checked_at: f64,
}

thread_local! {
    static ANCHOR: Cell<Option<Anchor>> = const { Cell::new(None) };
}

/// Milliseconds on the monotonic clock (`performance.now()` in the browser).
pub(crate) fn monotonic_ms() -> f64 {
    imp::monotonic_ms()
}

/// The current time in nanoseconds since the Unix epoch.
pub(crate) fn now_unix_nanos() -> u64 {
    mono_to_unix_nanos(monotonic_ms())
}

/// Epoch nanoseconds of a time on the monotonic clock (`performance.now()`, or a resource
/// timing entry's fields), through the same anchor as every other timestamp.
pub(crate) fn mono_to_unix_nanos(mono: f64) -> u64 {
    let anchor = ANCHOR.with(|cell| {
        let anchor = match cell.get() {
            Some(anchor) if mono - anchor.checked_at < DRIFT_CHECK_INTERVAL_MS => anchor,
            Some(anchor) => recheck(anchor, mono, imp::wall_ms()),
            None => Anchor { epoch_ms: imp::time_origin_ms(), checked_at: mono },
        };
        cell.set(Some(anchor));
        anchor
    });
    ms_to_nanos(anchor.epoch_ms + mono)
}

/// Compares the clock with `Date.now()` right away (after the page becomes visible again, say)
/// and returns the correction applied in milliseconds, if any.
pub(crate) fn check_drift_now() -> Option<f64> {
    let mono = monotonic_ms();
    ANCHOR.with(|cell| {
        let before = cell.get()?;
        let after = recheck(before, mono, imp::wall_ms());
        cell.set(Some(after));
        let correction = after.epoch_ms - before.epoch_ms;
        (correction != 0.0).then_some(correction)
    })
}

#[cfg(feature = "clock-skew")]
thread_local! {
    static EXPORT_SHIFT_MS: Cell<f64> = const { Cell::new(0.0) };
}

/// Sets the shift added to every span's timestamps when it ends, to express browser times in
/// the server's clock (clock-skew correction). Zero turns it off.
#[cfg(feature = "clock-skew")]
pub(crate) fn set_export_shift_ms(shift: f64) {
    EXPORT_SHIFT_MS.with(|s| s.set(if shift.is_finite() { shift } else { 0.0 }));
}

/// The current export shift in milliseconds.
#[cfg(feature = "clock-skew")]
pub(crate) fn export_shift_ms() -> f64 {
    EXPORT_SHIFT_MS.with(Cell::get)
}

/// Adds `shift_ms` to an epoch-nanosecond timestamp.
#[cfg(feature = "clock-skew")]
pub(crate) fn shifted(unix_nanos: u64, shift_ms: f64) -> u64 {
    let shift = (shift_ms * 1e6).round() as i64;
    unix_nanos.saturating_add_signed(shift)
}

fn recheck(anchor: Anchor, mono: f64, wall: f64) -> Anchor {
    let drift = wall - (anchor.epoch_ms + mono);
    let epoch_ms = if drift.abs() > DRIFT_TOLERANCE_MS { wall - mono } else { anchor.epoch_ms };
    Anchor { epoch_ms, checked_at: mono }
}

/// Converts epoch milliseconds (as `f64`) to nanoseconds without losing the sub-millisecond part
/// to `f64` rounding at epoch magnitudes.
pub(crate) fn ms_to_nanos(ms: f64) -> u64 {
    if ms.is_nan() || ms <= 0.0 {
        return 0;
    }
    let whole = ms.trunc();
    (whole as u64).saturating_mul(1_000_000).saturating_add(((ms - whole) * 1e6).round() as u64)
}

/// `SystemTime` for the API's `*_with_timestamp` methods (built from the epoch, never `now()`).
pub(crate) fn to_system_time(unix_nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(unix_nanos)
}

/// Nanoseconds since the epoch of a `SystemTime` handed in by the application.
pub(crate) fn from_system_time(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_nanos().min(u64::MAX as u128) as u64).unwrap_or(0)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = performance, js_name = now)]
        fn performance_now() -> f64;
        #[wasm_bindgen(js_namespace = Date, js_name = now)]
        fn date_now() -> f64;
    }

    thread_local! {
        static HAS_PERFORMANCE: bool = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
            .map(|p| p.is_object())
            .unwrap_or(false);
    }

    pub(super) fn monotonic_ms() -> f64 {
        if HAS_PERFORMANCE.with(|has| *has) { performance_now() } else { date_now() }
    }

    pub(super) fn wall_ms() -> f64 {
        date_now()
    }

    pub(super) fn time_origin_ms() -> f64 {
        if !HAS_PERFORMANCE.with(|has| *has) {
            return 0.0;
        }
        js_sys::Reflect::get(&js_sys::global(), &"performance".into())
            .and_then(|p| js_sys::Reflect::get(&p, &"timeOrigin".into()))
            .ok()
            .and_then(|v| v.as_f64())
            .filter(|origin| *origin > 0.0)
            .unwrap_or_else(|| date_now() - performance_now())
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::sync::OnceLock;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    static START: OnceLock<(Instant, f64)> = OnceLock::new();

    fn start() -> (Instant, f64) {
        *START.get_or_init(|| (Instant::now(), wall_ms()))
    }

    pub(super) fn monotonic_ms() -> f64 {
        start().0.elapsed().as_secs_f64() * 1e3
    }

    pub(super) fn wall_ms() -> f64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
    }

    pub(super) fn time_origin_ms() -> f64 {
        start().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_drift_keeps_the_precise_anchor() {
        let anchor = Anchor { epoch_ms: 1_700_000_000_000.0, checked_at: 0.0 };
        let after = recheck(anchor, 5_000.0, 1_700_000_005_100.0);
        assert_eq!(after.epoch_ms, anchor.epoch_ms);
        assert_eq!(after.checked_at, 5_000.0);
    }

    #[test]
    fn a_sleep_that_froze_the_monotonic_clock_re_anchors() {
        // The machine slept for two hours; performance.now() only advanced by 5 s.
        let anchor = Anchor { epoch_ms: 1_700_000_000_000.0, checked_at: 0.0 };
        let wall = 1_700_000_000_000.0 + 2.0 * 3_600_000.0 + 5_000.0;
        let after = recheck(anchor, 5_000.0, wall);
        assert_eq!(after.epoch_ms + 5_000.0, wall);
    }

    #[test]
    fn nanosecond_conversion_keeps_sub_millisecond_precision() {
        // f64 holds epoch milliseconds to about 0.2 µs.
        assert!(ms_to_nanos(1_700_000_000_123.456).abs_diff(1_700_000_000_123_456_000) < 1_000);
        assert_eq!(ms_to_nanos(-1.0), 0);
        assert_eq!(ms_to_nanos(f64::NAN), 0);
        assert_eq!(from_system_time(to_system_time(42_000_000_123)), 42_000_000_123);
    }

    #[test]
    fn now_is_monotonic_and_near_the_wall_clock() {
        let a = now_unix_nanos();
        let b = now_unix_nanos();
        assert!(b >= a);
        let wall = imp::wall_ms();
        assert!((a as f64 / 1e6 - wall).abs() < 1_000.0);
    }
}
