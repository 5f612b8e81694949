//! Cruddur's server functions: called like async functions in the browser, run by the
//! backend. Each call goes through otel-web's `TracedClient` (a CLIENT span, its traceparent on
//! the request) and the backend's SERVER span continues the trace.
//!
//! With the `ssr` feature (the backend), the bodies are compiled and run with the backend's
//! [`on_server::Activities`] for the request, given by [`on_server::handle`].
#![allow(
    missing_docs,
    reason = "#[server] generates each function's argument struct, with undocumented fields"
)]

use server_fn::ServerFnError;
use server_fn_macro_default::server;

use crate::Activity;

/// The longest search term, in characters.
pub const MAX_SEARCH_TERM_CHARS: usize = 100;

/// Activities containing `term` (1 to [`MAX_SEARCH_TERM_CHARS`] characters), newest first:
/// `POST /api/search`.
#[server(
    prefix = "/api",
    endpoint = "search",
    input = server_fn::codec::Json,
    client = otel_web::leptos::TracedClient
)]
pub async fn search_activities(term: String) -> Result<Vec<Activity>, ServerFnError> {
    let term = term.trim();
    if term.is_empty() || term.chars().count() > MAX_SEARCH_TERM_CHARS {
        return Err(ServerFnError::Args(format!(
            "give a search term of 1 to {MAX_SEARCH_TERM_CHARS} characters"
        )));
    }
    on_server::activities()?.search(term).map_err(ServerFnError::ServerError)
}

/// The server's side: what the functions need from the backend, given per request.
#[cfg(feature = "ssr")]
pub mod on_server {
    use std::future::Future;
    use std::sync::Arc;

    use server_fn::ServerFnError;

    use crate::Activity;

    /// The backend's store, as the server functions use it.
    pub trait Activities: Send + Sync {
        /// Activities containing `term`; the error is shown to the user.
        fn search(&self, term: &str) -> Result<Vec<Activity>, String>;
    }

    tokio::task_local! {
        static ACTIVITIES: Arc<dyn Activities>;
    }

    /// Runs the server function `request` names with `activities` (axum: the handler of its
    /// route; a request for no registered function is a 400).
    pub async fn handle(
        activities: Arc<dyn Activities>,
        request: axum::http::Request<axum::body::Body>,
    ) -> axum::http::Response<axum::body::Body> {
        ACTIVITIES.scope(activities, server_fn::axum::handle_server_fn(request)).await
    }

    pub(crate) fn activities() -> Result<Arc<dyn Activities>, ServerFnError> {
        ACTIVITIES
            .try_with(Arc::clone)
            .map_err(|_| ServerFnError::ServerError("called outside server_fns::on_server::handle".into()))
    }

    /// Polls `f` with `activities`, for tests of a function's body.
    pub fn with<F: Future>(activities: Arc<dyn Activities>, f: F) -> impl Future<Output = F::Output> {
        ACTIVITIES.scope(activities, f)
    }
}
