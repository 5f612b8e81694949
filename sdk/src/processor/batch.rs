//! [`BatchSpanProcessor`]: batches on a browser timer, never loses spans when the page goes away.
//!
//! ```text
//!  on_end ─▶ queue (≤ max_queue_size; overflow dropped + counted)
//!              │ first span arms a timer (scheduled_delay) ─┐
//!              │ queue ≥ max_export_batch_size ─────────────┼─▶ export loop: batches of
//!              │ force_flush() ─────────────────────────────┘   ≤ max_export_batch_size, one at
//!              │                                                a time, each ≤ export_timeout
//!              └ page hidden / pagehide ─▶ everything now, ExportMode::Unload (keepalive);
//!                                          spans ending while hidden follow at once
//! ```

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
use crate::trace::SpanData;

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

    fn set_resource(&self, resource: &Resource) {
        self.state.exporter.set_resource(resource);
    }
}

impl State {
    fn arm_timer(state: &Rc<State>) {
        if state.timer_armed.replace(true) || state.exporting.get() {
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
        // A pending timer is now stale: the export loop takes everything queued.
        state.timer_armed.set(false);
        state.timer_generation.set(state.timer_generation.get().wrapping_add(1));
        if state.exporting.replace(true) {
            return;
        }
        sync::drive(State::export_loop(Rc::clone(state)));
    }

    async fn export_loop(state: Rc<State>) {
        let timeout_ms = state.config.export_timeout.as_millis().min(u32::MAX as u128) as u32;
        let mut result = Ok(());
        loop {
            let batch = state.queue.try_borrow_mut().ok().and_then(|mut q| q.take_batch());
            let Some(batch) = batch else { break };
            let export = state.exporter.export(batch, ExportMode::Normal);
            let outcome = match sync::race(export, crate::platform::timer::sleep(timeout_ms)).await {
                Either::Left(outcome) => outcome,
                Either::Right(()) => Err(ExportError::Timeout(timeout_ms)),
            };
            if let Err(e) = outcome {
                report::warn(Problem::ExportFailed, || format!("spans were not exported: {e}"));
                result = Err(e);
            }
        }
        state.exporting.set(false);
        state.waiters.notify(&result);
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

    /// Hands everything queued to the exporter in unload mode. The exporter starts its
    /// `keepalive` requests synchronously, before this returns to the event loop.
    fn send_for_unload(state: &Rc<State>) {
        if state.shut_down.get() {
            return;
        }
        let spans = state.queue.try_borrow_mut().map(|mut q| q.take_all()).unwrap_or_default();
        if spans.is_empty() {
            return;
        }
        let export = state.exporter.export(spans, ExportMode::Unload);
        sync::drive(async move {
            if let Err(e) = export.await {
                report::warn(Problem::ExportFailed, || {
                    format!("spans sent on page hide were not accepted: {e}")
                });
            }
        });
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
}
