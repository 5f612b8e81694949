//! One tab's view of the session: the current [`Record`], kept in step with a [`Store`] that
//! every tab shares. Time is a parameter of every method, so the rollovers are tested natively
//! with an injected clock; the browser glue only supplies `now` and `localStorage`.

use super::record::{EpochMs, Policy, Reconcile, Record, SessionId, reconcile};

/// Where the record is shared between tabs (`localStorage` in the browser). Both methods may
/// fail (storage disabled, full, or refused in a sandboxed frame); the tracker then carries on
/// with the record it holds in memory.
pub(crate) trait Store: std::fmt::Debug {
    /// The stored text, `None` when there is none.
    fn load(&mut self) -> Result<Option<String>, StoreError>;
    /// Replaces the stored text.
    fn save(&mut self, text: &str) -> Result<(), StoreError>;
}

impl<S: Store + ?Sized> Store for Box<S> {
    fn load(&mut self) -> Result<Option<String>, StoreError> {
        (**self).load()
    }

    fn save(&mut self, text: &str) -> Result<(), StoreError> {
        (**self).save(text)
    }
}

/// Why the store failed, for the one console warning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoreError(pub(crate) String);

/// A session that ended, as this tab found out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ended {
    pub(crate) record: Record,
    /// When it ended: its inactivity deadline or its maximum length.
    pub(crate) at_ms: EpochMs,
}

/// A new session this tab started (and wrote for the others).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Started {
    pub(crate) record: Record,
    /// The session it replaces, if one is known.
    pub(crate) previous: Option<Ended>,
}

/// This tab's session.
#[derive(Debug)]
pub(crate) struct Tracker<S> {
    policy: Policy,
    write_interval_ms: f64,
    store: S,
    current: Record,
    /// The last activity time last written to the store.
    written_activity_ms: EpochMs,
    /// The store failed since the last warning.
    failure: Option<StoreError>,
}

impl<S: Store> Tracker<S> {
    /// Resumes the stored session if it is still live, otherwise starts one (the stored,
    /// expired one is its previous session). `new_id` supplies random ids.
    pub(crate) fn begin(
        policy: Policy,
        write_interval_ms: f64,
        store: S,
        now: EpochMs,
        new_id: impl FnOnce() -> SessionId,
    ) -> (Self, Option<Started>) {
        let mut tracker = Tracker {
            policy,
            write_interval_ms,
            store,
            current: Record::new(new_id(), now),
            written_activity_ms: f64::NEG_INFINITY,
            failure: None,
        };
        let stored = tracker.load();
        match stored {
            Some(stored) if !stored.is_expired(now, &policy) => {
                tracker.current = stored;
                tracker.current.touch(now);
                tracker.write();
                (tracker, None)
            }
            _ => {
                let previous = stored.map(|record| Ended { record, at_ms: record.expires_at(&policy) });
                tracker.write();
                let started = Started { record: tracker.current, previous };
                (tracker, Some(started))
            }
        }
    }

    /// The current session.
    pub(crate) fn current(&self) -> &Record {
        &self.current
    }

    /// Activity at `now` (a span started, user input). Rolls over to a new session when the
    /// current one has expired — unless another tab kept it going or already replaced it, which
    /// the store is read again to find out. Writes the store at most once per write interval
    /// otherwise.
    pub(crate) fn touch(&mut self, now: EpochMs, new_id: impl FnOnce() -> SessionId) -> Option<Started> {
        if !self.current.is_expired(now, &self.policy) {
            self.current.touch(now);
            if now - self.written_activity_ms >= self.write_interval_ms {
                self.write();
            }
            return None;
        }
        // Expired here; another tab may know better.
        let stored = self.load();
        if let Some(stored) = stored
            && !stored.is_expired(now, &self.policy)
        {
            self.current = stored;
            self.current.touch(now);
            self.write_if_due(now);
            return None;
        }
        // Over for every tab: report the most recent session this tab knows of as the previous.
        let ended = match stored {
            Some(stored) if (stored.started_ms, stored.id) > (self.current.started_ms, self.current.id) => {
                stored
            }
            _ => self.current,
        };
        self.current = Record::new(new_id(), now);
        self.write();
        Some(Started {
            record: self.current,
            previous: Some(Ended { record: ended, at_ms: ended.expires_at(&self.policy) }),
        })
    }

