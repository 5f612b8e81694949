//! [`BatchSpanProcessor`]: batches on a browser timer, never loses spans when the page goes away.
//!
//! ```text
//!  on_end ─▶ queue (≤ max_queue_size; overflow dropped + counted)
//!              │ timer (scheduled_delay, armed by the first span after an export) ─┐
//!              │ queue ≥ max_export_batch_size ─────────────────────────────────────┼─▶ export loop
//!              │ force_flush() ─────────────────────────────────────────────────────┘
//!              └ page hidden / pagehide ─▶ the pending export hurries (its batch goes out with
//!                                          keepalive), then everything queued, ExportMode::Unload;
//!                                          spans ending while hidden follow at once
//! ```
//!
//! The export loop calls the exporter one export at a time, never concurrently (the
//! OpenTelemetry rule): each export is bounded by `export_timeout`, and the loop goes on
//! only while a full batch is waiting, a flush is waiting, or the page is hidden. Whatever is
//! left then leaves `scheduled_delay` after that export completed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::queue::{BatchQueue, Pushed};
use super::{BatchConfig, FlushWaiters, SpanProcessor};
use crate::error::ExportError;
use crate::export::{ExportMode, SpanExporter};
use crate::platform::lifecycle::PageLifecycle;
use crate::report::{self, Problem};
use crate::resource::Resource;
use crate::sync::{self, Either, LocalBoxFuture};
use crate::trace::{SpanData, SpanLimits};

/// Exports spans in batches; see the [`processor`](crate::processor) module.
#[derive(Debug)]
pub struct BatchSpanProcessor {
    state: Rc<State>,
    lifecycle: RefCell<Option<PageLifecycle>>,
}

// Processors and exporters are trait objects without a `Debug` bound (a bound would keep every
// implementation's formatting code in the bundle); state is described by what it counts.
struct State {
    config: BatchConfig,
    exporter: Box<dyn SpanExporter>,
    queue: RefCell<BatchQueue>,
    exporting: Cell<bool>,
    timer_armed: Cell<bool>,
    timer_generation: Cell<u64>,
    page_hidden: Cell<bool>,
    unload_send_scheduled: Cell<bool>,
    shut_down: Cell<bool>,
    waiters: FlushWaiters,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("config", &self.config)
            .field("queue", &self.queue)
            .field("exporting", &self.exporting)
            .field("shut_down", &self.shut_down)
            .finish_non_exhaustive()
    }
}

impl BatchSpanProcessor {
    /// A processor exporting through `exporter`. In a browser window it also listens for
    /// `visibilitychange` and `pagehide` to flush before the page goes away.
    pub fn new(exporter: impl SpanExporter + 'static, config: BatchConfig) -> Self {
        let state = Rc::new(State {
            config,
            exporter: Box::new(exporter),
            queue: RefCell::new(BatchQueue::new(config.max_queue_size, config.max_export_batch_size)),
            exporting: Cell::new(false),
            timer_armed: Cell::new(false),
            timer_generation: Cell::new(0),
            page_hidden: Cell::new(false),
            unload_send_scheduled: Cell::new(false),
            shut_down: Cell::new(false),
            waiters: FlushWaiters::default(),
        });
        let on_hidden = Rc::downgrade(&state);
        let on_visible = Rc::downgrade(&state);
        let lifecycle = PageLifecycle::watch(
            move || {
                if let Some(state) = on_hidden.upgrade() {
                    State::page_hidden(&state);
                }
            },
            move || {
                if let Some(state) = on_visible.upgrade() {
                    State::page_visible(&state);
                }
            },
        );
        Self { state, lifecycle: RefCell::new(lifecycle) }
    }

    /// Spans dropped so far because the queue was full.
    pub fn dropped_spans(&self) -> u64 {
        self.state.queue.try_borrow().map(|q| q.dropped_total()).unwrap_or(0)
    }

    /// Acts as if the page had just been hidden (what `pagehide` and `visibilitychange` do).
    pub fn flush_for_unload(&self) {
        State::page_hidden(&self.state);
    }
}

impl SpanProcessor for BatchSpanProcessor {
    fn on_end(&self, span: SpanData) {
        let state = &self.state;
        if state.shut_down.get() {
            return;
        }
        let Ok(mut queue) = state.queue.try_borrow_mut() else { return };
        let pushed = queue.push(span);
        let (len, max_batch) = (queue.len(), queue.max_batch());
        drop(queue);
        if pushed == Pushed::Dropped {
            report::warn(Problem::QueueFull, || {
                format!(
                    "span queue full ({} spans): dropping new spans until the exporter catches up; \
                     the count is sent as otelweb.dropped_spans",
                    state.config.max_queue_size
                )
            });
            return;
        }
        if state.page_hidden.get() {
            State::schedule_unload_send(state);
        } else if len >= max_batch {
            State::start_export(state);
        } else {
            State::arm_timer(state);
        }
    }

