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

/// Exports every span on its own, without blocking.
#[derive(Debug)]
pub struct SimpleSpanProcessor {
    state: Rc<State>,
}

struct State {
    exporter: Box<dyn SpanExporter>,
    in_flight: Cell<usize>,
    last_result: RefCell<Option<ExportError>>,
    waiters: FlushWaiters,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("in_flight", &self.in_flight).finish_non_exhaustive()
    }
}

impl SimpleSpanProcessor {
    /// A processor exporting through `exporter`.
    pub fn new(exporter: impl SpanExporter + 'static) -> Self {
        Self {
            state: Rc::new(State {
                exporter: Box::new(exporter),
                in_flight: Cell::new(0),
                last_result: RefCell::new(None),
                waiters: FlushWaiters::default(),
            }),
        }
    }
}

impl SpanProcessor for SimpleSpanProcessor {
    fn on_end(&self, span: SpanData) {
        let state = Rc::clone(&self.state);
        state.in_flight.set(state.in_flight.get() + 1);
        let export = state.exporter.export(vec![span], ExportMode::Normal);
        sync::drive(async move {
            if let Err(e) = export.await {
                report::warn(Problem::ExportFailed, || format!("span was not exported: {e}"));
                *state.last_result.borrow_mut() = Some(e);
            }
            state.in_flight.set(state.in_flight.get() - 1);
            if state.in_flight.get() == 0 {
                let result = state.last_result.borrow_mut().take().map_or(Ok(()), Err);
                state.waiters.notify(&result);
            }
        });
    }

    fn force_flush(&self) -> LocalBoxFuture<'static, Result<(), ExportError>> {
        if self.state.in_flight.get() == 0 {
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

    fn set_resource(&self, resource: &Resource) {
        self.state.exporter.set_resource(resource);
    }
}
