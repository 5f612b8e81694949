//! [`ConsoleExporter`]: one readable line per span in the devtools console, the browser twin of
//! the OpenTelemetry `ConsoleSpanExporter`.
//!
//! ```text
//! [otel-web] GET /api/activities/home CLIENT 42.180 ms trace=4bf92f… span=00f067… parent=- OK http.request.method=GET …
//! ```

use std::cell::Cell;
use std::fmt::Write;

use opentelemetry::trace::{SpanId, SpanKind, Status};

use super::{ExportMode, SpanExporter};
use crate::error::ExportError;
use crate::sync::LocalBoxFuture;
use crate::trace::SpanData;

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
        let parent = if span.parent_span_id == SpanId::INVALID {
            "-".to_owned()
        } else {
            span.parent_span_id.to_string()
        };
        let status = match &span.status {
            Status::Unset => "UNSET".to_owned(),
            Status::Ok => "OK".to_owned(),
            Status::Error { description } => format!("ERROR({description})"),
        };
        let mut line = format!(
            "[otel-web] {} {kind} {:.3} ms trace={} span={} parent={parent} {status}",
            span.name,
            span.duration_nanos() as f64 / 1e6,
            cx.trace_id(),
            cx.span_id(),
        );
        for kv in &span.attributes {
            let _ = write!(line, " {}={}", kv.key, kv.value);
        }
        for event in &span.events {
            let _ = write!(line, " event:{}", event.name);
        }
        line
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
