//! The span store: SQLite in WAL mode in the data directory.
//!
//! Spans have typed columns (trace id, span id, parent id, name, kind, service, start, duration,
//! status) and their merged resource + span attributes as JSONB, so any attribute is queryable
//! with `attributes ->> '$."key"'`. An ingest is one transaction: all of it is stored or none.
//! `synchronous = NORMAL` in WAL mode makes a committed (acknowledged) ingest survive a killed
//! process.
//!
//! Retention keeps at most [`Retention::max_spans`] spans, none older than
//! [`Retention::max_age`]; the oldest go first.
//!
//! One connection behind a `Mutex`. A panic while it is held (a bug in a query's row callback,
//! say) cannot take the store down: the lock is recovered from poisoning, which is sound because
//! SQLite keeps the connection consistent by itself — an unfinished transaction rolls back when
//! its `Transaction` is dropped during the unwind, and a half-read statement is simply reset.

mod queries;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, params};
use serde_json::Value as Json;
use thiserror::Error;

pub use queries::{SavedQuery, StoredSpan, TraceSummary, value_text};

use crate::otlp::SpanRecord;

/// The store failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// How much the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Most spans kept.
    pub max_spans: u64,
    /// Oldest span kept.
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self { max_spans: 2_000_000, max_age: Duration::from_secs(7 * 24 * 3600) }
    }
}

