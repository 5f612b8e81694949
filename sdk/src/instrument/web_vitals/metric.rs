//! One vital's measurement, as Google's `web-vitals` reports it: its value, the rating by
//! Google's thresholds, and the delta since the previous report of the same measurement.

/// The five vitals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vital {
    /// Largest Contentful Paint, ms.
    Lcp,
    /// Interaction to Next Paint, ms.
    Inp,
    /// Cumulative Layout Shift, unitless.
    Cls,
    /// First Contentful Paint, ms.
    Fcp,
    /// Time to First Byte, ms.
    Ttfb,
}

impl Vital {
    /// `browser.web_vital.name` (lower case, as the semantic conventions' examples) and the
    /// span name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Vital::Lcp => "lcp",
            Vital::Inp => "inp",
            Vital::Cls => "cls",
            Vital::Fcp => "fcp",
            Vital::Ttfb => "ttfb",
        }
    }

    /// Google's thresholds: at most the first is good, above the second is poor.
    pub(crate) fn thresholds(self) -> (f64, f64) {
        match self {
            Vital::Lcp => (2500.0, 4000.0),
            Vital::Inp => (200.0, 500.0),
            Vital::Cls => (0.1, 0.25),
            Vital::Fcp => (1800.0, 3000.0),
            Vital::Ttfb => (800.0, 1800.0),
        }
    }

    /// `good`, `needs-improvement` or `poor` for `value`.
    pub(crate) fn rating(self, value: f64) -> &'static str {
        let (good, poor) = self.thresholds();
        if value > poor {
            "poor"
        } else if value > good {
            "needs-improvement"
        } else {
            "good"
        }
    }
}

/// One measurement of a vital (the page load, or the page after a bfcache restore).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metric {
    pub(crate) vital: Vital,
    /// Negative until there is a value.
    pub(crate) value: f64,
    /// `browser.web_vital.id`: the same across the reports of one measurement.
    pub(crate) id: String,
    /// `navigate`, `reload`, `back-forward`, `back-forward-cache`, `prerender` or `restore`.
    pub(crate) navigation_type: &'static str,
    /// The value last reported, if any.
    reported: Option<f64>,
}

/// What a report says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reported {
    pub(crate) value: f64,
    pub(crate) delta: f64,
    pub(crate) rating: &'static str,
}

impl Metric {
    pub(crate) fn new(vital: Vital, value: f64, id: String, navigation_type: &'static str) -> Self {
        Self { vital, value, id, navigation_type, reported: None }
    }

    /// `web-vitals`' reporter without `reportAllChanges`: a forced report goes out when the
    /// value is known (not negative) and changed since the last report — or was never
    /// reported, even at zero.
    pub(crate) fn report(&mut self) -> Option<Reported> {
        if self.value < 0.0 || self.value.is_nan() {
            return None;
        }
        let delta = self.value - self.reported.unwrap_or(0.0);
        if delta == 0.0 && self.reported.is_some() {
            return None;
        }
        self.reported = Some(self.value);
        Some(Reported { value: self.value, delta, rating: self.vital.rating(self.value) })
    }
}

/// `navigation_type` from the navigation entry's `type` (`back_forward` → `back-forward`).
pub(crate) fn navigation_type(entry_type: &str) -> &'static str {
    match entry_type {
        "reload" => "reload",
        "back_forward" => "back-forward",
        "prerender" => "prerender",
        _ => "navigate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_follow_googles_thresholds_inclusive_of_good() {
        assert_eq!(Vital::Lcp.rating(2500.0), "good");
        assert_eq!(Vital::Lcp.rating(2500.1), "needs-improvement");
        assert_eq!(Vital::Lcp.rating(4000.0), "needs-improvement");
        assert_eq!(Vital::Lcp.rating(4000.1), "poor");
        assert_eq!(Vital::Cls.rating(0.1), "good");
        assert_eq!(Vital::Cls.rating(0.25), "needs-improvement");
        assert_eq!(Vital::Cls.rating(0.2501), "poor");
        assert_eq!(Vital::Inp.rating(200.0), "good");
        assert_eq!(Vital::Inp.rating(504.0), "poor");
        assert_eq!(Vital::Fcp.rating(1801.0), "needs-improvement");
        assert_eq!(Vital::Ttfb.rating(1800.0), "needs-improvement");
        assert_eq!(Vital::Ttfb.rating(1800.5), "poor");
    }

    #[test]
    fn a_metric_reports_once_per_change_and_a_first_zero() {
        let mut cls = Metric::new(Vital::Cls, 0.0, "id".into(), "navigate");
        assert_eq!(cls.report(), Some(Reported { value: 0.0, delta: 0.0, rating: "good" }));
        assert_eq!(cls.report(), None, "unchanged");
        cls.value = 0.3;
        assert_eq!(cls.report(), Some(Reported { value: 0.3, delta: 0.3, rating: "poor" }));
        cls.value = 0.35;
        let again = cls.report().expect("changed");
        assert!((again.delta - 0.05).abs() < 1e-12);
        let mut lcp = Metric::new(Vital::Lcp, -1.0, "id".into(), "navigate");
        assert_eq!(lcp.report(), None, "no value yet");
    }

    #[test]
    fn navigation_types_use_hyphens() {
        assert_eq!(navigation_type("back_forward"), "back-forward");
        assert_eq!(navigation_type("navigate"), "navigate");
        assert_eq!(navigation_type("reload"), "reload");
    }
}
