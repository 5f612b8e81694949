//! `GET /api/users`: the demo users for the sign-in picker.

use axum::Json;
use axum::extract::State;

use crate::error::AppError;
use crate::model::User;
use crate::state::AppState;

/// The demo users.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<User>>, AppError> {
    state.db.users().map(Json)
}
