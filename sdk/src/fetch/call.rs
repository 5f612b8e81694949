//! What a traced fetch is about to send, read from its arguments: method, absolute URL, and
//! whether it is `no-cors`.
//!
//! ```text
//! fetch(request)                    → Call::of_request     (the fetch API, gloo-net, odd arguments)
//! fetch("/api/x", { method: "POST" }) → Call::of_arguments (the patched global's common case)
//! ```
//!
//! Reading a `Request` is cheap; *building* one from a page's `fetch(url, init)` costs more than
//! the rest of the instrumentation together, so the common form is read as called: the URL is
//! resolved against the document's base URL exactly as `fetch` would, and the init dictionary
//! is read through its typed getters.

use wasm_bindgen::{JsCast, JsValue};

thread_local! {
    /// `Object.prototype`: an init object with it (or none) is a plain dictionary.
    static OBJECT_PROTOTYPE: js_sys::Object = js_sys::Object::get_prototype_of(&js_sys::Object::new());
}

/// What the span is made from: the request's method and absolute URL.
pub(super) struct Call {
    pub(super) method: String,
    pub(super) url: String,
    pub(super) parsed: Option<web_sys::Url>,
    pub(super) no_cors: bool,
}

impl Call {
    pub(super) fn of_request(request: &web_sys::Request) -> Self {
        let url = request.url();
        Call {
            method: request.method(),
            parsed: web_sys::Url::new(&url).ok(),
            url,
            no_cors: request.mode() == web_sys::RequestMode::NoCors,
        }
    }

    /// `fetch(input, init)` as pages call it: a string or `URL` and a plain init object (or
    /// none). Anything else (a `Request`, an init with a prototype) is `None`, and the caller
    /// builds a `Request` instead.
    pub(super) fn of_arguments(input: &JsValue, init: &JsValue) -> Option<Self> {
        let init_is_plain = init.is_undefined() || init.is_null() || {
            let prototype = js_sys::Object::get_prototype_of(init);
            prototype.is_null() || OBJECT_PROTOTYPE.try_with(|plain| prototype == *plain).unwrap_or(false)
        };
        if !init_is_plain {
            return None;
        }
        let parsed = match input.dyn_ref::<web_sys::Url>() {
            Some(url) => url.clone(),
            None => web_sys::Url::new_with_base(&input.as_string()?, &base_url()?).ok()?,
        };
        let init: Option<&web_sys::RequestInit> =
            (!init.is_undefined() && !init.is_null()).then(|| init.unchecked_ref());
        Some(Call {
            method: init.and_then(|i| i.get_method()).unwrap_or_else(|| "GET".to_owned()),
            no_cors: init.and_then(|i| i.get_mode()) == Some(web_sys::RequestMode::NoCors),
            url: parsed.href(),
            parsed: Some(parsed),
        })
    }
}

thread_local! {
    /// The page's document (none in a worker); it never changes.
    static DOCUMENT: Option<web_sys::Document> =
        js_sys::global().dyn_into::<web_sys::Window>().ok().and_then(|w| w.document());
}

/// The URL relative fetch URLs resolve against: the document's base URL (or, in a worker,
/// its location).
fn base_url() -> Option<String> {
    match DOCUMENT.try_with(|d| d.as_ref().map(|d| d.base_uri())).ok().flatten() {
        Some(base) => base.ok().flatten(),
        None => js_sys::Reflect::get(
            &js_sys::Reflect::get(&js_sys::global(), &"location".into()).ok()?,
            &"href".into(),
        )
        .ok()?
        .as_string(),
    }
}
