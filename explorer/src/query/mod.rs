//! Honeycomb-style queries over the stored spans.
//!
//! A query is Honeycomb's query specification JSON — the same shape its Query API takes:
//!
//! ```json
//! { "calculations": [{"op": "P95", "column": "duration_ms"}, {"op": "HEATMAP", "column": "duration_ms"}],
//!   "filters": [{"column": "trace.parent_id", "op": "does-not-exist"}],
//!   "breakdowns": ["user.id"], "orders": [{"op": "P95", "column": "duration_ms", "order": "descending"}],
//!   "time_range": 7200, "granularity": 60, "limit": 100 }
//! ```
//!
//! Columns are every attribute (resource and span) plus `duration_ms`, `name`, `service.name`,
//! `span.kind`, `span.status_code`, `error`, `trace.trace_id`, `trace.span_id` and
//! `trace.parent_id` (so "root spans" is `trace.parent_id does-not-exist`). Array and map
//! attributes (`arrayValue`, `kvlistValue`) are compared and grouped as their JSON text.
//!
//! Limits, each refused with 400 naming the field:
//!
//! | field | accepted |
//! |---|---|
//! | `time_range`, `end_time − start_time` | 1 s to [`MAX_TIME_RANGE`] (366 days) |
//! | `start_time`, `end_time` | 0 to [`MAX_TIMESTAMP`] seconds since the epoch |
//! | `granularity` | `time range / `[`MAX_BUCKETS`] (rounded up) to `time range / `[`MIN_BUCKETS`], at least 1 s: 10 to 1000 buckets, as Honeycomb |
//! | `limit` | 1 to [`MAX_LIMIT`] |

mod exec;
mod spec;

pub use exec::{
    Cell, GroupResult, HEATMAP_BUCKETS, Heatmap, Meta, QueryResult, SeriesPoint, matching_traces, run,
};
pub use spec::{
    Calculation, Compare, DEFAULT_TIME_RANGE, Filter, FilterOp, Having, MAX_BUCKETS, MAX_LIMIT,
    MAX_TIME_RANGE, MAX_TIMESTAMP, MIN_BUCKETS, Op, Order, OrderBy, PERCENTILES, Query, QueryError,
};

use serde_json::{Value as Json, json};

/// The queries every new explorer starts with.
pub fn default_queries() -> Vec<(&'static str, Json)> {
    vec![
        (
            "Latency by user",
            json!({"calculations": [{"op": "P95", "column": "duration_ms"}, {"op": "HEATMAP", "column": "duration_ms"}],
                   "breakdowns": ["user.id"], "filters": [{"column": "user.id", "op": "exists"}],
                   "orders": [{"op": "P95", "column": "duration_ms", "order": "descending"}], "time_range": 7200}),
        ),
        (
            "Recent traces",
            json!({"calculations": [{"op": "COUNT"}, {"op": "MAX", "column": "duration_ms"}],
                   "filters": [{"column": "trace.parent_id", "op": "does-not-exist"}],
                   "breakdowns": ["trace.trace_id", "name"], "orders": [{"op": "MAX", "column": "duration_ms", "order": "descending"}],
                   "time_range": 3600, "limit": 50}),
        ),
        (
            "Responses that are not 200",
            json!({"calculations": [{"op": "COUNT"}],
                   "filters": [{"column": "http.response.status_code", "op": "exists"},
                               {"column": "http.response.status_code", "op": "!=", "value": 200}],
                   "breakdowns": ["http.response.status_code", "service.name"],
                   "orders": [{"op": "COUNT", "order": "descending"}], "time_range": 86400}),
        ),
        (
            "Root spans by user agent",
            json!({"calculations": [{"op": "COUNT"}], "filters": [{"column": "trace.parent_id", "op": "does-not-exist"}],
                   "breakdowns": ["user_agent.original"], "orders": [{"op": "COUNT", "order": "descending"}],
                   "time_range": 86400}),
        ),
        (
            "Browser → backend network share by route",
            json!({"calculations": [{"op": "P50", "column": "otelweb.network.duration_ms"},
                                    {"op": "P95", "column": "otelweb.network.duration_ms"},
                                    {"op": "P95", "column": "otelweb.server.duration_ms"}],
                   "filters": [{"column": "otelweb.network.duration_ms", "op": "exists"}],
                   "breakdowns": ["url.template"], "orders": [{"op": "P95", "column": "otelweb.network.duration_ms", "order": "descending"}],
                   "time_range": 86400}),
        ),
    ]
}