    /// Another tab changed the store (the `storage` event): reads it and follows a newer
    /// session, keeps the later activity of the same one, or writes ours back when the stored
    /// one lost. Returns the session this tab now uses when it changed.
    pub(crate) fn on_store_changed(&mut self, now: EpochMs) -> Option<Record> {
        let stored = self.load();
        match reconcile(&self.current, stored.as_ref(), now, &self.policy) {
            Reconcile::Merge { last_activity_ms } => {
                self.current.last_activity_ms = last_activity_ms;
                self.written_activity_ms =
                    self.written_activity_ms.max(stored.map_or(0.0, |s| s.last_activity_ms));
                None
            }
            Reconcile::Adopt(record) => {
                self.current = record;
                self.written_activity_ms = record.last_activity_ms;
                Some(record)
            }
            Reconcile::Keep { rewrite: true } => {
                self.write();
                None
            }
            Reconcile::Keep { rewrite: false } => None,
        }
    }

    /// Writes the latest activity if it was not written yet (the page is being hidden).
    pub(crate) fn flush(&mut self) {
        if self.current.last_activity_ms > self.written_activity_ms {
            self.write();
        }
    }

    /// The store's failure since the last call, to be reported once.
    pub(crate) fn take_failure(&mut self) -> Option<StoreError> {
        self.failure.take()
    }

    fn write_if_due(&mut self, now: EpochMs) {
        if now - self.written_activity_ms >= self.write_interval_ms {
            self.write();
        }
    }

    fn load(&mut self) -> Option<Record> {
        match self.store.load() {
            Ok(text) => text.as_deref().and_then(Record::parse),
            Err(e) => {
                self.failure = Some(e);
                None
            }
        }
    }

    fn write(&mut self) {
        // Counted as written even when the store refuses: retrying on every span would only
        // throw again; the next write interval tries anew.
        self.written_activity_ms = self.current.last_activity_ms;
        if let Err(e) = self.store.save(&self.current.encode()) {
            self.failure = Some(e);
        }
    }
}

/// A store in memory: the page's fallback when `localStorage` is unusable, and the test
/// double (two trackers sharing one is two tabs).
#[derive(Debug, Clone, Default)]
pub(crate) struct MemoryStore(pub(crate) std::rc::Rc<std::cell::RefCell<MemoryState>>);

/// What a [`MemoryStore`] holds, and how tests make it fail.
#[derive(Debug, Default)]
pub(crate) struct MemoryState {
    pub(crate) text: Option<String>,
    pub(crate) fail_loads: bool,
    pub(crate) fail_saves: bool,
    pub(crate) saves: usize,
}

impl Store for MemoryStore {
    fn load(&mut self) -> Result<Option<String>, StoreError> {
        let state = self.0.try_borrow().map_err(|_| StoreError("busy".into()))?;
        if state.fail_loads {
            return Err(StoreError("SecurityError: storage is disabled".into()));
        }
        Ok(state.text.clone())
    }

