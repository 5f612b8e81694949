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

    /// Makes `attributes` a valid collection: one value per key (a later value replaces an
    /// earlier one in its place), at most `max` keys, values truncated. Returns how many were
    /// dropped for the count limit.
    pub(crate) fn cap_attributes(&self, attributes: &mut Vec<KeyValue>, max: u32) -> u32 {
        if attributes.len() <= 1 || !has_duplicate_keys(attributes) {
            let max = max as usize;
            let dropped = attributes.len().saturating_sub(max);
            attributes.truncate(max);
            if self.max_attribute_value_length.is_some() {
                attributes.iter_mut().for_each(|kv| self.truncate(&mut kv.value));
            }
            return dropped as u32;
        }
        let mut dropped = 0;
        let mut unique = Vec::with_capacity(attributes.len());
        for attribute in attributes.drain(..) {
            dropped += self.set_attribute(&mut unique, attribute, max);
        }
        *attributes = unique;
        dropped
    }

    /// Sets one attribute as `Span::set_attribute` does: replaces the value of an existing key,
    /// adds a new key while there is room, and otherwise returns 1 (dropped).
    pub(crate) fn set_attribute(
        &self,
        attributes: &mut Vec<KeyValue>,
        mut attribute: KeyValue,
        max: u32,
    ) -> u32 {
        self.truncate(&mut attribute.value);
        if let Some(existing) = attributes.iter_mut().find(|kv| kv.key == attribute.key) {
            existing.value = attribute.value;
        } else if attributes.len() < max as usize {
            attributes.push(attribute);
        } else {
            return 1;
        }
        0
    }
}

fn has_duplicate_keys(attributes: &[KeyValue]) -> bool {
    attributes.iter().enumerate().any(|(i, kv)| attributes[..i].iter().any(|earlier| earlier.key == kv.key))
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

    #[test]
    fn duplicate_keys_keep_the_later_value_in_the_earlier_place() {
        let limits = SpanLimits::default();
        let mut attributes = vec![
            KeyValue::new("user.id", "provider"),
            KeyValue::new("a", 1),
            KeyValue::new("user.id", "builder"),
        ];
        assert_eq!(limits.cap_attributes(&mut attributes, 128), 0);
        assert_eq!(attributes, vec![KeyValue::new("user.id", "builder"), KeyValue::new("a", 1)]);
        // A duplicate does not take a slot of the count limit.
        let mut attributes = vec![KeyValue::new("a", 1), KeyValue::new("a", 2), KeyValue::new("b", 3)];
        assert_eq!(limits.cap_attributes(&mut attributes, 2), 0);
        assert_eq!(attributes, vec![KeyValue::new("a", 2), KeyValue::new("b", 3)]);
    }
}
