//! A drop-in for `gloo_net::http::Request` whose requests are traced (feature `gloo-net`).
//!
//! ```no_run
//! # async fn example() -> Result<(), gloo_net::Error> {
//! // was: use gloo_net::http::Request;
//! use otel_web::http::Request;
//!
//! let activities: serde_json::Value = Request::get("/api/activities/home")
//!     .route("/api/activities/home")
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! # let _ = activities; Ok(()) }
//! ```

use std::time::Duration;

pub use gloo_net::http::{Headers, Method, Response};
use wasm_bindgen::JsValue;

use crate::fetch::{FetchOptions, fetch_with};

/// A built request, ready to send.
#[derive(Debug)]
pub struct Request {
    inner: gloo_net::http::Request,
    options: FetchOptions,
}

/// Builds a [`Request`]; every `gloo_net` builder method is here, plus [`route`](Self::route)
/// and [`timeout`](Self::timeout).
#[derive(Debug)]
pub struct RequestBuilder {
    inner: gloo_net::http::RequestBuilder,
    options: FetchOptions,
}

fn js_error(value: JsValue) -> gloo_net::Error {
    match gloo_utils::errors::JsError::try_from(value) {
        Ok(error) => gloo_net::Error::JsError(error),
        Err(other) => gloo_net::Error::GlooError(other.to_string()),
    }
}

impl Request {
    fn builder(url: &str, method: Method) -> RequestBuilder {
        RequestBuilder {
            inner: gloo_net::http::RequestBuilder::new(url).method(method),
            options: FetchOptions::default(),
        }
    }

    /// A GET request.
    pub fn get(url: &str) -> RequestBuilder {
        Self::builder(url, Method::GET)
    }

    /// A POST request.
    pub fn post(url: &str) -> RequestBuilder {
        Self::builder(url, Method::POST)
    }

    /// A PUT request.
    pub fn put(url: &str) -> RequestBuilder {
        Self::builder(url, Method::PUT)
    }

    /// A DELETE request.
    pub fn delete(url: &str) -> RequestBuilder {
        Self::builder(url, Method::DELETE)
    }

    /// A PATCH request.
    pub fn patch(url: &str) -> RequestBuilder {
        Self::builder(url, Method::PATCH)
    }

    /// Sends the request, traced.
    pub async fn send(self) -> Result<Response, gloo_net::Error> {
        let request: web_sys::Request = self.inner.into();
        fetch_with(request, self.options).await.map(Response::from).map_err(js_error)
    }
}

impl RequestBuilder {
    /// Names the span after a route template (`GET /api/activities/{id}`).
    pub fn route(mut self, route: impl Into<String>) -> Self {
        self.options.route = Some(route.into());
        self
    }

    /// Aborts the request after `timeout` (`error.type = timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Sets a header.
    pub fn header(mut self, key: &str, value: &str) -> Self {
        self.inner = self.inner.header(key, value);
        self
    }

    /// Sets all headers.
    pub fn headers(mut self, headers: Headers) -> Self {
        self.inner = self.inner.headers(headers);
        self
    }

    /// Appends query parameters.
    pub fn query<'a, T, V>(mut self, params: T) -> Self
    where
        T: IntoIterator<Item = (&'a str, V)>,
        V: AsRef<str>,
    {
        self.inner = self.inner.query(params);
        self
    }

    /// Sets the method.
    pub fn method(mut self, method: Method) -> Self {
        self.inner = self.inner.method(method);
        self
    }

    /// Sets an abort signal.
    pub fn abort_signal(mut self, signal: Option<&web_sys::AbortSignal>) -> Self {
        self.inner = self.inner.abort_signal(signal);
        self
    }

    /// Sets the credentials mode.
    pub fn credentials(mut self, credentials: web_sys::RequestCredentials) -> Self {
        self.inner = self.inner.credentials(credentials);
        self
    }

    /// Sets the request mode.
    pub fn mode(mut self, mode: web_sys::RequestMode) -> Self {
        self.inner = self.inner.mode(mode);
        self
    }

    /// Serializes `value` as the JSON body.
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<Request, gloo_net::Error> {
        Ok(Request { inner: self.inner.json(value)?, options: self.options })
    }

    /// Sets the body.
    pub fn body(self, body: impl Into<JsValue>) -> Result<Request, gloo_net::Error> {
        Ok(Request { inner: self.inner.body(body)?, options: self.options })
    }

    /// Builds the request.
    pub fn build(self) -> Result<Request, gloo_net::Error> {
        Ok(Request { inner: self.inner.build()?, options: self.options })
    }

    /// Builds and sends the request, traced.
    pub async fn send(self) -> Result<Response, gloo_net::Error> {
        self.build()?.send().await
    }
}