    fn save(&mut self, text: &str) -> Result<(), StoreError> {
        let mut state = self.0.try_borrow_mut().map_err(|_| StoreError("busy".into()))?;
        if state.fail_saves {
            return Err(StoreError("QuotaExceededError: storage is full".into()));
        }
        state.text = Some(text.to_owned());
        state.saves += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: f64 = 60_000.0;
    const HOUR: f64 = 60.0 * MIN;
    const T0: f64 = 1_700_000_000_000.0;
    const POLICY: Policy = Policy { inactivity_timeout_ms: 15.0 * MIN, max_duration_ms: 4.0 * HOUR };
    const WRITE_EVERY: f64 = 5_000.0;

    /// Ids 1, 2, 3… so tests can name them.
    fn ids() -> impl FnMut() -> SessionId {
        let mut next = 0;
        move || {
            next += 1;
            SessionId(next)
        }
    }

    fn begin(store: &MemoryStore, now: f64, id: u128) -> (Tracker<MemoryStore>, Option<Started>) {
        Tracker::begin(POLICY, WRITE_EVERY, store.clone(), now, || SessionId(id))
    }

    #[test]
    fn a_first_visit_starts_a_session_and_stores_it() {
        let store = MemoryStore::default();
        let (tracker, started) = begin(&store, T0, 1);
        assert_eq!(started, Some(Started { record: Record::new(SessionId(1), T0), previous: None }));
        assert_eq!(store.0.borrow().text.as_deref(), Some(tracker.current().encode().as_str()));
    }

    #[test]
    fn inactivity_rolls_over_at_exactly_fifteen_minutes_and_chains_the_previous_id() {
        let store = MemoryStore::default();
        let (mut tracker, _) = begin(&store, T0, 1);
        let mut next = ids();
        next(); // 1 is taken
        assert_eq!(tracker.touch(T0 + 5.0 * MIN, &mut next), None);
        // Fifteen minutes after the last activity, less a millisecond: the same session.
        assert_eq!(tracker.touch(T0 + 20.0 * MIN - 1.0, &mut next), None);
        assert_eq!(tracker.current().id, SessionId(1));
        // Fifteen minutes after *that*, to the millisecond: a new one.
        let now = T0 + 35.0 * MIN - 1.0;
        let started = tracker.touch(now, &mut next).expect("rollover");
        assert_eq!(started.record.id, SessionId(2));
        assert_eq!(started.record.started_ms, now.floor());
        let previous = started.previous.expect("previous");
        assert_eq!(previous.record.id, SessionId(1));
        assert_eq!(previous.at_ms, T0 + 35.0 * MIN - 1.0, "it ended at its deadline, not when noticed");
        // And again: 3 follows 2.
        let started = tracker.touch(now + 15.0 * MIN, &mut next).expect("rollover");
        assert_eq!(
            (started.record.id, started.previous.map(|p| p.record.id)),
            (SessionId(3), Some(SessionId(2)))
        );
        assert_eq!(
            Record::parse(store.0.borrow().text.as_deref().unwrap_or_default()).map(|r| r.id),
            Some(SessionId(3))
        );
    }

    #[test]
    fn a_busy_session_ends_at_four_hours() {
        let store = MemoryStore::default();
        let (mut tracker, _) = begin(&store, T0, 1);
        let mut next = ids();
        next();
        let mut now = T0;
        while now < T0 + 4.0 * HOUR - MIN {
            now += MIN;
            assert_eq!(tracker.touch(now, &mut next), None, "at {} min", (now - T0) / MIN);
        }
        assert_eq!(tracker.touch(T0 + 4.0 * HOUR - 1.0, &mut next), None);
        let started = tracker.touch(T0 + 4.0 * HOUR, &mut next).expect("the four-hour limit");
        assert_eq!(started.previous.map(|p| (p.record.id, p.at_ms)), Some((SessionId(1), T0 + 4.0 * HOUR)));
    }

    #[test]
    fn a_reload_resumes_a_live_session_and_replaces_an_expired_one() {
        let store = MemoryStore::default();
        let (_, _) = begin(&store, T0, 1);
        let (tracker, started) = begin(&store, T0 + 10.0 * MIN, 2);
        assert_eq!(started, None, "resumed");
        assert_eq!(tracker.current().id, SessionId(1));
        assert_eq!(tracker.current().last_activity_ms, T0 + 10.0 * MIN, "the reload is activity");
        let (tracker, started) = begin(&store, T0 + 25.0 * MIN, 3);
        let started = started.expect("expired while away");
        assert_eq!(started.previous.map(|p| (p.record.id, p.at_ms)), Some((SessionId(1), T0 + 25.0 * MIN)));
        assert_eq!(tracker.current().id, SessionId(3));
    }

    #[test]
    fn activity_is_written_at_most_once_per_interval() {
        let store = MemoryStore::default();
        let (mut tracker, _) = begin(&store, T0, 1);
        let mut next = ids();
        for ms in 1..5_000 {
            tracker.touch(T0 + ms as f64, &mut next);
        }
        assert_eq!(store.0.borrow().saves, 1, "only the start was written");
        tracker.touch(T0 + 5_000.0, &mut next);
        assert_eq!(store.0.borrow().saves, 2);
        tracker.touch(T0 + 5_001.0, &mut next);
        tracker.flush();
        assert_eq!(store.0.borrow().saves, 3, "the page is hidden: the last activity goes out");
        tracker.flush();
        assert_eq!(store.0.borrow().saves, 3, "nothing new to write");
    }

    #[test]
    fn two_tabs_share_one_session_and_one_keeps_it_alive_for_the_other() {
        let store = MemoryStore::default();
        let (mut a, started) = begin(&store, T0, 1);
        assert!(started.is_some());
        let (mut b, started) = begin(&store, T0 + MIN, 2);
        assert_eq!(started, None, "the second tab joins");
        assert_eq!(b.current().id, SessionId(1));
        // Tab B is busy for half an hour; tab A sits idle but hears B's writes.
        let mut next = ids();
        let mut now = T0 + MIN;
        while now < T0 + 31.0 * MIN {
            now += 10_000.0;
            b.touch(now, &mut next);
            a.on_store_changed(now);
        }
        // A's next span is in the same session, even though A itself was idle for 30 minutes.
        assert_eq!(a.touch(now + 1.0, || SessionId(99)), None);
        assert_eq!(a.current().id, SessionId(1));
    }

    #[test]
    fn an_idle_tab_that_missed_the_other_tabs_writes_rereads_before_rolling_over() {
        let store = MemoryStore::default();
        let (mut a, _) = begin(&store, T0, 1);
        let (mut b, _) = begin(&store, T0, 2);
        b.touch(T0 + 14.0 * MIN, || SessionId(98));
        // No storage event reached A (it was frozen); at 20 min it looks expired to A only.
        assert_eq!(a.touch(T0 + 20.0 * MIN, || SessionId(99)), None);
        assert_eq!(a.current().id, SessionId(1));
    }

    #[test]
    fn a_tab_follows_the_session_another_tab_rolled_over_to() {
        let store = MemoryStore::default();
        let (mut a, _) = begin(&store, T0, 1);
        let (mut b, _) = begin(&store, T0, 2);
        let started = b.touch(T0 + 16.0 * MIN, || SessionId(3)).expect("B rolls over");
        assert_eq!(started.previous.map(|p| p.record.id), Some(SessionId(1)));
        // A hears of it: it switches without starting a session of its own.
        assert_eq!(a.on_store_changed(T0 + 16.0 * MIN).map(|r| r.id), Some(SessionId(3)));
        assert_eq!(a.touch(T0 + 17.0 * MIN, || SessionId(99)), None);
        assert_eq!(a.current().id, SessionId(3));
    }

    #[test]
    fn an_idle_tab_that_missed_a_rollover_adopts_it_instead_of_starting_another() {
        let store = MemoryStore::default();
        let (mut a, _) = begin(&store, T0, 1);
        let (mut b, _) = begin(&store, T0, 2);
        b.touch(T0 + 16.0 * MIN, || SessionId(3)).expect("B rolls over");
        assert_eq!(a.touch(T0 + 17.0 * MIN, || SessionId(99)), None, "A reads before rolling over");
        assert_eq!(a.current().id, SessionId(3));
    }

    #[test]
    fn a_cleared_store_gets_the_live_session_back() {
        let store = MemoryStore::default();
        let (mut a, _) = begin(&store, T0, 1);
        store.0.borrow_mut().text = None; // localStorage.clear() in another tab
        assert_eq!(a.on_store_changed(T0 + 1.0), None);
        assert_eq!(
            Record::parse(store.0.borrow().text.as_deref().unwrap_or_default()).map(|r| r.id),
            Some(SessionId(1))
        );
        store.0.borrow_mut().text = Some("garbage".into());
        assert_eq!(a.on_store_changed(T0 + 2.0), None);
        assert_eq!(
            Record::parse(store.0.borrow().text.as_deref().unwrap_or_default()).map(|r| r.id),
            Some(SessionId(1))
        );
    }

    #[test]
    fn a_store_that_refuses_everything_leaves_an_in_memory_session_that_still_rolls_over() {
        let store = MemoryStore::default();
        store.0.borrow_mut().fail_loads = true;
        store.0.borrow_mut().fail_saves = true;
        let (mut tracker, started) = begin(&store, T0, 1);
        assert!(started.is_some());
        let failure = tracker.take_failure().expect("reported");
        assert!(failure.0.contains("Error"), "{failure:?}");
        assert_eq!(tracker.take_failure(), None, "reported once");
        assert_eq!(tracker.touch(T0 + 14.0 * MIN, || SessionId(2)), None);
        let started = tracker.touch(T0 + 30.0 * MIN, || SessionId(2)).expect("rolls over in memory");
        assert_eq!(started.previous.map(|p| p.record.id), Some(SessionId(1)));
        assert_eq!(tracker.current().id, SessionId(2));
    }

    #[test]
    fn a_full_store_is_retried_at_the_next_interval() {
        let store = MemoryStore::default();
        store.0.borrow_mut().fail_saves = true;
        let (mut tracker, _) = begin(&store, T0, 1);
        assert!(tracker.take_failure().is_some());
        store.0.borrow_mut().fail_saves = false;
        tracker.touch(T0 + 1_000.0, || SessionId(2));
        assert_eq!(store.0.borrow().saves, 0, "not on every span");
        tracker.touch(T0 + WRITE_EVERY, || SessionId(2));
        assert_eq!(store.0.borrow().saves, 1, "space was freed: written again");
    }
}
