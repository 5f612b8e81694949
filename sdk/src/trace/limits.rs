//! Span limits: how much one span may carry, so a runaway loop cannot fill the page's memory or
//! the collector's request size.

use opentelemetry::{Array, KeyValue, StringValue, Value};

/// Default for every count limit, as in the OpenTelemetry specification.
pub(crate) const DEFAULT_COUNT_LIMIT: u32 = 128;

/// Limits applied to each span. Anything past a limit is dropped and counted in the span's
/// `dropped_*_count`, which the exporter sends along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLimits {
    /// Attributes per span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`).
    pub max_attributes_per_span: u32,
    /// Events per span (`OTEL_SPAN_EVENT_COUNT_LIMIT`).
    pub max_events_per_span: u32,
    /// Links per span (`OTEL_SPAN_LINK_COUNT_LIMIT`).
    pub max_links_per_span: u32,
    /// Attributes per event (`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`).
    pub max_attributes_per_event: u32,
    /// Attributes per link (`OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`).
    pub max_attributes_per_link: u32,
    /// Characters kept of each string value (`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`); unlimited
    /// when `None`.
    pub max_attribute_value_length: Option<u32>,
}

impl Default for SpanLimits {
    fn default() -> Self {
        Self {
            max_attributes_per_span: DEFAULT_COUNT_LIMIT,
            max_events_per_span: DEFAULT_COUNT_LIMIT,
            max_links_per_span: DEFAULT_COUNT_LIMIT,
            max_attributes_per_event: DEFAULT_COUNT_LIMIT,
            max_attributes_per_link: DEFAULT_COUNT_LIMIT,
            max_attribute_value_length: None,
        }
    }
}

impl SpanLimits {
    /// Truncates string values (and strings inside arrays) to the value length limit.
    pub(crate) fn truncate(&self, value: &mut Value) {
        let Some(limit) = self.max_attribute_value_length else { return };
        match value {
            Value::String(s) => truncate_string(s, limit as usize),
            Value::Array(Array::String(items)) => {
                items.iter_mut().for_each(|s| truncate_string(s, limit as usize))
            }
            _ => {}
        }
    }

    /// Keeps at most `max` attributes (truncating values) and returns how many were dropped.
    pub(crate) fn cap_attributes(&self, attributes: &mut Vec<KeyValue>, max: u32) -> u32 {
        let max = max as usize;
        let dropped = attributes.len().saturating_sub(max);
        attributes.truncate(max);
        if self.max_attribute_value_length.is_some() {
            attributes.iter_mut().for_each(|kv| self.truncate(&mut kv.value));
        }
        dropped as u32
    }
}

fn truncate_string(s: &mut StringValue, limit: usize) {
    let text = s.as_str();
    if text.len() <= limit {
        return;
    }
    if let Some((cut, _)) = text.char_indices().nth(limit) {
        *s = StringValue::from(text[..cut].to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_cut_at_character_boundaries() {
        let limits = SpanLimits { max_attribute_value_length: Some(3), ..Default::default() };
        let mut value = Value::from("héllo");
        limits.truncate(&mut value);
        assert_eq!(value, Value::from("hél"));
        let mut array = Value::Array(Array::String(vec!["abcdef".into(), "ab".into()]));
        limits.truncate(&mut array);
        assert_eq!(array, Value::Array(Array::String(vec!["abc".into(), "ab".into()])));
        let mut number = Value::I64(123456);
        limits.truncate(&mut number);
        assert_eq!(number, Value::I64(123456));
    }

    #[test]
    fn attributes_past_the_count_limit_are_dropped_and_counted() {
        let limits = SpanLimits::default();
        let mut attributes: Vec<KeyValue> = (0..130).map(|i| KeyValue::new(format!("k{i}"), i)).collect();
        assert_eq!(limits.cap_attributes(&mut attributes, 128), 2);
        assert_eq!(attributes.len(), 128);
    }
}