/// The store; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    retention: Retention,
    spans: AtomicU64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spans (
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_id TEXT,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  service TEXT NOT NULL,
  start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  status_code INTEGER NOT NULL,
  status_message TEXT NOT NULL,
  scope TEXT NOT NULL,
  attributes BLOB NOT NULL,
  events TEXT NOT NULL,
  PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_by_start ON spans(start_ns);
CREATE TABLE IF NOT EXISTS saved_queries (
  name TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  saved_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS query_history (
  id INTEGER PRIMARY KEY,
  spec TEXT NOT NULL,
  run_ns INTEGER NOT NULL
);
";

/// Attributes as a JSON object, written straight into `out` (no intermediate map).
fn write_attributes(out: &mut Vec<u8>, attributes: &[(String, crate::otlp::AttrValue)]) {
    use crate::otlp::AttrValue;
    out.push(b'{');
    for (i, (key, value)) in attributes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing into a Vec cannot fail; strings are escaped by serde_json.
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
        let _ = match value {
            AttrValue::Str(s) => serde_json::to_writer(&mut *out, s),
            AttrValue::Int(n) => serde_json::to_writer(&mut *out, n),
            AttrValue::Bool(b) => serde_json::to_writer(&mut *out, b),
            AttrValue::Float(f) if f.is_finite() => serde_json::to_writer(&mut *out, f),
            AttrValue::Float(_) => serde_json::to_writer(&mut *out, &Json::Null),
            AttrValue::Json(json) => serde_json::to_writer(&mut *out, json),
        };
    }
    out.push(b'}');
}

fn attributes_json(attributes: &[(String, crate::otlp::AttrValue)]) -> String {
    let mut out = Vec::with_capacity(64 * attributes.len() + 2);
    write_attributes(&mut out, attributes);
    String::from_utf8(out).unwrap_or_default()
}

fn events_json(span: &SpanRecord) -> String {
    if span.events.is_empty() {
        return "[]".to_owned();
    }
    let mut out = Vec::with_capacity(128 * span.events.len());
    out.push(b'[');
    for (i, event) in span.events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        let _ = serde_json::to_writer(&mut out, &event.name);
        out.extend_from_slice(b",\"time_ns\":");
        let _ = serde_json::to_writer(&mut out, &event.time_ns);
        out.extend_from_slice(b",\"attributes\":");
        write_attributes(&mut out, &event.attributes);
        out.push(b'}');
    }
    out.push(b']');
    String::from_utf8(out).unwrap_or_default()
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path, retention: Retention) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::Directory { path: dir.display().to_string(), source })?;
        Self::with_connection(Connection::open(dir.join("spans.db"))?, retention)
    }

    /// A store that lives in memory only (tests).
    pub fn in_memory(retention: Retention) -> Result<Self, StoreError> {
        Self::with_connection(Connection::open_in_memory()?, retention)
    }

    fn with_connection(conn: Connection, retention: Retention) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.execute_batch(SCHEMA)?;
        let count: i64 = conn.query_row("SELECT count(*) FROM spans", [], |r| r.get(0))?;
        Ok(Self { conn: Mutex::new(conn), retention, spans: AtomicU64::new(count as u64) })
    }

    /// The connection. Never fails: a lock poisoned by a panic is recovered (see the module docs).
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `spans` in one transaction (a span sent twice replaces itself); returns the number
    /// stored.
    pub fn insert(&self, spans: &[SpanRecord]) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut added = 0u64;
        {
            // New spans (nearly all) take one statement; a span sent again replaces itself.
            let columns = "(trace_id, span_id, parent_id, name, kind, service, start_ns, end_ns, duration_ms, \
                           status_code, status_message, scope, attributes, events) \
                           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, jsonb(?13), ?14)";
            let mut insert = tx.prepare_cached(&format!("INSERT OR IGNORE INTO spans {columns}"))?;
            let mut replace = tx.prepare_cached(&format!("INSERT OR REPLACE INTO spans {columns}"))?;
            for span in spans {
                let values = params![
                    span.trace_id,
                    span.span_id,
                    span.parent_id,
                    span.name,
                    span.kind,
                    span.service,
                    span.start_ns,
                    span.end_ns,
                    span.duration_ms(),
                    span.status_code,
                    span.status_message,
                    span.scope,
                    attributes_json(&span.attributes),
                    events_json(span),
                ];
                if insert.execute(values)? == 1 {
                    added += 1;
                } else {
                    replace.execute(values)?;
                }
            }
        }
        tx.commit()?;
        self.spans.fetch_add(added, Ordering::Relaxed);
        Ok(spans.len())
    }

    /// Spans stored.
    pub fn span_count(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }

    /// Deletes what the retention rules no longer allow; returns how many spans went.
    pub fn enforce_retention(&self, now_ns: i64) -> Result<u64, StoreError> {
        let conn = self.conn();
        let cutoff = now_ns - self.retention.max_age.as_nanos() as i64;
        let mut deleted = conn.execute("DELETE FROM spans WHERE start_ns < ?1", [cutoff])? as u64;
        let count: u64 = conn.query_row("SELECT count(*) FROM spans", [], |r| r.get::<_, i64>(0))? as u64;
        if count > self.retention.max_spans {
            let excess = count - self.retention.max_spans;
            deleted += conn.execute(
                "DELETE FROM spans WHERE rowid IN (SELECT rowid FROM spans ORDER BY start_ns ASC LIMIT ?1)",
                [excess as i64],
            )? as u64;
        }
        let remaining: i64 = conn.query_row("SELECT count(*) FROM spans", [], |r| r.get(0))?;
        self.spans.store(remaining as u64, Ordering::Relaxed);
        Ok(deleted)
    }

    /// Runs `f` with the connection (the query engine reads through this).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.conn();
        f(&conn).map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::AttrValue;

    pub(crate) fn span(trace: u8, id: u8, parent: Option<u8>, start_ms: i64, duration_ms: i64) -> SpanRecord {
        SpanRecord {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{id:016x}"),
            parent_id: parent.map(|p| format!("{p:016x}")),
            name: format!("span-{id}"),
            kind: 1,
            service: "svc".into(),
            start_ns: start_ms * 1_000_000,
            end_ns: (start_ms + duration_ms) * 1_000_000,
            status_code: 0,
            status_message: String::new(),
            attributes: vec![("user.id".into(), AttrValue::Str("andrew".into()))],
            events: vec![],
            scope: "test".into(),
        }
    }

    #[test]
    fn a_span_sent_twice_is_stored_once() {
        let store = Store::in_memory(Retention::default()).expect("store");
        store.insert(&[span(1, 1, None, 0, 5), span(1, 2, Some(1), 1, 2)]).expect("insert");
        store.insert(&[span(1, 2, Some(1), 1, 2)]).expect("insert again");
        assert_eq!(store.span_count(), 2);
        assert_eq!(store.trace(&format!("{:032x}", 1)).expect("trace").len(), 2);
    }

    #[test]
    fn a_panic_while_the_store_is_held_does_not_poison_it() {
        let store = Store::in_memory(Retention::default()).expect("store");
        store.insert(&[span(1, 1, None, 0, 5)]).expect("insert");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.read(|c| -> rusqlite::Result<()> {
                let mut stmt = c.prepare("SELECT span_id FROM spans")?;
                let mut rows = stmt.query([])?;
                let _ = rows.next()?;
                panic!("a bug in a row callback");
            })
        }));
        assert!(panicked.is_err(), "the closure panicked");
        store.insert(&[span(1, 2, Some(1), 1, 2)]).expect("the store still ingests");
        assert_eq!(store.trace(&format!("{:032x}", 1)).expect("and answers").len(), 2);
    }

    #[test]
    fn retention_drops_the_oldest_and_the_too_old() {
        let retention = Retention { max_spans: 3, max_age: Duration::from_secs(3600) };
        let store = Store::in_memory(retention).expect("store");
        let now_ms = 10_000_000;
        let spans: Vec<SpanRecord> =
            (0..5).map(|i| span(i, i, None, now_ms - 1_000 * i64::from(5 - i), 1)).collect();
        store.insert(&spans).expect("insert");
        let mut ancient = span(9, 9, None, now_ms - 2 * 3_600_000, 1);
        ancient.trace_id = format!("{:032x}", 99);
        store.insert(&[ancient]).expect("insert");
        let deleted = store.enforce_retention(now_ms * 1_000_000).expect("retention");
        assert_eq!(deleted, 3);
        assert_eq!(store.span_count(), 3);
        let kept: Vec<i64> = store
            .read(|c| {
                c.prepare("SELECT start_ns FROM spans ORDER BY start_ns")?
                    .query_map([], |r| r.get(0))?
                    .collect()
            })
            .expect("read");
        assert_eq!(
            kept,
            vec![(now_ms - 3_000) * 1_000_000, (now_ms - 2_000) * 1_000_000, (now_ms - 1_000) * 1_000_000]
        );
    }
}
