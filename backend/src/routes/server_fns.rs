//! Cruddur's server functions (`cruddur_api::server_fns`): `POST /api/search`. They run inside
//! the same SERVER-span middleware as every API route, so a call from the browser's
//! `TracedClient` continues the browser's trace, and the database spans are its children.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use cruddur_api::Activity;
use cruddur_api::server_fns::on_server::{self, Activities};

use crate::db::Db;
use crate::error::AppError;
use crate::state::AppState;

/// The store as the server functions see it; a failure's details stay in the server's logs.
struct Store(Db);

impl Activities for Store {
    fn search(&self, term: &str) -> Result<Vec<Activity>, String> {
        self.0.search(term).map_err(|e| match e {
            AppError::Invalid { message, .. } => message,
            other => {
                eprintln!("server function search: {other}");
                "Something went wrong".to_owned()
            }
        })
    }
}

/// The handler of every server function's route.
pub async fn handle(State(state): State<AppState>, request: Request) -> Response<Body> {
    on_server::handle(Arc::new(Store(state.db.clone())), request).await
}
