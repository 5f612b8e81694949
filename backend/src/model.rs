//! What the API returns and accepts (JSON).

use serde::{Deserialize, Serialize};

/// A demo user, for the sign-in picker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// The handle (`andrewbrown`), used as `user.id`.
    pub handle: String,
    /// The name shown.
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
#[derive(Debug, Clone, Deserialize)]
pub struct NewActivity {
    /// The author (a demo user's handle).
    pub user_handle: String,
    /// 1 to 280 characters.
    pub message: String,
    /// One of [`TTLS`].
    pub ttl: String,
}

/// `POST /api/activities/{uuid}/reply`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewReply {
    /// The author.
    pub user_handle: String,
    /// 1 to 280 characters.
    pub message: String,
}

/// The lifetimes an activity may have, with their length in hours (the seed's choices).
pub const TTLS: &[(&str, i64)] = &[
    ("30-days", 720),
    ("7-days", 168),
    ("3-days", 72),
    ("1-day", 24),
    ("12-hours", 12),
    ("3-hours", 3),
    ("1-hour", 1),
];

/// Longest message.
pub const MAX_MESSAGE_CHARS: usize = 280;