    fn force_flush(&self) -> LocalBoxFuture<'static, Result<(), ExportError>> {
        let state = &self.state;
        let idle = !state.exporting.get() && state.queue.try_borrow().map(|q| q.is_empty()).unwrap_or(true);
        if idle {
            return Box::pin(async { Ok(()) });
        }
        let done = state.waiters.wait();
        State::start_export(state);
        done
    }

    fn shutdown(&self) -> LocalBoxFuture<'static, Result<(), ExportError>> {
        if let Ok(mut lifecycle) = self.lifecycle.try_borrow_mut() {
            lifecycle.take();
        }
        let flushed = self.force_flush();
        let state = Rc::clone(&self.state);
        state.shut_down.set(true);
        Box::pin(async move {
            let result = flushed.await;
            state.exporter.shutdown();
            result
        })
    }

    fn flush_before_abort(&self) {
        let state = &self.state;
        if state.shut_down.get() {
            return;
        }
        state.page_hidden.set(true);
        let batch = state.queue.try_borrow_mut().map(|mut q| q.take_all()).unwrap_or_default();
        if batch.is_empty() {
            return;
        }
        // Even beside an export in flight (whose request the browser finishes on its own): the
        // loop that would send this batch after it never runs again. Unload mode starts every
        // request before `export` returns.
        let export = state.exporter.export(batch, ExportMode::Unload);
        sync::drive(async move {
            let _ = export.await;
        });
    }

    fn set_resource(&self, resource: &Resource) {
        self.state.exporter.set_resource(resource);
    }

    fn set_span_limits(&self, limits: &SpanLimits) {
        if let Ok(mut queue) = self.state.queue.try_borrow_mut() {
            queue.set_span_limits(*limits);
        }
    }
}

impl State {
    /// Arms the batch timer unless it is armed or an export is running (the loop re-arms it
    /// for what is left when it finishes).
    fn arm_timer(state: &Rc<State>) {
        if state.exporting.get() || state.timer_armed.replace(true) {
            return;
        }
        let generation = state.timer_generation.get();
        let delay = state.config.scheduled_delay.as_millis().min(u32::MAX as u128) as u32;
        let state = Rc::clone(state);
        sync::spawn(async move {
            crate::platform::timer::sleep(delay).await;
            if state.timer_generation.get() == generation && !state.shut_down.get() {
                State::start_export(&state);
            }
        });
    }

    fn start_export(state: &Rc<State>) {
        // A pending timer is now stale: the export loop takes what is queued.
        state.timer_armed.set(false);
        state.timer_generation.set(state.timer_generation.get().wrapping_add(1));
        if state.exporting.replace(true) {
            return;
        }
        sync::drive(State::export_loop(Rc::clone(state)));
    }

    /// Whether the loop should export again right away rather than wait for the timer.
    fn more_now(&self) -> bool {
        let queued = self.queue.try_borrow().map(|q| (q.len(), q.max_batch())).unwrap_or((0, 1));
        queued.0 > 0 && (self.page_hidden.get() || self.waiters.is_waiting() || queued.0 >= queued.1)
    }

    async fn export_loop(state: Rc<State>) {
        let timeout_ms = state.config.export_timeout.as_millis().min(u32::MAX as u128) as u32;
        let mut result = Ok(());
        loop {
            let hidden = state.page_hidden.get();
            let batch = state
                .queue
                .try_borrow_mut()
                .ok()
                .map(|mut q| if hidden { q.take_all() } else { q.take_batch().unwrap_or_default() })
                .unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            let mode = if hidden { ExportMode::Unload } else { ExportMode::Normal };
            let export = state.exporter.export(batch, mode);
            let outcome = match sync::race(export, crate::platform::timer::sleep(timeout_ms)).await {
                Either::Left(outcome) => outcome,
                // Dropping the export aborts its request and any retry it had planned.
                Either::Right(()) => Err(ExportError::Timeout(timeout_ms)),
            };
            if let Err(e) = outcome {
                report::warn(Problem::ExportFailed, || format!("spans were not exported: {e}"));
                result = Err(e);
            }
            if !state.more_now() {
                break;
            }
        }
        state.exporting.set(false);
        state.waiters.notify(&result);
        if !state.shut_down.get() && state.queue.try_borrow().map(|q| !q.is_empty()).unwrap_or(false) {
            if state.page_hidden.get() {
                State::start_export(&state);
            } else {
                State::arm_timer(&state);
            }
        }
    }

    fn page_hidden(state: &Rc<State>) {
        state.page_hidden.set(true);
        State::send_for_unload(state);
    }

