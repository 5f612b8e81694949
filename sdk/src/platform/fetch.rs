//! The browser's own `fetch`, captured before any instrumentation patches `window.fetch`, so the
//! SDK's requests (exports) are never traced and never carry trace headers.

use std::cell::OnceCell;

use wasm_bindgen::{JsCast, JsValue};

thread_local! {
    static ORIGINAL_FETCH: OnceCell<Option<js_sys::Function>> = const { OnceCell::new() };
}

/// The unpatched global `fetch`. Call this before patching `fetch` so the original is kept.
pub(crate) fn original() -> Option<js_sys::Function> {
    ORIGINAL_FETCH.with(|cell| {
        cell.get_or_init(|| {
            js_sys::Reflect::get(&js_sys::global(), &"fetch".into()).ok().and_then(|f| f.dyn_into().ok())
        })
        .clone()
    })
}

/// Calls the unpatched `fetch(url, init)`; a synchronous throw becomes `Err`.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "the exporter sends only in wasm32"))]
pub(crate) fn call(url: &str, init: &web_sys::RequestInit) -> Result<js_sys::Promise, JsValue> {
    let fetch = original().ok_or_else(|| JsValue::from_str("fetch is not available here"))?;
    let promise = fetch.call2(&js_sys::global(), &JsValue::from_str(url), init)?;
    promise.dyn_into::<js_sys::Promise>()
}

/// Calls the unpatched `fetch(input, init)` with the page's own arguments.
pub(crate) fn call_with(input: &JsValue, init: &JsValue) -> Result<js_sys::Promise, JsValue> {
    let fetch = original().ok_or_else(|| JsValue::from_str("fetch is not available here"))?;
    fetch.call2(&js_sys::global(), input, init)?.dyn_into::<js_sys::Promise>()
}

/// Calls the unpatched `fetch(request)`.
pub(crate) fn call_request(request: &web_sys::Request) -> Result<js_sys::Promise, JsValue> {
    let fetch = original().ok_or_else(|| JsValue::from_str("fetch is not available here"))?;
    fetch.call1(&js_sys::global(), request)?.dyn_into::<js_sys::Promise>()
}

/// The JS error's `name` (`TypeError`, `AbortError`, `TimeoutError`), if it has one.
pub(crate) fn error_name(error: &JsValue) -> Option<String> {
    js_sys::Reflect::get(error, &"name".into()).ok().and_then(|n| n.as_string())
}

/// A readable one-line description of a JS error value.
pub(crate) fn describe(error: &JsValue) -> String {
    if let Some(e) = error.dyn_ref::<js_sys::Error>() {
        let name: String = e.name().into();
        let message: String = e.message().into();
        return format!("{name}: {message}");
    }
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}
