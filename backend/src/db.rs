//! The SQLite store: schema, demo seed, and the queries the handlers run — each one a CLIENT span
//! (`db.system.name = sqlite`, `db.query.text`, `db.operation.name`, `db.collection.name`) under
//! whatever span is current.

use std::path::Path;
use std::sync::{Arc, Mutex};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, SpanKind, Status, Tracer};
use opentelemetry_sdk::trace::SdkTracer;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::AppError;
use crate::model::{Activity, User};

/// A shared connection to the database.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    tracer: SdkTracer,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
  handle TEXT PRIMARY KEY,
  display_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS activities (
  uuid TEXT PRIMARY KEY,
  handle TEXT NOT NULL REFERENCES users(handle),
  message TEXT NOT NULL,
  replies_count INTEGER NOT NULL DEFAULT 0,
  reposts_count INTEGER NOT NULL DEFAULT 0,
  likes_count INTEGER NOT NULL DEFAULT 0,
  reply_to_activity_uuid TEXT REFERENCES activities(uuid),
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS activities_created ON activities(created_at DESC);
CREATE INDEX IF NOT EXISTS activities_reply_to ON activities(reply_to_activity_uuid);
";

const SEED_USERS: &[(&str, &str)] =
    &[("andrewbrown", "Andrew Brown"), ("worf", "Worf"), ("garek", "Garek"), ("bayko", "Andrew Bayko")];

/// `(author, message, hours ago, replying to the n-th seeded activity)`.
const SEED_ACTIVITIES: &[(&str, &str, i64, Option<usize>)] = &[
    ("andrewbrown", "Cloud is very fun!", 2, None),
    ("worf", "This post has no honor!", 1, Some(0)),
    ("garek", "I am out of prune juice", 6, None),
    ("bayko", "Traced from the click to the database, and back. Finally.", 12, None),
    ("andrewbrown", "Is it the network or the server? Now the trace says which.", 24, None),
    ("garek", "Lies are the only truths worth telling.", 30, Some(4)),
];

const ACTIVITY_COLUMNS: &str = "a.uuid, a.handle, u.display_name, a.message, a.replies_count, a.reposts_count, \
     a.likes_count, a.created_at, a.expires_at, a.reply_to_activity_uuid";

fn row_to_activity(row: &rusqlite::Row<'_>) -> rusqlite::Result<Activity> {
    Ok(Activity {
        uuid: row.get(0)?,
        handle: row.get(1)?,
        display_name: row.get(2)?,
        message: row.get(3)?,
        replies_count: row.get(4)?,
        reposts_count: row.get(5)?,
        likes_count: row.get(6)?,
        created_at: row.get(7)?,
        expires_at: row.get(8)?,
        reply_to_activity_uuid: row.get(9)?,
        replies: Vec::new(),
    })
}

/// A new random id in UUID form, from SQLite's own randomness.
const NEW_UUID: &str = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)),2) || '-' || \
     substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)),2) || '-' || hex(randomblob(6)))";

impl Db {
    /// Opens (creating and seeding if new) the database at `path`; `:memory:` for tests.
    pub fn open(path: &Path, tracer: SdkTracer) -> Result<Self, AppError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::Internal(format!("creating {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        let empty: bool = conn.query_row("SELECT count(*) = 0 FROM users", [], |r| r.get(0))?;
        if empty {
            seed(&conn)?;
        }
        Ok(Self { conn: Arc::new(Mutex::new(conn)), tracer })
    }

    /// Runs `f` on the connection inside a CLIENT span named `"{operation} {table}"`.
    fn traced<T>(
        &self,
        operation: &'static str,
        table: &'static str,
        sql: &str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, AppError> {
        let mut span = self
            .tracer
            .span_builder(format!("{operation} {table}"))
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("db.system.name", "sqlite"),
                KeyValue::new("db.operation.name", operation),
                KeyValue::new("db.collection.name", table),
                KeyValue::new("db.query.text", sql.to_owned()),
            ])
            .start(&self.tracer);
        let result = match self.conn.lock() {
            Ok(conn) => f(&conn).map_err(AppError::from),
            Err(_) => Err(AppError::Internal("database lock poisoned".into())),
        };
        if let Err(e) = &result {
            span.set_attribute(KeyValue::new("error.type", "rusqlite::Error"));
            span.set_status(Status::error(e.to_string()));
        }
        span.end();
        result
    }

    /// The demo users.
    pub fn users(&self) -> Result<Vec<User>, AppError> {
        let sql = "SELECT handle, display_name FROM users ORDER BY handle";
        self.traced("SELECT", "users", sql, |c| {
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map([], |r| Ok(User { handle: r.get(0)?, display_name: r.get(1)? }))?;
            rows.collect()
        })
    }

    /// Whether `handle` is a user.
    pub fn user_exists(&self, handle: &str) -> Result<bool, AppError> {
        let sql = "SELECT 1 FROM users WHERE handle = ?1";
        self.traced("SELECT", "users", sql, |c| {
            c.prepare_cached(sql)?.query_row([handle], |_| Ok(())).optional().map(|o| o.is_some())
        })
    }