    fn page_visible(state: &Rc<State>) {
        state.page_hidden.set(false);
        crate::platform::clock::check_drift_now();
        if state.queue.try_borrow().map(|q| !q.is_empty()).unwrap_or(false) {
            State::arm_timer(state);
        }
    }

    /// Spans that end while the page is hidden are sent together at the end of the current task.
    fn schedule_unload_send(state: &Rc<State>) {
        if state.unload_send_scheduled.replace(true) {
            return;
        }
        let state = Rc::clone(state);
        sync::spawn(async move {
            state.unload_send_scheduled.set(false);
            State::send_for_unload(&state);
        });
    }

    /// Sends everything queued in unload mode, starting the requests before this returns. An
    /// export already pending is told to hurry (its batch leaves with keepalive too); the loop
    /// running it then takes the queue in unload mode, so the exporter is never called twice
    /// at once.
    fn send_for_unload(state: &Rc<State>) {
        if state.shut_down.get() {
            return;
        }
        if state.exporting.get() {
            state.exporter.hurry();
            return;
        }
        if state.queue.try_borrow().map(|q| !q.is_empty()).unwrap_or(false) {
            State::start_export(state);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::export::{InMemoryExporter, test_span};
    use std::time::Duration;

    fn processor(exporter: &InMemoryExporter, max_queue: usize, max_batch: usize) -> BatchSpanProcessor {
        let config = BatchConfig {
            max_queue_size: max_queue,
            max_export_batch_size: max_batch,
            scheduled_delay: Duration::from_secs(3600),
            ..Default::default()
        };
        BatchSpanProcessor::new(exporter.clone(), config)
    }

    fn poll_now<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("future was not ready"),
        }
    }

    #[test]
    fn a_full_batch_is_exported_without_waiting_for_the_timer() {
        let exporter = InMemoryExporter::default();
        let processor = processor(&exporter, 100, 3);
        processor.on_end(test_span("a"));
        processor.on_end(test_span("b"));
        assert!(exporter.finished_spans().is_empty(), "exported before the batch was full");
        processor.on_end(test_span("c"));
        assert_eq!(exporter.finished_spans().len(), 3);
        assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 3)]);
    }

    #[test]
    fn force_flush_exports_in_batches_and_resolves() {
        let exporter = InMemoryExporter::default();
        let processor = processor(&exporter, 100, 40);
        for i in 0..30 {
            processor.on_end(test_span(&format!("s{i}")));
        }
        poll_now(processor.force_flush()).expect("flush");
        assert_eq!(exporter.finished_spans().len(), 30);
        // Nothing left: a second flush is immediately done.
        poll_now(processor.force_flush()).expect("idle flush");
    }

    #[test]
    fn unload_sends_everything_in_unload_mode_and_later_spans_follow() {
        let exporter = InMemoryExporter::default();
        let processor = processor(&exporter, 100, 50);
        processor.on_end(test_span("before"));
        processor.flush_for_unload();
        assert_eq!(exporter.exports(), vec![(ExportMode::Unload, 1)]);
        processor.on_end(test_span("after"));
        assert_eq!(exporter.exports(), vec![(ExportMode::Unload, 1), (ExportMode::Unload, 1)]);
    }

    #[test]
    fn page_hide_during_a_pending_export_waits_for_it_instead_of_exporting_concurrently() {
        let exporter = InMemoryExporter::default();
        let processor = processor(&exporter, 100, 2);
        exporter.set_paused(true);
        processor.on_end(test_span("a"));
        processor.on_end(test_span("b"));
        assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 2)]);
        processor.on_end(test_span("c"));
        processor.flush_for_unload();
        assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 2)], "a second export ran concurrently");
        exporter.set_paused(false);
        // The pending export resolved: the loop hands the rest over in unload mode.
        assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 2), (ExportMode::Unload, 1)]);
    }

    #[test]
    fn what_is_left_after_an_export_waits_for_the_timer_which_is_armed_again() {
        let exporter = InMemoryExporter::default();
        let processor = processor(&exporter, 100, 10);
        let state = Rc::clone(&processor.state);
        exporter.set_paused(true);
        processor.on_end(test_span("a"));
        State::start_export(&state); // what the timer does
        processor.on_end(test_span("b")); // ends while the export is pending
        assert!(!state.timer_armed.get(), "a timer armed during an export would never be re-armed");
        exporter.set_paused(false);
        assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 1)], "b waits for the timer");
        assert!(!state.exporting.get());
        assert!(state.timer_armed.get(), "the timer is armed again for what is left");
        let generation = state.timer_generation.get();
        processor.on_end(test_span("c"));
        assert_eq!(state.timer_generation.get(), generation, "one timer for the queue");
        poll_now(processor.force_flush()).expect("flush");
        assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 1), (ExportMode::Normal, 2)]);
    }
}
