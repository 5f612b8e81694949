//! Activities: the home feed (with the seed's `home-activities` span), notifications, a user's
//! page, search, posting, replying.

use std::time::SystemTime;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use serde::Deserialize;

use crate::error::AppError;
use crate::model::{Activity, MAX_MESSAGE_CHARS, NewActivity, NewReply, TTLS};
use crate::state::AppState;

/// The signed-in user, from W3C baggage `user.id`.
fn current_user() -> Option<String> {
    Context::current().baggage().get("user.id").map(|v| v.as_str().to_owned())
}

fn rfc3339_now() -> String {
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `GET /api/activities/home`, inside the seed's custom `home-activities` span.
pub async fn home(State(state): State<AppState>) -> Result<Json<Vec<Activity>>, AppError> {
    let span = state.tracer.start("home-activities");
    let cx = Context::current().with_span(span);
    async {
        let span = Context::current();
        let span = span.span();
        // `user.id` is already set from baggage by `UserIdFromBaggage`, as on every span.
        span.set_attribute(KeyValue::new("app.now", rfc3339_now()));
        let activities = state.db.home();
        if let Ok(activities) = &activities {
            span.set_attribute(KeyValue::new("app.result_length", activities.len() as i64));
        }
        span.end();
        activities.map(Json)
    }
    .with_context(cx)
    .await
}

/// `GET /api/activities/notifications`: replies to the signed-in user's activities.
pub async fn notifications(State(state): State<AppState>) -> Result<Json<Vec<Activity>>, AppError> {
    state.db.notifications(current_user().as_deref()).map(Json)
}

/// `GET /api/activities/@{handle}`.
pub async fn user(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<Vec<Activity>>, AppError> {
    if !state.db.user_exists(&handle)? {
        return Err(AppError::NotFound("user"));
    }
    state.db.user_activities(&handle).map(Json)
}

/// The query of `GET /api/activities/search`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    term: Option<String>,
}

/// `GET /api/activities/search?term=…`.
pub async fn search(
    State(state): State<AppState>,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Activity>>, AppError> {
    let term = query.ok().and_then(|q| q.0.term).unwrap_or_default();
    let term = term.trim();
    if term.is_empty() || term.chars().count() > 100 {
        return Err(AppError::invalid("term", "give a search term of 1 to 100 characters"));
    }
    state.db.search(term).map(Json)
}

fn validate_message(message: &str) -> Result<&str, AppError> {
    let message = message.trim();
    if message.is_empty() {
        return Err(AppError::invalid("message", "write something first"));
    }
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::invalid("message", format!("keep it to {MAX_MESSAGE_CHARS} characters")));
    }
    Ok(message)
}

fn validate_user(state: &AppState, handle: &str) -> Result<(), AppError> {
    if state.db.user_exists(handle)? {
        Ok(())
    } else {
        Err(AppError::invalid("user_handle", format!("no user {handle:?}")))
    }
}

fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    json.map(|Json(v)| v).map_err(|e| AppError::invalid("body", e.body_text()))
}

/// `POST /api/activities`.
pub async fn create(
    State(state): State<AppState>,
    json: Result<Json<NewActivity>, JsonRejection>,
) -> Result<(StatusCode, Json<Activity>), AppError> {
    let new = body(json)?;
    let message = validate_message(&new.message)?;
    let hours = TTLS.iter().find(|t| t.name == new.ttl).map(|t| t.hours).ok_or_else(|| {
        let names: Vec<&str> = TTLS.iter().map(|t| t.name).collect();
        AppError::invalid("ttl", format!("must be one of {}", names.join(", ")))
    })?;
    validate_user(&state, &new.user_handle)?;
    let activity = state.db.create(&new.user_handle, message, hours, None)?;
    Ok((StatusCode::CREATED, Json(activity)))
}

/// `POST /api/activities/{uuid}/reply`.
pub async fn reply(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    json: Result<Json<NewReply>, JsonRejection>,
) -> Result<(StatusCode, Json<Activity>), AppError> {
    let new = body(json)?;
    let message = validate_message(&new.message)?;
    validate_user(&state, &new.user_handle)?;
    if !state.db.activity_exists(&uuid)? {
        return Err(AppError::NotFound("activity"));
    }
    let activity = state.db.create(&new.user_handle, message, 720, Some(&uuid))?;
    Ok((StatusCode::CREATED, Json(activity)))
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
