//! Reading traces back: one trace, recent traces, saved queries and history.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{Store, StoreError, now_ns};

/// A stored span, as the API and views show it (and as API clients read it back).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredSpan {
    /// Trace id (hex).
    pub trace_id: String,
    /// Span id (hex).
    pub span_id: String,
    /// Parent span id, if any.
    pub parent_id: Option<String>,
    /// Name.
    pub name: String,
    /// OTLP kind number.
    pub kind: i32,
    /// `service.name`.
    pub service: String,
    /// Start, ns since the epoch.
    pub start_ns: i64,
    /// End, ns since the epoch.
    pub end_ns: i64,
    /// Duration, ms.
    pub duration_ms: f64,
    /// OTLP status code.
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
    /// Scope name.
    pub scope: String,
    /// Merged attributes.
    pub attributes: serde_json::Map<String, Json>,
    /// Events: `[{name, time_ns, attributes}]`.
    pub events: Vec<Json>,
}

impl StoredSpan {
    /// The kind's name as Honeycomb shows it (`server`, `client`, …).
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.kind)
    }

    /// An attribute as text (see [`value_text`]).
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes.get(key).map(value_text)
    }

    /// An attribute as a number.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.attributes.get(key).and_then(Json::as_f64)
    }
}

/// An attribute or group value as a person reads it: strings bare, anything else as JSON.
pub fn value_text(value: &Json) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

/// `span.kind` names.
pub(super) fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

/// One line of the recent-traces list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceSummary {
    /// Trace id.
    pub trace_id: String,
    /// The root span's name (or the earliest span's, while the root has not arrived).
    pub root_name: String,
    /// The services seen in the trace.
    pub services: Vec<String>,
    /// Earliest start, ns.
    pub start_ns: i64,
    /// Latest end minus earliest start, ms.
    pub duration_ms: f64,
    /// Spans in the trace.
    pub span_count: i64,
    /// Spans with status ERROR.
    pub error_count: i64,
}

/// A named query.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SavedQuery {
    /// Its name.
    pub name: String,
    /// The Honeycomb query specification, JSON.
    pub spec: Json,
}

const SPAN_COLUMNS: &str = "trace_id, span_id, parent_id, name, kind, service, start_ns, end_ns, duration_ms, \
     status_code, status_message, scope, json(attributes), events";

fn row_to_span(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSpan> {
    let attributes: String = row.get(12)?;
    let events: String = row.get(13)?;
    Ok(StoredSpan {
        trace_id: row.get(0)?,
        span_id: row.get(1)?,
        parent_id: row.get(2)?,
        name: row.get(3)?,
        kind: row.get(4)?,
        service: row.get(5)?,
        start_ns: row.get(6)?,
        end_ns: row.get(7)?,
        duration_ms: row.get(8)?,
        status_code: row.get(9)?,
        status_message: row.get(10)?,
        scope: row.get(11)?,
        attributes: serde_json::from_str(&attributes).unwrap_or_default(),
        events: serde_json::from_str(&events).unwrap_or_default(),
    })
}

impl Store {
    /// Every span of a trace, by start time.
    pub fn trace(&self, trace_id: &str) -> Result<Vec<StoredSpan>, StoreError> {
        self.read(|c| {
            let sql =
                format!("SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ?1 ORDER BY start_ns, span_id");
            c.prepare_cached(&sql)?.query_map([trace_id.to_ascii_lowercase()], row_to_span)?.collect()
        })
    }

    /// The most recent traces (by their earliest span), optionally of one service only.
    pub fn recent_traces(
        &self,
        limit: usize,
        service: Option<&str>,
    ) -> Result<Vec<TraceSummary>, StoreError> {
        self.read(|c| {
            let sql = "WITH recent AS (
                   SELECT trace_id FROM spans WHERE (?2 IS NULL OR service = ?2)
                   GROUP BY trace_id ORDER BY max(start_ns) DESC LIMIT ?1)
                 SELECT s.trace_id, min(s.start_ns), max(s.end_ns), count(*), sum(s.status_code = 2),
                        group_concat(DISTINCT s.service),
                        (SELECT r.name FROM spans r WHERE r.trace_id = s.trace_id
                           ORDER BY r.parent_id IS NOT NULL, r.start_ns LIMIT 1)
                 FROM spans s JOIN recent USING (trace_id)
                 GROUP BY s.trace_id ORDER BY min(s.start_ns) DESC";
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map(params![limit as i64, service], |r| {
                let start: i64 = r.get(1)?;
                let end: i64 = r.get(2)?;
                let services: String = r.get(5)?;
                let mut services: Vec<String> = services.split(',').map(str::to_owned).collect();
                services.sort();
                Ok(TraceSummary {
                    trace_id: r.get(0)?,
                    start_ns: start,
                    duration_ms: end.saturating_sub(start).max(0) as f64 / 1e6,
                    span_count: r.get(3)?,
                    error_count: r.get(4)?,
                    services,
                    root_name: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Saves (or replaces) a named query.
    pub fn save_query(&self, name: &str, spec: &Json) -> Result<(), StoreError> {
        self.read(|c| {
            c.execute(
                "INSERT OR REPLACE INTO saved_queries (name, spec, saved_ns) VALUES (?1, ?2, ?3)",
                params![name, spec.to_string(), now_ns()],
            )
            .map(|_| ())
        })
    }

    /// Saves `defaults` that are not saved yet (the shipped queries, at start-up).
    pub fn save_defaults(&self, defaults: &[(&str, Json)]) -> Result<(), StoreError> {
        for (name, spec) in defaults {
            let exists = self.read(|c| {
                c.query_row("SELECT 1 FROM saved_queries WHERE name = ?1", [name], |_| Ok(())).optional()
            })?;
            if exists.is_none() {
                self.save_query(name, spec)?;
            }
        }
        Ok(())
    }

    /// All saved queries, by name.
    pub fn saved_queries(&self) -> Result<Vec<SavedQuery>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT name, spec FROM saved_queries ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                let spec: String = r.get(1)?;
                Ok(SavedQuery { name: r.get(0)?, spec: serde_json::from_str(&spec).unwrap_or(Json::Null) })
            })?;
            rows.collect()
        })
    }

    /// Records a query that was run; keeps the last 50.
    pub fn remember(&self, spec: &Json) -> Result<(), StoreError> {
        self.read(|c| {
            c.execute("INSERT INTO query_history (spec, run_ns) VALUES (?1, ?2)", params![spec.to_string(), now_ns()])?;
            c.execute("DELETE FROM query_history WHERE id NOT IN (SELECT id FROM query_history ORDER BY id DESC LIMIT 50)", [])
                .map(|_| ())
        })
    }

    /// Recent queries, newest first.
    pub fn history(&self) -> Result<Vec<Json>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT spec FROM query_history ORDER BY id DESC LIMIT 20")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|r| r.map(|s| serde_json::from_str(&s).unwrap_or(Json::Null))).collect()
        })
    }
}
