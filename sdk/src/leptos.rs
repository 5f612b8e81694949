//! Leptos (feature `leptos`): route changes named by their route template, and server
//! functions traced from the browser into the server.
//!
//! ```ignore
//! use leptos::prelude::*;
//! use leptos::server_fn::ServerFnError;
//! use leptos_router::components::{Router, Routes};
//! use leptos_router::path;
//! use otel_web::leptos::Route; // instead of leptos_router's: the same props
//!
//! #[component]
//! fn App() -> impl IntoView {
//!     view! {
//!         <Router>
//!             <Routes fallback=|| "Not found.">
//!                 <Route path=path!("/") view=Home />
//!                 <Route path=path!("/@:handle") view=Profile />
//!             </Routes>
//!         </Router>
//!     }
//! }
//!
//! // A CLIENT span per call, its traceparent on the request; the server's span continues it.
//! #[server(client = otel_web::leptos::TracedClient)]
//! async fn search(term: String) -> Result<Vec<String>, ServerFnError> { todo!() }
//! ```
//!
//! # Routes
//!
//! [`Route`] is `leptos_router`'s `<Route>` with the same props (`path`, `view`): when the
//! router chooses its view, it tells the `softNavigations` instrumentation (feature
//! `soft-navigations`) the route template, rebuilt from the `path!(..)` segments
//! (`/@:handle`, optional `/:id?`, splat `/*rest`). The `navigation` span of that route change is
//! then named by the template, with `url.template`, whether Leptos renders before or after it
//! changes the URL (it renders first). Without `soft-navigations` the template goes nowhere and
//! costs nothing.
//!
//! # Server functions
//!
//! [`TracedClient`] is a `server_fn` client that sends each call through otel-web's traced
//! `fetch`: a CLIENT span named `POST /api/search…` (the function's path is its route), the
//! page's propagators' headers (`traceparent`, `baggage`) on the request, the browser's timings
//! on the span. On the server, the function's handler continues the trace like any other
//! route: with axum, a middleware that extracts `traceparent` around
//! `server_fn::axum::handle_server_fn` (Cruddur's `backend/src/http_trace.rs` is one). Calls
//! are cancelled when their future is dropped, as with `server_fn`'s own `BrowserClient`;
//! websockets use `BrowserClient`'s, untraced.

use std::future::Future;
use std::sync::Arc;

use leptos::server_fn::Bytes;
use leptos::server_fn::client::Client;
use leptos::server_fn::client::browser::BrowserClient;
use leptos::server_fn::error::{FromServerFnError, IntoAppError, ServerFnErrorErr};
use leptos::server_fn::request::browser::BrowserRequest;
use leptos::server_fn::response::ClientRes;
use leptos::tachys::view::any_view::AnyView;
use leptos_router::{ChooseView, PathSegment, PossibleRouteMatch};
use send_wrapper::SendWrapper;

/// `leptos_router`'s `<Route>`, naming its route changes by its template: use it in
/// `<Routes>` exactly as the original.
#[leptos::component(transparent)]
pub fn Route<Segments, View>(
/// The path fragment that this route matches, from `leptos_router::path!`.
    path: Segments,
/// The view for this route.
    view: View,
) -> <leptos_router::NestedRoute<Segments, (), (), NamedView<View>> as leptos::tachys::view::any_view::IntoMaybeErased>::Output
where
    View: ChooseView + Clone + 'static,
    Segments: PossibleRouteMatch + Clone + Send + 'static,
{
    use leptos::tachys::view::any_view::IntoMaybeErased as _;
    let template: Arc<str> = template(&path).into();
    leptos_router::NestedRoute::new(path, NamedView { template, view }).into_maybe_erased()
}

/// A route's view that names the route change by `template` when the router chooses it.
#[derive(Debug, Clone)]
pub struct NamedView<View> {
    template: Arc<str>,
    view: View,
}

impl<View: ChooseView> ChooseView for NamedView<View> {
    async fn choose(self) -> AnyView {
        // The router provides the URL it matched (the new one, before it changes the page's).
        let path =
            leptos::prelude::use_context::<leptos::prelude::ArcRwSignal<leptos_router::location::Url>>()
                .map(|url| leptos::prelude::GetUntracked::get_untracked(&url).path().to_owned());
        if let Some(path) = path {
            name_route(&path, &self.template);
        }
        self.view.choose().await
    }

    async fn preload(&self) {
        self.view.preload().await;
    }
}

fn name_route(path: &str, template: &str) {
    #[cfg(feature = "soft-navigations")]
    crate::instrument::soft_navigations::set_route_template_for(path, template);
    #[cfg(not(feature = "soft-navigations"))]
    let _ = (path, template);
}

