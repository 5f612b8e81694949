//! Every call to the Cruddur API, through otel-web's traced fetch (a drop-in for
//! `gloo_net::http::Request`), each named after its route template. The types are
//! `cruddur-api`'s, shared with the backend.

use std::time::Duration;

use otel_web::http::{Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// What went wrong talking to the API, in words a person can read.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum ApiError {
    /// The API refused the input; `field` names what to fix.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: Option<String>,
        /// The API's message.
        message: String,
    },
    /// The API answered with an error.
    #[error("The server could not do that right now (HTTP {0}). Try again in a moment.")]
    Server(u16),
    /// No answer at all.
    #[error("Cruddur cannot be reached. Check your connection and try again.")]
    Network,
}

pub use cruddur_api::{Activity, NewActivity, User};
use cruddur_api::{ErrorBody, NewReply};

const TIMEOUT: Duration = Duration::from_secs(10);

/// The API's origin: empty for same-origin (through trunk's proxy), else e.g.
/// `http://127.0.0.1:4567`, from `<meta name="cruddur:api-base">`.
pub fn base() -> String {
    meta("cruddur:api-base").unwrap_or_default().trim_end_matches('/').to_owned()
}

/// The content of `<meta name="{name}">`.
pub fn meta(name: &str) -> Option<String> {
    web_sys::window()?
        .document()?
        .query_selector(&format!("meta[name=\"{name}\"]"))
        .ok()??
        .get_attribute("content")
        .filter(|c| !c.is_empty())
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    if response.ok() {
        return response.json().await.map_err(|_| ApiError::Server(response.status()));
    }
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) if status == 400 || status == 404 => {
            Err(ApiError::Invalid { field: body.field, message: body.error })
        }
        _ => Err(ApiError::Server(status)),
    }
}

async fn get<T: DeserializeOwned>(path: &str, route: &str) -> Result<T, ApiError> {
    let response = Request::get(&format!("{}{path}", base()))
        .route(route)
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    read(response).await
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, route: &str, body: &B) -> Result<T, ApiError> {
    let request = Request::post(&format!("{}{path}", base()))
        .route(route)
        .timeout(TIMEOUT)
        .json(body)
        .map_err(|_| ApiError::Invalid { field: None, message: "That could not be sent.".into() })?;
    let response = request.send().await.map_err(|_| ApiError::Network)?;
    read(response).await
}

/// The demo users.
pub async fn users() -> Result<Vec<User>, ApiError> {
    get("/api/users", "/api/users").await
}

/// The home feed.
pub async fn home() -> Result<Vec<Activity>, ApiError> {
    get("/api/activities/home", "/api/activities/home").await
}

/// Replies to the signed-in user's activities.
pub async fn notifications() -> Result<Vec<Activity>, ApiError> {
    get("/api/activities/notifications", "/api/activities/notifications").await
}

/// One user's activities.
pub async fn user_activities(handle: &str) -> Result<Vec<Activity>, ApiError> {
    get(&format!("/api/activities/@{}", encode(handle)), "/api/activities/@{handle}").await
}

/// Activities containing `term`: a server function (`POST /api/search`), traced by otel-web's
/// `TracedClient` into the backend's trace.
pub async fn search(term: &str) -> Result<Vec<Activity>, ApiError> {
    use std::sync::Once;
    static SERVER_URL: Once = Once::new();
    // Server functions are called at the API's base, like every other request.
    SERVER_URL.call_once(|| {
        let base = base();
        if !base.is_empty() {
            let _ = server_fn::client::try_set_server_url(Box::leak(base.into_boxed_str()));
        }
    });
    cruddur_api::server_fns::search_activities(term.to_owned()).await.map_err(|e| match e {
        server_fn::ServerFnError::Args(message) => ApiError::Invalid { field: Some("term".into()), message },
        server_fn::ServerFnError::Request(_) => ApiError::Network,
        _ => ApiError::Server(500),
    })
}

/// Posts an activity.
pub async fn create(activity: NewActivity) -> Result<Activity, ApiError> {
    post("/api/activities", "/api/activities", &activity).await
}

/// Replies to an activity.
pub async fn reply(uuid: &str, user_handle: &str, message: &str) -> Result<Activity, ApiError> {
    let path = format!("/api/activities/{}/reply", encode(uuid));
    let reply = NewReply { user_handle: user_handle.to_owned(), message: message.to_owned() };
    post(&path, "/api/activities/{uuid}/reply", &reply).await
}

/// Checks a status endpoint (`<meta name="cruddur:status-url">`), usually on another origin.
pub async fn status(url: &str) -> Result<(), ApiError> {
    let response = Request::get(url).timeout(TIMEOUT).send().await.map_err(|_| ApiError::Network)?;
    if response.ok() { Ok(()) } else { Err(ApiError::Server(response.status())) }
}

fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}
