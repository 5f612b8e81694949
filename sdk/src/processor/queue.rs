//! The batch processor's bounded queue: pure data, so its rules are unit-tested natively.

use std::collections::VecDeque;

use opentelemetry::KeyValue;

use crate::semconv;
use crate::trace::{SpanData, SpanLimits};

#[derive(Debug)]
pub(super) struct BatchQueue {
    spans: VecDeque<SpanData>,
    max_queue_size: usize,
    max_batch: usize,
    /// Dropped since the last batch left; stamped on the next batch's first span.
    dropped_unreported: u64,
    dropped_total: u64,
    /// The provider's limits, which the stamped count obeys.
    limits: SpanLimits,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pushed {
    /// Queued; the queue now holds this many spans.
    Queued(usize),
    /// The queue was full: the span was dropped and counted.
    Dropped,
}

impl BatchQueue {
    pub(super) fn new(max_queue_size: usize, max_batch: usize) -> Self {
        let max_queue_size = max_queue_size.max(1);
        Self {
            spans: VecDeque::new(),
            max_queue_size,
            max_batch: max_batch.clamp(1, max_queue_size),
            dropped_unreported: 0,
            dropped_total: 0,
            limits: SpanLimits::default(),
        }
    }

    pub(super) fn push(&mut self, span: SpanData) -> Pushed {
        if self.spans.len() >= self.max_queue_size {
            self.dropped_unreported += 1;
            self.dropped_total += 1;
            return Pushed::Dropped;
        }
        self.spans.push_back(span);
        Pushed::Queued(self.spans.len())
    }

    pub(super) fn set_span_limits(&mut self, limits: SpanLimits) {
        self.limits = limits;
    }

    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub(super) fn max_batch(&self) -> usize {
        self.max_batch
    }

    pub(super) fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// Up to one batch of the oldest spans.
    pub(super) fn take_batch(&mut self) -> Option<Vec<SpanData>> {
        let n = self.spans.len().min(self.max_batch);
        if n == 0 {
            return None;
        }
        let batch = self.spans.drain(..n).collect();
        Some(self.stamp(batch))
    }

    /// Every queued span.
    pub(super) fn take_all(&mut self) -> Vec<SpanData> {
        let all = self.spans.drain(..).collect();
        self.stamp(all)
    }

    fn stamp(&mut self, mut batch: Vec<SpanData>) -> Vec<SpanData> {
        if self.dropped_unreported > 0
            && let Some(first) = batch.first_mut()
        {
            let count = i64::try_from(self.dropped_unreported).unwrap_or(i64::MAX);
            first.set_attribute(KeyValue::new(semconv::OTELWEB_DROPPED_SPANS, count), &self.limits);
            self.dropped_unreported = 0;
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_span;

    #[test]
    fn a_full_queue_drops_new_spans_and_counts_them() {
        let mut queue = BatchQueue::new(3, 2);
        for i in 0..3 {
            assert_eq!(queue.push(test_span(&format!("s{i}"))), Pushed::Queued(i + 1));
        }
        assert_eq!(queue.push(test_span("late-1")), Pushed::Dropped);
        assert_eq!(queue.push(test_span("late-2")), Pushed::Dropped);
        assert_eq!(queue.dropped_total(), 2);

        let first = queue.take_batch().expect("a batch");
        assert_eq!(first.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>(), ["s0", "s1"]);
        assert_eq!(first[0].attribute(semconv::OTELWEB_DROPPED_SPANS), Some(&2i64.into()));
        // The count is reported once.
        let second = queue.take_batch().expect("the rest");
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].attribute(semconv::OTELWEB_DROPPED_SPANS), None);
        assert!(queue.take_batch().is_none());
    }

    #[test]
    fn batch_size_is_clamped_to_the_queue() {
        let queue = BatchQueue::new(10, 512);
        assert_eq!(queue.max_batch(), 10);
    }
}