    /// Unexpired activities matching `filter` (a SQL condition on `a`), newest first, with their
    /// replies.
    fn feed(
        &self,
        filter: &str,
        params: &[&dyn rusqlite::ToSql],
        limit: i64,
    ) -> Result<Vec<Activity>, AppError> {
        let sql = format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities a JOIN users u ON u.handle = a.handle \
             WHERE a.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ','now') AND {filter} \
             ORDER BY a.created_at DESC LIMIT {limit}"
        );
        let mut activities = self.traced("SELECT", "activities", &sql, |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params, row_to_activity)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        if activities.is_empty() {
            return Ok(activities);
        }
        let placeholders = vec!["?"; activities.len()].join(",");
        let replies_sql = format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities a JOIN users u ON u.handle = a.handle \
             WHERE a.reply_to_activity_uuid IN ({placeholders}) ORDER BY a.created_at ASC"
        );
        let ids: Vec<String> = activities.iter().map(|a| a.uuid.clone()).collect();
        let replies = self.traced("SELECT", "activities", &replies_sql, |c| {
            let mut stmt = c.prepare_cached(&replies_sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(ids.iter()), row_to_activity)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        for reply in replies {
            if let Some(parent) =
                activities.iter_mut().find(|a| Some(&a.uuid) == reply.reply_to_activity_uuid.as_ref())
            {
                parent.replies.push(reply);
            }
        }
        Ok(activities)
    }

    /// The home feed: top-level activities with their replies.
    pub fn home(&self) -> Result<Vec<Activity>, AppError> {
        self.feed("a.reply_to_activity_uuid IS NULL", &[], 50)
    }

    /// One user's activities, replies included.
    pub fn user_activities(&self, handle: &str) -> Result<Vec<Activity>, AppError> {
        self.feed("a.handle = ?1", &[&handle], 50)
    }

    /// Activities whose text contains `term` (case-insensitive).
    pub fn search(&self, term: &str) -> Result<Vec<Activity>, AppError> {
        let pattern = format!("%{}%", term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        self.feed("a.reply_to_activity_uuid IS NULL AND a.message LIKE ?1 ESCAPE '\\'", &[&pattern], 50)
    }

    /// Replies to `handle`'s activities by others (everyone's replies without a handle).
    pub fn notifications(&self, handle: Option<&str>) -> Result<Vec<Activity>, AppError> {
        let sql = format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities a JOIN users u ON u.handle = a.handle \
             JOIN activities p ON p.uuid = a.reply_to_activity_uuid \
             WHERE (?1 IS NULL OR (p.handle = ?1 AND a.handle != ?1)) ORDER BY a.created_at DESC LIMIT 50"
        );
        self.traced("SELECT", "activities", &sql, |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([handle], row_to_activity)?;
            rows.collect()
        })
    }

    /// Inserts an activity (a reply when `reply_to` is set) and returns it.
    pub fn create(
        &self,
        handle: &str,
        message: &str,
        ttl_hours: i64,
        reply_to: Option<&str>,
    ) -> Result<Activity, AppError> {
        let sql = format!(
            "INSERT INTO activities (uuid, handle, message, reply_to_activity_uuid, created_at, expires_at) \
             VALUES ({NEW_UUID}, ?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ','now'), \
             strftime('%Y-%m-%dT%H:%M:%fZ','now', '+' || ?4 || ' hours')) RETURNING uuid"
        );
        let uuid: String = self.traced("INSERT", "activities", &sql, |c| {
            c.prepare_cached(&sql)?.query_row(params![handle, message, reply_to, ttl_hours], |r| r.get(0))
        })?;
        if let Some(parent) = reply_to {
            let sql = "UPDATE activities SET replies_count = replies_count + 1 WHERE uuid = ?1";
            self.traced("UPDATE", "activities", sql, |c| c.prepare_cached(sql)?.execute([parent]))?;
        }
        let sql = format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities a JOIN users u ON u.handle = a.handle WHERE a.uuid = ?1"
        );
        self.traced("SELECT", "activities", &sql, |c| {
            c.prepare_cached(&sql)?.query_row([&uuid], row_to_activity)
        })
    }

    /// Whether a top-level activity `uuid` exists.
    pub fn activity_exists(&self, uuid: &str) -> Result<bool, AppError> {
        let sql = "SELECT 1 FROM activities WHERE uuid = ?1";
        self.traced("SELECT", "activities", sql, |c| {
            c.prepare_cached(sql)?.query_row([uuid], |_| Ok(())).optional().map(|o| o.is_some())
        })
    }
}

fn seed(conn: &Connection) -> rusqlite::Result<()> {
    for (handle, name) in SEED_USERS {
        conn.execute("INSERT INTO users (handle, display_name) VALUES (?1, ?2)", [handle, name])?;
    }
    let mut ids: Vec<String> = Vec::new();
    for (handle, message, hours_ago, reply_to) in SEED_ACTIVITIES {
        let parent = reply_to.and_then(|i| ids.get(i).cloned());
        let sql = format!(
            "INSERT INTO activities (uuid, handle, message, reply_to_activity_uuid, created_at, expires_at, likes_count) \
             VALUES ({NEW_UUID}, ?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ','now', '-' || ?4 || ' hours'), \
             strftime('%Y-%m-%dT%H:%M:%fZ','now', '+30 days'), ?4 % 5) RETURNING uuid"
        );
        let uuid: String = conn.query_row(&sql, params![handle, message, parent, hours_ago], |r| r.get(0))?;
        if let Some(parent) = &parent {
            conn.execute(
                "UPDATE activities SET replies_count = replies_count + 1 WHERE uuid = ?1",
                [parent],
            )?;
        }
        ids.push(uuid);
    }
    Ok(())
}
