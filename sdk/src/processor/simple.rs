//! [`SimpleSpanProcessor`]: exports each span as it ends. For tests and debugging; use the
//! batch processor in production (one request per span is expensive).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::{FlushWaiters, SpanProcessor};
use crate::error::ExportError;
use crate::export::{ExportMode, SpanExporter};
use crate::report::{self, Problem};
use crate::resource::Resource;
use crate::sync::{self, LocalBoxFuture};
use crate::trace::SpanData;

/// Exports every span on its own, without blocking. A span that ends while an export is
/// pending waits for it: the exporter is never called concurrently (spans that waited leave
/// together in the next export).
#[derive(Debug)]
pub struct SimpleSpanProcessor {
    state: Rc<State>,
}

struct State {
    exporter: Box<dyn SpanExporter>,
    waiting: RefCell<Vec<SpanData>>,
    exporting: Cell<bool>,
    last_result: RefCell<Option<ExportError>>,
    waiters: FlushWaiters,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("exporting", &self.exporting).finish_non_exhaustive()
    }
}

impl SimpleSpanProcessor {
    /// A processor exporting through `exporter`.
    pub fn new(exporter: impl SpanExporter + 'static) -> Self {
        Self {
            state: Rc::new(State {
                exporter: Box::new(exporter),
                waiting: RefCell::new(Vec::new()),
                exporting: Cell::new(false),
                last_result: RefCell::new(None),
                waiters: FlushWaiters::default(),
            }),
        }
    }
}

impl State {
    async fn export_loop(state: Rc<State>) {
        loop {
            let spans =
                state.waiting.try_borrow_mut().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default();
            if spans.is_empty() {
                break;
            }
            if let Err(e) = state.exporter.export(spans, ExportMode::Normal).await {
                report::warn(Problem::ExportFailed, || format!("span was not exported: {e}"));
                if let Ok(mut last) = state.last_result.try_borrow_mut() {
                    *last = Some(e);
                }
            }
        }
        state.exporting.set(false);
        let result = state.last_result.try_borrow_mut().ok().and_then(|mut r| r.take()).map_or(Ok(()), Err);
        state.waiters.notify(&result);
    }
}

impl SpanProcessor for SimpleSpanProcessor {
    fn on_end(&self, span: SpanData) {
        let state = &self.state;
        if let Ok(mut waiting) = state.waiting.try_borrow_mut() {
            waiting.push(span);
        }
        if !state.exporting.replace(true) {
            sync::drive(State::export_loop(Rc::clone(state)));
        }
    }

    fn force_flush(&self) -> LocalBoxFuture<'static, Result<(), ExportError>> {
        if !self.state.exporting.get() {
            let result = self.state.last_result.borrow_mut().take().map_or(Ok(()), Err);
            return Box::pin(async move { result });
        }
        self.state.waiters.wait()
    }

    fn shutdown(&self) -> LocalBoxFuture<'static, Result<(), ExportError>> {
        let flushed = self.force_flush();
        let state = Rc::clone(&self.state);
        Box::pin(async move {
            let result = flushed.await;
            state.exporter.shutdown();
            result
        })
    }

    fn flush_before_abort(&self) {
        // Spans waiting behind a pending export would wait for ever: send them now.
        let spans =
            self.state.waiting.try_borrow_mut().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default();
        if !spans.is_empty() {
            let export = self.state.exporter.export(spans, ExportMode::Unload);
            sync::drive(async move {
                let _ = export.await;
            });
        }
    }

    fn set_resource(&self, resource: &Resource) {
        self.state.exporter.set_resource(resource);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::export::{InMemoryExporter, test_span};

    #[test]
    fn a_span_ending_during_a_pending_export_waits_for_it() {
        let exporter = InMemoryExporter::default();
        let processor = SimpleSpanProcessor::new(exporter.clone());
        exporter.set_paused(true);
        processor.on_end(test_span("a"));
        processor.on_end(test_span("b"));
        processor.on_end(test_span("c"));
        assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 1)], "exports ran concurrently");
        exporter.set_paused(false);
        assert_eq!(exporter.exports(), vec![(ExportMode::Normal, 1), (ExportMode::Normal, 2)]);
    }
}
