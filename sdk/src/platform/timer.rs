//! Browser timers as futures (`setTimeout` behind a `Promise`). Natively (unit tests) a timer
//! never fires; tests drive the processors with `force_flush` instead.

/// Resolves after `ms` milliseconds (works in windows and workers).
#[cfg(target_arch = "wasm32")]
pub(crate) async fn sleep(ms: u32) {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_name = setTimeout)]
        fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;
    }

    let ms = ms.min(i32::MAX as u32) as i32;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Never resolves natively: there is no event loop to fire it.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) async fn sleep(_ms: u32) {
    std::future::pending::<()>().await
}