/// The template of a `path!(..)` (`/@:handle`, `/files/*rest`, `/:id?`); `/` for the root.
pub fn template(path: &impl PossibleRouteMatch) -> String {
    let mut segments = Vec::new();
    path.generate_path(&mut segments);
    let mut out = String::new();
    for segment in &segments {
        match segment {
            PathSegment::Unit => {}
            PathSegment::Static(s) => {
                for part in s.split('/').filter(|p| !p.is_empty()) {
                    out.push('/');
                    out.push_str(part);
                }
            }
            PathSegment::Param(name) => {
                out.push_str("/:");
                out.push_str(name);
            }
            PathSegment::OptionalParam(name) => {
                out.push_str("/:");
                out.push_str(name);
                out.push('?');
            }
            PathSegment::Splat(name) => {
                out.push_str("/*");
                out.push_str(name);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// A `server_fn` client that traces every call: `#[server(client = otel_web::leptos::TracedClient)]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracedClient;

impl<E, IS, OS> Client<E, IS, OS> for TracedClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = TracedResponse;

    fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        SendWrapper::new(imp::send(req))
    }

    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                impl futures::Sink<Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future);
    }
}

/// The response to a [`TracedClient`] call. It keeps the request, so dropping it before the
/// body is read cancels the call, as `server_fn`'s own client does.
#[derive(Debug)]
pub struct TracedResponse {
    response: SendWrapper<web_sys::Response>,
    _request: BrowserRequest,
}

fn request_error<E: FromServerFnError>(e: impl std::fmt::Debug) -> E {
    ServerFnErrorErr::Request(format!("{e:?}")).into_app_error()
}

fn body_error<E: FromServerFnError>(e: impl std::fmt::Debug) -> E {
    ServerFnErrorErr::Deserialization(format!("{e:?}")).into_app_error()
}

impl<E: FromServerFnError> ClientRes<E> for TracedResponse {
    fn try_into_string(self) -> impl Future<Output = Result<String, E>> + Send {
        SendWrapper::new(async move {
            // The whole response, request included: dropping the request aborts the body.
            let response = self;
            let promise = response.response.text().map_err(body_error::<E>)?;
            let text = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(body_error::<E>)?;
            drop(response);
            text.as_string().ok_or_else(|| body_error("not text"))
        })
    }

    fn try_into_bytes(self) -> impl Future<Output = Result<Bytes, E>> + Send {
        SendWrapper::new(async move {
            let response = self;
            let promise = response.response.array_buffer().map_err(body_error::<E>)?;
            let buffer = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(body_error::<E>)?;
            drop(response);
            Ok(Bytes::from(js_sys::Uint8Array::new(&buffer).to_vec()))
        })
    }

    fn try_into_stream(
        self,
    ) -> Result<impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + Sync + 'static, E> {
        use futures::StreamExt as _;
        let body = self.response.body().ok_or_else(|| body_error::<E>("no body"))?;
        let request = self._request;
        let stream = wasm_streams::ReadableStream::from_raw(body).into_stream().map(move |chunk| {
            let _keep = &request;
            match chunk {
                Ok(chunk) => Ok(Bytes::from(js_sys::Uint8Array::new(&chunk).to_vec())),
                Err(e) => Err(E::from_server_fn_error(ServerFnErrorErr::Request(format!("{e:?}"))).ser()),
            }
        });
        Ok(SendWrapper::new(stream))
    }

    fn status(&self) -> u16 {
        self.response.status()
    }

    fn status_text(&self) -> String {
        self.response.status_text()
    }

    fn location(&self) -> String {
        self.response.headers().get("Location").ok().flatten().unwrap_or_else(|| self.response.url())
    }

    fn has_redirect(&self) -> bool {
        self.response.headers().get(leptos::server_fn::redirect::REDIRECT_HEADER).ok().flatten().is_some()
    }
}

mod imp {
    use leptos::server_fn::error::FromServerFnError;
    use leptos::server_fn::request::browser::{BrowserRequest, Request};
    use send_wrapper::SendWrapper;

    use super::{TracedResponse, request_error};
    use crate::fetch::{FetchOptions, fetch_with};

    /// Sends `req` through the traced fetch. The `BrowserRequest` (and its abort-on-drop
    /// controller) stays with the response; its `fetch` request is taken out of it.
    pub(super) async fn send<E: FromServerFnError>(mut req: BrowserRequest) -> Result<TracedResponse, E> {
        let placeholder = web_sys::Request::new_with_str("data:,").map_err(request_error::<E>)?;
        let request: web_sys::Request = std::mem::replace(&mut *req, Request::from(placeholder)).into();
        // The function's path is its route: fixed per function, so a good span name.
        let route = web_sys::Url::new(&request.url()).map(|url| url.pathname()).unwrap_or_default();
        let mut options = FetchOptions::default();
        if !route.is_empty() {
            options = options.with_route(route);
        }
        let response = fetch_with(request, options).await.map_err(request_error::<E>)?;
        Ok(TracedResponse { response: SendWrapper::new(response), _request: req })
    }
}

#[cfg(test)]
mod tests {
    use leptos_router::path;

    use super::template;

    #[test]
    fn templates_are_rebuilt_from_the_path_macro() {
        assert_eq!(template(&path!("/")), "/");
        assert_eq!(template(&path!("")), "/");
        assert_eq!(template(&path!("/notifications")), "/notifications");
        assert_eq!(template(&path!("/:handle")), "/:handle");
        assert_eq!(template(&path!("/users/:id/posts/:post")), "/users/:id/posts/:post");
        assert_eq!(template(&path!("/search/:term?")), "/search/:term?");
        assert_eq!(template(&path!("/files/*rest")), "/files/*rest");
    }
}
