//! The session record and every decision about it, as pure functions of `(record, now)`: when
//! a session has expired, which of two tabs' records wins, whether a session is sampled, and
//! the record's text form in `localStorage`. No browser here, so all of it is tested natively
//! with made-up clocks.

use std::fmt;

/// Epoch milliseconds (`Date.now()` scale), the time base every tab shares.
pub(crate) type EpochMs = f64;

/// How far a record's start may lie in the future before it is distrusted: the user set the
/// clock back, or another tab's clock runs ahead.
pub(crate) const CLOCK_SLACK_MS: f64 = 60_000.0;

/// A session id: 128 random bits, written as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SessionId(pub(crate) u128);

impl SessionId {
    /// Parses 32 hex digits (either case); the all-zero id is invalid.
    pub(crate) fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(hex, 16).ok().filter(|v| *v != 0).map(SessionId)
    }

    /// Where this session falls in `[0, 1)`: a fixed mix of all its bits, so any tab (or any
    /// later page) makes the same sampling decision for it.
    pub(crate) fn unit(self) -> f64 {
        let folded = (self.0 as u64) ^ ((self.0 >> 64) as u64);
        // SplitMix64's finalizer: every input bit moves every output bit.
        let mut z = folded.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether a session-consistent sampler at `ratio` keeps this session.
    pub(crate) fn is_sampled(self, ratio: f64) -> bool {
        ratio >= 1.0 || self.unit() < ratio
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Policy {
    /// A session ends after this long without activity.
    pub(crate) inactivity_timeout_ms: f64,
    /// A session ends this long after it started, active or not.
    pub(crate) max_duration_ms: f64,
}

/// The shared state of a session, as every tab of the origin sees it in `localStorage`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Record {
    pub(crate) id: SessionId,
    /// When the session started.
    pub(crate) started_ms: EpochMs,
    /// The last activity (a span started, user input) any tab recorded.
    pub(crate) last_activity_ms: EpochMs,
}

impl Record {
    /// A session starting now.
    pub(crate) fn new(id: SessionId, now: EpochMs) -> Self {
        let now = now.max(0.0).floor();
        Record { id, started_ms: now, last_activity_ms: now }
    }

    /// When this session ends if nothing more happens: after the inactivity timeout, or at
    /// its maximum length, whichever comes first.
    pub(crate) fn expires_at(&self, policy: &Policy) -> EpochMs {
        (self.last_activity_ms + policy.inactivity_timeout_ms).min(self.started_ms + policy.max_duration_ms)
    }

    /// Whether the session is over at `now`: at exactly the timeout it is. A session that
    /// claims to start well in the future (a clock set back) is over too.
    pub(crate) fn is_expired(&self, now: EpochMs, policy: &Policy) -> bool {
        now >= self.expires_at(policy) || now + CLOCK_SLACK_MS < self.started_ms
    }

    /// Records activity at `now` (never moving the last activity back).
    pub(crate) fn touch(&mut self, now: EpochMs) {
        self.last_activity_ms = self.last_activity_ms.max(now.floor());
    }

    /// The text kept in `localStorage`: `1:<id>:<started ms>:<last activity ms>`.
    pub(crate) fn encode(&self) -> String {
        format!("1:{}:{}:{}", self.id, self.started_ms as u64, self.last_activity_ms as u64)
    }

    /// Reads [`encode`](Self::encode)'s text, strictly: anything else (another version,
    /// another script's data, a truncated write) is `None`, never a panic. The text is
    /// canonical: what parses re-encodes to the same string.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let (Some("1"), Some(id), Some(started), Some(last), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        // Lowercase only, so that the text is canonical.
        if id.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let id = SessionId::from_hex(id)?;
        let (started, last) = (millis(started)?, millis(last)?);
        (started <= last).then_some(Record { id, started_ms: started, last_activity_ms: last })
    }
}

/// Whole epoch milliseconds in canonical decimal (no sign, no leading zeros), exact in an f64.
fn millis(text: &str) -> Option<f64> {
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    let value: u64 = text.parse().ok()?;
    (value < 1 << 53).then_some(value as f64)
}

/// What a tab does with the record another tab wrote (or that it read back).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Reconcile {
    /// Same session: keep it, with the later of the two activity times.
    Merge { last_activity_ms: EpochMs },
    /// Another, newer live session: switch to it.
    Adopt(Record),
    /// Keep ours; `rewrite` when ours should replace what is stored (the stored one is gone,
    /// unreadable, over, or loses to ours).
    Keep { rewrite: bool },
}

