//! [`AppState`]: what every handler can reach.

use opentelemetry_sdk::trace::SdkTracer;

use crate::db::Db;
use crate::relay::Relay;
use crate::telemetry::Propagator;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The tracer for server, custom and DB spans.
    pub tracer: SdkTracer,
    /// Extracts the browser's trace context and baggage.
    pub propagator: Propagator,
    /// Forwards the browser's spans upstream.
    pub relay: Relay,
    /// Origins granted CORS and `Timing-Allow-Origin`.
    pub frontend_origins: std::sync::Arc<[String]>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("frontend_origins", &self.frontend_origins).finish_non_exhaustive()
    }
}
