//! Cumulative Layout Shift: the largest session window of layout shifts — shifts less than
//! 1 s apart, the window at most 5 s long — leaving out shifts right after input
//! (`hadRecentInput`). The attribution is the largest shift of that window and its first
//! element source.

/// One `layout-shift` entry, as the window needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shift {
    pub(crate) start_time: f64,
    pub(crate) value: f64,
    pub(crate) had_recent_input: bool,
    /// The selector of the shift's largest source (its first element source), if any.
    pub(crate) target: Option<String>,
}

/// The current session window and the largest one so far.
#[derive(Debug, Default)]
pub(crate) struct SessionWindows {
    session_value: f64,
    session: Vec<Shift>,
    /// The CLS value: the largest window's sum.
    pub(crate) value: f64,
    /// The shifts of the largest window.
    pub(crate) entries: Vec<Shift>,
}

/// Gap after which a shift starts a new window, ms.
const MAX_GAP_MS: f64 = 1000.0;
/// The longest a window lasts, ms.
const MAX_WINDOW_MS: f64 = 5000.0;

impl SessionWindows {
    /// Adds one shift (entries in the order the browser delivers them).
    pub(crate) fn add(&mut self, shift: Shift) {
        if shift.had_recent_input {
            return;
        }
        let continues = match (self.session.first(), self.session.last()) {
            (Some(first), Some(last)) => {
                self.session_value != 0.0
                    && shift.start_time - last.start_time < MAX_GAP_MS
                    && shift.start_time - first.start_time < MAX_WINDOW_MS
            }
            _ => false,
        };
        if continues {
            self.session_value += shift.value;
            self.session.push(shift);
        } else {
            self.session_value = shift.value;
            self.session = vec![shift];
        }
    }

    /// Takes the current window as the value if it is the largest (after each batch).
    pub(crate) fn update(&mut self) {
        if self.session_value > self.value {
            self.value = self.session_value;
            self.entries = self.session.clone();
        }
    }

    /// Starts again at zero (a bfcache restore); the current window is forgotten too.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// The largest shift of the largest window (the later of equals, as `web-vitals`' reduce).
    pub(crate) fn largest_shift(&self) -> Option<&Shift> {
        let mut entries = self.entries.iter();
        let first = entries.next()?;
        Some(entries.fold(first, |a, b| if a.value > b.value { a } else { b }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shift(start_time: f64, value: f64) -> Shift {
        Shift { start_time, value, had_recent_input: false, target: None }
    }

    fn cls(shifts: &[Shift]) -> f64 {
        let mut windows = SessionWindows::default();
        for s in shifts {
            windows.add(s.clone());
            windows.update();
        }
        windows.value
    }

    #[test]
    fn shifts_less_than_a_second_apart_add_up() {
        assert!((cls(&[shift(100.0, 0.1), shift(900.0, 0.05)]) - 0.15).abs() < 1e-12);
    }

    #[test]
    fn a_gap_of_one_second_starts_a_new_window_and_the_largest_wins() {
        let value = cls(&[shift(0.0, 0.1), shift(1000.0, 0.05), shift(1500.0, 0.04)]);
        assert!((value - 0.1).abs() < 1e-12, "{value}");
    }

    #[test]
    fn a_window_is_capped_at_five_seconds() {
        let shifts: Vec<Shift> = (0..7).map(|i| shift(f64::from(i) * 900.0, 0.01)).collect();
        // 0, 900, …, 4500 (six shifts) are under 5 s from the first; 5400 starts a new window.
        assert!((cls(&shifts) - 0.06).abs() < 1e-12);
    }

    #[test]
    fn shifts_after_recent_input_are_left_out() {
        let mut input = shift(200.0, 0.5);
        input.had_recent_input = true;
        assert!((cls(&[shift(100.0, 0.01), input]) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn the_largest_shift_of_the_largest_window_is_the_attribution() {
        let mut windows = SessionWindows::default();
        for (t, v) in [(0.0, 0.01), (100.0, 0.2), (200.0, 0.2), (3000.0, 0.3)] {
            windows.add(shift(t, v));
            windows.update();
        }
        assert!((windows.value - 0.41).abs() < 1e-12);
        assert_eq!(windows.largest_shift().map(|s| s.start_time), Some(200.0), "the later of equals");
    }
}
