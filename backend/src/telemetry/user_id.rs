//! [`UserIdFromBaggage`]: the signed-in user travels from the browser in W3C `baggage`
//! (`user.id=…`); this processor copies it onto every span started in that context, so the
//! server span and all its children carry `user.id`.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::Span as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

/// Longest `user.id` copied from baggage (the header is untrusted input).
pub(crate) const MAX_USER_ID_LEN: usize = 128;

/// Copies baggage `user.id` onto spans at start.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserIdFromBaggage;

impl SpanProcessor for UserIdFromBaggage {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        if let Some(user) = cx.baggage().get("user.id") {
            let user: String = user.as_str().chars().take(MAX_USER_ID_LEN).collect();
            if !user.is_empty() {
                span.set_attribute(KeyValue::new("user.id", user));
            }
        }
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}
