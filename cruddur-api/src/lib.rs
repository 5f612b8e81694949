//! Cruddur's API types: the JSON the backend serves and accepts, and the frontend reads and
//! sends. Both sides use these definitions, so a field cannot be renamed on one side only.
//!
//! The backend's own tests still post raw JSON (`backend/tests/api.rs`): they pin the wire
//! format, and these types must keep to it.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

pub mod server_fns;

/// A demo user, for the sign-in picker (`GET /api/users`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// The handle (`andrewbrown`), used as `user.id`.
    pub handle: String,
    /// The name shown (`Andrew Brown`).
    pub display_name: String,
}

/// A post (or a reply to one).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Activity {
    /// Id.
    pub uuid: String,
    /// Author's handle.
    pub handle: String,
    /// Author's name.
    pub display_name: String,
    /// The text.
    pub message: String,
    /// Replies count.
    pub replies_count: i64,
    /// Reposts count.
    pub reposts_count: i64,
    /// Likes count.
    pub likes_count: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// The activity this replies to.
    pub reply_to_activity_uuid: Option<String>,
    /// Replies, oldest first (only on top-level activities).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<Activity>,
}

/// `POST /api/activities`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewActivity {
    /// The author (a demo user's handle).
    pub user_handle: String,
    /// 1 to [`MAX_MESSAGE_CHARS`] characters.
    pub message: String,
    /// One of [`TTLS`]' names.
    pub ttl: String,
}

/// `POST /api/activities/{uuid}/reply`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewReply {
    /// The author.
    pub user_handle: String,
    /// 1 to [`MAX_MESSAGE_CHARS`] characters.
    pub message: String,
}

/// The body of every error response: `{"error": "...", "field": "message"}`. `field` names
/// the input to fix, for validation errors only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// A message a person can read.
    pub error: String,
    /// The field at fault, if the input was invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A lifetime an activity may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    /// Its name on the wire (`7-days`).
    pub name: &'static str,
    /// Its name for people (`7 days`).
    pub label: &'static str,
    /// Its length in hours.
    pub hours: i64,
}

/// The lifetimes an activity may have (the seed's choices), the default first.
pub const TTLS: &[Ttl] = &[
    Ttl { name: "7-days", label: "7 days", hours: 168 },
    Ttl { name: "30-days", label: "30 days", hours: 720 },
    Ttl { name: "3-days", label: "3 days", hours: 72 },
    Ttl { name: "1-day", label: "1 day", hours: 24 },
    Ttl { name: "12-hours", label: "12 hours", hours: 12 },
    Ttl { name: "3-hours", label: "3 hours", hours: 3 },
    Ttl { name: "1-hour", label: "1 hour", hours: 1 },
];

/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 280;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_activity_round_trips_and_leaves_out_empty_replies() {
        let activity = Activity {
            uuid: "u".into(),
            handle: "worf".into(),
            display_name: "Worf".into(),
            message: "Today is a good day".into(),
            replies_count: 0,
            reposts_count: 0,
            likes_count: 0,
            created_at: "2024-01-01T00:00:00Z".into(),
            expires_at: "2024-01-08T00:00:00Z".into(),
            reply_to_activity_uuid: None,
            replies: Vec::new(),
        };
        let json = serde_json::to_value(&activity).expect("serialize");
        assert!(json.get("replies").is_none(), "{json}");
        assert_eq!(serde_json::from_value::<Activity>(json).expect("deserialize"), activity);
    }

    #[test]
    fn an_error_body_without_a_field_reads_as_none() {
        let body: ErrorBody = serde_json::from_str(r#"{"error":"activity not found"}"#).expect("parse");
        assert_eq!(body, ErrorBody { error: "activity not found".into(), field: None });
        assert_eq!(serde_json::to_string(&body).expect("serialize"), r#"{"error":"activity not found"}"#);
    }

    #[test]
    fn ttl_names_are_unique_and_the_default_is_seven_days() {
        assert_eq!(TTLS[0].name, "7-days");
        for (i, ttl) in TTLS.iter().enumerate() {
            assert!(TTLS[..i].iter().all(|other| other.name != ttl.name), "{} twice", ttl.name);
        }
    }
}
