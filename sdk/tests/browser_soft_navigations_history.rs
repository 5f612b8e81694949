//! Soft navigations in headless Chromium without the Navigation API (`navigationApi: false`):
//! the wrapped `pushState`/`replaceState` and `popstate` give the same spans, and the wrapper
//! hands the browser's own exceptions back unchanged.
#![cfg(all(target_arch = "wasm32", feature = "soft-navigations"))]

mod support;
mod support_navigation;

use otel_web::instrument::Options;
use support_navigation::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn options() -> Options {
    Options::default().with("quietMs", QUIET_MS).with("navigationApi", false)
}

#[wasm_bindgen_test]
async fn wrapped_history_routes_are_navigation_spans_with_from_to_and_children() {
    let exporter = setup(options());
    pushed_routes_are_navigations_that_parent_the_new_views_work(&exporter).await;
}

#[wasm_bindgen_test]
async fn wrapped_history_keeps_same_url_replaces_quiet_and_sees_popstate() {
    let exporter = setup(options());
    same_url_is_nothing_and_back_is_a_traverse(&exporter).await;
}

#[wasm_bindgen_test]
async fn the_wrapper_throws_exactly_what_the_browser_throws() {
    let exporter = setup(options());
    exporter.reset();
    let error = history("pushState", "https://elsewhere.example/").expect_err("cross-origin URL");
    let name = js_sys::Reflect::get(&error, &"name".into()).expect("name");
    assert_eq!(name.as_string().as_deref(), Some("SecurityError"));
    assert!(exporter.finished_spans().is_empty(), "no navigation happened");
    // Called with two arguments, as pages do for state only.
    let state = js_sys::Object::new();
    js_sys::Reflect::set(&state, &"page".into(), &7.into()).expect("state");
    let history_object = js_sys::Reflect::get(&js_sys::global(), &"history".into()).expect("history");
    let f: js_sys::Function = wasm_bindgen::JsCast::dyn_into(
        js_sys::Reflect::get(&history_object, &"replaceState".into()).expect("replaceState"),
    )
    .expect("fn");
    f.call2(&history_object, &state, &"".into()).expect("two arguments");
    let now = js_sys::Reflect::get(&history_object, &"state".into()).expect("state");
    // The browser keeps a structured clone of the state.
    let page = js_sys::Reflect::get(&now, &"page".into()).expect("page");
    assert_eq!(page.as_f64(), Some(7.0), "the state reached the browser");
}