/// Decides between this tab's record and the stored one. Every tab applies the same total
/// order (later start, then larger id), so tabs that started sessions at the same moment
/// converge on one.
pub(crate) fn reconcile(own: &Record, stored: Option<&Record>, now: EpochMs, policy: &Policy) -> Reconcile {
    let own_live = !own.is_expired(now, policy);
    match stored {
        None => Reconcile::Keep { rewrite: own_live },
        Some(stored) if stored.id == own.id => {
            Reconcile::Merge { last_activity_ms: stored.last_activity_ms.max(own.last_activity_ms) }
        }
        Some(stored) if stored.is_expired(now, policy) => Reconcile::Keep { rewrite: own_live },
        Some(stored) if !own_live || (stored.started_ms, stored.id) > (own.started_ms, own.id) => {
            Reconcile::Adopt(*stored)
        }
        Some(_) => Reconcile::Keep { rewrite: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: f64 = 60_000.0;
    const HOUR: f64 = 60.0 * MIN;
    const T0: f64 = 1_700_000_000_000.0;
    const POLICY: Policy = Policy { inactivity_timeout_ms: 15.0 * MIN, max_duration_ms: 4.0 * HOUR };

    fn record(id: u128, started: f64, last: f64) -> Record {
        Record { id: SessionId(id), started_ms: started, last_activity_ms: last }
    }

    #[test]
    fn a_session_expires_at_exactly_fifteen_minutes_without_activity() {
        let r = record(1, T0, T0);
        assert!(!r.is_expired(T0 + 15.0 * MIN - 1.0, &POLICY));
        assert!(r.is_expired(T0 + 15.0 * MIN, &POLICY));
    }

    #[test]
    fn activity_pushes_the_inactivity_deadline_but_not_the_four_hour_limit() {
        let mut r = record(1, T0, T0);
        let mut now = T0;
        while now + 10.0 * MIN < T0 + 4.0 * HOUR {
            now += 10.0 * MIN;
            assert!(!r.is_expired(now, &POLICY), "active at {} min", (now - T0) / MIN);
            r.touch(now);
        }
        assert_eq!(r.expires_at(&POLICY), T0 + 4.0 * HOUR);
        assert!(!r.is_expired(T0 + 4.0 * HOUR - 1.0, &POLICY));
        assert!(r.is_expired(T0 + 4.0 * HOUR, &POLICY));
    }

    #[test]
    fn touching_never_moves_activity_back() {
        let mut r = record(1, T0, T0 + MIN);
        r.touch(T0);
        assert_eq!(r.last_activity_ms, T0 + MIN);
    }

    #[test]
    fn a_session_from_the_future_is_distrusted() {
        let r = record(1, T0 + 2.0 * MIN, T0 + 2.0 * MIN);
        assert!(!r.is_expired(T0 + 2.0 * MIN - CLOCK_SLACK_MS + 1.0, &POLICY));
        assert!(r.is_expired(T0, &POLICY), "a clock set back two minutes starts a new session");
    }

    #[test]
    fn records_round_trip_through_their_text() {
        let r = record(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef, T0, T0 + 1234.0);
        let text = r.encode();
        assert_eq!(text, "1:0123456789abcdef0123456789abcdef:1700000000000:1700000001234");
        assert_eq!(Record::parse(&text), Some(r));
    }

    #[test]
    fn foreign_or_damaged_text_is_not_a_record() {
        for text in [
            "",
            "1",
            "2:0123456789abcdef0123456789abcdef:1:2",
            "1:0123456789abcdef0123456789abcdef:1:2:3",
            "1:0123456789abcdef0123456789abcdef:2:1",
            "1:00000000000000000000000000000000:1:2",
            "1:0123456789ABCDEF0123456789abcdef:1:2",
            "1:0123456789abcdef0123456789abcde:1:2",
            "1:0123456789abcdef0123456789abcdef:+1:2",
            "1:0123456789abcdef0123456789abcdef:01:2",
            "1:0123456789abcdef0123456789abcdef:1:99999999999999999",
            "1:0123456789abcdef0123456789abcdef:-1:2",
            "{\"id\":\"x\"}",
        ] {
            assert_eq!(Record::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_same_session_merges_to_the_latest_activity() {
        let own = record(7, T0, T0 + MIN);
        let stored = record(7, T0, T0 + 2.0 * MIN);
        let now = T0 + 3.0 * MIN;
        assert_eq!(
            reconcile(&own, Some(&stored), now, &POLICY),
            Reconcile::Merge { last_activity_ms: T0 + 2.0 * MIN }
        );
        assert_eq!(
            reconcile(&stored, Some(&own), now, &POLICY),
            Reconcile::Merge { last_activity_ms: T0 + 2.0 * MIN }
        );
    }

    #[test]
    fn two_tabs_that_started_sessions_at_once_converge_on_one() {
        let a = record(1, T0, T0);
        let b = record(2, T0, T0);
        let c = record(3, T0 + 1.0, T0 + 1.0);
        let now = T0 + 2.0;
        // Whatever each tab holds and whatever it reads, both end on the winner.
        for (own, other, winner) in [(a, b, b), (b, a, b), (a, c, c), (c, a, c), (b, c, c)] {
            let kept = match reconcile(&own, Some(&other), now, &POLICY) {
                Reconcile::Adopt(r) => r,
                Reconcile::Keep { rewrite } => {
                    assert!(rewrite, "the winner is written back so the store converges");
                    own
                }
                Reconcile::Merge { .. } => unreachable!("different ids"),
            };
            assert_eq!(kept, winner);
        }
    }

    #[test]
    fn an_expired_record_never_replaces_a_live_one_and_a_live_one_replaces_an_expired_one() {
        let live = record(1, T0, T0 + 20.0 * MIN);
        let dead = record(2, T0 + 1.0, T0 + 1.0);
        let now = T0 + 21.0 * MIN;
        assert_eq!(reconcile(&live, Some(&dead), now, &POLICY), Reconcile::Keep { rewrite: true });
        assert_eq!(reconcile(&dead, Some(&live), now, &POLICY), Reconcile::Adopt(live));
        // A removed or unreadable record is replaced by ours while ours lives.
        assert_eq!(reconcile(&live, None, now, &POLICY), Reconcile::Keep { rewrite: true });
        assert_eq!(reconcile(&dead, None, now, &POLICY), Reconcile::Keep { rewrite: false });
    }

    #[test]
    fn sampling_by_session_id_is_deterministic_and_near_the_ratio() {
        let ids: Vec<SessionId> =
            (0..20_000).map(|_| SessionId(crate::platform::random::nonzero_u128())).collect();
        for ratio in [0.1, 0.5, 0.9] {
            let kept = ids.iter().filter(|id| id.is_sampled(ratio)).count() as f64 / ids.len() as f64;
            assert!((kept - ratio).abs() < 0.02, "ratio {ratio}: kept {kept}");
        }
        assert!(ids.iter().all(|id| id.is_sampled(0.3) == id.is_sampled(0.3)));
        assert!(ids.iter().all(|id| id.is_sampled(1.0) && !id.is_sampled(0.0)));
        // A session kept at 10% is kept at 50% too.
        assert!(ids.iter().filter(|id| id.is_sampled(0.1)).all(|id| id.is_sampled(0.5)));
        // Ids that differ in one bit fall anywhere: no clustering of sequential ids.
        let sequential = (1..=10_000u128).filter(|n| SessionId(*n).is_sampled(0.5)).count();
        assert!((4_500..5_500).contains(&sequential), "{sequential}");
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parsing_any_text_never_panics_and_what_parses_is_canonical(text in ".{0,80}") {
                if let Some(r) = Record::parse(&text) {
                    prop_assert_eq!(r.encode(), text);
                }
            }

            #[test]
            fn near_records_parse_back(
                id in 1u128..,
                started in 0u64..(1 << 52),
                extra in 0u64..(1 << 40),
                cut in 0usize..80,
            ) {
                let r = record(id, started as f64, (started + extra) as f64);
                let text = r.encode();
                prop_assert_eq!(Record::parse(&text), Some(r));
                // Truncated writes are never misread as another record.
                let cut = cut.min(text.len());
                if let Some(partial) = Record::parse(&text[..cut]) {
                    prop_assert_eq!(partial.encode(), &text[..cut]);
                }
            }

            #[test]
            fn reconciling_is_a_total_order(
                a in (1u128..5, 0u64..4, 0u64..4),
                b in (1u128..5, 0u64..4, 0u64..4),
            ) {
                let a = record(a.0, T0 + a.1 as f64, T0 + (a.1 + a.2) as f64);
                let b = record(b.0, T0 + b.1 as f64, T0 + (b.1 + b.2) as f64);
                let now = T0 + 10.0;
                let pick = |own: &Record, other: &Record| match reconcile(own, Some(other), now, &POLICY) {
                    Reconcile::Adopt(r) => r.id,
                    _ => own.id,
                };
                // Both tabs end on the same session, whichever record each started with.
                prop_assert_eq!(pick(&a, &b), pick(&b, &a));
            }
        }
    }
}
