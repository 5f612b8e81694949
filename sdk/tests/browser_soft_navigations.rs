//! Soft navigations in headless Chromium through the Navigation API: a pushed route is a
//! `navigation` span with from/to/type and the route template, parenting the new view's fetch;
//! a replace that keeps the URL is none; back is a `traverse`.
#![cfg(all(target_arch = "wasm32", feature = "soft-navigations"))]

mod support;
mod support_navigation;

use otel_web::instrument::Options;
use support::sleep;
use support_navigation::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn route_changes_are_navigation_spans_with_from_to_and_children() {
    let exporter = setup(Options::default().with("quietMs", QUIET_MS));
    pushed_routes_are_navigations_that_parent_the_new_views_work(&exporter).await;
}

#[wasm_bindgen_test]
async fn a_replace_that_keeps_the_url_is_no_navigation_and_back_is_a_traverse() {
    let exporter = setup(Options::default().with("quietMs", QUIET_MS));
    same_url_is_nothing_and_back_is_a_traverse(&exporter).await;
    sleep(10).await;
}

#[wasm_bindgen_test]
async fn a_route_template_given_before_the_navigation_names_it() {
    let exporter = setup(Options::default().with("quietMs", QUIET_MS));
    a_template_given_before_the_url_changes_names_the_navigation_to_its_path(&exporter).await;
}
