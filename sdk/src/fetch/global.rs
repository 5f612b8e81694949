//! Opt-in patching of the global `fetch`, so requests made by JavaScript or other wasm libraries
//! are traced too.
//!
//! The browser's own `fetch` is captured first; the SDK's exporter and [`super::fetch`] always
//! call that one, so export requests are never traced and nothing is traced twice. If the SDK
//! cannot make sense of a call's arguments it hands them to the original `fetch` untouched.

use std::cell::RefCell;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::FetchOptions;
use super::call::Call;
use super::traced;
use crate::platform::fetch as browser;

type Patched = Closure<dyn FnMut(JsValue, JsValue) -> JsValue>;

thread_local! {
    static PATCH: RefCell<Option<Patched>> = const { RefCell::new(None) };
}

/// Replaces `globalThis.fetch` with a traced version. Idempotent.
pub fn install_global() -> Result<(), JsValue> {
    let original = browser::original().ok_or_else(|| JsValue::from_str("fetch is not available here"))?;
    super::timing::observe();
    PATCH.with(|patch| {
        let mut patch = patch.try_borrow_mut().map_err(|_| JsValue::from_str("fetch is being patched"))?;
        if patch.is_some() {
            return Ok(());
        }
        let closure: Patched = Closure::new(move |input: JsValue, init: JsValue| -> JsValue {
            // The common `fetch(url, {...})` is traced as called; building a `Request` from it
            // would cost more than the rest of the instrumentation together.
            if let Some(call) = Call::of_arguments(&input, &init) {
                return wasm_bindgen_futures::future_to_promise(async move {
                    traced::traced_fetch_arguments(input, init, call).await.map(JsValue::from)
                })
                .into();
            }
            let global = js_sys::global();
            let request = js_sys::Reflect::get(&global, &"Request".into())
                .and_then(|ctor| ctor.dyn_into::<js_sys::Function>())
                .and_then(|ctor| js_sys::Reflect::construct(&ctor, &js_sys::Array::of2(&input, &init)))
                .and_then(|r| r.dyn_into::<web_sys::Request>());
            match request {
                Ok(request) => wasm_bindgen_futures::future_to_promise(async move {
                    traced::traced_fetch(request, &FetchOptions::default()).await.map(JsValue::from)
                })
                .into(),
                // Let the browser produce its own error (or success) for arguments we cannot read.
                Err(_) => original
                    .call2(&global, &input, &init)
                    .unwrap_or_else(|e| js_sys::Promise::reject(&e).into()),
            }
        });
        js_sys::Reflect::set(&js_sys::global(), &"fetch".into(), closure.as_ref())?;
        *patch = Some(closure);
        Ok(())
    })
}

/// Restores the browser's own `fetch`.
pub fn uninstall_global() -> Result<(), JsValue> {
    let Some(original) = browser::original() else { return Ok(()) };
    PATCH.with(|patch| {
        if let Ok(mut patch) = patch.try_borrow_mut()
            && patch.take().is_some()
        {
            js_sys::Reflect::set(&js_sys::global(), &"fetch".into(), &original)?;
        }
        Ok(())
    })
}
