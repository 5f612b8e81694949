//! The SDK's errors: one type per operation, each variant saying what to do about it.
//!
//! Hot paths (span start and end, the processors' `on_end`) never return errors to the app: they
//! report through a rate-limited console warning once and drop the data.

use thiserror::Error;

/// Building a provider from configuration failed. The message names the field.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configuration field has a value the SDK cannot use.
    #[error("otel-web config: `{field}` {reason}")]
    InvalidField {
        /// The field's name, as written in the page's JSON configuration or the builder.
        field: &'static str,
        /// What is wrong with its value and what is accepted.
        reason: String,
    },
    /// The page's JSON configuration block is not valid JSON.
    #[error("otel-web config: the <script id=\"otel-web-config\"> block is not valid JSON: {0}")]
    InvalidJson(String),
}

impl ConfigError {
    pub(crate) fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField { field, reason: reason.into() }
    }
}

/// Exporting, flushing or shutting down did not get the data out.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The provider or exporter was shut down; create a new one to export again.
    #[error("the exporter is shut down")]
    AlreadyShutdown,
    /// The export did not finish within the configured export timeout; raise it or check the
    /// collector's latency.
    #[error("export timed out after {0} ms, retries included: its request was aborted and the batch dropped")]
    Timeout(u32),
    /// The collector answered with a status that is not retried (e.g. 400: the payload was
    /// rejected and will not be sent again).
    #[error("the collector answered HTTP {status}: {message}")]
    Rejected {
        /// HTTP status code.
        status: u16,
        /// The collector's message, if any.
        message: String,
    },
    /// The request could not be sent after every retry (collector down, CORS, offline).
    #[error("export failed: {0}")]
    Failed(String),
}
