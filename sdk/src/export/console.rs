//! [`ConsoleExporter`]: one readable line per span in the devtools console, the browser twin of
//! the OpenTelemetry `ConsoleSpanExporter`.
//!
//! ```text
//! [otel-web] GET /api/activities/home CLIENT 42.180 ms trace=4bf92f… span=00f067… parent=- OK http.request.method=GET …
//! ```

use std::cell::Cell;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, Value};

use super::{ExportMode, SpanExporter};
use crate::error::ExportError;
use crate::platform::number;
use crate::sync::LocalBoxFuture;
use crate::trace::{SpanData, push_hex};

/// Prints each span with `console.log`.
#[derive(Debug, Default)]
pub struct ConsoleExporter {
    shut_down: Cell<bool>,
}

impl ConsoleExporter {
    /// A console exporter.
    pub fn new() -> Self {
        Self::default()
    }

    /// The line printed for `span`.
    pub fn format(span: &SpanData) -> String {
        let kind = match span.span_kind {
            SpanKind::Client => "CLIENT",
            SpanKind::Server => "SERVER",
            SpanKind::Producer => "PRODUCER",
            SpanKind::Consumer => "CONSUMER",
            SpanKind::Internal => "INTERNAL",
        };
        let cx = &span.span_context;

        let status = match &span.status {
            Status::Unset => "UNSET".to_owned(),
            Status::Ok => "OK".to_owned(),
            Status::Error { description } => format!("ERROR({description})"),
        };
        let mut line = String::with_capacity(160);
        for part in ["[otel-web] ", span.name.as_ref(), " ", kind, " "] {
            line.push_str(part);
        }
        push_millis(&mut line, span.duration_nanos());
        line.push_str(" ms trace=");
        push_hex(&mut line, &cx.trace_id().to_bytes());
        line.push_str(" span=");
        push_hex(&mut line, &cx.span_id().to_bytes());
        line.push_str(" parent=");
        if span.parent_span_id == SpanId::INVALID {
            line.push('-');
        } else {
            push_hex(&mut line, &span.parent_span_id.to_bytes());
        }
        line.push(' ');
        line.push_str(&status);
        for kv in &span.attributes {
            line.push(' ');
            line.push_str(kv.key.as_str());
            line.push('=');
            push_value(&mut line, &kv.value);
        }
        for event in &span.events {
            line.push_str(" event:");
            line.push_str(&event.name);
        }
        line
    }
}

/// Milliseconds with three decimals, from nanoseconds (integer arithmetic: no float formatting).
fn push_millis(out: &mut String, nanos: u64) {
    let micros = nanos.saturating_add(500) / 1_000;
    out.push_str(&(micros / 1_000).to_string());
    out.push('.');
    let fraction = (micros % 1_000) as u32;
    for digit in [fraction / 100, fraction / 10 % 10, fraction % 10] {
        out.push(char::from(b'0' + digit as u8));
    }
}

/// An attribute value as the OpenTelemetry JS console exporter shows it.
fn push_value(out: &mut String, value: &Value) {
    fn list<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            each(out, item);
        }
        out.push(']');
    }
    match value {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I64(i) => out.push_str(&i.to_string()),
        Value::F64(f) => number::push_f64(out, *f),
        Value::String(s) => out.push_str(s.as_str()),
        Value::Array(Array::Bool(items)) => list(out, items, |out, b| push_value(out, &Value::Bool(*b))),
        Value::Array(Array::I64(items)) => list(out, items, |out, i| push_value(out, &Value::I64(*i))),
        Value::Array(Array::F64(items)) => list(out, items, |out, f| number::push_f64(out, *f)),
        Value::Array(Array::String(items)) => list(out, items, |out, s| out.push_str(s.as_str())),
        _ => out.push('?'),
    }
}

impl SpanExporter for ConsoleExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
        _mode: ExportMode,
    ) -> LocalBoxFuture<'static, Result<(), ExportError>> {
        if self.shut_down.get() {
            return Box::pin(async { Err(ExportError::AlreadyShutdown) });
        }
        for span in &batch {
            let line = Self::format(span);
            #[cfg(target_arch = "wasm32")]
            web_sys::console::log_1(&line.into());
            #[cfg(not(target_arch = "wasm32"))]
            println!("{line}");
        }
        Box::pin(async { Ok(()) })
    }

    fn shutdown(&self) {
        self.shut_down.set(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_span;
    use opentelemetry::KeyValue;

    #[test]
    fn a_span_is_one_readable_line() {
        let mut span = test_span("GET /api/activities/home");
        span.span_kind = SpanKind::Client;
        span.attributes.push(KeyValue::new("http.response.status_code", 200));
        let line = ConsoleExporter::format(&span);
        assert_eq!(
            line,
            "[otel-web] GET /api/activities/home CLIENT 250.000 ms trace=0102030405060708090a0b0c0d0e0f10 \
             span=1112131415161718 parent=- UNSET http.response.status_code=200"
        );
    }
}
