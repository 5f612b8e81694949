//! [`ConsoleExporter`]: one readable line per span on standard output, the twin of the seed's
//! `ConsoleSpanExporter`:
//!
//! ```text
//! span GET /api/activities/home SERVER 3.412ms trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7 parent=b7ad6b7169203331 status=UNSET http.route=/api/activities/home …
//! ```

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Writes spans to a writer (standard output by default).
#[derive(Clone)]
pub struct ConsoleExporter {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleExporter")
    }
}

impl ConsoleExporter {
    /// Prints to standard output.
    pub fn stdout() -> Self {
        Self::to_writer(std::io::stdout())
    }

    /// Prints to any writer (tests capture the output this way).
    pub fn to_writer(writer: impl Write + Send + 'static) -> Self {
        Self { out: Arc::new(Mutex::new(Box::new(writer))) }
    }

    /// The line for `span`.
    pub fn format(span: &SpanData) -> String {
        let kind = match span.span_kind {
            SpanKind::Server => "SERVER",
            SpanKind::Client => "CLIENT",
            SpanKind::Producer => "PRODUCER",
            SpanKind::Consumer => "CONSUMER",
            SpanKind::Internal => "INTERNAL",
        };
        let duration = span.end_time.duration_since(span.start_time).unwrap_or_default();
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
            "span {} {kind} {:.3}ms trace={} span={} parent={parent} status={status}",
            span.name,
            duration.as_secs_f64() * 1e3,
            span.span_context.trace_id(),
            span.span_context.span_id(),
        );
        for kv in &span.attributes {
            let _ = write!(line, " {}={}", kv.key, kv.value);
        }
        line
    }
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut text = String::new();
        for span in &batch {
            text.push_str(&Self::format(span));
            text.push('\n');
        }
        let mut out =
            self.out.lock().map_err(|_| OTelSdkError::InternalFailure("console lock poisoned".into()))?;
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_span_is_one_readable_line() {
        let captured = Captured::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(ConsoleExporter::to_writer(captured.clone()))
            .build();
        let tracer = provider.tracer("test");
        tracer.in_span("home-activities", |_| {});
        tracer.in_span("SELECT activities", |_| {});
        let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("span home-activities INTERNAL "), "{}", lines[0]);
        assert!(lines[0].contains(" parent=- status=UNSET"), "{}", lines[0]);
    }
}
