//! The thread-local registry that connects `Send + Sync` providers to their processors.
//!
//! Processors own browser objects (timers, event listeners, `fetch` promises) and so cannot live
//! inside the provider. Each provider has an id; its processors are registered here under it,
//! and a span finds them by that id when it starts and ends.

use std::cell::RefCell;
use std::rc::Rc;

use opentelemetry::Context;

use super::span::SpanData;
use crate::processor::SpanProcessor;

type Processors = Rc<[Box<dyn SpanProcessor>]>;

thread_local! {
    static PIPELINES: RefCell<Vec<(u64, Processors)>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn register(id: u64, processors: Vec<Box<dyn SpanProcessor>>) {
    let processors: Processors = processors.into();
    let _ = PIPELINES.try_with(|p| {
        if let Ok(mut pipelines) = p.try_borrow_mut() {
            pipelines.push((id, processors));
        }
    });
}

pub(crate) fn unregister(id: u64) -> Option<Processors> {
    PIPELINES
        .try_with(|p| {
            let mut pipelines = p.try_borrow_mut().ok()?;
            let index = pipelines.iter().position(|(i, _)| *i == id)?;
            Some(pipelines.swap_remove(index).1)
        })
        .ok()
        .flatten()
}

pub(crate) fn get(id: u64) -> Option<Processors> {
    PIPELINES
        .try_with(|p| {
            let pipelines = p.try_borrow().ok()?;
            pipelines.iter().find(|(i, _)| *i == id).map(|(_, procs)| Rc::clone(procs))
        })
        .ok()
        .flatten()
}

pub(crate) fn on_start(id: u64, span: &mut SpanData, parent_cx: &Context) {
    if let Some(processors) = get(id) {
        processors.iter().for_each(|p| p.on_start(span, parent_cx));
    }
}

pub(crate) fn on_end(id: u64, span: SpanData) {
    let Some(processors) = get(id) else { return };
    if let Some((last, rest)) = processors.split_last() {
        rest.iter().for_each(|p| p.on_end(span.clone()));
        last.on_end(span);
    }
}
