//! [`InMemoryExporter`]: keeps exported spans for tests of instrumented code.

use std::cell::RefCell;
use std::rc::Rc;

use super::{ExportMode, SpanExporter};
use crate::error::ExportError;
use crate::resource::Resource;
use crate::sync::{self, LocalBoxFuture, Sender};
use crate::trace::SpanData;

/// Stores every exported span; clones share the same store.
///
/// ```
/// use opentelemetry::trace::{Tracer, TracerProvider as _};
/// use otel_web::export::InMemoryExporter;
/// use otel_web::trace::TracerProvider;
///
/// let exporter = InMemoryExporter::default();
/// let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// provider.tracer("test").in_span("work", |_cx| {});
/// assert_eq!(exporter.finished_spans()[0].name, "work");
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemoryExporter {
    inner: Rc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    spans: RefCell<Vec<SpanData>>,
    exports: RefCell<Vec<(ExportMode, usize)>>,
    resource: RefCell<Option<Resource>>,
    paused: RefCell<Option<Vec<Sender<()>>>>,
}

impl InMemoryExporter {
    /// Every span exported so far, in export order.
    pub fn finished_spans(&self) -> Vec<SpanData> {
        self.inner.spans.borrow().clone()
    }

    /// Each export call's mode and span count, in order.
    pub fn exports(&self) -> Vec<(ExportMode, usize)> {
        self.inner.exports.borrow().clone()
    }

    /// The resource the provider handed over.
    pub fn resource(&self) -> Option<Resource> {
        self.inner.resource.borrow().clone()
    }

    /// Forgets everything exported so far.
    pub fn reset(&self) {
        self.inner.spans.borrow_mut().clear();
        self.inner.exports.borrow_mut().clear();
    }

    /// While paused, exports are stored but do not resolve (a slow collector); unpausing
    /// resolves them.
    pub fn set_paused(&self, paused: bool) {
        let waiting = {
            let mut state = self.inner.paused.borrow_mut();
            if paused {
                state.get_or_insert_with(Vec::new);
                None
            } else {
                state.take()
            }
        };
        // Resolving an export may start the next one at once: no borrow is held here.
        waiting.into_iter().flatten().for_each(|tx| tx.send(()));
    }
}

impl SpanExporter for InMemoryExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
        mode: ExportMode,
    ) -> LocalBoxFuture<'static, Result<(), ExportError>> {
        self.inner.exports.borrow_mut().push((mode, batch.len()));
        self.inner.spans.borrow_mut().extend(batch);
        let gate = self.inner.paused.borrow_mut().as_mut().map(|waiting| {
            let (tx, rx) = sync::oneshot();
            waiting.push(tx);
            rx
        });
        Box::pin(async move {
            if let Some(gate) = gate {
                gate.await;
            }
            Ok(())
        })
    }

    fn set_resource(&self, resource: &Resource) {
        *self.inner.resource.borrow_mut() = Some(resource.clone());
    }
}
