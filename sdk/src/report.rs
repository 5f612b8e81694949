//! The SDK's one voice: rate-limited warnings to the devtools console.
//!
//! Nothing inside the SDK may panic or throw into the host page. When something goes wrong on a
//! hot path (an export fails, the queue is full, configuration is off), it is reported here,
//! at most once per [`REPORT_INTERVAL_MS`] for each [`Problem`], and the app keeps running.

use std::cell::RefCell;

/// Minimum time between two console warnings about the same kind of problem.
pub(crate) const REPORT_INTERVAL_MS: f64 = 30_000.0;

/// The kinds of problem the SDK reports; each is rate-limited on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    QueueFull,
    ExportFailed,
    Config,
}

impl Problem {
    const COUNT: usize = 3;

    fn index(self) -> usize {
        match self {
            Problem::QueueFull => 0,
            Problem::ExportFailed => 1,
            Problem::Config => 2,
        }
    }
}

thread_local! {
    static LAST_REPORTED: RefCell<[Option<f64>; Problem::COUNT]> =
        const { RefCell::new([None; Problem::COUNT]) };
}

/// Reports the message unless a problem of the same kind was reported in the last
/// [`REPORT_INTERVAL_MS`]. The message is built only when it is reported, so callers on hot
/// paths (a full queue drops every span) pay nothing while rate-limited. Returns whether it was
/// reported.
pub(crate) fn warn(problem: Problem, message: impl FnOnce() -> String) -> bool {
    let now = crate::platform::clock::monotonic_ms();
    let due = LAST_REPORTED
        .try_with(|last| {
            let Ok(mut last) = last.try_borrow_mut() else { return false };
            let slot = &mut last[problem.index()];
            let due = slot.is_none_or(|at| now - at >= REPORT_INTERVAL_MS);
            if due {
                *slot = Some(now);
            }
            due
        })
        .unwrap_or(false);
    if due {
        crate::platform::console::warn(&format!("[otel-web] {}", message()));
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_problem_is_reported_once_per_interval() {
        assert!(warn(Problem::QueueFull, || "first".into()));
        assert!(!warn(Problem::QueueFull, || unreachable!("a rate-limited message is never built")));
        // Another kind of problem has its own budget.
        assert!(warn(Problem::ExportFailed, || "other kind".into()));
    }
}
